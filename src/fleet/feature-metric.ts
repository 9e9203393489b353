// "Near in feature space" for the fleet: running statistics of the robot's own features standardise
// every channel, and a peer sample is matched to its nearest own sample under that metric.

import type { RowStore } from "./row-store.ts";

export class OwnFeatureMetric {
  /** Own feature vectors seen (Welford count). */
  n = 0;
  readonly #C: number;
  readonly #mean: Float64Array;
  readonly #m2: Float64Array;
  readonly #scale: Float32Array;
  #ownZ = new Float32Array(0);
  readonly #q: Float32Array;

  constructor(channels: number) {
    this.#C = channels;
    this.#mean = new Float64Array(channels);
    this.#m2 = new Float64Array(channels);
    this.#scale = new Float32Array(channels).fill(1);
    this.#q = new Float32Array(channels);
  }

  /** One own feature vector into the running mean and variance. */
  add(f: Float32Array, o: number): void {
    this.n++;
    const inv = 1 / this.n;
    for (let k = 0; k < this.#C; k++) {
      const x = f[o + k]!;
      const d = x - this.#mean[k]!;
      this.#mean[k]! += d * inv;
      this.#m2[k]! += d * (x - this.#mean[k]!);
    }
  }

  /** The per-channel scale from the statistics so far (after a batch of `add`s: it moves slowly). */
  updateScale(): void {
    if (this.n > 1)
      for (let k = 0; k < this.#C; k++)
        this.#scale[k] = 1 / Math.max(Math.sqrt(this.#m2[k]! / (this.n - 1)), 1e-2);
  }

  /** Whether any channel of a vector lies more than `maxZ` standard deviations from the own mean. */
  outside(f: Float32Array, o: number, maxZ: number): boolean {
    for (let k = 0; k < this.#C; k++)
      if (Math.abs((f[o + k]! - this.#mean[k]!) * this.#scale[k]!) > maxZ) return true;
    return false;
  }

  /** Own samples standardised with the current statistics (once per take: the metric moves slowly). */
  refresh(own: RowStore): void {
    const C = this.#C;
    if (this.#ownZ.length < own.capacity * C) this.#ownZ = new Float32Array(own.capacity * C);
    for (let j = 0; j < own.size; j++)
      for (let k = 0; k < C; k++) this.#ownZ[j * C + k] = own.features[j * C + k]! * this.#scale[k]!;
  }

  /**
   * Standardised RMS distance to the nearest of the first `count` own samples as of the last
   * `refresh`, and its index (−1: none).
   */
  nearest(f: Float32Array, o: number, count: number): { d: number; j: number } {
    const C = this.#C;
    const q = this.#q;
    for (let k = 0; k < C; k++) q[k] = f[o + k]! * this.#scale[k]!;
    let best = Number.POSITIVE_INFINITY;
    let bj = -1;
    const z = this.#ownZ;
    const C8 = C - (C % 8);
    for (let j = 0; j < count; j++) {
      let d = 0;
      const b = j * C;
      // Early exit, checked every 8 channels (a check per channel cost more than it saved): most
      // own samples are far from the query after a few channels.
      let k = 0;
      for (; k < C8 && d < best; k += 8) {
        const e0 = q[k]! - z[b + k]!;
        const e1 = q[k + 1]! - z[b + k + 1]!;
        const e2 = q[k + 2]! - z[b + k + 2]!;
        const e3 = q[k + 3]! - z[b + k + 3]!;
        const e4 = q[k + 4]! - z[b + k + 4]!;
        const e5 = q[k + 5]! - z[b + k + 5]!;
        const e6 = q[k + 6]! - z[b + k + 6]!;
        const e7 = q[k + 7]! - z[b + k + 7]!;
        d += e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3 + e4 * e4 + e5 * e5 + e6 * e6 + e7 * e7;
      }
      if (d < best)
        for (k = C8; k < C; k++) {
          const e = q[k]! - z[b + k]!;
          d += e * e;
        }
      if (d < best) {
        best = d;
        bj = j;
      }
    }
    return { d: Math.sqrt(best / C), j: bj };
  }
}
