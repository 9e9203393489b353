// k-nearest-neighbour novelty: the mean distance (standardised feature units) from a cell's feature
// vector to its k nearest neighbours among M reference samples drawn from the replay buffer. Ground
// that looks like something driven on has close neighbours; ground unlike anything driven on does not.
//
// Compared with the autoencoder's reconstruction error this needs no training and does not generalise
// to unseen ground that happens to lie in the autoencoder's subspace; it costs one n×M matrix product
// per frame (1200 × 512 × C multiply-adds, a few ms on wasm).

import { tf } from "./tf-backend.ts";

export class KnnNovelty {
  private refs: tf.Tensor2D | null = null;
  private refNorms: tf.Tensor1D | null = null;
  private count = 0;
  private data = new Float32Array(0);

  constructor(
    readonly channels: number,
    readonly k: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Replaces the reference set with m standardised rows of z (row-major m×C). */
  rebuild(z: Float32Array, m: number): void {
    this.dispose();
    if (m === 0) return;
    const C = this.channels;
    this.data = z.slice(0, m * C);
    this.refs = tf.tensor2d(this.data, [m, C]);
    this.refNorms = tf.tidy(() => tf.sum(tf.square(this.refs as tf.Tensor2D), 1)) as tf.Tensor1D;
    this.count = m;
  }

  /** The reference rows (standardised, row-major size×C), e.g. to hand to a predictor. */
  references(): Float32Array {
    return this.data.subarray(0, this.count * this.channels);
  }

  /**
   * Mean distance to the k nearest references for n standardised rows. With `leaveOneOut`, a
   * reference at distance ~0 (the row itself, for rows drawn from the buffer) is skipped.
   */
  score(z: Float32Array, n: number, leaveOneOut = false): Float32Array {
    const out = new Float32Array(n);
    if (!this.refs || !this.refNorms || n === 0) return out.fill(Number.NaN);
    const C = this.channels;
    const kk = Math.min(this.k + (leaveOneOut ? 1 : 0), this.count);
    const nearest = tf.tidy(() => {
      const x = tf.tensor2d(z.subarray(0, n * C), [n, C]);
      const xn = tf.sum(tf.square(x), 1, true);
      const cross = tf.matMul(x, this.refs as tf.Tensor2D, false, true);
      const d2 = tf.relu(tf.add(tf.sub(xn, tf.mul(cross, 2)), this.refNorms as tf.Tensor1D));
      return tf.topk(tf.neg(d2), kk, true).values.dataSync() as Float32Array;
    });
    for (let i = 0; i < n; i++) {
      let s = 0;
      let used = 0;
      for (let j = 0; j < kk && used < this.k; j++) {
        const d2 = -(nearest[i * kk + j] as number);
        if (leaveOneOut && j === 0 && d2 < 1e-6) continue;
        s += Math.sqrt(Math.max(d2, 0));
        used++;
      }
      out[i] = used ? s / used : Number.NaN;
    }
    return out;
  }

  dispose(): void {
    this.refs?.dispose();
    this.refNorms?.dispose();
    this.refs = null;
    this.refNorms = null;
    this.count = 0;
    this.data = new Float32Array(0);
  }
}
