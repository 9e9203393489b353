// ROS 2 MCAP files (rosbag2's default storage since Iron, and what our simulator writes), read with
// @mcap/core. A file with a summary is read through its chunk indexes (McapIndexedReader: time
// order, topic and time filters without touching other chunks). A file without a usable summary —
// a recorder that lost power never writes one — is read front to back with McapStreamReader, and
// everything up to the first incomplete record comes out, followed by one warning.

import { type FileHandle, open } from "node:fs/promises";
import * as zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader, McapStreamReader, type McapTypes } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { loadDecompressHandlers } from "@mcap/support";
import { nsToSeconds } from "../../core/time.ts";
import {
  errorMessage,
  finish,
  inBounds,
  mergeByLogTime,
  type NsBounds,
  nsBounds,
  problem,
  reorderWindow,
  type TimedEvent,
} from "./common.ts";
import { cdrDecoder, type Decoder, decodeEvent, normaliseType, ros1Decoder } from "./decoders.ts";
import { zstdFramed } from "./rosbag2-compressed.ts";
import type { BagEvent, BagInfo, BagSource, ReadOptions, TopicInfo } from "./types.ts";

const MAGIC = Uint8Array.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]);
const READ_BLOCK = 1 << 20;
const NO_CHUNK_INDEX = "no chunk index";

export function hasMcapMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

interface ChannelState {
  topic: string;
  type: string;
  messageEncoding: string;
  decoder: Decoder | undefined;
  /** Why no decoder could be built (unknown type, unsupported encoding, bad schema). */
  unknown: string | undefined;
}

/** `zstdMessages`: each message's data is one zstd frame (rosbag2 compression mode MESSAGE). */
function channelState(
  channel: McapTypes.Channel,
  schema: McapTypes.Schema | undefined,
  zstdMessages: boolean,
): ChannelState {
  const type = normaliseType(schema?.name ?? "");
  const state: ChannelState = {
    topic: channel.topic,
    type,
    messageEncoding: channel.messageEncoding,
    decoder: undefined,
    unknown: undefined,
  };
  try {
    const text = schema ? new TextDecoder().decode(schema.data) : undefined;
    if (channel.messageEncoding === "cdr") {
      state.decoder = cdrDecoder(type, text, schema?.encoding);
    } else if (channel.messageEncoding === "ros1" && schema?.encoding === "ros1msg" && text !== undefined) {
      state.decoder = ros1Decoder(text);
    } else {
      state.unknown = `unsupported message encoding "${channel.messageEncoding}"`;
      return state;
    }
    if (!state.decoder) state.unknown = `no message definition for ${type || "(no schema)"}`;
    else if (zstdMessages) state.decoder = zstdFramed(state.decoder, channel.topic);
  } catch (err) {
    state.unknown = `bad schema for ${type}: ${errorMessage(err)}`;
  }
  return state;
}

interface Scan {
  counts: Map<number, bigint>;
  start: bigint | undefined;
  end: bigint | undefined;
  channels: Map<number, ChannelState>;
  warning: string | undefined;
}

/** One .mcap file; owns its file handle. */
class McapFile {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #size: number;
  readonly #reader: McapIndexedReader | undefined;
  /** Why the summary could not be used; undefined for an indexed file. */
  readonly #noIndex: string | undefined;
  readonly #zstdMessages: boolean;
  #scan: Scan | undefined;

  private constructor(
    path: string,
    handle: FileHandle,
    size: number,
    reader: McapIndexedReader | undefined,
    noIndex: string | undefined,
    zstdMessages: boolean,
  ) {
    this.path = path;
    this.#zstdMessages = zstdMessages;
    this.#handle = handle;
    this.#size = size;
    this.#reader = reader;
    this.#noIndex = noIndex;
  }

  get size(): number {
    return this.#size;
  }

  static async open(path: string, zstdMessages = false): Promise<McapFile> {
    const handle = await open(path, "r");
    try {
      const size = (await handle.stat()).size;
      const head = new Uint8Array(MAGIC.length);
      await handle.read(head, 0, head.length, 0);
      if (!hasMcapMagic(head)) throw new Error(`${path}: not an MCAP file (bad magic at byte 0)`);
      const decompressHandlers = await loadDecompressHandlers();
      let reader: McapIndexedReader | undefined;
      let noIndex: string | undefined;
      try {
        reader = await McapIndexedReader.Initialize({
          readable: new FileHandleReadable(handle),
          decompressHandlers,
        });
        // A file written without chunks has no chunk index to read messages through.
        if (reader.chunkIndexes.length === 0 && (reader.statistics?.messageCount ?? 1n) > 0n) {
          noIndex = NO_CHUNK_INDEX;
          reader = undefined;
        }
      } catch (err) {
        noIndex = errorMessage(err);
      }
      if (zstdMessages) await zstd.isLoaded;
      return new McapFile(path, handle, size, reader, noIndex, zstdMessages);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }

  /** Counts per channel, time range and channel table: from the summary when there is one, else by reading. */
  async scan(): Promise<Scan> {
    if (this.#scan) return this.#scan;
    const reader = this.#reader;
    if (reader?.statistics) {
      const channels = new Map<number, ChannelState>();
      for (const [id, ch] of reader.channelsById)
        channels.set(id, channelState(ch, reader.schemasById.get(ch.schemaId), this.#zstdMessages));
      const stats = reader.statistics;
      const counts = new Map<number, bigint>();
      for (const id of channels.keys()) counts.set(id, stats.channelMessageCounts.get(id) ?? 0n);
      const any = stats.messageCount > 0n;
      this.#scan = {
        counts,
        start: any ? stats.messageStartTime : undefined,
        end: any ? stats.messageEndTime : undefined,
        channels,
        warning: undefined,
      };
      return this.#scan;
    }
    const scan: Scan = {
      counts: new Map(),
      start: undefined,
      end: undefined,
      channels: new Map(),
      warning: undefined,
    };
    const count = (channelId: number, t: bigint) => {
      scan.counts.set(channelId, (scan.counts.get(channelId) ?? 0n) + 1n);
      if (scan.start === undefined || t < scan.start) scan.start = t;
      if (scan.end === undefined || t > scan.end) scan.end = t;
    };
    if (reader) {
      for (const [id, ch] of reader.channelsById) {
        scan.channels.set(id, channelState(ch, reader.schemasById.get(ch.schemaId), this.#zstdMessages));
        scan.counts.set(id, 0n);
      }
      try {
        for await (const m of reader.readMessages({ validateCrcs: false })) count(m.channelId, m.logTime);
      } catch (err) {
        scan.warning = `${this.path}: stopped reading: ${errorMessage(err)}`;
      }
    } else {
      for await (const item of this.#records()) {
        if (item.kind === "broken") scan.warning = item.warning;
        else if (item.record.type === "Channel") {
          scan.channels.set(item.record.id, item.state as ChannelState);
          if (!scan.counts.has(item.record.id)) scan.counts.set(item.record.id, 0n);
        } else if (item.record.type === "Message") count(item.record.channelId, item.record.logTime);
      }
    }
    this.#scan = scan;
    return scan;
  }

  /** This file's messages in log-time order, filtered. */
  async *read(topics: ReadonlySet<string> | undefined, bounds: NsBounds): AsyncGenerator<TimedEvent> {
    if (this.#reader) yield* this.#readIndexed(this.#reader, topics, bounds);
    else yield* reorderWindow(this.#readStream(topics, bounds));
  }

  async *#readIndexed(
    reader: McapIndexedReader,
    topics: ReadonlySet<string> | undefined,
    bounds: NsBounds,
  ): AsyncGenerator<TimedEvent> {
    const channels = new Map<number, ChannelState>();
    for (const [id, ch] of reader.channelsById) {
      if (topics && !topics.has(ch.topic)) continue;
      const state = channelState(ch, reader.schemasById.get(ch.schemaId), this.#zstdMessages);
      channels.set(id, state);
    }
    const startNs = bounds.start ?? reader.statistics?.messageStartTime ?? 0n;
    for (const state of channels.values()) {
      if (state.unknown) yield { ns: startNs, event: this.#unknownProblem(state) };
    }
    const wanted = [...new Set([...channels.values()].filter((c) => c.decoder).map((c) => c.topic))];
    if (wanted.length === 0) return;
    let lastNs = startNs;
    try {
      const it = reader.readMessages({
        topics: wanted,
        ...(bounds.start !== undefined ? { startTime: bounds.start } : {}),
        ...(bounds.end !== undefined ? { endTime: bounds.end } : {}),
        validateCrcs: true,
      });
      for await (const m of it) {
        const state = channels.get(m.channelId);
        if (!state?.decoder) continue;
        lastNs = m.logTime;
        yield {
          ns: m.logTime,
          event: decodeEvent(this.path, state.topic, state.type, state.decoder as Decoder, m.logTime, m.data),
        };
      }
    } catch (err) {
      yield {
        ns: lastNs,
        event: problem(
          "corrupt",
          `${this.path}: stopped reading after log time ${nsToSeconds(lastNs)}: ${errorMessage(err)}`,
        ),
      };
    }
  }

  async *#readStream(topics: ReadonlySet<string> | undefined, bounds: NsBounds): AsyncGenerator<TimedEvent> {
    const reported = new Set<number>();
    let lastNs = 0n;
    for await (const item of this.#records()) {
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
          yield { ns: record.logTime, event: this.#unknownProblem(state) };
        }
        continue;
      }
      yield {
        ns: record.logTime,
        event: decodeEvent(
          this.path,
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
  async *#records(): AsyncGenerator<
    | { kind: "record"; record: McapTypes.TypedMcapRecord; state: ChannelState | undefined }
    | { kind: "broken"; problem: "truncated" | "corrupt" | "no_index"; warning: string }
  > {
    const decompressHandlers = await loadDecompressHandlers();
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
        const state = channelState(record, schemas.get(record.schemaId), this.#zstdMessages);
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
          warning: `${this.path}: corrupt record at byte ${where()} of ${this.#size} (${errorMessage(err)}); read ${messages} messages before it`,
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
        if (this.#noIndex !== undefined && this.#noIndex !== NO_CHUNK_INDEX) {
          yield {
            kind: "broken",
            problem: "no_index",
            warning: `${this.path}: summary unusable (${this.#noIndex}); read all ${messages} messages front to back`,
          };
        }
        return;
      }
      if (fed >= this.#size) {
        const at = where();
        // rosbag2's default MCAP preset writes uncompressed chunks; the whole records at the start
        // of a chunk cut short are still readable.
        const before = messages;
        const records = partialChunkRecords(await this.#readRange(at, this.#size - at));
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
          warning: `${this.path}: truncated at byte ${at} of ${this.#size} (incomplete ${records ? "chunk" : "record"}, no footer); read ${messages} messages${recovered > 0 ? `, ${recovered} of them from the incomplete chunk` : ""}`,
        };
        return;
      }
      const { bytesRead } = await this.#handle.read(buffer, 0, READ_BLOCK, fed);
      if (bytesRead === 0) {
        fed = this.#size;
        continue;
      }
      fed += bytesRead;
      stream.append(buffer.slice(0, bytesRead));
    }
  }

  async #readRange(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    const { bytesRead } = await this.#handle.read(out, 0, length, offset);
    return out.subarray(0, bytesRead);
  }

  #unknownProblem(state: ChannelState): ReturnType<typeof problem> {
    return problem(
      "unknown_type",
      `${this.path}: ${state.topic}: ${state.unknown}; its messages are skipped`,
      state.topic,
    );
  }
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

export class McapSource implements BagSource {
  readonly path: string;
  readonly format = "mcap" as const;
  readonly #files: McapFile[];
  readonly #warnings: string[];

  private constructor(path: string, files: McapFile[], warnings: string[]) {
    this.path = path;
    this.#files = files;
    this.#warnings = warnings;
  }

  /**
   * Opens one or more .mcap files (a rosbag2 folder can be split) as one bag shown as `path`.
   * `zstdMessages`: a rosbag2 folder recorded with `--compression-mode message` (each message's data
   * one zstd frame, inside MCAP's own chunks).
   */
  static async open(
    path: string,
    files: readonly string[],
    warnings: string[] = [],
    opts: { zstdMessages?: boolean } = {},
  ): Promise<McapSource> {
    const opened: McapFile[] = [];
    try {
      for (const f of files) opened.push(await McapFile.open(f, opts.zstdMessages ?? false));
    } catch (err) {
      await Promise.allSettled(opened.map((f) => f.close()));
      throw err;
    }
    return new McapSource(path, opened, warnings);
  }

  async info(): Promise<BagInfo> {
    const topics = new Map<string, TopicInfo>();
    const skipped: Record<string, number> = {};
    const warnings = [...this.#warnings];
    let start: bigint | undefined;
    let end: bigint | undefined;
    for (const file of this.#files) {
      const scan = await file.scan();
      if (scan.warning) warnings.push(scan.warning);
      if (scan.start !== undefined && (start === undefined || scan.start < start)) start = scan.start;
      if (scan.end !== undefined && (end === undefined || scan.end > end)) end = scan.end;
      for (const [id, state] of scan.channels) {
        const count = Number(scan.counts.get(id) ?? 0n);
        const t = topics.get(state.topic);
        if (t) t.count += count;
        else
          topics.set(state.topic, {
            name: state.topic,
            type: state.type,
            count,
            serializationFormat: state.messageEncoding,
          });
        if (state.unknown && count > 0)
          skipped[state.type || "(no schema)"] = (skipped[state.type || "(no schema)"] ?? 0) + count;
      }
    }
    const list = [...topics.values()];
    const s = start === undefined ? 0 : nsToSeconds(start);
    const e = end === undefined ? 0 : nsToSeconds(end);
    return {
      path: this.path,
      format: "mcap",
      start: s,
      end: e,
      duration: start === undefined || end === undefined ? 0 : nsToSeconds(end - start),
      topics: list,
      skipped,
      warnings,
      files: this.#files.map((f) => f.path),
      size: this.#files.reduce((a, f) => a + f.size, 0),
      messageCount: list.reduce((a, t) => a + t.count, 0),
    };
  }

  messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
    const topics = options?.topics ? new Set(options.topics) : undefined;
    const bounds = nsBounds(options);
    return finish(mergeByLogTime(this.#files.map((f) => f.read(topics, bounds))), options?.signal);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#files.map((f) => f.close()));
  }
}
