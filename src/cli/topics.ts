// The topic flags (--image, --imu, ...) shared by the commands that read bags, and the check that
// the bag has messages on the topics a command needs: a command that would read nothing says which
// topics it looked for and lists the bag's topics with their types, instead of finishing with zero.

import type { Command } from "commander";
import { jumpBack } from "../core/fusion/reorder-by-stamp.ts";
import { bagFrames } from "../io/bag/frame-names.ts";
import type { BagInfo, BagSource } from "../io/bag/index.ts";
import { clockMismatch, topicClocks } from "../io/bag/stamp-clocks.ts";
import { compressedFromRos, imageFromRos } from "../io/ros/convert.ts";
import { decodeCompressed } from "../io/ros/decode-image.ts";
import { type Config, TopicsSchema } from "../runtime/config.ts";
import { UserError } from "./errors.ts";

type TopicKey = "image" | "compressedImage" | "cameraInfo" | "imu" | "odom";

type ConfigTopicKey = keyof Config["topics"];

/** Option name (as commander names it) -> flag, message type and the `topics.*` config key it sets. */
const FLAGS: Record<TopicKey, { flag: string; type: string; key: ConfigTopicKey }> = {
  image: { flag: "--image", type: "sensor_msgs/Image", key: "image" },
  compressedImage: {
    flag: "--compressed-image",
    type: "sensor_msgs/CompressedImage",
    key: "compressed_image",
  },
  cameraInfo: { flag: "--camera-info", type: "sensor_msgs/CameraInfo", key: "camera_info" },
  imu: { flag: "--imu", type: "sensor_msgs/Imu", key: "imu" },
  odom: { flag: "--odom", type: "nav_msgs/Odometry", key: "odom" },
};

export type TopicFlags = Partial<Record<TopicKey, string>>;

/** Adds `--image <topic>` etc. for the given keys, with the config key and default in the help. */
export function addTopicOptions(cmd: Command, keys: readonly TopicKey[]): Command {
  const defaults = TopicsSchema.parse({});
  for (const key of keys) {
    const { flag, type, key: configKey } = FLAGS[key];
    cmd.option(`${flag} <topic>`, `${type} topic (default: topics.${configKey}, ${defaults[configKey]})`);
  }
  return cmd;
}

/** Flags override the config file. An empty name (`--imu ""`, an unset shell variable) is refused. */
export function applyTopicFlags(config: Config, o: TopicFlags): void {
  for (const key of Object.keys(FLAGS) as TopicKey[]) {
    const v = o[key];
    if (v !== undefined && v.trim() === "")
      throw new UserError(
        `${FLAGS[key].flag} '${v}': expected a topic name (e.g. ${TopicsSchema.parse({})[FLAGS[key].key]})`,
      );
    if (v !== undefined) config.topics[FLAGS[key].key] = v;
  }
}

/** `name (type, count)` for every topic in the bag. */
export function topicListing(info: BagInfo): string {
  return info.topics.map((t) => `${t.name} (${t.type}, ${t.count})`).join(", ") || "none";
}

/**
 * The config with each `topics.*` name the bag spells with or without a leading slash replaced by
 * the bag's spelling: `imu/data` (a relative name, as a namespaced node's params give it) and
 * `/imu/data` (what rosbag2 records) are the same topic at the root namespace, and ROS 1 bags may
 * carry either. A name the bag has exactly, or not at all, is kept.
 */
export function withBagTopics(config: Config, info: BagInfo): Config {
  const names = new Set(info.topics.map((t) => t.name));
  const topics = { ...config.topics };
  for (const key of Object.keys(topics) as ConfigTopicKey[]) {
    const name = topics[key];
    if (names.has(name)) continue;
    const other = name.startsWith("/") ? name.slice(1) : `/${name}`;
    if (names.has(other)) topics[key] = other;
  }
  return { ...config, topics };
}

export interface TopicNeed {
  /** What the command needs, e.g. "camera images", "IMU". */
  what: string;
  /** Config keys of the topics that satisfy it (any one with messages will do). */
  keys: readonly TopicKey[];
  /** Why it is needed, added to the message. */
  why?: string;
}

/** `pkg/msg/Type` (ROS 2) and `pkg/Type` (ROS 1) name the same message. */
const sameType = (a: string, b: string) => a.replace("/msg/", "/") === b.replace("/msg/", "/");

/**
 * The flag and topic to give when the bag carries the needed type under another name (a robot's own
 * topic names: `/husky/imu`, `/zed/left/image_rect_color/compressed`), or undefined. A suggestion,
 * never a silent pick: with two candidates (two cameras) only the user knows which one is meant.
 */
function useInstead(info: BagInfo, keys: readonly TopicKey[]): string | undefined {
  const found = keys.flatMap((key) =>
    info.topics
      .filter((t) => t.count > 0 && t.type !== "" && sameType(t.type, FLAGS[key].type))
      .map((t) => `${FLAGS[key].flag} ${t.name}`),
  );
  if (!found.length) return undefined;
  return found.length === 1
    ? `the bag's topic of that type: use ${found[0]}`
    : `the bag's topics of that type: use one of ${found.join(", ")}`;
}

/**
 * Throws one UserError naming every need the bag does not meet (the topics looked for and the flag
 * that changes each) and listing the bag's topics with types and counts. A topic whose messages are
 * of another type does not meet a need: every one of them would fail to convert, and the command
 * would finish with nothing.
 */
export function requireTopics(bag: string, info: BagInfo, config: Config, needs: readonly TopicNeed[]): void {
  const found = (topic: string) => info.topics.find((t) => t.name === topic && t.count > 0);
  const missing: string[] = [];
  for (const need of needs) {
    const topics = need.keys.map((k) => ({ key: k, topic: config.topics[FLAGS[k].key] }));
    // A bag that does not say the type (empty) is given the benefit of the doubt.
    const fits = ({ key, topic }: { key: TopicKey; topic: string }) => {
      const t = found(topic);
      return t !== undefined && (t.type === "" || sameType(t.type, FLAGS[key].type));
    };
    // A topic of another type is refused even when another key's topic fits: messages are converted
    // by the key naming their topic first (`--image` naming the compressed camera topic, which
    // topics.compressed_image names too, reads every frame as a raw Image and fails each).
    const wrong = topics.filter(({ key, topic }) => {
      const t = found(topic);
      return t !== undefined && t.type !== "" && !sameType(t.type, FLAGS[key].type);
    });
    if (!wrong.length && topics.some(fits)) continue;
    const flags = need.keys.map((k) => FLAGS[k].flag).join(" or ");
    if (wrong.length) {
      for (const { key, topic } of wrong) {
        const type = found(topic)!.type;
        // Of another key's type (a CompressedImage topic given as --image): name that key's flag.
        const other = need.keys.find((k) => k !== key && sameType(type, FLAGS[k].type));
        const fix = other ? `give it with ${FLAGS[other].flag}` : `use ${FLAGS[key].flag}`;
        missing.push(`${need.what} topic ${topic} carries ${type}, expected ${FLAGS[key].type} (${fix})`);
      }
      continue;
    }
    missing.push(
      `no messages on ${need.what} topic ${topics.map((t) => t.topic || "''").join(" or ")} (${useInstead(info, need.keys) ?? `use ${flags}`})${need.why ? `; ${need.why}` : ""}`,
    );
  }
  // A bag cut short may have lost the topics: that, not a topic flag, is then the fix. The same list
  // holds notes on healthy bags (no metadata.yaml, decompressed parts), so it is not called damage.
  const damaged = info.warnings.length ? `; reading the bag found: ${info.warnings.join("; ")}` : "";
  if (missing.length)
    throw new UserError(`${bag}: ${missing.join("; ")}; topics: ${topicListing(info)}${damaged}`);
}

/**
 * Refuses a bag whose input topics are stamped on different clocks (a camera or IMU driver that
 * stamps with its device's time): merged by stamp, nothing would meet, and the run would take many
 * times its normal time to learn nothing while reporting clock jumps. The IMU is the reference.
 */
export async function requireOneClock(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
): Promise<void> {
  const t = config.topics;
  const has = (name: string) => info.topics.some((x) => x.name === name && x.count > 0);
  const topics = [...new Set([t.imu, t.odom, t.image, t.compressed_image, t.camera_info])].filter(has);
  if (topics.length < 2) return;
  const clocks = await topicClocks(source, topics);
  clocks.sort((a, b) => topics.indexOf(a.topic) - topics.indexOf(b.topic));
  const why = clockMismatch(clocks, jumpBack(config.fusion.reorder_window));
  if (why) throw new UserError(`${bag}: ${why}`);
}

/**
 * Refuses a bag whose TF never names `frames.base` while its odometry moves another frame that TF
 * does name (a robot whose body is `chassis`): the camera could never be placed on the robot, and
 * the replay would read the whole bag to say "TF never linked the camera to base_link".
 */
export async function requireBaseFrame(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
): Promise<void> {
  const t = config.topics;
  const has = (name: string) => info.topics.some((x) => x.name === name && x.count > 0);
  const tf = [t.tf, t.tf_static].filter(has);
  if (!tf.length || !has(t.odom)) return;
  const base = config.frames.base;
  const frames = await bagFrames(source, tf, t.odom, { stopAt: base });
  const child = frames.odomChild;
  if (frames.tf.has(base) || !child || child === base || !frames.tf.has(child)) return;
  throw new UserError(
    `${bag}: frames.base '${base}' is in no transform on ${tf.join(" or ")}, and the odometry (${t.odom}) moves '${child}', which TF has: set frames.base: ${child} (a config file with frames: {base: ${child}}, given with -c); TF frames: ${[...frames.tf].sort().join(", ")}`,
  );
}

/**
 * Refuses a bag with no messages on `topics.tf` / `topics.tf_static` that carries TF under other
 * names (a namespaced robot's `/robot1/tf`), naming the keys to set: without TF the camera cannot
 * be placed on the robot, and the replay would read the whole bag to say so.
 */
export function requireTfTopics(bag: string, info: BagInfo, config: Config): void {
  const tfTopics = info.topics.filter(
    (x) => x.count > 0 && (sameType(x.type, "tf2_msgs/TFMessage") || sameType(x.type, "tf/tfMessage")),
  );
  const fixes: string[] = [];
  for (const key of ["tf", "tf_static"] as const) {
    const name = config.topics[key];
    if (tfTopics.some((x) => x.name === name)) continue;
    const isStatic = (n: string) => n.endsWith("tf_static");
    const other = tfTopics.filter((x) => isStatic(x.name) === (key === "tf_static"));
    if (other.length) fixes.push(`topics.${key}: ${other.map((x) => x.name).join(" or ")} (not ${name})`);
  }
  if (fixes.length)
    throw new UserError(
      `${bag}: the bag's TF is on other topics than the config's: set ${fixes.join(" and ")} in a config file given with -c; without TF the camera cannot be placed on the robot`,
    );
}

/**
 * Refuses a camera topic whose first frames all fail to convert (a depth topic, an encoding it
 * cannot read, compressedDepth PNGs): every frame would, and the replay would read the whole bag to
 * say so at the end. Several frames are tried so that one damaged frame does not refuse a bag.
 */
export async function requireReadableCamera(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
  tries = 5,
): Promise<void> {
  const t = config.topics;
  const cams = [t.image, t.compressed_image].filter((name) =>
    info.topics.some((x) => x.name === name && x.count > 0),
  );
  if (!cams.length) return;
  let first: string | undefined;
  let n = 0;
  for await (const e of source.messages({ topics: cams })) {
    if (e.type !== "message") continue;
    try {
      if (e.topic === t.image) imageFromRos(e.message);
      else await decodeCompressed(compressedFromRos(e.message));
      return;
    } catch (err) {
      first ??= `${e.topic}: ${(err as Error).message}`;
    }
    if (++n >= tries) break;
  }
  if (first)
    throw new UserError(
      `${bag}: none of the first ${n} camera frames can be used (${first}); use --image or --compressed-image to name the colour or mono camera's topic`,
    );
}
