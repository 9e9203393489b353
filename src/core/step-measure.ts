// One closed step measured from the samples of its analysis window: the checks that give it no label
// and its speed-normalised vibration energy (steps 4 to 6 of the method described in labeller.ts).

import type { ImuRing } from "./imu-ring.ts";
import { type ImuSegments, SEG_MASK, SEG_NO_VERTICAL, SEG_OK } from "./imu-segments.ts";
import type { LabellerSettings } from "./labeller-types.ts";
import type { PoseAt, PoseHistory } from "./pose-history.ts";
import type { LabelSkipReason, Stamp } from "./types.ts";

/** What measureStep found: all of it when it returns null; `rate` whenever `rateMeasured`. */
export interface StepMeasurement {
  /** Odometry speed over the window (the step's own when odometry gives none), m/s. */
  speed: number;
  /** IMU samples in the window. */
  n: number;
  /** Mean vertical band power and roll/pitch-rate energy over the window's segments. */
  vbp: number;
  ang: number;
  /** IMU rate (Hz): the mean over the window's segments. */
  rate: number;
  rateMeasured: boolean;
  /** The speed-normalised energy, before any override. */
  measured: number;
}

export function emptyStepMeasurement(): StepMeasurement {
  return { speed: 0, n: 0, vbp: 0, ang: 0, rate: Number.NaN, rateMeasured: false, measured: 0 };
}

/**
 * Measures the step [t0, t1] over its analysis window [ta, tb] into `out`, or returns why it gets
 * no label. `firstStamp` is the stream's first IMU stamp; `poseA` and `poseB` are scratch.
 */
export function measureStep(
  cfg: LabellerSettings,
  poses: PoseHistory,
  ring: ImuRing,
  segs: ImuSegments,
  firstStamp: Stamp,
  t0: Stamp,
  t1: Stamp,
  ta: Stamp,
  tb: Stamp,
  poseA: PoseAt,
  poseB: PoseAt,
  out: StepMeasurement,
): LabelSkipReason | null {
  out.rateMeasured = false;
  const duration = t1 - t0;
  const stepSpeed = duration > 0 ? cfg.step_length / duration : 0;
  if (!(stepSpeed >= cfg.min_speed) || stepSpeed === 0) return "stationary";
  // The first steps of a stream have no data before them: their windows start at the data.
  if (ta < firstStamp) ta = Math.min(firstStamp, t0);
  const from = ring.indexAt(ta);
  const to = ring.indexAt(tb + 1e-9);
  const n = to - from;
  // Vibration is normalised by the speed over the same window it was measured on.
  const windowSpeed = poses.meanSpeed(ta, tb);
  const speed = windowSpeed > 0 ? windowSpeed : stepSpeed;
  const yawRate = poses.meanYawRate(t0, t1);
  if (Math.abs(yawRate) > cfg.max_yaw_rate) return "turning";
  // Steps are cut by the odometry's path length, which a pose that jitters while the robot stands
  // still (fused or visual odometry, with no twist to say so) grows by itself: a step whose ends
  // are less than half a step apart was not driven over, whatever the vibration.
  if (
    poses.interpolate(t0, poseA) &&
    poses.interpolate(t1, poseB) &&
    Math.hypot(poseB.x - poseA.x, poseB.y - poseA.y) < cfg.step_length / 2
  )
    return "stationary";
  if (n < Math.max(cfg.min_samples, 8)) return "too_few_samples";
  const mask = ring.mask;
  const T = ring.t;
  const first = T[from & mask]!;
  const last = T[(to - 1) & mask]!;
  const fs = (n - 1) / (last - first);
  const maxGap = cfg.max_gap ? cfg.max_gap : Math.max(0.1, 5 / fs);
  // Gaps at the ends of the window count too (samples missing at its start or end).
  let gap = Math.max(first - ta, tb - last);
  for (let k = from + 1; k < to; k++) {
    const d = T[k & mask]! - T[(k - 1) & mask]!;
    if (d > gap) gap = d;
  }
  if (gap > maxGap || !(fs > 0)) return "bad_samples";
  // Welch average over the segments centred inside the window (computed once per segment as
  // the samples arrive; consecutive windows overlap, so this is where the time goes otherwise).
  const sa = segs.indexAt(ta);
  const sb = segs.indexAt(tb + 1e-9);
  let vbp = 0;
  let ang = 0;
  let rate = 0;
  let norm = 0;
  let used = 0;
  let noVertical = 0;
  for (let k = sa; k < sb; k++) {
    const j = k & SEG_MASK;
    if (segs.ok[j] !== SEG_OK) {
      if (segs.ok[j] === SEG_NO_VERTICAL) noVertical++;
      continue;
    }
    vbp += segs.power[j]!;
    ang += segs.angular[j]!;
    rate += segs.rate[j]!;
    // Vibration power follows the instantaneous speed, so the normaliser is the mean of
    // (v/v_ref)^α over the same segments, not (mean v)^α: a window that starts from a stop
    // would otherwise be divided by a tiny mean speed and look very rough.
    const vs = poses.speedAt(segs.centre[j]!);
    norm += (Math.abs(Number.isFinite(vs) ? vs : speed) / cfg.reference_speed) ** cfg.speed_exponent;
    used++;
  }
  if (used === 0) return noVertical > 0 ? "no_vertical" : "too_few_samples";
  vbp /= used;
  ang /= used;
  out.rate = rate / used;
  out.rateMeasured = true;
  const raw = vbp + cfg.angular_weight * ang;
  norm /= used;
  // The effective speed of the window: the speed whose (v/v_ref)^α is the mean normaliser.
  if (!(norm > 0) || cfg.reference_speed * norm ** (1 / Math.max(cfg.speed_exponent, 1e-9)) < cfg.min_speed)
    return "stationary";
  out.speed = speed;
  out.n = n;
  out.vbp = vbp;
  out.ang = ang;
  out.measured = raw / norm;
  return null;
}
