// ROS 2 MCAP files (rosbag2's default storage since Iron, and what our simulator writes), read with
// @mcap/core. A file with a summary is read through its chunk indexes (McapIndexedReader: time
// order, topic and time filters without touching other chunks). A file without a usable summary —
// a recorder that lost power never writes one — is read front to back with McapStreamReader, and
// everything up to the first incomplete record comes out, followed by one warning.
// This file joins a bag's files into one BagSource; one file's reading is mcap-file.ts, the
// front-to-back path mcap-stream.ts, decoder setup mcap-channels.ts.

import { nsToSeconds } from "../../core/time.ts";
import { finish, mergeByLogTime, nsBounds } from "./common.ts";
import { McapFile } from "./mcap-file.ts";
import { countSkipped, noneSkipped } from "./skipped.ts";
import type { BagEvent, BagInfo, BagSource, ReadOptions, TopicInfo } from "./types.ts";

export { hasMcapMagic } from "./mcap-file.ts";

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
    const skip = noneSkipped();
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
        if (state.unknown && count > 0) countSkipped(skip, state.type || "(no schema)", count, state.unknown);
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
      ...skip,
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
