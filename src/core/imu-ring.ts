// Ring buffer of IMU samples in typed arrays, so storing a sample allocates nothing. Absolute
// sample index i lives at i & mask; the owner decides when overwriting old samples is safe.

import { prevPow2 } from "./fft.ts";
import type { Stamp } from "./types.ts";

export class ImuRing {
  readonly cap: number;
  readonly mask: number;
  readonly t: Float64Array;
  readonly ax: Float64Array;
  readonly ay: Float64Array;
  readonly az: Float64Array;
  readonly wx: Float64Array;
  readonly wy: Float64Array;
  readonly wz: Float64Array;
  /** Samples stored so far (the next sample's absolute index). */
  written = 0;

  /** `capacity` is rounded down to a power of two. */
  constructor(capacity: number) {
    this.cap = prevPow2(capacity);
    this.mask = this.cap - 1;
    const n = this.cap;
    this.t = new Float64Array(n);
    this.ax = new Float64Array(n);
    this.ay = new Float64Array(n);
    this.az = new Float64Array(n);
    this.wx = new Float64Array(n);
    this.wy = new Float64Array(n);
    this.wz = new Float64Array(n);
  }

  push(stamp: Stamp, ax: number, ay: number, az: number, wx: number, wy: number, wz: number): void {
    const i = this.written & this.mask;
    this.t[i] = stamp;
    this.ax[i] = ax;
    this.ay[i] = ay;
    this.az[i] = az;
    this.wx[i] = wx;
    this.wy[i] = wy;
    this.wz[i] = wz;
    this.written++;
  }

  /** First absolute sample index with stamp ≥ ts among the samples still in the ring. */
  indexAt(ts: Stamp): number {
    let lo = Math.max(0, this.written - this.cap);
    let hi = this.written;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.t[mid & this.mask]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
