// Welch segments of the IMU stream on a fixed grid of samples (hop = half a segment), each analysed
// once as its samples arrive: centre stamp, vertical band power, roll/pitch-rate energy, rate and
// validity. Consecutive label windows overlap, so analysing per window would redo most of the work.

import { prevPow2, WelchPsd } from "./fft.ts";
import type { ImuRing } from "./imu-ring.ts";
import type { Stamp } from "./types.ts";
import type { VerticalAxis } from "./vertical-axis.ts";

/** Segment results kept (at 200 Hz and 64-sample segments, ~20 min). */
const SEG_CAP = 8192;
export const SEG_MASK = SEG_CAP - 1;
/** `ok` of a segment analysed. */
export const SEG_OK = 1;
/** `ok` of a segment without a vertical: no TF for the IMU and an acceleration that is not gravity. */
export const SEG_NO_VERTICAL = 2;

/** The labeller settings the segments use (structurally a part of LabellerSettings). */
export interface SegmentSettings {
  band_low: number;
  band_high: number;
  /** Welch segment length (s); rounded to a power of two of samples at the IMU rate. */
  segment_seconds?: number;
  /** A gap between IMU samples longer than this (s) invalidates the segment. */
  max_gap?: number;
}

export class ImuSegments {
  private readonly cfg: SegmentSettings;
  private readonly ring: ImuRing;
  private segLen = 0;
  private segRateUsed = 0;
  private segNext = 0;
  /** Segments computed so far (the next segment's absolute index). */
  written = 0;
  /** Centre stamp of the latest segment. */
  lastCentre = Number.NEGATIVE_INFINITY;
  // Per segment, at index & SEG_MASK.
  readonly centre = new Float64Array(SEG_CAP);
  readonly power = new Float64Array(SEG_CAP);
  readonly angular = new Float64Array(SEG_CAP);
  readonly rate = new Float64Array(SEG_CAP);
  /** SEG_OK, SEG_NO_VERTICAL, or 0 (a gap in the samples). */
  readonly ok = new Uint8Array(SEG_CAP);
  private readonly scratch = new Float64Array(1024);
  private readonly welch = new WelchPsd(1024);

  constructor(cfg: SegmentSettings, ring: ImuRing) {
    this.cfg = cfg;
    this.ring = ring;
  }

  /**
   * Analyses every segment the ring now completes, after a sample at `stamp` was stored, with "up"
   * as it stands now.
   */
  update(stamp: Stamp, up: VerticalAxis): void {
    const ring = this.ring;
    if (this.segLen === 0) {
      if (ring.written >= 16)
        this.chooseSegment(15 / (stamp - ring.t[(ring.written - 16) & ring.mask]!), ring.written - 16);
    }
    while (this.segLen > 0 && ring.written - this.segNext >= this.segLen) {
      this.computeSegment(this.segNext, up);
      this.segNext += this.segLen >> 1;
    }
  }

  /** First segment index (absolute) whose centre is ≥ ts among those still kept. */
  indexAt(ts: Stamp): number {
    let lo = Math.max(0, this.written - SEG_CAP);
    let hi = this.written;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.centre[mid & SEG_MASK]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
  private computeSegment(start: number, up: VerticalAxis): void {
    const n = this.segLen;
    const ring = this.ring;
    const mask = ring.mask;
    const T = ring.t;
    const first = T[start & mask]!;
    const last = T[(start + n - 1) & mask]!;
    const fs = (n - 1) / (last - first);
    let gap = 0;
    for (let k = start + 1; k < start + n; k++) {
      const d = T[k & mask]! - T[(k - 1) & mask]!;
      if (d > gap) gap = d;
    }
    const maxGap = this.cfg.max_gap ? this.cfg.max_gap : Math.max(0.1, 5 / fs);
    const j = this.written & SEG_MASK;
    this.centre[j] = (first + last) / 2;
    this.lastCentre = (first + last) / 2;
    this.written++;
    let ux: number, uy: number, uz: number;
    let vertical = true;
    if (up.tf) {
      [ux, uy, uz] = up.tf;
    } else {
      const gn = Math.hypot(up.gx, up.gy, up.gz);
      ux = up.gx / gn;
      uy = up.gy / gn;
      uz = up.gz / gn;
      vertical = up.gravityLike();
    }
    if (!(gap <= maxGap) || !(fs > 0)) {
      this.ok[j] = 0;
      return;
    }
    if (!vertical || !Number.isFinite(ux)) {
      this.ok[j] = SEG_NO_VERTICAL;
      return;
    }
    const s = this.scratch;
    const { ax, ay, az, wx, wy, wz } = ring;
    let mx = 0,
      my = 0,
      mz = 0;
    for (let k = 0; k < n; k++) {
      const i = (start + k) & mask;
      s[k] = ax[i]! * ux + ay[i]! * uy + az[i]! * uz;
      mx += wx[i]!;
      my += wy[i]!;
      mz += wz[i]!;
    }
    mx /= n;
    my /= n;
    mz /= n;
    // Roll/pitch-rate energy: variance of the angular rate perpendicular to "up" (the segment
    // mean goes: turning and gyro bias are not vibration).
    let ang = 0;
    for (let k = 0; k < n; k++) {
      const i = (start + k) & mask;
      const x = wx[i]! - mx,
        y = wy[i]! - my,
        z = wz[i]! - mz;
      const along = x * ux + y * uy + z * uz;
      ang += x * x + y * y + z * z - along * along;
    }
    this.welch.compute(s, 0, n, fs, n);
    this.power[j] = this.welch.bandPower(fs, n, this.cfg.band_low, Math.min(this.cfg.band_high, fs / 2));
    this.angular[j] = ang / n;
    this.rate[j] = fs;
    this.ok[j] = SEG_OK;
    // The IMU rate changed (driver reconfigured): re-pick the segment length from here on.
    if (fs > this.segRateUsed * 1.33 || fs < this.segRateUsed * 0.75) this.chooseSegment(fs, start + n);
  }
}
