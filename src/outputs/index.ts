// Outputs of one processed frame, turned into the ROS messages the adapters publish and the recorder
// writes. Pure: no I/O; the pipeline builds `FrameOutputs` and sinks call `outputsToRos`.

import type { CameraModel, Costmap, ImageFrame, RoughnessGrid, Stamp } from "../core/types.ts";
import {
  cameraInfoToRos,
  costmapToRos,
  float32ImageToRos,
  imageToRos,
  toRosHeader,
} from "../io/ros/convert.ts";
import { gridCameraModel } from "./grid-camera.ts";

export * from "./colormap.ts";
export * from "./costmap.ts";
export * from "./grid-camera.ts";
export * from "./images.ts";
export * from "./speed.ts";

export interface FrameOutputs {
  stamp: Stamp;
  /** Camera frame id (images) */
  frameId: string;
  grid: RoughnessGrid;
  overlay: ImageFrame | undefined;
  costmap: Costmap | undefined;
  /** Confidence-weighted roughness in the band ahead; NaN when unknown. */
  ahead: number;
  aheadConfidence: number;
  /** Suggested speed limit (m/s). */
  speedLimit: number;
  /** The camera's CameraInfo, when known: the roughness image's own CameraInfo is derived from it. */
  camera?: CameraModel | undefined;
}

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

/** ROS message objects for one frame's outputs (keys of OUTPUT_TOPICS; absent outputs are left out). */
export function outputsToRos(o: FrameOutputs): Partial<Record<OutputKey, unknown>> {
  const g = o.grid;
  const msgs: Partial<Record<OutputKey, unknown>> = {
    roughness: float32ImageToRos(o.stamp, o.frameId, g.cols, g.rows, g.roughness),
    confidence: float32ImageToRos(o.stamp, o.frameId, g.cols, g.rows, g.confidence),
    // NaN has no meaning to a subscriber on std_msgs/Float32; -1 is "unknown" as in the costmap.
    ahead: { data: Number.isFinite(o.ahead) ? o.ahead : -1 },
    speedLimit: { header: toRosHeader(o.stamp, "base_link"), percentage: false, speed_limit: o.speedLimit },
  };
  if (o.camera)
    msgs.roughnessInfo = cameraInfoToRos(
      gridCameraModel(o.camera, { ...g, stamp: o.stamp, frameId: o.frameId }),
    );
  if (o.overlay) msgs.overlay = imageToRos(o.overlay);
  if (o.costmap) msgs.costmap = costmapToRos(o.costmap);
  return msgs;
}
