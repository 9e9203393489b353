// SelfSupervisor's counters and the assembly of its stats() report.

import type { GroundPlane } from "./grid-ground-projection.ts";
import type { KeyframeExpiry } from "./keyframes.ts";
import type { ImuRejectReason, LabellerStats } from "./labeller-types.ts";
import type { PoseRejectReason } from "./pose-history.ts";
import type { LabelSkipReason } from "./types.ts";

export type AssociationSkip = "out_of_range" | "not_visible" | "partly_visible" | "keyframe_without_pose";

export interface SelfSupervisorStats {
  imu: { accepted: number; dropped: Record<ImuRejectReason, number> };
  odom: { accepted: number; dropped: Record<PoseRejectReason, number> };
  tf: { accepted: number; dropped: number };
  /** `mismatch`: CameraInfo's size is not a resize of the images' ("640x480 vs images 320x200"). */
  cameraInfo: { accepted: number; dropped: number; mismatch?: string };
  labels: { made: number; skipped: Record<LabelSkipReason, number>; samplesWithoutPose: number };
  keyframes: {
    alive: number;
    added: number;
    rejectedNoPose: number;
    expired: Record<KeyframeExpiry, number>;
  };
  association: {
    samples: number;
    /** Labels for which no live keyframe produced a sample. */
    noKeyframe: number;
    /** Keyframe × label pairs skipped, by reason. */
    skipped: Record<AssociationSkip, number>;
  };
  vertical: { source: "tf" | "gravity"; axis: [number, number, number] };
  imuRate: number;
  extrinsicsKnown: boolean;
  cameraKnown: boolean;
  /** The ground plane the camera's cells are projected onto (frames.ground, frames.base_height). */
  ground: GroundPlane;
}

/** The counts SelfSupervisor keeps itself (the labeller and keyframe store keep their own). */
export interface SupervisorCounters {
  odomAccepted: number;
  odomDropped: Record<PoseRejectReason, number>;
  tfAccepted: number;
  tfDropped: number;
  camAccepted: number;
  camDropped: number;
  kfNoPose: number;
  samples: number;
  noKeyframe: number;
  assocSkipped: Record<AssociationSkip, number>;
}

export function newSupervisorCounters(): SupervisorCounters {
  return {
    odomAccepted: 0,
    odomDropped: { nan: 0, backwards: 0, duplicate: 0 },
    tfAccepted: 0,
    tfDropped: 0,
    camAccepted: 0,
    camDropped: 0,
    kfNoPose: 0,
    samples: 0,
    noKeyframe: 0,
    assocSkipped: { out_of_range: 0, not_visible: 0, partly_visible: 0, keyframe_without_pose: 0 },
  };
}

/** What the keyframe store contributes to the report. */
export interface KeyframeCounts {
  size: number;
  added: number;
  expired: Record<KeyframeExpiry, number>;
}

/** Copies the records so callers can keep a snapshot while counting goes on. */
export function assembleStats(
  l: LabellerStats,
  c: SupervisorCounters,
  keyframes: KeyframeCounts,
  extrinsicsKnown: boolean,
  cameraKnown: boolean,
  ground: GroundPlane,
  cameraMismatch?: string,
): SelfSupervisorStats {
  return {
    imu: { accepted: l.imuAccepted, dropped: l.imuRejected },
    odom: { accepted: c.odomAccepted, dropped: { ...c.odomDropped } },
    tf: { accepted: c.tfAccepted, dropped: c.tfDropped },
    cameraInfo: {
      accepted: c.camAccepted,
      dropped: c.camDropped,
      ...(cameraMismatch ? { mismatch: cameraMismatch } : {}),
    },
    labels: { made: l.labels, skipped: l.skipped, samplesWithoutPose: l.samplesWithoutPose },
    keyframes: {
      alive: keyframes.size,
      added: keyframes.added,
      rejectedNoPose: c.kfNoPose,
      expired: { ...keyframes.expired },
    },
    association: { samples: c.samples, noKeyframe: c.noKeyframe, skipped: { ...c.assocSkipped } },
    vertical: { source: l.verticalSource, axis: l.vertical },
    imuRate: l.imuRate,
    extrinsicsKnown,
    cameraKnown,
    ground: { ...ground },
  };
}
