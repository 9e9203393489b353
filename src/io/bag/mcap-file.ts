// One open .mcap file: its summary scan and its messages, through the chunk index or front to back.

import { type FileHandle, open } from "node:fs/promises";
import * as zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { nsToSeconds } from "../../core/time.ts";
import { errorMessage, type NsBounds, problem, reorderWindow, type TimedEvent } from "./common.ts";
import { type Decoder, decodeEvent } from "./decoders.ts";
import { loadBagDecompressHandlers } from "./decompress.ts";
import { type ChannelState, channelState, unknownProblem } from "./mcap-channels.ts";
import { mcapRecords, NO_CHUNK_INDEX, readStream, type StreamFile } from "./mcap-stream.ts";

const MAGIC = Uint8Array.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]);

export function hasMcapMagic(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

export interface Scan {
  counts: Map<number, bigint>;
  start: bigint | undefined;
  end: bigint | undefined;
  channels: Map<number, ChannelState>;
  warning: string | undefined;
}

/** One .mcap file; owns its file handle. */
export class McapFile {
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
      const decompressHandlers = await loadBagDecompressHandlers();
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
      for await (const item of mcapRecords(this.#streamFile())) {
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
    else yield* reorderWindow(readStream(this.#streamFile(), topics, bounds));
  }

  #streamFile(): StreamFile {
    return {
      path: this.path,
      handle: this.#handle,
      size: this.#size,
      noIndex: this.#noIndex,
      zstdMessages: this.#zstdMessages,
    };
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
      if (state.unknown) yield { ns: startNs, event: unknownProblem(this.path, state) };
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
}
