// Front-to-back MCAP reading for files without a usable summary, recovering what a truncated file holds.

import type { FileHandle } from "node:fs/promises";
import { McapStreamReader, type McapTypes } from "@mcap/core";
import { errorMessage, inBounds, type NsBounds, problem, type TimedEvent } from "./common.ts";
import { type Decoder, decodeEvent } from "./decoders.ts";
import { loadBagDecompressHandlers } from "./decompress.ts";
import { type ChannelState, channelState, unknownProblem } from "./mcap-channels.ts";

const READ_BLOCK = 1 << 20;
/** `noIndex` for a summary that is fine but has no chunks: reading front to back is then expected. */
export const NO_CHUNK_INDEX = "no chunk index";

/** What the stream reader needs of an open .mcap file. */
export interface StreamFile {
  path: string;
  handle: FileHandle;
  size: number;
  /** Why the summary could not be used. */
  noIndex: string | undefined;
  zstdMessages: boolean;
}

export type StreamItem =
  | { kind: "record"; record: McapTypes.TypedMcapRecord; state: ChannelState | undefined }
  | { kind: "broken"; problem: "truncated" | "corrupt" | "no_index"; warning: string };

/** The file's messages in file order, filtered and decoded, with one problem per undecodable channel. */
export async function* readStream(
  file: StreamFile,
  topics: ReadonlySet<string> | undefined,
  bounds: NsBounds,
): AsyncGenerator<TimedEvent> {
  const reported = new Set<number>();
  let lastNs = 0n;
  for await (const item of mcapRecords(file)) {
    if (item.kind === "broken") {
      yield { ns: lastNs, event: problem(item.problem, item.warning) };
      continue;
    }
    const record = item.record;
    if (record.type !== "Message") continue;
    lastNs = record.logTime;
    const state = item.state;
    if (!state || (topics && !topics.has(state.topic)) || !inBounds(record.logTime, bounds)) continue;
    if (!state.decoder) {
      if (!reported.has(record.channelId)) {
        reported.add(record.channelId);
        yield { ns: record.logTime, event: unknownProblem(file.path, state) };
      }
      continue;
    }
    yield {
      ns: record.logTime,
      event: decodeEvent(
        file.path,
        state.topic,
        state.type,
        state.decoder as Decoder,
        record.logTime,
        record.data,
      ),
    };
  }
}

/**
 * Every record in file order, then one `broken` item if the file ends before the MCAP footer
 * (or a record does not parse). Channel records and messages carry their channel's state.
 */
export async function* mcapRecords(file: StreamFile): AsyncGenerator<StreamItem> {
  const decompressHandlers = await loadBagDecompressHandlers();
  const stream = new McapStreamReader({ decompressHandlers, validateCrcs: true });
  const schemas = new Map<number, McapTypes.Schema>();
  const channels = new Map<number, ChannelState>();
  let fed = 0;
  let messages = 0;
  const buffer = new Uint8Array(READ_BLOCK);
  const where = () => fed - stream.bytesRemaining();
  type Item = { kind: "record"; record: McapTypes.TypedMcapRecord; state: ChannelState | undefined };
  const toItem = (record: McapTypes.TypedMcapRecord): Item | undefined => {
    if (record.type === "Schema") schemas.set(record.id, record);
    else if (record.type === "Channel") {
      const state = channelState(record, schemas.get(record.schemaId), file.zstdMessages);
      channels.set(record.id, state);
      return { kind: "record", record, state };
    } else if (record.type === "Message") {
      messages++;
      return { kind: "record", record, state: channels.get(record.channelId) };
    }
    return undefined;
  };
  for (;;) {
    let record: McapTypes.TypedMcapRecord | undefined;
    try {
      record = stream.nextRecord();
    } catch (err) {
      yield {
        kind: "broken",
        problem: "corrupt",
        warning: `${file.path}: corrupt record at byte ${where()} of ${file.size} (${errorMessage(err)}); read ${messages} messages before it`,
      };
      return;
    }
    if (record) {
      const item = toItem(record);
      if (item) yield item;
      continue;
    }
    if (stream.done()) {
      // A complete file whose summary could not be used (damaged, or none written) is worth a
      // warning too: it was read front to back instead of through its index.
      if (file.noIndex !== undefined && file.noIndex !== NO_CHUNK_INDEX) {
        yield {
          kind: "broken",
          problem: "no_index",
          warning: `${file.path}: summary unusable (${file.noIndex}); read all ${messages} messages front to back`,
        };
      }
      return;
    }
    if (fed >= file.size) {
      const at = where();
      // rosbag2's default MCAP preset writes uncompressed chunks; the whole records at the start
      // of a chunk cut short are still readable.
      const before = messages;
      const records = partialChunkRecords(await readRange(file.handle, at, file.size - at));
      if (records) {
        const inner = new McapStreamReader({ noMagicPrefix: true, validateCrcs: false });
        inner.append(records);
        try {
          for (let r = inner.nextRecord(); r; r = inner.nextRecord()) {
            const item = toItem(r);
            if (item) yield item;
          }
        } catch {
          // the first record that does not parse ends the recovery
        }
      }
      const recovered = messages - before;
      yield {
        kind: "broken",
        problem: "truncated",
        warning: `${file.path}: truncated at byte ${at} of ${file.size} (incomplete ${records ? "chunk" : "record"}, no footer); read ${messages} messages${recovered > 0 ? `, ${recovered} of them from the incomplete chunk` : ""}`,
      };
      return;
    }
    const { bytesRead } = await file.handle.read(buffer, 0, READ_BLOCK, fed);
    if (bytesRead === 0) {
      fed = file.size;
      continue;
    }
    fed += bytesRead;
    stream.append(buffer.slice(0, bytesRead));
  }
}

async function readRange(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const { bytesRead } = await handle.read(out, 0, length, offset);
  return out.subarray(0, bytesRead);
}

const OP_CHUNK = 0x06;

/**
 * The records section of an uncompressed Chunk record that the file cuts short, as far as it goes;
 * undefined when `bytes` does not start with one. Layout (MCAP spec, Chunk): opcode u8, length u64,
 * message start/end time u64, uncompressed size u64, uncompressed crc u32, compression string
 * (u32 length + bytes), records length u64, records.
 */
function partialChunkRecords(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 45 || bytes[0] !== OP_CHUNK) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const compressionLength = view.getUint32(37, true);
  if (compressionLength !== 0) return undefined; // compressed: a partial frame does not decompress
  const recordsLength = view.getBigUint64(41, true);
  const start = 49;
  const end = Math.min(bytes.length, start + Number(recordsLength));
  return start < end ? bytes.subarray(start, end) : undefined;
}
