// The frame names a bag's TF and odometry use, from its first seconds: enough to tell a config whose
// `frames.base` names a frame the robot does not have (`base_link` where the robot's body is
// `chassis` or `body`) before a replay reads the whole bag to learn nothing.

import type { BagSource } from "./types.ts";

export interface BagFrames {
  /** Every frame named by a transform on the TF topics (parent or child), without ROS 1's leading slash. */
  tf: Set<string>;
  /** The odometry's child_frame_id (the body it moves), when it gives one. */
  odomChild?: string;
}

const bare = (f: unknown) => (typeof f === "string" ? f.replace(/^\/+/, "") : "");

/**
 * Frames on `tfTopics` and the child frame of `odom`, over at most `maxSeconds` of log time; with
 * `stopAt`, reading stops as soon as TF names that frame (all a caller checking it needs).
 */
export async function bagFrames(
  bag: BagSource,
  tfTopics: readonly string[],
  odom: string,
  { maxSeconds = 30, stopAt }: { maxSeconds?: number; stopAt?: string } = {},
): Promise<BagFrames> {
  const out: BagFrames = { tf: new Set() };
  let first: number | undefined;
  for await (const e of bag.messages({ topics: [...tfTopics, odom] })) {
    if (e.type !== "message") continue;
    first ??= e.logTime;
    if (e.logTime - first > maxSeconds) break;
    const m = e.message as { transforms?: unknown; child_frame_id?: unknown };
    if (e.topic === odom) {
      out.odomChild ??= bare(m.child_frame_id) || undefined;
      continue;
    }
    if (!Array.isArray(m.transforms)) continue;
    for (const t of m.transforms as { header?: { frame_id?: unknown }; child_frame_id?: unknown }[]) {
      const parent = bare(t.header?.frame_id);
      const child = bare(t.child_frame_id);
      if (parent) out.tf.add(parent);
      if (child) out.tf.add(child);
    }
    if (stopAt !== undefined && out.tf.has(stopAt)) break;
  }
  return out;
}
