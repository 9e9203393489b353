// Outputs of one processed frame, as core types. Pure: no I/O, no ROS; the graph's output stage
// builds `FrameOutputs`, and sinks convert them (src/runtime/sinks/ros-outputs.ts).

import type { CameraModel, Costmap, ImageFrame, RoughnessGrid, Stamp } from "../core/types.ts";

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
  /** Confidence-weighted roughness in the band ahead; NaN when unknown (no cell, or mean confidence 0 or below outputs.min_confidence). */
  ahead: number;
  aheadConfidence: number;
  /** Suggested speed limit (m/s). */
  speedLimit: number;
  /** The camera's CameraInfo, when known: the roughness image's own CameraInfo is derived from it. */
  camera?: CameraModel | undefined;
}
