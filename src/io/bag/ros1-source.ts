// ROS 1 .bag files (format 2.0; most public robot datasets), read with @foxglove/rosbag. A bag with
// its index (connection and chunk-info records at index_pos) is read through it, in time order. A
// bag whose recorder never wrote the index (index_pos 0 or past the end: power lost) is read front
// to back: the library's record classes parse each record, this file only walks from one record to
// the next, and everything before the first incomplete record comes out, followed by one warning.

import { type FileHandle, open } from "node:fs/promises";
import { Bag } from "@foxglove/rosbag";
import { extractFields } from "@foxglove/rosbag/dist/cjs/fields.js";
import { Chunk, Connection, MessageData } from "@foxglove/rosbag/dist/cjs/record.js";
import { FileReader } from "@foxglove/rosbag/node.js";
import { nsToSeconds } from "../../core/time.ts";
import {
  errorMessage,
  finish,
  inBounds,
  type NsBounds,
  nsBounds,
  problem,
  reorderWindow,
  type TimedEvent,
} from "./common.ts";
import { type Decoder, decodeEvent, normaliseType, ros1Decoder } from "./decoders.ts";
import { loadBagDecompressHandlers } from "./decompress.ts";
import { countSkipped, noneSkipped } from "./skipped.ts";
import type { BagEvent, BagInfo, BagSource, ReadOptions, TopicInfo } from "./types.ts";

/** The version line plus the bag header record, which rosbag pads to 4096 bytes. */
const FIRST_RECORD = 13;
const OP_MESSAGE_DATA = 0x02;
const OP_CHUNK = 0x05;
const OP_CONNECTION = 0x07;

type Decompress = Record<string, (buffer: Uint8Array, size: number) => Uint8Array>;

async function decompressors(): Promise<Decompress> {
  // The same wasm bz2/lz4 decoders MCAP uses (@foxglove/wasm-bz2, @foxglove/wasm-lz4).
  const h = await loadBagDecompressHandlers();
  return {
    bz2: (buffer, size) => h.bz2!(buffer, BigInt(size)),
    lz4: (buffer, size) => h.lz4!(buffer, BigInt(size)),
  };
}

interface ConnState {
  topic: string;
  type: string;
  decoder: Decoder | undefined;
  unknown: string | undefined;
}

function connState(c: Connection): ConnState {
  const type = normaliseType(c.type ?? "");
  const s: ConnState = { topic: c.topic, type, decoder: undefined, unknown: undefined };
  try {
    s.decoder = ros1Decoder(c.messageDefinition);
    if (!s.decoder) s.unknown = `no message definition for ${type}`;
  } catch (err) {
    s.unknown = `bad message definition for ${type}: ${errorMessage(err)}`;
  }
  return s;
}

function timeNs(t: { sec: number; nsec: number }): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}

function nsTime(ns: bigint): { sec: number; nsec: number } {
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

type ScanItem =
  | { kind: "connection"; id: number; state: ConnState }
  | { kind: "message"; conn: number; ns: bigint; data: Uint8Array }
  | { kind: "broken"; warning: string };

export class Ros1Source implements BagSource {
  readonly path: string;
  readonly format = "ros1" as const;
  readonly #file: FileReader;
  readonly #bag: Bag;
  readonly #size: number;
  readonly #decompress: Decompress;
  /** Why the index is not used; undefined for an indexed bag. */
  readonly #noIndex: string | undefined;
  #info: BagInfo | undefined;
  /** Exact first and last log time (ns), set by info(); undefined without messages. */
  rangeNs: { start: bigint; end: bigint } | undefined;

  private constructor(
    path: string,
    file: FileReader,
    bag: Bag,
    size: number,
    decompress: Decompress,
    noIndex: string | undefined,
  ) {
    this.path = path;
    this.#file = file;
    this.#bag = bag;
    this.#size = size;
    this.#decompress = decompress;
    this.#noIndex = noIndex;
  }

  static async open(path: string): Promise<Ros1Source> {
    const decompress = await decompressors();
    const file = new FileReader(path);
    const bag = new Bag(file, { decompress, parse: false });
    let noIndex: string | undefined;
    let size = 0;
    try {
      await file.read(0, FIRST_RECORD);
      size = file.size();
    } catch (err) {
      await file.close();
      throw new Error(`${path}: cannot read ROS 1 bag: ${errorMessage(err)}`);
    }
    // The header says where the index is; a recorder rewrites it only when it closes the bag.
    let indexPos: number | undefined;
    try {
      indexPos = (await bag.reader.readHeader()).indexPosition;
    } catch (err) {
      noIndex = `bag header record unreadable: ${errorMessage(err)}`;
    }
    if (indexPos !== undefined) {
      if (indexPos <= FIRST_RECORD) noIndex = "index_pos is 0: the recorder never wrote the index";
      else if (indexPos >= size) noIndex = `index_pos ${indexPos} is past the end of the file`;
      else {
        try {
          await bag.open();
        } catch (err) {
          noIndex = `index at byte ${indexPos} unreadable: ${errorMessage(err)}`;
        }
      }
    }
    return new Ros1Source(path, file, bag, size, decompress, noIndex);
  }

  async info(): Promise<BagInfo> {
    if (this.#info) return this.#info;
    const byConn = new Map<number, { state: ConnState; count: number }>();
    const warnings: string[] = [];
    let start: bigint | undefined;
    let end: bigint | undefined;
    if (this.#noIndex === undefined) {
      for (const [id, c] of this.#bag.connections) byConn.set(id, { state: connState(c), count: 0 });
      for (const ci of this.#bag.chunkInfos) {
        for (const { conn, count } of ci.connections) {
          const e = byConn.get(conn);
          if (e) e.count += count;
        }
      }
      if (this.#bag.startTime && this.#bag.endTime && this.#bag.chunkInfos.length > 0) {
        start = timeNs(this.#bag.startTime);
        end = timeNs(this.#bag.endTime);
      }
    } else {
      for await (const item of this.#scan()) {
        if (item.kind === "connection") {
          if (!byConn.has(item.id)) byConn.set(item.id, { state: item.state, count: 0 });
        } else if (item.kind === "message") {
          const e = byConn.get(item.conn);
          if (e) e.count++;
          if (start === undefined || item.ns < start) start = item.ns;
          if (end === undefined || item.ns > end) end = item.ns;
        } else warnings.push(item.warning);
      }
    }
    const topics = new Map<string, TopicInfo>();
    const skip = noneSkipped();
    for (const { state, count } of byConn.values()) {
      const t = topics.get(state.topic);
      if (t) t.count += count;
      else
        topics.set(state.topic, { name: state.topic, type: state.type, count, serializationFormat: "ros1" });
      if (state.unknown && count > 0) countSkipped(skip, state.type, count, state.unknown);
    }
    const list = [...topics.values()];
    if (start !== undefined && end !== undefined) this.rangeNs = { start, end };
    this.#info = {
      path: this.path,
      format: "ros1",
      start: start === undefined ? 0 : nsToSeconds(start),
      end: end === undefined ? 0 : nsToSeconds(end),
      duration: start === undefined || end === undefined ? 0 : nsToSeconds(end - start),
      topics: list,
      ...skip,
      warnings,
      files: [this.path],
      size: this.#size,
      messageCount: list.reduce((a, t) => a + t.count, 0),
    };
    return this.#info;
  }

  messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
    return finish(this.timed(options), options?.signal);
  }

  /** The messages with their exact log times, for merging the parts of a split recording. */
  timed(options?: ReadOptions): AsyncGenerator<TimedEvent> {
    const topics = options?.topics ? new Set(options.topics) : undefined;
    const bounds = nsBounds(options);
    return this.#noIndex === undefined
      ? this.#readIndexed(topics, bounds)
      : reorderWindow(this.#readScan(topics, bounds));
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  async *#readIndexed(topics: ReadonlySet<string> | undefined, bounds: NsBounds): AsyncGenerator<TimedEvent> {
    const bag = this.#bag;
    const states = new Map<number, ConnState>();
    const startNs = bounds.start ?? (bag.startTime ? timeNs(bag.startTime) : 0n);
    for (const [id, c] of bag.connections) {
      if (topics && !topics.has(c.topic)) continue;
      const s = connState(c);
      states.set(id, s);
      if (s.unknown)
        yield {
          ns: startNs,
          event: problem(
            "unknown_type",
            `${this.path}: ${s.topic}: ${s.unknown}; its messages are skipped`,
            s.topic,
          ),
        };
    }
    const wanted = [...new Set([...states.values()].filter((s) => s.decoder).map((s) => s.topic))];
    if (wanted.length === 0 || bag.chunkInfos.length === 0) return;
    let lastNs = startNs;
    try {
      const it = bag.messageIterator({
        topics: wanted,
        ...(bounds.start !== undefined ? { start: nsTime(bounds.start) } : {}),
      });
      for await (const m of it) {
        const ns = timeNs(m.timestamp);
        if (bounds.end !== undefined && ns > bounds.end) return;
        const s = states.get(m.connectionId);
        if (!s?.decoder) continue;
        lastNs = ns;
        yield { ns, event: decodeEvent(this.path, s.topic, s.type, s.decoder as Decoder, ns, m.data) };
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

  async *#readScan(topics: ReadonlySet<string> | undefined, bounds: NsBounds): AsyncGenerator<TimedEvent> {
    const states = new Map<number, ConnState>();
    const reported = new Set<number>();
    let lastNs = bounds.start ?? 0n;
    for await (const item of this.#scan()) {
      if (item.kind === "connection") {
        if (!states.has(item.id)) states.set(item.id, item.state);
        continue;
      }
      if (item.kind === "broken") {
        yield { ns: lastNs, event: problem("truncated", item.warning) };
        continue;
      }
      lastNs = item.ns;
      const s = states.get(item.conn);
      if (!s || (topics && !topics.has(s.topic)) || !inBounds(item.ns, bounds)) continue;
      if (!s.decoder) {
        if (!reported.has(item.conn)) {
          reported.add(item.conn);
          yield {
            ns: item.ns,
            event: problem(
              "unknown_type",
              `${this.path}: ${s.topic}: ${s.unknown}; its messages are skipped`,
              s.topic,
            ),
          };
        }
        continue;
      }
      yield {
        ns: item.ns,
        event: decodeEvent(this.path, s.topic, s.type, s.decoder as Decoder, item.ns, item.data),
      };
    }
  }

  /**
   * Walks the records from the first one after the version line, in file order: connections and
   * messages (inside chunks or not), then one `broken` item where the file stops making sense.
   */
  async *#scan(): AsyncGenerator<ScanItem> {
    const handle: FileHandle = await open(this.path, "r");
    const reader = this.#bag.reader;
    let offset = FIRST_RECORD;
    let messages = 0;
    const readAt = async (pos: number, length: number): Promise<Uint8Array | undefined> => {
      if (pos + length > this.#size) return undefined;
      const buf = new Uint8Array(length);
      const { bytesRead } = await handle.read(buf, 0, length, pos);
      return bytesRead === length ? buf : undefined;
    };
    const u32 = (b: Uint8Array, at = 0) =>
      new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
    const broken = (what: string): ScanItem => ({
      kind: "broken",
      warning: `${this.path}: truncated at byte ${offset} of ${this.#size} (${what}; no index${
        this.#noIndex ? `: ${this.#noIndex}` : ""
      }); read ${messages} messages before it`,
    });
    try {
      while (offset < this.#size) {
        const lenBuf = await readAt(offset, 4);
        const headerLen = lenBuf ? u32(lenBuf) : undefined;
        const header = headerLen !== undefined ? await readAt(offset + 4, headerLen + 4) : undefined;
        if (headerLen === undefined || !header) {
          yield broken("incomplete record header");
          return;
        }
        const dataLen = u32(header, headerLen);
        const record = await readAt(offset, 8 + headerLen + dataLen);
        if (!record) {
          // An uncompressed chunk cut short still holds whole records at its start.
          let recovered = 0;
          try {
            const f = extractFields(header.subarray(0, headerLen));
            const compression = f.compression ? new TextDecoder().decode(f.compression) : undefined;
            if (f.op?.[0] === OP_CHUNK && compression === "none") {
              const start = offset + 8 + headerLen;
              const rest = await readAt(start, this.#size - start);
              for (const item of rest ? this.#chunkRecords(rest, offset) : []) {
                if (item.kind === "message") {
                  messages++;
                  recovered++;
                }
                yield item;
              }
            }
          } catch {
            // the first record that does not parse ends the recovery
          }
          yield broken(
            recovered > 0 ? `incomplete chunk, ${recovered} messages recovered from it` : "incomplete record",
          );
          return;
        }
        let op: number;
        try {
          op = extractFields(header.subarray(0, headerLen)).op?.[0] ?? -1;
        } catch (err) {
          yield broken(`unreadable record header: ${errorMessage(err)}`);
          return;
        }
        try {
          if (op === OP_CHUNK) {
            let inner: Uint8Array;
            try {
              const chunk = reader.readRecordFromBuffer(record, offset, Chunk);
              inner = chunk.data ?? new Uint8Array();
              if (chunk.compression !== "none") {
                const fn = this.#decompress[chunk.compression];
                if (!fn) throw new Error(`unsupported chunk compression "${chunk.compression}"`);
                inner = fn(inner, chunk.size);
              }
            } catch (err) {
              yield broken(`bad chunk: ${errorMessage(err)}`);
              return;
            }
            for (const item of this.#chunkRecords(inner, offset)) {
              if (item.kind === "message") messages++;
              yield item;
            }
          } else if (op === OP_CONNECTION) {
            const c = reader.readRecordFromBuffer(record, offset, Connection);
            yield { kind: "connection", id: c.conn, state: connState(c) };
          } else if (op === OP_MESSAGE_DATA) {
            const m = reader.readRecordFromBuffer(record, offset, MessageData);
            messages++;
            yield { kind: "message", conn: m.conn, ns: timeNs(m.time), data: m.data ?? new Uint8Array() };
          }
        } catch (err) {
          yield broken(`unreadable record: ${errorMessage(err)}`);
          return;
        }
        offset += record.byteLength;
      }
      // Every record was whole, but the recorder never wrote the index: say so once.
      yield {
        kind: "broken",
        warning: `${this.path}: no index (${this.#noIndex ?? "missing"}); read all ${messages} messages by scanning to byte ${offset}`,
      };
    } finally {
      await handle.close();
    }
  }

  *#chunkRecords(data: Uint8Array, chunkOffset: number): Generator<ScanItem> {
    const reader = this.#bag.reader;
    let pos = 0;
    while (pos + 4 <= data.byteLength) {
      const view = new DataView(data.buffer, data.byteOffset + pos, data.byteLength - pos);
      const headerLen = view.getUint32(0, true);
      if (pos + 8 + headerLen > data.byteLength) break;
      const dataLen = view.getUint32(4 + headerLen, true);
      const end = pos + 8 + headerLen + dataLen;
      if (end > data.byteLength) break;
      const slice = data.subarray(pos, end);
      const op = extractFields(slice.subarray(4, 4 + headerLen)).op?.[0];
      if (op === OP_CONNECTION) {
        const c = reader.readRecordFromBuffer(slice, chunkOffset, Connection);
        yield { kind: "connection", id: c.conn, state: connState(c) };
      } else if (op === OP_MESSAGE_DATA) {
        const m = reader.readRecordFromBuffer(slice, chunkOffset, MessageData);
        yield { kind: "message", conn: m.conn, ns: timeNs(m.time), data: m.data ?? new Uint8Array() };
      }
      pos = end;
    }
  }
}

export function openRos1(path: string): Promise<Ros1Source> {
  return Ros1Source.open(path);
}
