// The vibration labeller: IMU + odometry in, one RoughnessLabel per ground step out.
//
// Method (see the README section "How labels are made"):
//  1. Every IMU sample is stored in a ring buffer of typed arrays (no per-sample objects).
//  2. Distance travelled, not time, cuts the stream into steps of `step_length` metres: the step
//     boundaries are the stamps at which the odometry path length crosses k·step_length.
//  3. Per step, the vertical axis in the IMU frame comes from TF (base_link ← imu_link, if the
//     user set it) or from gravity in the data: a running mean of the acceleration vector, whose
//     direction is "up" whatever way the IMU is mounted. The IMU is never assumed z-up.
//  4. Each step is analysed over a window of max(step duration, window_seconds) centred on it (so a
//     label is made window_seconds/2 after the robot left the step). The vertical acceleration a·u
//     has its mean removed per Welch segment (gravity and bias) and its Welch PSD (Hann, 50 %
//     overlap, ~segment_seconds per segment) is integrated over [band_low, band_high] Hz →
//     verticalBandPower, (m/s²)².
//  5. Roll/pitch-rate energy: the variance of the angular rate perpendicular to u, (rad/s)².
//  6. raw = verticalBandPower + angular_weight · angularRateEnergy;
//     energy = raw / mean((v/reference_speed)^speed_exponent), the mean over the window's Welch
//     segments of the odometry speed at each (power follows the instantaneous speed). Vibration power grows with speed; the default exponent (2.85) is the
//     least-squares fit on the real BorealTC runs (tests/core-labeller.test.ts).
//  7. roughness = calibrateLogEnergy(log10(energy), lo, hi): linear between lo (→ 0.05) and hi (→ 0.95)
//     with order-keeping hyperbolic tails, lo/hi fixed from config or the running percentiles of
//     log10(energy) over the labels seen so far.
//  No label while stationary (mean speed < min_speed), turning hard (|mean yaw rate| > max_yaw_rate),
//  with too few samples, or with a gap in the IMU stream; each skip is counted by reason.

import { prevPow2, WelchPsd } from "./fft.ts";
import { emptyPoseAt, type PoseHistory } from "./pose-history.ts";
import type { LabelSkipReason, RoughnessLabel, Stamp } from "./types.ts";

/** The `labeler` config section (structurally; the zod schema in src/runtime/config.ts is the source). */
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
  calibration: {
    mode: "fixed" | "percentile";
    low: number;
    high: number;
    low_percentile: number;
    high_percentile: number;
    warmup: number;
  };
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

/** Segment results kept (at 200 Hz and 64-sample segments, ~20 min). */
const SEG_CAP = 8192;
const SEG_MASK = SEG_CAP - 1;

/** Labels whose energies feed the running percentiles (≈ 17 min of driving at 1 m/s). */
const PERCENTILE_HISTORY = 4096;

/** Share of the 0..1 range kept for the tails beyond the calibration bounds (see calibrateLogEnergy). */
export const CALIBRATION_TAIL = 0.05;

/**
 * log10(energy) → roughness 0..1: linear from CALIBRATION_TAIL at `lo` to 1 − CALIBRATION_TAIL at
 * `hi`, with hyperbolic tails beyond (continuous slope) instead of a hard clamp. A clamp would give
 * every step rougher than the 95th percentile the same label, and the learner could no longer tell
 * a cobbled path from a rock field; the tails keep the order while staying inside 0..1.
 */
export function calibrateLogEnergy(logEnergy: number, lo: number, hi: number): number {
  if (!(hi > lo) || Number.isNaN(logEnergy)) return 0.5;
  const m = CALIBRATION_TAIL;
  const x = (logEnergy - lo) / (hi - lo);
  const slope = (1 - 2 * m) / m;
  // Hyperbolic tails (slope-continuous at the bounds): unlike exponential ones they do not round to
  // exactly 0 or 1 a few ranges out, so even far outliers keep their order.
  if (x < 0) return m / (1 - x * slope);
  if (x > 1) return 1 - m / (1 + (x - 1) * slope);
  return m + (1 - 2 * m) * x;
}

export class VibrationLabeller {
  private readonly cfg: LabellerSettings;
  private readonly poses: PoseHistory;
  private readonly halfWidth: number;
  private readonly frameId: string;
  // IMU ring buffer (absolute sample index i lives at i & mask).
  private readonly cap: number;
  private readonly mask: number;
  private readonly t: Float64Array;
  private readonly ax: Float64Array;
  private readonly ay: Float64Array;
  private readonly az: Float64Array;
  private readonly wx: Float64Array;
  private readonly wy: Float64Array;
  private readonly wz: Float64Array;
  private written = 0;
  private cursor = 0;
  private lastStamp = Number.NEGATIVE_INFINITY;
  private firstStamp = Number.NEGATIVE_INFINITY;
  // Running gravity estimate (IMU frame).
  private gx = 0;
  private gy = 0;
  private gz = 0;
  private gInit = false;
  private tfVertical: [number, number, number] | null = null;
  // Current step.
  private stepActive = false;
  private stepStart = 0;
  private stepT0 = 0;
  private stepD0 = 0;
  private stepTEnd = Number.NaN;
  // Welch segments on a fixed grid of the sample stream (hop = half a segment), computed once as
  // the samples arrive: centre stamp, vertical band power, roll/pitch-rate energy, rate, validity.
  private segLen = 0;
  private segRateUsed = 0;
  private segNext = 0;
  private segWritten = 0;
  private lastSegCentre = Number.NEGATIVE_INFINITY;
  private readonly segCentre = new Float64Array(SEG_CAP);
  private readonly segPower = new Float64Array(SEG_CAP);
  private readonly segAngular = new Float64Array(SEG_CAP);
  private readonly segRate = new Float64Array(SEG_CAP);
  private readonly segOk = new Uint8Array(SEG_CAP);
  // Closed steps waiting for the rest of their analysis window.
  private readonly pendingT0: number[] = [];
  private readonly pendingT1: number[] = [];
  private pendingHead = 0;
  // Scratch for one step.
  private scratch: Float64Array;
  private readonly welch: WelchPsd;
  private readonly poseA = emptyPoseAt();
  private readonly poseB = emptyPoseAt();
  private readonly poseM = emptyPoseAt();
  // Outputs and statistics.
  private out: RoughnessLabel[] = [];
  private readonly window: number;
  private readonly logHistory: Float64Array;
  private logCount = 0;
  private readonly sorted: Float64Array;
  private lastRate = Number.NaN;
  private readonly counters: LabellerStats;

  constructor(
    cfg: LabellerSettings,
    poses: PoseHistory,
    options: { robotWidth?: number; frameId?: string; capacity?: number; percentileWindow?: number } = {},
  ) {
    if (!(cfg.band_high > cfg.band_low)) {
      throw new Error(`labeller band [${cfg.band_low}, ${cfg.band_high}] Hz is empty`);
    }
    this.cfg = cfg;
    this.poses = poses;
    this.window = Math.max(2, options.percentileWindow ?? PERCENTILE_HISTORY);
    this.logHistory = new Float64Array(this.window);
    this.sorted = new Float64Array(this.window);
    this.halfWidth = (options.robotWidth ?? 0.6) / 2;
    this.frameId = options.frameId ?? "odom";
    this.cap = prevPow2(options.capacity ?? 1 << 16);
    this.mask = this.cap - 1;
    const n = this.cap;
    this.t = new Float64Array(n);
    this.ax = new Float64Array(n);
    this.ay = new Float64Array(n);
    this.az = new Float64Array(n);
    this.wx = new Float64Array(n);
    this.wy = new Float64Array(n);
    this.wz = new Float64Array(n);
    this.scratch = new Float64Array(1024);
    this.welch = new WelchPsd(1024);
    this.counters = {
      imuAccepted: 0,
      imuRejected: { nan: 0, backwards: 0, duplicate: 0 },
      labels: 0,
      skipped: { stationary: 0, turning: 0, too_few_samples: 0, bad_samples: 0, no_pose: 0 },
      samplesWithoutPose: 0,
      verticalSource: "gravity",
      vertical: [0, 0, 1],
      imuRate: Number.NaN,
    };
  }

  /**
   * The vertical ("up") axis expressed in the IMU frame, e.g. from TF base_link ← imu_link
   * (R⁻¹·ẑ); null returns to estimating it from gravity.
   */
  setVerticalAxis(axis: { x: number; y: number; z: number } | null): void {
    if (!axis) {
      this.tfVertical = null;
      return;
    }
    const n = Math.hypot(axis.x, axis.y, axis.z);
    if (!(n > 1e-9)) throw new Error(`vertical axis (${axis.x}, ${axis.y}, ${axis.z}) has zero length`);
    this.tfVertical = [axis.x / n, axis.y / n, axis.z / n];
  }

  /** Stores one IMU sample (hot path: scalars in, nothing allocated). Returns why it was dropped. */
  pushImu(
    stamp: Stamp,
    ax: number,
    ay: number,
    az: number,
    wx: number,
    wy: number,
    wz: number,
  ): ImuRejectReason | null {
    // A NaN anywhere poisons a whole PSD, so the sample goes, not just the field.
    if (
      !Number.isFinite(stamp) ||
      !Number.isFinite(ax) ||
      !Number.isFinite(ay) ||
      !Number.isFinite(az) ||
      !Number.isFinite(wx) ||
      !Number.isFinite(wy) ||
      !Number.isFinite(wz)
    ) {
      this.counters.imuRejected.nan++;
      return "nan";
    }
    if (stamp === this.lastStamp) {
      this.counters.imuRejected.duplicate++;
      return "duplicate";
    }
    if (stamp < this.lastStamp) {
      this.counters.imuRejected.backwards++;
      return "backwards";
    }
    const dt = this.gInit ? stamp - this.lastStamp : 0;
    this.lastStamp = stamp;
    // Running mean of acceleration (first-order low-pass, time constant tau): gravity dominates it
    // on any robot that is not accelerating for many seconds on end.
    if (!this.gInit) {
      this.firstStamp = stamp;
      this.gx = ax;
      this.gy = ay;
      this.gz = az;
      this.gInit = true;
    } else {
      const k = Math.min(1, dt / (this.cfg.gravity_time_constant ?? 2));
      this.gx += k * (ax - this.gx);
      this.gy += k * (ay - this.gy);
      this.gz += k * (az - this.gz);
    }
    // Never overwrite samples a pending step still needs: give the step up instead.
    if (this.written - Math.min(this.cursor, this.stepActive ? this.stepStart : this.cursor) >= this.cap) {
      if (this.stepActive) {
        this.stepActive = false;
        this.counters.skipped.no_pose++;
      }
      if (this.written - this.cursor >= this.cap) {
        this.cursor++;
        this.counters.samplesWithoutPose++;
      }
    }
    const i = this.written & this.mask;
    this.t[i] = stamp;
    this.ax[i] = ax;
    this.ay[i] = ay;
    this.az[i] = az;
    this.wx[i] = wx;
    this.wy[i] = wy;
    this.wz[i] = wz;
    this.written++;
    this.counters.imuAccepted++;
    if (this.segLen === 0) {
      if (this.written >= 16)
        this.chooseSegment(15 / (stamp - this.t[(this.written - 16) & this.mask]!), this.written - 16);
    }
    while (this.segLen > 0 && this.written - this.segNext >= this.segLen) {
      this.computeSegment(this.segNext);
      this.segNext += this.segLen >> 1;
    }
    return null;
  }

  /** Segment length for an IMU rate: ~segment_seconds, a power of two (8..welch.maxSegment). */
  private chooseSegment(fs: number, start: number): void {
    if (!(fs > 0) || !Number.isFinite(fs)) return;
    const want = Math.max(8, Math.round((this.cfg.segment_seconds ?? 0.32) * fs));
    this.segLen = Math.max(8, Math.min(prevPow2(want * 1.5), this.welch.maxSegment));
    this.segRateUsed = fs;
    this.segNext = Math.max(start, this.segNext);
  }

  /** Band power and roll/pitch-rate energy of samples [start, start + segLen). */
  private computeSegment(start: number): void {
    const n = this.segLen;
    const mask = this.mask;
    const T = this.t;
    const first = T[start & mask]!;
    const last = T[(start + n - 1) & mask]!;
    const fs = (n - 1) / (last - first);
    let gap = 0;
    for (let k = start + 1; k < start + n; k++) {
      const d = T[k & mask]! - T[(k - 1) & mask]!;
      if (d > gap) gap = d;
    }
    const maxGap = this.cfg.max_gap ? this.cfg.max_gap : Math.max(0.1, 5 / fs);
    const j = this.segWritten & SEG_MASK;
    this.segCentre[j] = (first + last) / 2;
    this.lastSegCentre = (first + last) / 2;
    this.segWritten++;
    let ux: number, uy: number, uz: number;
    if (this.tfVertical) {
      [ux, uy, uz] = this.tfVertical;
    } else {
      const gn = Math.hypot(this.gx, this.gy, this.gz);
      ux = this.gx / gn;
      uy = this.gy / gn;
      uz = this.gz / gn;
    }
    if (!(gap <= maxGap) || !(fs > 0) || !Number.isFinite(ux)) {
      this.segOk[j] = 0;
      return;
    }
    const s = this.scratch;
    let mx = 0,
      my = 0,
      mz = 0;
    for (let k = 0; k < n; k++) {
      const i = (start + k) & mask;
      s[k] = this.ax[i]! * ux + this.ay[i]! * uy + this.az[i]! * uz;
      mx += this.wx[i]!;
      my += this.wy[i]!;
      mz += this.wz[i]!;
    }
    mx /= n;
    my /= n;
    mz /= n;
    // Roll/pitch-rate energy: variance of the angular rate perpendicular to "up" (the segment
    // mean goes: turning and gyro bias are not vibration).
    let ang = 0;
    for (let k = 0; k < n; k++) {
      const i = (start + k) & mask;
      const x = this.wx[i]! - mx,
        y = this.wy[i]! - my,
        z = this.wz[i]! - mz;
      const along = x * ux + y * uy + z * uz;
      ang += x * x + y * y + z * z - along * along;
    }
    this.welch.compute(s, 0, n, fs, n);
    this.segPower[j] = this.welch.bandPower(fs, n, this.cfg.band_low, Math.min(this.cfg.band_high, fs / 2));
    this.segAngular[j] = ang / n;
    this.segRate[j] = fs;
    this.segOk[j] = 1;
    // The IMU rate changed (driver reconfigured): re-pick the segment length from here on.
    if (fs > this.segRateUsed * 1.33 || fs < this.segRateUsed * 0.75) this.chooseSegment(fs, start + n);
  }

  /** First segment index (absolute) whose centre is ≥ ts among those still kept. */
  private segIndexAt(ts: Stamp): number {
    let lo = Math.max(0, this.segWritten - SEG_CAP);
    let hi = this.segWritten;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.segCentre[mid & SEG_MASK]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Walks the samples that the pose history now covers and closes every completed step. Call after
   * new odometry (or before draining); cheap when there is nothing new.
   */
  process(): void {
    const poses = this.poses;
    if (poses.size < 2) return;
    const latest = poses.latestStamp;
    const oldest = poses.oldestStamp;
    const L = this.cfg.step_length;
    const maxStep = this.cfg.min_speed > 0 ? (L / this.cfg.min_speed) * 1.25 : 30;
    let endKnown = false;
    while (this.cursor < this.written) {
      const c = this.cursor & this.mask;
      const ts = this.t[c]!;
      if (ts > latest) break; // wait for odometry to catch up
      if (!this.stepActive) {
        if (ts < oldest) {
          this.counters.samplesWithoutPose++;
          this.cursor++;
          continue;
        }
        this.startStep(this.cursor, ts, poses.distanceAt(ts));
        endKnown = true;
        this.cursor++;
        continue;
      }
      if (Number.isNaN(this.stepTEnd) && !endKnown) {
        this.stepTEnd = poses.stampAtDistance(this.stepD0 + L);
        endKnown = true;
      }
      if (ts >= this.stepTEnd) {
        // stepTEnd is not NaN here (a comparison with NaN is false).
        const t1 = this.stepTEnd;
        this.pendingT0.push(this.stepT0);
        this.pendingT1.push(t1);
        this.stepD0 += L;
        this.stepT0 = t1;
        this.stepStart = this.cursor;
        this.stepTEnd = poses.stampAtDistance(this.stepD0 + L);
        // The robot may have jumped more than one step between two IMU samples (odometry reset):
        // restart from here rather than emitting empty steps.
        if (ts >= this.stepTEnd) this.startStep(this.cursor, ts, poses.distanceAt(ts));
        endKnown = true;
        this.cursor++;
        continue;
      }
      if (ts - this.stepT0 > maxStep) {
        this.counters.skipped.stationary++;
        this.startStep(this.cursor, ts, poses.distanceAt(ts));
        endKnown = true;
      }
      this.cursor++;
    }
    this.finalizeReady(false);
  }

  /**
   * Labels the steps still waiting for IMU data after their analysis window (end of a bag or of a
   * live session): their windows are cut at the last sample.
   */
  finish(): void {
    this.process();
    this.finalizeReady(true);
  }

  /**
   * Closed steps are analysed over a window of max(step duration, window_seconds) centred on the
   * step, so a step is labelled once the IMU (and odometry, for the speed) has passed the window's
   * end. At 1 m/s a 0.25 m step lasts 0.25 s: too few samples for a stable band power (one Hann
   * segment, ~5 degrees of freedom), hence the longer window.
   */
  private finalizeReady(force: boolean): void {
    const W = this.cfg.window_seconds ?? 0;
    while (this.pendingHead < this.pendingT0.length) {
      const t0 = this.pendingT0[this.pendingHead]!;
      const t1 = this.pendingT1[this.pendingHead]!;
      const tc = (t0 + t1) / 2;
      const half = Math.max(t1 - t0, W) / 2;
      let tb = tc + half;
      if (!(this.lastSegCentre >= tb && this.poses.latestStamp >= tb)) {
        if (!force) break;
        tb = Math.max(t1, Math.min(tb, this.lastStamp, this.poses.latestStamp));
      }
      this.pendingHead++;
      this.closeStep(t0, t1, tc - half, tb);
    }
    if (this.pendingHead > 64 && this.pendingHead * 2 > this.pendingT0.length) {
      this.pendingT0.splice(0, this.pendingHead);
      this.pendingT1.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }

  /** First absolute sample index with stamp ≥ ts among the samples still in the ring. */
  private sampleAt(ts: Stamp): number {
    let lo = Math.max(0, this.written - this.cap);
    let hi = this.written;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.t[mid & this.mask]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private startStep(index: number, ts: Stamp, d: number): void {
    this.stepActive = true;
    this.stepStart = index;
    this.stepT0 = ts;
    this.stepD0 = d;
    this.stepTEnd = this.poses.stampAtDistance(d + this.cfg.step_length);
  }

  /** Labels the step [t0, t1] from the samples of its analysis window [ta, tb]. */
  private closeStep(t0: Stamp, t1: Stamp, ta: Stamp, tb: Stamp): void {
    const cfg = this.cfg;
    const skipped = this.counters.skipped;
    const duration = t1 - t0;
    const stepSpeed = duration > 0 ? cfg.step_length / duration : 0;
    if (!(stepSpeed >= cfg.min_speed) || stepSpeed === 0) {
      skipped.stationary++;
      return;
    }
    // The first steps of a stream have no data before them: their windows start at the data.
    if (ta < this.firstStamp) ta = Math.min(this.firstStamp, t0);
    const from = this.sampleAt(ta);
    const to = this.sampleAt(tb + 1e-9);
    const n = to - from;
    // Vibration is normalised by the speed over the same window it was measured on.
    const windowSpeed = this.poses.meanSpeed(ta, tb);
    const speed = windowSpeed > 0 ? windowSpeed : stepSpeed;
    const yawRate = this.poses.meanYawRate(t0, t1);
    if (Math.abs(yawRate) > cfg.max_yaw_rate) {
      skipped.turning++;
      return;
    }
    if (n < Math.max(cfg.min_samples, 8)) {
      skipped.too_few_samples++;
      return;
    }
    const mask = this.mask;
    const T = this.t;
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
    if (gap > maxGap || !(fs > 0)) {
      skipped.bad_samples++;
      return;
    }
    // Welch average over the segments centred inside the window (computed once per segment as
    // the samples arrive; consecutive windows overlap, so this is where the time goes otherwise).
    const sa = this.segIndexAt(ta);
    const sb = this.segIndexAt(tb + 1e-9);
    let vbp = 0;
    let ang = 0;
    let rate = 0;
    let norm = 0;
    let used = 0;
    for (let k = sa; k < sb; k++) {
      const j = k & SEG_MASK;
      if (this.segOk[j] === 0) continue;
      vbp += this.segPower[j]!;
      ang += this.segAngular[j]!;
      rate += this.segRate[j]!;
      // Vibration power follows the instantaneous speed, so the normaliser is the mean of
      // (v/v_ref)^α over the same segments, not (mean v)^α: a window that starts from a stop
      // would otherwise be divided by a tiny mean speed and look very rough.
      const vs = this.poses.speedAt(this.segCentre[j]!);
      norm += (Math.abs(Number.isFinite(vs) ? vs : speed) / cfg.reference_speed) ** cfg.speed_exponent;
      used++;
    }
    if (used === 0) {
      skipped.too_few_samples++;
      return;
    }
    vbp /= used;
    ang /= used;
    this.lastRate = rate / used;
    const raw = vbp + cfg.angular_weight * ang;
    norm /= used;
    // The effective speed of the window: the speed whose (v/v_ref)^α is the mean normaliser.
    if (
      !(norm > 0) ||
      cfg.reference_speed * norm ** (1 / Math.max(cfg.speed_exponent, 1e-9)) < cfg.min_speed
    ) {
      skipped.stationary++;
      return;
    }
    const energy = raw / norm;
    // Geometry of the step.
    const poses = this.poses;
    const pa = this.poseA,
      pb = this.poseB,
      pm = this.poseM;
    if (!poses.interpolate(t0, pa) || !poses.interpolate(t1, pb) || !poses.interpolate((t0 + t1) / 2, pm)) {
      skipped.no_pose++;
      return;
    }
    const h = this.halfWidth;
    const la = [-Math.sin(pa.yaw) * h, Math.cos(pa.yaw) * h];
    const lb = [-Math.sin(pb.yaw) * h, Math.cos(pb.yaw) * h];
    const xs = new Float64Array([pa.x - la[0]!, pb.x - lb[0]!, pb.x + lb[0]!, pa.x + la[0]!]);
    const ys = new Float64Array([pa.y - la[1]!, pb.y - lb[1]!, pb.y + lb[1]!, pa.y + la[1]!]);
    const logE = Math.log10(Math.max(energy, 1e-12));
    this.recordLogEnergy(logE);
    const label: RoughnessLabel = {
      stamp: (t0 + t1) / 2,
      t0,
      t1,
      x: pm.x,
      y: pm.y,
      footprint: { frameId: this.frameId, xs, ys },
      speed,
      energy,
      features: { verticalBandPower: vbp, angularRateEnergy: ang, sampleCount: n },
      roughness: this.calibrate(logE),
    };
    this.counters.labels++;
    this.out.push(label);
  }

  /** Maps log10(energy) to 0..1 with the current calibration bounds. */
  calibrate(logEnergy: number): number {
    const { lo, hi } = this.calibrationBounds();
    return calibrateLogEnergy(logEnergy, lo, hi);
  }

  /**
   * The bounds on log10(energy) that labels are calibrated with right now: the configured ones in
   * fixed mode and during warmup, else the running percentiles. They move as labels accumulate, so
   * a consumer that keeps labels (the learner's replay buffer) keeps log-energies and re-maps them
   * with the latest bounds instead of trusting the roughness a label was born with.
   */
  calibrationBounds(): { lo: number; hi: number; source: "fixed" | "warmup" | "percentile" } {
    const c = this.cfg.calibration;
    if (c.mode === "percentile") {
      if (this.logCount >= Math.max(2, c.warmup)) {
        return {
          lo: this.logPercentile(c.low_percentile),
          hi: this.logPercentile(c.high_percentile),
          source: "percentile",
        };
      }
      return { lo: c.low, hi: c.high, source: "warmup" };
    }
    return { lo: c.low, hi: c.high, source: "fixed" };
  }

  /**
   * Adds a value to the window of the last PERCENTILE_HISTORY log-energies, keeping a sorted copy
   * up to date by binary search + memmove (a full sort per label cost ~300 µs).
   */
  private recordLogEnergy(v: number): void {
    const sorted = this.sorted;
    let n = Math.min(this.logCount, this.window);
    if (this.logCount >= this.window) {
      const old = this.logHistory[this.logCount % this.window]!;
      const i = lowerBound(sorted, n, old);
      sorted.copyWithin(i, i + 1, n);
      n--;
    }
    const j = lowerBound(sorted, n, v);
    sorted.copyWithin(j + 1, j, n);
    sorted[j] = v;
    this.logHistory[this.logCount % this.window] = v;
    this.logCount++;
  }

  /** Percentile p (0..100) of log10(energy) over the last labels (NaN before any label). */
  logPercentile(p: number): number {
    const n = Math.min(this.logCount, this.window);
    if (n === 0) return Number.NaN;
    const sorted = this.sorted;
    const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < n ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
  }

  /** Percentiles of the (speed-normalised) energy, for setting `calibration.low/high` by hand. */
  energyPercentiles(ps: readonly number[] = [1, 5, 25, 50, 75, 95, 99]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of ps) out[`p${p}`] = 10 ** this.logPercentile(p);
    return out;
  }

  /** Labels made since the last call. */
  takeLabels(): RoughnessLabel[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  stats(): LabellerStats {
    const c = this.counters;
    let v: [number, number, number];
    if (this.tfVertical) v = [...this.tfVertical];
    else {
      const n = Math.hypot(this.gx, this.gy, this.gz) || 1;
      v = [this.gx / n, this.gy / n, this.gz / n];
    }
    return {
      ...c,
      imuRejected: { ...c.imuRejected },
      skipped: { ...c.skipped },
      verticalSource: this.tfVertical ? "tf" : "gravity",
      vertical: v,
      imuRate: this.lastRate,
    };
  }

  /** Number of labels whose energy feeds the percentiles. */
  get energyCount(): number {
    return this.logCount;
  }
}

/** First index in sorted[0..n) whose value is ≥ v. */
function lowerBound(sorted: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
