// What is wrong with a bag's TF for the configured keys, in words: TF on other topics than
// topics.tf / topics.tf_static (a namespaced robot's /robot1/tf), or TF that never names
// frames.base while the odometry moves a frame it does name. Replay refuses such a bag (bag-checks.ts);
// label, which can take "up" from gravity instead, warns. Light: no image decoders, so label loads it.

import { bagFrames } from "../io/bag/frame-names.ts";
import type { BagInfo, BagSource } from "../io/bag/index.ts";
import type { Config } from "../runtime/config.ts";
import { sameType } from "./topics.ts";

/**
 * The keys to set when neither `topics.tf` nor `topics.tf_static` has messages and the bag carries
 * TF under other names; undefined when either has them or the bag has no TF at all.
 */
export function tfTopicsMismatch(info: BagInfo, config: Config): string | undefined {
  const tfTopics = info.topics.filter(
    (x) => x.count > 0 && (sameType(x.type, "tf2_msgs/TFMessage") || sameType(x.type, "tf/tfMessage")),
  );
  // TF on a configured topic may be all the camera needs (its mount on /tf_static, the motion from
  // the odometry): another TF topic besides (motion capture, a ground-truth /tf_gt) is not a mismatch.
  if (tfTopics.some((x) => x.name === config.topics.tf || x.name === config.topics.tf_static))
    return undefined;
  const fixes: string[] = [];
  for (const key of ["tf", "tf_static"] as const) {
    const name = config.topics[key];
    if (tfTopics.some((x) => x.name === name)) continue;
    const isStatic = (n: string) => n.endsWith("tf_static");
    const other = tfTopics.filter((x) => isStatic(x.name) === (key === "tf_static"));
    if (other.length) fixes.push(`topics.${key}: ${other.map((x) => x.name).join(" or ")} (not ${name})`);
  }
  if (!fixes.length) return undefined;
  return `the bag's TF is on other topics than the config's: set ${fixes.join(" and ")} in a config file given with -c`;
}

/**
 * The frames.base to set when the bag's TF never names `frames.base` while its odometry moves another
 * frame that TF does name (a robot whose body is `chassis`); undefined otherwise. Reads TF until it
 * meets frames.base (the whole of it when it never does).
 */
export async function baseFrameMismatch(
  source: BagSource,
  info: BagInfo,
  config: Config,
): Promise<string | undefined> {
  const t = config.topics;
  const has = (name: string) => info.topics.some((x) => x.name === name && x.count > 0);
  const tf = [t.tf, t.tf_static].filter(has);
  if (!tf.length || !has(t.odom)) return undefined;
  const base = config.frames.base;
  const frames = await bagFrames(source, tf, t.odom, { stopAt: base });
  const child = frames.odomChild;
  if (frames.tf.has(base) || !child || child === base || !frames.tf.has(child)) return undefined;
  return `frames.base '${base}' is in no transform on ${tf.join(" or ")}, and the odometry (${t.odom}) moves '${child}', which TF has: set frames.base: ${child} (a config file with frames: {base: ${child}}, given with -c); TF frames: ${[...frames.tf].sort().join(", ")}`;
}
