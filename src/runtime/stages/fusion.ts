// Fusion: the graph's inputs, in whatever order they arrived, as one stamp-ordered stream. Messages
// are placed within `fusion.reorder_window` seconds (core/fusion/fuse-streams.ts); one that comes
// later than that, a repeated stamp or a non-finite stamp becomes a counted Problem.
//
// Mode policy (the only difference between replay and live here):
// - replay: everything is ordered, frames included, and released on the window alone, so a bag gives
//   the same stream whatever order its messages were recorded or delivered in.
// - live: camera frames and their CameraInfo are never held (a frame goes to perception the moment
//   it arrives: latency first); the other streams are released as soon as every stream that keeps
//   up has passed their stamp (the window only bounds the wait for a slow one), and a silence of
//   `idleFlushMs` releases what is held.

import { map, type Observable, type OperatorFunction, type SchedulerLike } from "rxjs";
import { fuseStreams } from "../../core/fusion/fuse-streams.ts";
import type { Problem } from "../../core/types.ts";
import type { GraphInput } from "./inputs.ts";

export interface FusionOptions {
  window: number;
  /** Seconds subtracted from camera frame and CameraInfo stamps (fusion.camera_delay). */
  cameraDelay?: number;
  mode: "replay" | "live";
  /** Live: release everything held after this much silence (ms). */
  idleFlushMs?: number;
  /** Releases everything held (end of a run). */
  flush$?: Observable<unknown>;
  scheduler?: SchedulerLike;
  /** Bound on held messages (released early, oldest first). */
  maxHeld?: number;
  /** Each message as it is held for ordering, before anything older is released. */
  onHeld?: (e: GraphInput) => void;
}

/**
 * Among equal stamps, the order the simulator writes them in (and a recorder on one clock would):
 * static TF, ground truth, odometry, TF, true pose, IMU, image, CameraInfo.
 */
const RANK: Record<GraphInput["kind"], number> = {
  transforms: 3,
  groundTruth: 1,
  odom: 2,
  truePose: 4,
  imu: 5,
  frame: 6,
  cameraInfo: 7,
};

export const streamOf = (e: GraphInput): string => {
  switch (e.kind) {
    case "transforms":
      return e.isStatic ? "tf_static" : "tf";
    case "groundTruth":
      return `ground_truth/${e.which}`;
    case "frame":
      return "image";
    default:
      return e.kind;
  }
};

/** The camera's inputs at the instant they were taken: `delay` s before their stamps. */
export function correctCameraStamp(e: GraphInput, delay: number): GraphInput {
  if (delay === 0) return e;
  if (e.kind === "frame") {
    const stamp = e.frame.stamp - delay;
    return { ...e, stamp, frame: { ...e.frame, stamp } };
  }
  if (e.kind === "cameraInfo") {
    const stamp = e.model.stamp - delay;
    return { ...e, stamp, model: { ...e.model, stamp } };
  }
  return e;
}

export function fusion(o: FusionOptions): OperatorFunction<GraphInput, GraphInput | Problem> {
  const live = o.mode === "live";
  const delay = o.cameraDelay ?? 0;
  const fuse = fuseStreams<GraphInput>({
    // A corrected frame arrives `delay` later after the IMU of its instant than it used to.
    window: o.window + Math.max(0, delay),
    stampOf: (e) => e.stamp,
    streamOf,
    rankOf: (e) => (e.kind === "transforms" && e.isStatic ? 0 : RANK[e.kind]),
    passThrough: (e) =>
      (e.kind === "transforms" && e.isStatic) || (live && (e.kind === "frame" || e.kind === "cameraInfo")),
    allowEqual: (e) => e.kind === "transforms",
    watermark: live ? "sources" : "window",
    ...(live ? { idleFlush: o.idleFlushMs ?? Math.max(50, o.window * 1000) } : {}),
    ...(o.flush$ ? { flush$: o.flush$ } : {}),
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
    ...(o.maxHeld !== undefined ? { maxBuffered: o.maxHeld } : {}),
    ...(o.onHeld ? { onPlaced: o.onHeld } : {}),
  }) as OperatorFunction<GraphInput, GraphInput | Problem>;
  return delay === 0
    ? fuse
    : (source) =>
        source.pipe(
          map((e) => correctCameraStamp(e, delay)),
          fuse,
        );
}
