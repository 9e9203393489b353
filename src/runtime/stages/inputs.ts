// Sources → the graph's input: bag messages by topic (config.topics; the simulator's ground-truth
// topics when evaluating) and core inputs from the live adapters, each tagged with the stamp the
// fusion stage orders it by. Pure conversion; a message that does not convert throws (the caller
// reports it as a `convert` problem).

import { rosTimeToSeconds } from "../../core/time.ts";
import type {
  CameraModel,
  CompressedFrame,
  ImageFrame,
  ImuSample,
  OdomSample,
  Problem,
  Stamp,
  Transform,
} from "../../core/types.ts";
import type { BagEvent, BagMessage } from "../../io/bag/types.ts";
import {
  cameraInfoFromRos,
  compressedFromRos,
  imageFromRos,
  imuFromRos,
  odomFromRos,
  transformsFromRos,
} from "../../io/ros/convert.ts";
import type { FeatureMap } from "../../learning/backbone.ts";
import type { Config } from "../config.ts";
import type { CoreInput } from "../events.ts";

/** Simulator ground-truth topics (see notes/contracts.md). */
export const SIM_TOPICS = {
  roughness: "/sim/ground_truth/roughness",
  terrain: "/sim/ground_truth/terrain",
  pose: "/sim/ground_truth/pose",
} as const;

/** A frame whose decode and features were started ahead of its turn (replay read-ahead). */
export interface Prefetched {
  image: Promise<ImageFrame>;
  features: Promise<FeatureMap>;
}

export type GraphInput =
  | { kind: "imu"; stamp: Stamp; sample: ImuSample }
  | { kind: "odom"; stamp: Stamp; sample: OdomSample }
  | { kind: "frame"; stamp: Stamp; frame: ImageFrame | CompressedFrame; prefetched?: Prefetched }
  | { kind: "cameraInfo"; stamp: Stamp; model: CameraModel }
  | { kind: "transforms"; stamp: Stamp; transforms: Transform[]; isStatic: boolean }
  | { kind: "truePose"; stamp: Stamp; sample: OdomSample }
  | { kind: "groundTruth"; stamp: Stamp; which: "roughness" | "terrain"; message: unknown };

export type FrameInput = Extract<GraphInput, { kind: "frame" }>;

const tfStamp = (ts: readonly Transform[]) => {
  let m = Number.NEGATIVE_INFINITY;
  for (const t of ts) if (t.stamp > m) m = t.stamp;
  return ts.length ? m : Number.NaN;
};

function transforms(ts: Transform[], isStatic: boolean): GraphInput {
  // Static transforms are timeless: stamp 0 (they bypass ordering, see fusion.ts).
  return { kind: "transforms", stamp: isStatic ? 0 : tfStamp(ts), transforms: ts, isStatic };
}

/** A live adapter's input (ROS 2 node, serial) as a graph input. */
export function fromCore(input: CoreInput): GraphInput {
  switch (input.kind) {
    case "imu":
      return { kind: "imu", stamp: input.sample.stamp, sample: input.sample };
    case "odom":
      return { kind: "odom", stamp: input.sample.stamp, sample: input.sample };
    case "image":
    case "compressed":
      return { kind: "frame", stamp: input.frame.stamp, frame: input.frame };
    case "cameraInfo":
      return { kind: "cameraInfo", stamp: input.model.stamp, model: input.model };
    case "transforms":
      return transforms(input.transforms, input.transforms.length > 0 && input.transforms[0]!.isStatic);
  }
}

/** A bag message as a graph input by topic; null for topics the graph does not use. Throws if it does not convert. */
export function fromBag(event: BagMessage, topics: Config["topics"], evaluate: boolean): GraphInput | null {
  return fromBagStamped(event, topics, evaluate).input;
}

/** What a run says of a topic whose messages' stamps are 0. */
export function unstampedNote(topic: string): string {
  return `${topic}: header.stamp is 0 (its driver does not stamp messages): the bag's log time is used instead`;
}

/** fromBag, and whether the message's stamp was 0 and its log time stands in for it. */
export function fromBagStamped(
  event: BagMessage,
  topics: Config["topics"],
  evaluate: boolean,
): { input: GraphInput | null; unstamped: boolean } {
  const input = convertBag(event, topics, evaluate);
  if (!input || !isUnstamped(input) || event.logTime === 0) return { input, unstamped: false };
  return { input: withStamp(input, event.logTime), unstamped: true };
}

/**
 * A sensor message whose header.stamp is 0: its driver left the stamp unset. Ordered by stamp 0,
 * every one of them would be dropped as late behind the stamped topics; the bag's log time (when
 * it was received) is the best stamp there is. A log time of 0 too says nothing better.
 */
function isUnstamped(input: GraphInput): boolean {
  return (
    input.stamp === 0 &&
    (input.kind === "imu" || input.kind === "odom" || input.kind === "frame" || input.kind === "cameraInfo")
  );
}

function withStamp(input: GraphInput, stamp: Stamp): GraphInput {
  switch (input.kind) {
    case "imu":
      return { ...input, stamp, sample: { ...input.sample, stamp } };
    case "odom":
      return { ...input, stamp, sample: { ...input.sample, stamp } };
    case "frame":
      return { ...input, stamp, frame: { ...input.frame, stamp } };
    case "cameraInfo":
      return { ...input, stamp, model: { ...input.model, stamp } };
    default:
      return input;
  }
}

function convertBag(event: BagMessage, topics: Config["topics"], evaluate: boolean): GraphInput | null {
  switch (event.topic) {
    case topics.imu: {
      const sample = imuFromRos(event.message);
      return { kind: "imu", stamp: sample.stamp, sample };
    }
    case topics.odom: {
      const sample = odomFromRos(event.message);
      return { kind: "odom", stamp: sample.stamp, sample };
    }
    case topics.image: {
      const frame = imageFromRos(event.message);
      return { kind: "frame", stamp: frame.stamp, frame };
    }
    case topics.compressed_image: {
      const frame = compressedFromRos(event.message);
      return { kind: "frame", stamp: frame.stamp, frame };
    }
    case topics.camera_info: {
      const model = cameraInfoFromRos(event.message);
      return { kind: "cameraInfo", stamp: model.stamp, model };
    }
    case topics.tf:
      return transforms(transformsFromRos(event.message, false), false);
    case topics.tf_static:
      return transforms(transformsFromRos(event.message, true), true);
    case SIM_TOPICS.pose: {
      if (!evaluate) return null;
      const sample = odomFromRos(event.message);
      return { kind: "truePose", stamp: sample.stamp, sample };
    }
    case SIM_TOPICS.roughness:
    case SIM_TOPICS.terrain: {
      if (!evaluate) return null;
      const which = event.topic === SIM_TOPICS.roughness ? "roughness" : "terrain";
      return {
        kind: "groundTruth",
        stamp: headerStamp(event.message, event.logTime),
        which,
        message: event.message,
      };
    }
    default:
      return null;
  }
}

/** A bag event as a graph input, or null: a problem event or a message that does not convert is reported. */
export function bagInput(
  event: BagEvent,
  topics: Config["topics"],
  evaluate: boolean,
  problems: { report(p: Problem): void },
): GraphInput | null {
  if (event.type === "problem") {
    problems.report(event);
    return null;
  }
  try {
    const { input, unstamped } = fromBagStamped(event, topics, evaluate);
    if (!unstamped) return input;
    problems.report({
      type: "problem",
      kind: "unstamped",
      message: unstampedNote(event.topic),
      topic: event.topic,
      stamp: event.logTime,
    });
    return input;
  } catch (err) {
    const message = `${event.topic}: ${(err as Error).message}`;
    problems.report({ type: "problem", kind: "convert", message, topic: event.topic, stamp: event.logTime });
    return null;
  }
}

/** Any source's event as a graph input (see bagInput; a GraphInput, e.g. prefetched, passes as it is). */
export function graphInput(
  event: BagEvent | CoreInput | GraphInput,
  topics: Config["topics"],
  evaluate: boolean,
  problems: { report(p: Problem): void },
): GraphInput | null {
  if ("type" in event) return bagInput(event, topics, evaluate, problems);
  return "stamp" in event ? event : fromCore(event);
}

/** A grid map's header stamp, or its log time when it has none. */
function headerStamp(message: unknown, logTime: number): Stamp {
  const stamp = (message as { header?: { stamp?: { sec: number; nanosec: number } } }).header?.stamp;
  const s = stamp ? rosTimeToSeconds(stamp) : Number.NaN;
  return Number.isFinite(s) ? s : logTime;
}
