// Odometry history: a ring buffer of poses in typed arrays, interpolated at any stamp.
//
// Distance travelled drives labelling, so the buffer also keeps the cumulative path length at each
// sample; `distanceAt` interpolates it and `stampAtDistance` inverts it. Orientation is kept as a
// full quaternion (slerp) and as an unwrapped yaw (linear), so planar users need no trigonometry
// per lookup and yaw-rate never sees a ±π jump.

import { quatNormalize, yawOf } from "./geometry.ts";
import type { OdomSample, Pose3, Stamp } from "./types.ts";

/** Why a pose was not stored. */
export type PoseRejectReason = "nan" | "backwards" | "duplicate";

export interface PoseAt {
  x: number;
  y: number;
  z: number;
  qx: number;
  qy: number;
  qz: number;
  qw: number;
  /** Unwrapped yaw (rad): continuous over the whole history. */
  yaw: number;
  /** Cumulative planar distance travelled since the first pose (m). */
  distance: number;
}

export function emptyPoseAt(): PoseAt {
  return { x: 0, y: 0, z: 0, qx: 0, qy: 0, qz: 0, qw: 1, yaw: 0, distance: 0 };
}

export class PoseHistory {
  readonly capacity: number;
  private readonly t: Float64Array;
  private readonly px: Float64Array;
  private readonly py: Float64Array;
  private readonly pz: Float64Array;
  private readonly q: Float64Array; // 4 per sample
  private readonly yawU: Float64Array;
  private readonly dist: Float64Array;
  private readonly spd: Float64Array; // |twist| (planar), NaN when the source has no twist
  private readonly wz: Float64Array; // yaw rate from twist
  private head = 0; // index of the oldest sample
  private count = 0;
  /** Seconds of history to keep (older samples are dropped even if capacity allows more). */
  readonly maxAge: number;
  private twistSeen = false;

  constructor(options: { maxAge?: number; capacity?: number } = {}) {
    this.maxAge = options.maxAge ?? 120;
    this.capacity = options.capacity ?? 16384;
    const n = this.capacity;
    this.t = new Float64Array(n);
    this.px = new Float64Array(n);
    this.py = new Float64Array(n);
    this.pz = new Float64Array(n);
    this.q = new Float64Array(4 * n);
    this.yawU = new Float64Array(n);
    this.dist = new Float64Array(n);
    this.spd = new Float64Array(n);
    this.wz = new Float64Array(n);
  }

  get size(): number {
    return this.count;
  }

  get oldestStamp(): Stamp {
    return this.count ? this.t[this.head]! : Number.NaN;
  }

  get latestStamp(): Stamp {
    return this.count ? this.t[this.idx(this.count - 1)]! : Number.NaN;
  }

  /** Cumulative distance at the latest pose. */
  get latestDistance(): number {
    return this.count ? this.dist[this.idx(this.count - 1)]! : 0;
  }

  private idx(i: number): number {
    const j = this.head + i;
    return j >= this.capacity ? j - this.capacity : j;
  }

  /** Stores an odometry sample; returns why not when it is rejected (never throws). */
  push(s: OdomSample): PoseRejectReason | null {
    const p = s.pose.position;
    const o = s.pose.orientation;
    return this.pushRaw(
      s.stamp,
      p.x,
      p.y,
      p.z,
      o.x,
      o.y,
      o.z,
      o.w,
      Math.hypot(s.linear.x, s.linear.y),
      s.angular.z,
    );
  }

  /** Scalar form of `push` (hot path, tests). `speed`/`yawRate` may be NaN when unknown. */
  pushRaw(
    stamp: Stamp,
    x: number,
    y: number,
    z: number,
    qx: number,
    qy: number,
    qz: number,
    qw: number,
    speed = Number.NaN,
    yawRate = Number.NaN,
  ): PoseRejectReason | null {
    if (
      !Number.isFinite(stamp) ||
      !Number.isFinite(x) ||
      !Number.isFinite(y) ||
      !Number.isFinite(z) ||
      !Number.isFinite(qx) ||
      !Number.isFinite(qy) ||
      !Number.isFinite(qz) ||
      !Number.isFinite(qw)
    ) {
      return "nan";
    }
    const qn = Math.hypot(qx, qy, qz, qw);
    if (!(qn > 1e-9)) return "nan";
    let q0 = qx / qn,
      q1 = qy / qn,
      q2 = qz / qn,
      q3 = qw / qn;
    let yaw = yawOf({ x: q0, y: q1, z: q2, w: q3 });
    let d = 0;
    if (this.count > 0) {
      const last = this.idx(this.count - 1);
      const lt = this.t[last]!;
      if (stamp === lt) return "duplicate";
      if (stamp < lt) return "backwards";
      // Keep quaternions in one hemisphere so slerp takes the short way.
      const lq = 4 * last;
      if (q0 * this.q[lq]! + q1 * this.q[lq + 1]! + q2 * this.q[lq + 2]! + q3 * this.q[lq + 3]! < 0) {
        q0 = -q0;
        q1 = -q1;
        q2 = -q2;
        q3 = -q3;
      }
      const ly = this.yawU[last]!;
      yaw = ly + wrap(yaw - ly);
      d = this.dist[last]! + Math.hypot(x - this.px[last]!, y - this.py[last]!);
    }
    if (this.count === this.capacity) this.dropOldest();
    const i = this.idx(this.count);
    this.count++;
    this.t[i] = stamp;
    this.px[i] = x;
    this.py[i] = y;
    this.pz[i] = z;
    this.q[4 * i] = q0;
    this.q[4 * i + 1] = q1;
    this.q[4 * i + 2] = q2;
    this.q[4 * i + 3] = q3;
    this.yawU[i] = yaw;
    this.dist[i] = d;
    this.spd[i] = speed;
    this.wz[i] = yawRate;
    // A source that reports zero twist while moving (some drivers leave it empty) is treated as
    // having none; once a non-zero twist is seen, twist is trusted.
    if (Number.isFinite(speed) && speed !== 0) this.twistSeen = true;
    while (this.count > 2 && stamp - this.t[this.head]! > this.maxAge) this.dropOldest();
    return null;
  }

  private dropOldest(): void {
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
    this.twistSeen = false;
  }

  /** Index i (0 = oldest) of the last sample with t ≤ stamp, or -1 before the first. */
  private search(stamp: Stamp): number {
    let lo = 0;
    let hi = this.count - 1;
    if (this.count === 0 || stamp < this.t[this.head]!) return -1;
    if (stamp >= this.t[this.idx(hi)]!) return hi;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (this.t[this.idx(mid)]! <= stamp) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** Is `stamp` inside the stored span (extrapolating at most `slack` s past either end)? */
  covers(stamp: Stamp, slack = 0): boolean {
    return this.count > 0 && stamp >= this.oldestStamp - slack && stamp <= this.latestStamp + slack;
  }

  /**
   * Pose at `stamp` into `out` (linear position, slerp orientation, linear unwrapped yaw and
   * distance). Clamps to the ends within `slack` seconds; returns false outside.
   */
  interpolate(stamp: Stamp, out: PoseAt, slack = 0): boolean {
    if (!this.covers(stamp, slack)) return false;
    const i = this.search(stamp);
    if (i < 0) return this.copy(0, out);
    if (i >= this.count - 1) return this.copy(this.count - 1, out);
    const a = this.idx(i);
    const b = this.idx(i + 1);
    const ta = this.t[a]!;
    const u = (stamp - ta) / (this.t[b]! - ta);
    out.x = this.px[a]! + u * (this.px[b]! - this.px[a]!);
    out.y = this.py[a]! + u * (this.py[b]! - this.py[a]!);
    out.z = this.pz[a]! + u * (this.pz[b]! - this.pz[a]!);
    out.yaw = this.yawU[a]! + u * (this.yawU[b]! - this.yawU[a]!);
    out.distance = this.dist[a]! + u * (this.dist[b]! - this.dist[a]!);
    slerpInto(this.q, 4 * a, 4 * b, u, out);
    return true;
  }

  private copy(i: number, out: PoseAt): boolean {
    const j = this.idx(i);
    out.x = this.px[j]!;
    out.y = this.py[j]!;
    out.z = this.pz[j]!;
    out.yaw = this.yawU[j]!;
    out.distance = this.dist[j]!;
    out.qx = this.q[4 * j]!;
    out.qy = this.q[4 * j + 1]!;
    out.qz = this.q[4 * j + 2]!;
    out.qw = this.q[4 * j + 3]!;
    return true;
  }

  /** Object form (allocates). */
  poseAt(stamp: Stamp, slack = 0): Pose3 | null {
    const p = emptyPoseAt();
    if (!this.interpolate(stamp, p, slack)) return null;
    return {
      position: { x: p.x, y: p.y, z: p.z },
      orientation: quatNormalize({ x: p.qx, y: p.qy, z: p.qz, w: p.qw }),
    };
  }

  /** Cumulative distance at `stamp` (NaN outside the history). */
  distanceAt(stamp: Stamp): number {
    if (!this.covers(stamp)) return Number.NaN;
    const i = this.search(stamp);
    if (i >= this.count - 1) return this.dist[this.idx(this.count - 1)]!;
    const a = this.idx(i);
    const b = this.idx(i + 1);
    const u = (stamp - this.t[a]!) / (this.t[b]! - this.t[a]!);
    return this.dist[a]! + u * (this.dist[b]! - this.dist[a]!);
  }

  /** Unwrapped yaw at `stamp` (NaN outside). */
  yawAt(stamp: Stamp): number {
    if (!this.covers(stamp)) return Number.NaN;
    const i = this.search(stamp);
    if (i >= this.count - 1) return this.yawU[this.idx(this.count - 1)]!;
    const a = this.idx(i);
    const b = this.idx(i + 1);
    const u = (stamp - this.t[a]!) / (this.t[b]! - this.t[a]!);
    return this.yawU[a]! + u * (this.yawU[b]! - this.yawU[a]!);
  }

  /**
   * Earliest stamp at which the cumulative distance reaches `d` (NaN if it never does in the
   * stored history). Distance is non-decreasing, so a binary search works.
   */
  stampAtDistance(d: number): Stamp {
    if (this.count === 0) return Number.NaN;
    if (d <= this.dist[this.head]!) return this.t[this.head]!;
    if (d > this.dist[this.idx(this.count - 1)]!) return Number.NaN;
    let lo = 0;
    let hi = this.count - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (this.dist[this.idx(mid)]! < d) lo = mid;
      else hi = mid;
    }
    const a = this.idx(lo);
    const b = this.idx(hi);
    const da = this.dist[a]!;
    const db = this.dist[b]!;
    const u = db > da ? (d - da) / (db - da) : 1;
    return this.t[a]! + u * (this.t[b]! - this.t[a]!);
  }

  /**
   * Planar speed at `stamp` (m/s): the odometry twist when the source provides one, else the
   * path length over ±`window`/2 seconds divided by the time.
   */
  speedAt(stamp: Stamp, window = 0.2): number {
    if (!this.covers(stamp)) return Number.NaN;
    if (this.twistSeen) return this.interpScalar(this.spd, stamp);
    return this.meanSpeed(stamp - window / 2, stamp + window / 2);
  }

  /** Yaw rate at `stamp` (rad/s): twist when available, else the yaw difference over ±window/2. */
  yawRateAt(stamp: Stamp, window = 0.2): number {
    if (!this.covers(stamp)) return Number.NaN;
    if (this.twistSeen) {
      const w = this.interpScalar(this.wz, stamp);
      if (Number.isFinite(w)) return w;
    }
    return this.meanYawRate(stamp - window / 2, stamp + window / 2);
  }

  /** Path length over [t0, t1] divided by its duration (clamped to the history). */
  meanSpeed(t0: Stamp, t1: Stamp): number {
    const a = Math.max(t0, this.oldestStamp);
    const b = Math.min(t1, this.latestStamp);
    if (!(b > a)) return Number.NaN;
    return (this.distanceAt(b) - this.distanceAt(a)) / (b - a);
  }

  /** Net heading change over [t0, t1] divided by its duration (clamped to the history). */
  meanYawRate(t0: Stamp, t1: Stamp): number {
    const a = Math.max(t0, this.oldestStamp);
    const b = Math.min(t1, this.latestStamp);
    if (!(b > a)) return Number.NaN;
    return (this.yawAt(b) - this.yawAt(a)) / (b - a);
  }

  private interpScalar(arr: Float64Array, stamp: Stamp): number {
    const i = this.search(stamp);
    if (i < 0) return arr[this.head]!;
    if (i >= this.count - 1) return arr[this.idx(this.count - 1)]!;
    const a = this.idx(i);
    const b = this.idx(i + 1);
    const u = (stamp - this.t[a]!) / (this.t[b]! - this.t[a]!);
    return arr[a]! + u * (arr[b]! - arr[a]!);
  }
}

function wrap(a: number): number {
  return a - 2 * Math.PI * Math.round(a / (2 * Math.PI));
}

/** Slerp between quaternions q[a..a+3] and q[b..b+3] (same hemisphere) into out.qx..qw. */
function slerpInto(q: Float64Array, a: number, b: number, u: number, out: PoseAt): void {
  const ax = q[a]!,
    ay = q[a + 1]!,
    az = q[a + 2]!,
    aw = q[a + 3]!;
  const bx = q[b]!,
    by = q[b + 1]!,
    bz = q[b + 2]!,
    bw = q[b + 3]!;
  const dot = Math.min(1, ax * bx + ay * by + az * bz + aw * bw);
  let wa: number;
  let wb: number;
  if (dot > 0.9995) {
    // Nearly parallel: normalised lerp is exact enough and avoids dividing by sin(≈0).
    wa = 1 - u;
    wb = u;
  } else {
    const th = Math.acos(dot);
    const s = Math.sin(th);
    wa = Math.sin((1 - u) * th) / s;
    wb = Math.sin(u * th) / s;
  }
  let x = wa * ax + wb * bx,
    y = wa * ay + wb * by,
    z = wa * az + wb * bz,
    w = wa * aw + wb * bw;
  const n = Math.hypot(x, y, z, w);
  x /= n;
  y /= n;
  z /= n;
  w /= n;
  out.qx = x;
  out.qy = y;
  out.qz = z;
  out.qw = w;
}
