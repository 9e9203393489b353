// A split ROS 1 recording read as one bag.

import { nsToSeconds } from "../../core/time.ts";
import { finish, mergeByLogTime } from "./common.ts";
import { Ros1Source } from "./ros1-source.ts";
import { countSkipped, noneSkipped } from "./skipped.ts";
import type { BagEvent, BagInfo, BagSource, ReadOptions, TopicInfo } from "./types.ts";

/**
 * The parts of a split ROS 1 recording (`rosbag record --split`: `<name>_0.bag`, `<name>_1.bag`, ...)
 * as one bag, as `rosbag play` takes them together: messages merged in log-time order, counts summed.
 * A latched topic (/tf_static) is in the first part only, so a later part alone lacks it.
 */
export class Ros1Parts implements BagSource {
  readonly path: string;
  readonly format = "ros1" as const;
  readonly #parts: Ros1Source[];
  readonly #warnings: string[];

  private constructor(path: string, parts: Ros1Source[], warnings: string[]) {
    this.path = path;
    this.#parts = parts;
    this.#warnings = warnings;
  }

  static async open(dir: string, files: readonly string[], warnings: string[]): Promise<Ros1Parts> {
    const parts: Ros1Source[] = [];
    try {
      for (const f of files) parts.push(await Ros1Source.open(f));
    } catch (err) {
      await Promise.allSettled(parts.map((p) => p.close()));
      throw err;
    }
    return new Ros1Parts(dir, parts, warnings);
  }

  async info(): Promise<BagInfo> {
    const infos = await Promise.all(this.#parts.map((p) => p.info()));
    const topics = new Map<string, TopicInfo>();
    const skip = noneSkipped();
    for (const i of infos) {
      for (const t of i.topics) {
        const have = topics.get(t.name);
        if (have) have.count += t.count;
        else topics.set(t.name, { ...t });
      }
      for (const [type, n] of Object.entries(i.skipped))
        countSkipped(skip, type, n, i.skippedWhy?.[type] ?? "no message definition");
    }
    let startNs: bigint | undefined;
    let endNs: bigint | undefined;
    for (const p of this.#parts) {
      if (!p.rangeNs) continue;
      if (startNs === undefined || p.rangeNs.start < startNs) startNs = p.rangeNs.start;
      if (endNs === undefined || p.rangeNs.end > endNs) endNs = p.rangeNs.end;
    }
    const list = [...topics.values()];
    return {
      path: this.path,
      format: "ros1",
      start: startNs === undefined ? 0 : nsToSeconds(startNs),
      end: endNs === undefined ? 0 : nsToSeconds(endNs),
      duration: startNs === undefined || endNs === undefined ? 0 : nsToSeconds(endNs - startNs),
      topics: list,
      ...skip,
      warnings: [...this.#warnings, ...infos.flatMap((i) => i.warnings)],
      files: infos.map((i) => i.path),
      size: infos.reduce((a, i) => a + (i.size ?? 0), 0),
      messageCount: list.reduce((a, t) => a + t.count, 0),
    };
  }

  messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
    const { signal, ...read } = options ?? {};
    return finish(mergeByLogTime(this.#parts.map((p) => p.timed(read))), signal);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#parts.map((p) => p.close()));
  }
}
