// The labeller's settings (the `labeler` config section), statistics and IMU reject reasons.

import type { CalibrationSettings } from "./label-calibration.ts";
import type { LabelSkipReason } from "./types.ts";

/** The `labeler` config section (structurally; the zod schema in src/runtime/config-labels.ts is the source). */
export interface LabellerSettings {
  step_length: number;
  band_low: number;
  band_high: number;
  angular_weight: number;
  speed_exponent: number;
  reference_speed: number;
  min_speed: number;
  max_yaw_rate: number;
  min_samples: number;
  /** Welch segment length (s); rounded to a power of two of samples at the IMU rate. */
  segment_seconds?: number;
  /** Time constant (s) of the running gravity estimate. */
  gravity_time_constant?: number;
  /** A gap between IMU samples longer than this (s) invalidates the step. */
  max_gap?: number;
  /** Minimum analysis window (s), centred on the step. */
  window_seconds?: number;
  calibration: CalibrationSettings;
}

export type ImuRejectReason = "nan" | "backwards" | "duplicate";

export interface LabellerStats {
  imuAccepted: number;
  imuRejected: Record<ImuRejectReason, number>;
  labels: number;
  skipped: Record<LabelSkipReason, number>;
  /** Samples that arrived before any pose covered them. */
  samplesWithoutPose: number;
  /** Where "up" comes from. */
  verticalSource: "tf" | "gravity";
  /** Current vertical axis in the IMU frame. */
  vertical: [number, number, number];
  /** Estimated IMU rate (Hz) of the last step. */
  imuRate: number;
}
