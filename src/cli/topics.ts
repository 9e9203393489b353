// The topic flags (--image, --imu, ...) shared by the commands that read bags, and the check that
// the bag has messages on the topics a command needs: a command that would read nothing says which
// topics it looked for and lists the bag's topics with their types, instead of finishing with zero.
// Light on purpose: every bag command registers these flags before its heavy modules load.

import type { Command } from "commander";
import type { BagInfo } from "../io/bag/index.ts";
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

/** What labelling needs from a bag (replay needs these too). */
export const LABEL_TOPICS: readonly TopicNeed[] = [
  { what: "IMU", keys: ["imu"] },
  { what: "odometry", keys: ["odom"], why: "labels need distance travelled" },
];

/** `pkg/msg/Type` (ROS 2) and `pkg/Type` (ROS 1) name the same message. */
export const sameType = (a: string, b: string) => a.replace("/msg/", "/") === b.replace("/msg/", "/");

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
