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
//     least-squares fit on the real BorealTC runs with "up" estimated from gravity (no TF;
//     tests/core-labeller.test.ts); with a level IMU mount in TF the same runs give 2.62
//     (docs/calibration.md).
//  7. roughness = calibrateLogEnergy(log10(energy), lo, hi): linear between lo (→ 0.05) and hi (→ 0.95)
//     with order-keeping hyperbolic tails, lo/hi fixed from config or the running percentiles of
//     log10(energy) over the labels seen so far.
//  No label while stationary (mean speed < min_speed, or the step's ends less than half a step
//  apart), turning hard (|mean yaw rate| > max_yaw_rate), with too few samples, with a gap in the
//  IMU stream, or without a vertical (no TF and an acceleration that does not average to gravity);
//  each skip is counted by reason.
// This file cuts the stream into steps (2) and turns each measured step into a label; the ring (1)
// is in imu-ring.ts, "up" (3) in vertical-axis.ts, the per-segment spectra (4, 5) in
// imu-segments.ts, a step's checks and energy (6) in step-measure.ts and the calibration (7) in
// label-calibration.ts.

import { ImuRing } from "./imu-ring.ts";
import { ImuSegments } from "./imu-segments.ts";
import { type CalibrationSource, calibrateLogEnergy, LogEnergyPercentiles } from "./label-calibration.ts";
import type { ImuRejectReason, LabellerSettings, LabellerStats } from "./labeller-types.ts";
import { emptyPoseAt, type PoseHistory } from "./pose-history.ts";
import { emptyStepMeasurement, measureStep } from "./step-measure.ts";
import type { RoughnessLabel, Stamp } from "./types.ts";
import { VerticalAxis } from "./vertical-axis.ts";

// Re-exported so importers of the labeller keep finding its types and the calibration here.
export { CALIBRATION_TAIL, calibrateLogEnergy } from "./label-calibration.ts";
export type { ImuRejectReason, LabellerSettings, LabellerStats } from "./labeller-types.ts";

/**
 * Diagnostic only: the energy a step's label gets instead of the measured one (t0, t1: the step;
 * undefined keeps the measurement). The evaluation uses it to label from the simulator's ground
 * truth (EvalOptions.truthLabels), to separate what the labels cost from what the learner does.
 */
export type LabelEnergyOverride = (t0: number, t1: number, measured: number) => number | undefined;

export class VibrationLabeller {
  private readonly cfg: LabellerSettings;
  private readonly poses: PoseHistory;
  private readonly halfWidth: number;
  private readonly frameId: string;
  private ring: ImuRing;
  private segs: ImuSegments;
  /** Next sample (absolute index) to walk through the steps. */
  private cursor = 0;
  private lastStamp = Number.NEGATIVE_INFINITY;
  private firstStamp = Number.NEGATIVE_INFINITY;
  private readonly up: VerticalAxis;
  // Current step.
  private stepActive = false;
  private stepStart = 0;
  private stepT0 = 0;
  private stepD0 = 0;
  private stepTEnd = Number.NaN;
  // Closed steps waiting for the rest of their analysis window.
  private readonly pendingT0: number[] = [];
  private readonly pendingT1: number[] = [];
  private pendingHead = 0;
  // Scratch for one step.
  private readonly poseA = emptyPoseAt();
  private readonly poseB = emptyPoseAt();
  private readonly poseM = emptyPoseAt();
  private readonly measurement = emptyStepMeasurement();
  // Outputs and statistics.
  private out: RoughnessLabel[] = [];
  private readonly energies: LogEnergyPercentiles;
  private lastRate = Number.NaN;
  private readonly counters: LabellerStats;
  private readonly energyOf: LabelEnergyOverride | undefined;

  constructor(
    cfg: LabellerSettings,
    poses: PoseHistory,
    options: {
      robotWidth?: number;
      frameId?: string;
      capacity?: number;
      percentileWindow?: number;
      energyOf?: LabelEnergyOverride;
    } = {},
  ) {
    if (!(cfg.band_high > cfg.band_low)) {
      throw new Error(`labeller band [${cfg.band_low}, ${cfg.band_high}] Hz is empty`);
    }
    this.cfg = cfg;
    this.poses = poses;
    this.energies = new LogEnergyPercentiles(options.percentileWindow);
    this.halfWidth = (options.robotWidth ?? 0.6) / 2;
    this.frameId = options.frameId ?? "odom";
    this.energyOf = options.energyOf;
    this.ring = new ImuRing(options.capacity ?? 1 << 16);
    this.segs = new ImuSegments(cfg, this.ring);
    this.up = new VerticalAxis(cfg);
    this.counters = {
      imuAccepted: 0,
      imuRejected: { nan: 0, backwards: 0, duplicate: 0 },
      labels: 0,
      skipped: {
        stationary: 0,
        turning: 0,
        too_few_samples: 0,
        bad_samples: 0,
        no_pose: 0,
        no_vertical: 0,
      },
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
    this.up.set(axis);
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
    const up = this.up;
    // The first sample, or the first after restart(): no previous one to measure dt from.
    const first = this.lastStamp === Number.NEGATIVE_INFINITY;
    const dt = up.started && !first ? stamp - this.lastStamp : 0;
    this.lastStamp = stamp;
    if (first) this.firstStamp = stamp;
    up.observe(ax, ay, az, dt);
    // Never overwrite samples a pending step still needs: give the step up instead.
    const ring = this.ring;
    if (ring.written - Math.min(this.cursor, this.stepActive ? this.stepStart : this.cursor) >= ring.cap) {
      if (this.stepActive) {
        this.stepActive = false;
        this.counters.skipped.no_pose++;
      }
      if (ring.written - this.cursor >= ring.cap) {
        this.cursor++;
        this.counters.samplesWithoutPose++;
      }
    }
    ring.push(stamp, ax, ay, az, wx, wy, wz);
    this.counters.imuAccepted++;
    this.segs.update(stamp, up);
    return null;
  }

  /**
   * Forgets the IMU samples and the steps in progress (the stamps went back: a new timeline), and
   * keeps what describes the robot: the energy calibration, the vertical axis, the counters. Labels
   * not taken yet are dropped: take them first.
   */
  restart(): void {
    this.ring = new ImuRing(this.ring.cap);
    this.segs = new ImuSegments(this.cfg, this.ring);
    this.cursor = 0;
    this.lastStamp = Number.NEGATIVE_INFINITY;
    this.firstStamp = Number.NEGATIVE_INFINITY;
    this.stepActive = false;
    this.stepStart = 0;
    this.stepT0 = 0;
    this.stepD0 = 0;
    this.stepTEnd = Number.NaN;
    this.pendingT0.length = 0;
    this.pendingT1.length = 0;
    this.pendingHead = 0;
    this.out = [];
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
    const ring = this.ring;
    while (this.cursor < ring.written) {
      const c = this.cursor & ring.mask;
      const ts = ring.t[c]!;
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
      if (!(this.segs.lastCentre >= tb && this.poses.latestStamp >= tb)) {
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

  private startStep(index: number, ts: Stamp, d: number): void {
    this.stepActive = true;
    this.stepStart = index;
    this.stepT0 = ts;
    this.stepD0 = d;
    this.stepTEnd = this.poses.stampAtDistance(d + this.cfg.step_length);
  }

  /** Labels the step [t0, t1] from the samples of its analysis window [ta, tb]. */
  private closeStep(t0: Stamp, t1: Stamp, ta: Stamp, tb: Stamp): void {
    const m = this.measurement;
    const why = measureStep(
      this.cfg,
      this.poses,
      this.ring,
      this.segs,
      this.firstStamp,
      t0,
      t1,
      ta,
      tb,
      this.poseA,
      this.poseB,
      m,
    );
    if (m.rateMeasured) this.lastRate = m.rate;
    if (why !== null) {
      this.counters.skipped[why]++;
      return;
    }
    const { speed, n, vbp, ang, measured } = m;
    const energy = this.energyOf?.(t0, t1, measured) ?? measured;
    // Geometry of the step.
    const poses = this.poses;
    const pa = this.poseA,
      pb = this.poseB,
      pm = this.poseM;
    if (!poses.interpolate(t0, pa) || !poses.interpolate(t1, pb) || !poses.interpolate((t0 + t1) / 2, pm)) {
      this.counters.skipped.no_pose++;
      return;
    }
    const h = this.halfWidth;
    const la = [-Math.sin(pa.yaw) * h, Math.cos(pa.yaw) * h];
    const lb = [-Math.sin(pb.yaw) * h, Math.cos(pb.yaw) * h];
    const xs = new Float64Array([pa.x - la[0]!, pb.x - lb[0]!, pb.x + lb[0]!, pa.x + la[0]!]);
    const ys = new Float64Array([pa.y - la[1]!, pb.y - lb[1]!, pb.y + lb[1]!, pa.y + la[1]!]);
    const logE = Math.log10(Math.max(energy, 1e-12));
    this.energies.record(logE);
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
    return calibrateLogEnergy(logEnergy, lo, hi, this.cfg.calibration.exponent);
  }

  /**
   * The bounds on log10(energy) that labels are calibrated with right now: the configured ones in
   * fixed mode and during warmup, else the running percentiles. They move as labels accumulate, so
   * a consumer that keeps labels (the learner's replay buffer) keeps log-energies and re-maps them
   * with the latest bounds instead of trusting the roughness a label was born with.
   */
  calibrationBounds(): { lo: number; hi: number; source: CalibrationSource } {
    return this.energies.bounds(this.cfg.calibration);
  }

  /** Percentile p (0..100) of log10(energy) over the last labels (NaN before any label). */
  logPercentile(p: number): number {
    return this.energies.percentile(p);
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
    return {
      ...c,
      imuRejected: { ...c.imuRejected },
      skipped: { ...c.skipped },
      verticalSource: this.up.tf ? "tf" : "gravity",
      vertical: this.up.vector(),
      imuRate: this.lastRate,
    };
  }

  /** Number of labels whose energy feeds the percentiles. */
  get energyCount(): number {
    return this.energies.count;
  }
}
