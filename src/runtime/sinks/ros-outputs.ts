// Sinks that speak ROS (the live node's publishers, the MCAP recorder, a Foxglove view) turn a
// frame's outputs into ROS message objects here, at the edge: the graph itself carries core types.

import {
  cameraInfoToRos,
  costmapToRos,
  float32ImageToRos,
  imageToRos,
  toRosHeader,
} from "../../io/ros/convert.ts";
import { gridCameraModel } from "../../outputs/grid-camera.ts";
import type { FrameOutputs } from "../../outputs/index.ts";

/** Output topics relative to the node (`~/...`), with their ROS 2 types, as in the design table. */
export const OUTPUT_TOPICS = {
  roughness: { topic: "roughness/image", type: "sensor_msgs/msg/Image" },
  /** CameraInfo of roughness/image and roughness/confidence (the camera scaled to the feature grid). */
  roughnessInfo: { topic: "roughness/camera_info", type: "sensor_msgs/msg/CameraInfo" },
  confidence: { topic: "roughness/confidence", type: "sensor_msgs/msg/Image" },
  overlay: { topic: "roughness/overlay", type: "sensor_msgs/msg/Image" },
  costmap: { topic: "roughness/costmap", type: "nav_msgs/msg/OccupancyGrid" },
  ahead: { topic: "roughness/ahead", type: "std_msgs/msg/Float32" },
  speedLimit: { topic: "speed_limit", type: "nav2_msgs/msg/SpeedLimit" },
} as const;

export type OutputKey = keyof typeof OUTPUT_TOPICS;

/** How the speed limit goes out, and the robot frame its header names. */
export interface RosOutputOptions {
  /** Header frame of the speed limit (`frames.base`). */
  baseFrame: string;
  /**
   * nav2_msgs/SpeedLimit as a percentage of `maxSpeed`: Nav2's controllers scale their own maximum
   * by it, so it can only slow the robot. Absolute m/s replaces the controller's maximum (Regulated
   * Pure Pursuit and MPPI take it as given, even above their own).
   */
  speedLimitAs: "percentage" | "absolute";
  /** m/s that is 100 % (`outputs.max_speed`). */
  maxSpeed: number;
  /** `roughness/ahead` is −1 below this mean confidence (`outputs.min_confidence`); default 0. */
  minConfidence?: number;
}

/** The options a config implies. */
export function rosOutputOptions(config: {
  frames: { base: string };
  outputs: { max_speed: number; min_confidence: number };
  ros: { speed_limit_as: "percentage" | "absolute" };
}): RosOutputOptions {
  return {
    baseFrame: config.frames.base,
    speedLimitAs: config.ros.speed_limit_as,
    maxSpeed: config.outputs.max_speed,
    minConfidence: config.outputs.min_confidence,
  };
}

/** nav2_msgs/SpeedLimit for a limit in m/s. */
export function speedLimitToRos(stamp: number, metresPerSecond: number, opts: RosOutputOptions): unknown {
  const header = toRosHeader(stamp, opts.baseFrame);
  if (opts.speedLimitAs === "absolute") return { header, percentage: false, speed_limit: metresPerSecond };
  // Never 0 (Nav2 reads 0 as "no limit") and never above 100 %.
  const percent = Math.min(100, Math.max(1e-3, (100 * metresPerSecond) / opts.maxSpeed));
  return { header, percentage: true, speed_limit: percent };
}

/** ROS message objects for one frame's outputs (keys of OUTPUT_TOPICS; absent outputs are left out). */
export function outputsToRos(o: FrameOutputs, opts: RosOutputOptions): Partial<Record<OutputKey, unknown>> {
  const g = o.grid;
  const msgs: Partial<Record<OutputKey, unknown>> = {
    roughness: float32ImageToRos(o.stamp, o.frameId, g.cols, g.rows, g.roughness),
    confidence: float32ImageToRos(o.stamp, o.frameId, g.cols, g.rows, g.confidence),
    // NaN has no meaning to a subscriber on std_msgs/Float32; -1 is "unknown" as in the costmap,
    // and as for the speed limit: a corridor judged with too little confidence (before any label,
    // the untrained head's output) is not a roughness to act on.
    ahead: {
      data:
        Number.isFinite(o.ahead) && o.aheadConfidence > 0 && o.aheadConfidence >= (opts.minConfidence ?? 0)
          ? o.ahead
          : -1,
    },
    speedLimit: speedLimitToRos(o.stamp, o.speedLimit, opts),
  };
  if (o.camera)
    msgs.roughnessInfo = cameraInfoToRos(
      gridCameraModel(o.camera, { ...g, stamp: o.stamp, frameId: o.frameId }),
    );
  if (o.overlay) msgs.overlay = imageToRos(o.overlay);
  if (o.costmap) msgs.costmap = costmapToRos(o.costmap);
  return msgs;
}
