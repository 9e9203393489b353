// Writes ROS 2 messages to an MCAP file the way rosbag2's MCAP storage does (profile `ros2`,
// `ros2msg` schemas, `cdr` messages, zstd- or lz4-compressed chunks, full summary and indexes), so
// Foxglove, `ros2 bag play` and `mcap info` open what the simulator and recorder write.
//
// The file is written under a temporary name in the same folder and renamed into place by
// `close()`, once the summary and footer are on disk; `abort()` drops it instead. Whatever was at
// the path before stays intact until the new file is complete.

import { type FileHandle, open } from "node:fs/promises";
import { MessageWriter } from "@foxglove/rosmsg2-serialization";
import * as zstd from "@foxglove/wasm-zstd";
import { McapWriter } from "@mcap/core";
import { secondsToNs } from "../../core/time.ts";
import { definitionsFor, ros2TypeName, schemaTextFor } from "../ros/definitions.ts";
import { offeredQosYaml, type QosProfile, TF_STATIC_QOS } from "../ros/qos.ts";
import { commitTemp, discardTemp, outputWriteError, tempPathFor } from "../safe-output.ts";

export type ChunkCompression = "zstd" | "lz4" | "none";

export interface McapWriterOptions {
  compression?: ChunkCompression;
  /** Uncompressed chunk size in bytes before a chunk is closed. */
  chunkSize?: number;
  /** zstd level; 3 is rosbag2's default trade-off. */
  zstdLevel?: number;
  /** Written into the MCAP header's `library` field. */
  library?: string;
  /** Key/value metadata records written at the start (e.g. the simulator's world and seed). */
  metadata?: Record<string, Record<string, string>>;
}

/**
 * The file for McapWriter. A write that fills the disk (or reaches a file size limit) is short before
 * the next one fails; @mcap/nodejs's FileHandleWritable counts the short write as written and goes
 * on, so a short last write (the footer) left a truncated bag that was renamed into place as
 * complete. Here the rest is written again, which fails with the disk's error.
 */
class WholeWritable {
  readonly #handle: FileHandle;
  #written = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(buffer: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < buffer.byteLength) {
      const { bytesWritten } = await this.#handle.write(buffer, offset, buffer.byteLength - offset);
      if (bytesWritten <= 0)
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      offset += bytesWritten;
    }
    this.#written += buffer.byteLength;
  }

  position(): bigint {
    return BigInt(this.#written);
  }
}

interface TopicEntry {
  channelId: number;
  serializer: MessageWriter;
  sequence: number;
}

export class Ros2McapWriter {
  readonly path: string;
  /** Where the bytes go until `close()` renames the finished file to `path`. */
  readonly tempPath: string;
  #handle: FileHandle;
  #writer: McapWriter;
  #topics = new Map<string, TopicEntry>();
  #schemas = new Map<string, number>();
  #closed = false;
  #messages = 0;
  /**
   * The first write to the file that failed (disk full, file too large, I/O error). The MCAP writer
   * keeps the unwritten chunk and retries it with every later message, so the chunk, the memory and
   * the compression time of each retry grow without end: after one failure every call fails at once.
   */
  #failed: Error | undefined;
  // McapWriter requires each call to finish before the next starts; this chain serialises callers
  // that do not await.
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, tempPath: string, handle: FileHandle, writer: McapWriter) {
    this.path = path;
    this.tempPath = tempPath;
    this.#handle = handle;
    this.#writer = writer;
  }

  static async create(path: string, options: McapWriterOptions = {}): Promise<Ros2McapWriter> {
    const compression = options.compression ?? "zstd";
    let compressChunk:
      | ((data: Uint8Array) => { compression: string; compressedData: Uint8Array })
      | undefined;
    if (compression === "zstd") {
      await zstd.isLoaded;
      const level = options.zstdLevel ?? 3;
      compressChunk = (data) => ({ compression: "zstd", compressedData: zstd.compress(data, level) });
    } else if (compression === "lz4") {
      // MCAP's lz4 is the LZ4 frame format, which lz4js writes (@foxglove/wasm-lz4 only decodes).
      const lz4 = (await import("lz4js")) as unknown as { compress(data: Uint8Array): Uint8Array };
      compressChunk = (data) => ({ compression: "lz4", compressedData: lz4.compress(data) });
    }
    const tempPath = tempPathFor(path);
    const handle = await open(tempPath, "wx");
    try {
      const writer = new McapWriter({
        writable: new WholeWritable(handle),
        useChunks: true,
        chunkSize: options.chunkSize ?? 4 * 1024 * 1024,
        compressChunk,
      });
      await writer.start({ profile: "ros2", library: options.library ?? "terrain-learner" });
      const self = new Ros2McapWriter(path, tempPath, handle, writer);
      // Without serialized metadata, rosbag2 (Iron and later) reads offered_qos_profiles in the
      // integer form of metadata version 8, the form Humble writes and reads (src/io/ros/qos.ts).
      await writer.addMetadata({ name: "rosbag2", metadata: new Map([["serialized_metadata", ""]]) });
      for (const [name, entries] of Object.entries(options.metadata ?? {})) {
        await writer.addMetadata({ name, metadata: new Map(Object.entries(entries)) });
      }
      return self;
    } catch (err) {
      await handle.close();
      await discardTemp(tempPath);
      throw outputWriteError(path, err);
    }
  }

  /**
   * Declares a topic and the QoS its publisher offers (rosbag2's `offered_qos_profiles`, what
   * `ros2 bag play` offers again). Optional: `write` declares unknown topics on first use, /tf_static
   * with tf2's static-broadcaster QoS and others with none recorded.
   */
  addTopic(topic: string, type: string, qos?: QosProfile): Promise<void> {
    return this.#enqueue(async () => {
      await this.#ensureTopic(topic, type, qos);
    });
  }

  /**
   * Writes one message. `stamp` (seconds) becomes the log and publish time, as rosbag2 records
   * receive time there; the message's own header stamp is part of `message`.
   */
  write(topic: string, type: string, stamp: number, message: unknown): Promise<void> {
    return this.#enqueue(async () => {
      const entry = await this.#ensureTopic(topic, type);
      let data: Uint8Array;
      try {
        data = entry.serializer.writeMessage(message);
      } catch (err) {
        throw new Error(`cannot serialise ${ros2TypeName(type)} for ${topic}: ${(err as Error).message}`);
      }
      const time = secondsToNs(stamp);
      await this.#io(() =>
        this.#writer.addMessage({
          channelId: entry.channelId,
          sequence: entry.sequence++,
          logTime: time,
          publishTime: time,
          data,
        }),
      );
      this.#messages++;
    });
  }

  /** Why the file can no longer be written (the first failed write), if it cannot. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Messages written so far. */
  get messageCount(): number {
    return this.#messages;
  }

  /**
   * Finishes the summary and footer, closes the file and renames it to `path`. If finishing fails
   * the temporary file is removed and `path` is left as it was. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return this.#queue;
    this.#closed = true;
    try {
      try {
        await this.#queue;
        if (this.#failed) throw this.#failed;
        await this.#io(() => this.#writer.end());
      } finally {
        await this.#handle.close();
      }
      await commitTemp(this.tempPath, this.path);
    } catch (err) {
      await discardTemp(this.tempPath);
      throw outputWriteError(this.path, err);
    }
  }

  /** Drops the recording: closes and removes the temporary file; `path` is not touched. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#handle.close().catch(() => {});
    await discardTemp(this.tempPath);
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`MCAP writer for ${this.path} is closed`));
    const next = this.#queue.then(() => {
      if (this.#failed) throw this.#failed;
      return job();
    });
    // Keep the chain alive after a failed job; the caller still sees the rejection.
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Runs one call that writes to the file; its failure is the file's (see #failed). */
  async #io<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.#failed ??= outputWriteError(this.path, err);
      throw this.#failed;
    }
  }

  async #ensureTopic(topic: string, type: string, qos?: QosProfile): Promise<TopicEntry> {
    const existing = this.#topics.get(topic);
    if (existing) return existing;
    const fullType = ros2TypeName(type);
    let schemaId = this.#schemas.get(fullType);
    if (schemaId === undefined) {
      schemaId = await this.#io(() =>
        this.#writer.registerSchema({
          name: fullType,
          encoding: "ros2msg",
          data: new TextEncoder().encode(schemaTextFor(fullType)),
        }),
      );
      this.#schemas.set(fullType, schemaId);
    }
    const channelId = await this.#io(() =>
      this.#writer.registerChannel({
        topic,
        schemaId,
        messageEncoding: "cdr",
        // rosbag2 stores the offered QoS here; an empty list is what it writes for none. /tf_static
        // is latched (transient local): `ros2 bag play` re-offers it so late subscribers still get it.
        metadata: new Map([
          [
            "offered_qos_profiles",
            offeredQosYaml(qos ? [qos] : topic === "/tf_static" ? [TF_STATIC_QOS] : []),
          ],
        ]),
      }),
    );
    const entry = { channelId, serializer: new MessageWriter(definitionsFor(fullType)), sequence: 0 };
    this.#topics.set(topic, entry);
    return entry;
  }
}
