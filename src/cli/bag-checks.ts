// Checks a replay makes on the bag before reading it through: one clock for the inputs, TF that names
// frames.base and is on the configured topics, a camera topic whose frames can be decoded. Each
// refuses in one line what would otherwise be learned only after reading the whole bag. Apart from
// topics.ts, whose flags every command registers, because these load the image decoders.

import { jumpBack } from "../core/fusion/reorder-by-stamp.ts";
import type { BagInfo, BagSource } from "../io/bag/index.ts";
import { clockMismatch, topicClocks } from "../io/bag/stamp-clocks.ts";
import { compressedFromRos, imageFromRos } from "../io/ros/convert.ts";
import { decodeCompressed } from "../io/ros/decode-image.ts";
import type { Config } from "../runtime/config.ts";
import { SIM_TOPICS } from "../runtime/stages/inputs.ts";
import { baseFrameMismatch, tfTopicsMismatch } from "./bag-tf-checks.ts";
import { UserError } from "./errors.ts";
import { LABEL_TOPICS, requireTopics, type TopicNeed, topicListing } from "./topics.ts";

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
  const counts = new Map(info.topics.map((x) => [x.name, x.count]));
  const clocks = await topicClocks(source, topics, { counts });
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
  const why = await baseFrameMismatch(source, info, config);
  if (why) throw new UserError(`${bag}: ${why}`);
}

/**
 * Refuses a bag with no messages on `topics.tf` / `topics.tf_static` that carries TF under other
 * names (a namespaced robot's `/robot1/tf`), naming the keys to set: without TF the camera cannot
 * be placed on the robot, and the replay would read the whole bag to say so.
 */
export function requireTfTopics(bag: string, info: BagInfo, config: Config): void {
  const why = tfTopicsMismatch(info, config);
  if (why) throw new UserError(`${bag}: ${why}; without TF the camera cannot be placed on the robot`);
}

/**
 * Why the camera topic cannot be used, or undefined when a frame of it converts: the frames of its
 * first `seconds` (at least `tries` frames, at most `cap`) are tried, so a burst of damaged frames
 * while a camera starts does not condemn a topic whose every frame would fail (a depth topic, an
 * encoding it cannot read, compressedDepth PNGs).
 */
export async function unreadableCamera(
  source: BagSource,
  info: BagInfo,
  config: Config,
  { tries = 5, seconds = 2, cap = 200 } = {},
): Promise<string | undefined> {
  const t = config.topics;
  const cams = [t.image, t.compressed_image].filter((name) =>
    info.topics.some((x) => x.name === name && x.count > 0),
  );
  if (!cams.length) return undefined;
  let first: string | undefined;
  let start: number | undefined;
  let n = 0;
  for await (const e of source.messages({ topics: cams })) {
    if (e.type !== "message") continue;
    start ??= e.logTime;
    if (n >= cap || (n >= tries && e.logTime - start > seconds)) break;
    try {
      if (e.topic === t.image) imageFromRos(e.message);
      else await decodeCompressed(compressedFromRos(e.message));
      return undefined;
    } catch (err) {
      first ??= `${e.topic}: ${(err as Error).message}`;
    }
    n++;
  }
  return first && `none of the first ${n} camera frames can be used (${first})`;
}

/**
 * Refuses a camera topic none of whose first frames converts: every frame would fail, and the
 * replay would read the whole bag to say so at the end.
 */
export async function requireReadableCamera(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
): Promise<void> {
  const why = await unreadableCamera(source, info, config);
  if (why)
    throw new UserError(
      `${bag}: ${why}; use --image or --compressed-image to name the colour or mono camera's topic`,
    );
}

/**
 * A bag with both camera topics (what `ros2 bag record -a` captures where image_transport
 * republishes each raw frame compressed) holds every frame twice: read both, each frame would be
 * decoded twice and every second copy counted as a duplicate. One is read: the one named alone by a
 * flag (`named`), else the one `ros.image_transport` names (raw by default: lossless, no decode).
 * The other topic is blanked in the returned config, and `note` says which was left out and how to
 * choose it instead.
 */
export function chooseCamera(
  bag: string,
  info: BagInfo,
  config: Config,
  named?: "raw" | "compressed",
): { config: Config; note?: string } {
  const t = config.topics;
  const has = (name: string) => info.topics.some((x) => x.name === name && x.count > 0);
  if (!has(t.image) || !has(t.compressed_image) || t.image === t.compressed_image) return { config };
  const raw = (named ?? config.ros.image_transport) === "raw";
  const [used, left] = raw ? [t.image, t.compressed_image] : [t.compressed_image, t.image];
  const how = raw
    ? `--compressed-image ${left} or set ros.image_transport: compressed`
    : `--image ${left} or set ros.image_transport: raw`;
  return {
    config: { ...config, topics: { ...t, [raw ? "compressed_image" : "image"]: "" } },
    note: `${bag}: the bag has both camera topics: replay reads ${used} and leaves out ${left} (to read that one instead, give ${how})`,
  };
}

/**
 * chooseCamera, and when no flag named the topic and the chosen one's frames cannot be used while
 * the other topic's can (a raw topic in an encoding it cannot read beside its compressed copy), the
 * other one, with a note saying why.
 */
export async function chooseReadableCamera(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
  named?: "raw" | "compressed",
): Promise<{ config: Config; note?: string }> {
  const choice = chooseCamera(bag, info, config, named);
  if (!choice.note || named !== undefined) return choice;
  const why = await unreadableCamera(source, info, choice.config);
  if (!why) return choice;
  const raw = config.ros.image_transport === "raw";
  const other = chooseCamera(bag, info, config, raw ? "compressed" : "raw");
  if (await unreadableCamera(source, info, other.config)) return choice;
  const [used, left] = raw
    ? [config.topics.compressed_image, config.topics.image]
    : [config.topics.image, config.topics.compressed_image];
  return {
    config: other.config,
    note: `${bag}: the bag has both camera topics, and ${left} cannot be used: ${why}; replay reads ${used} instead`,
  };
}

/** What the pipeline needs from a bag: a camera and its intrinsics, plus what labelling needs. */
export const REPLAY_TOPICS: readonly TopicNeed[] = [
  { what: "camera image", keys: ["image", "compressedImage"] },
  {
    what: "camera info",
    keys: ["cameraInfo"],
    why: "images cannot be related to the ground without intrinsics: give the camera's calibration file with --camera-info-file calib.yaml (what camera_calibration writes), or record the camera driver's camera_info topic with its images",
  },
  ...LABEL_TOPICS,
];

/**
 * `--eval` scores against the simulator's ground truth; on a bag without it the whole replay would
 * run to print "n/a" everywhere and exit 0, so it is refused before reading, like a missing input.
 */
function requireGroundTruth(bag: string, info: BagInfo): void {
  const has = (topic: string) => info.topics.some((t) => t.name === topic && t.count > 0);
  const missing = [SIM_TOPICS.roughness, SIM_TOPICS.pose].filter((t) => !has(t));
  if (missing.length)
    throw new UserError(
      `${bag}: --eval scores predictions against a simulator's ground truth, and this bag has no messages on ${missing.join(" or ")} (bags from terrain-learner sim and demo have them; without --eval a replay learns and predicts as usual); topics: ${topicListing(info)}`,
    );
}

/** Every check a replay makes on the bag before it reads it through, cheapest first. */
export async function checkReplayBag(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
  evaluate: boolean,
): Promise<void> {
  requireTopics(bag, info, config, REPLAY_TOPICS);
  requireTfTopics(bag, info, config);
  await requireOneClock(bag, source, info, config);
  await requireBaseFrame(bag, source, info, config);
  await requireReadableCamera(bag, source, info, config);
  if (evaluate) requireGroundTruth(bag, info);
}
