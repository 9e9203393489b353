// k-nearest-neighbour novelty: the mean distance (standardised feature units) from a cell's feature
// vector to its k nearest neighbours among M reference samples drawn from the replay buffer. Ground
// that looks like something driven on has close neighbours; ground unlike anything driven on does not.
//
// Compared with the autoencoder's reconstruction error this needs no training and does not generalise
// to unseen ground that happens to lie in the autoencoder's subspace; it costs one n×M matrix product
// per frame (1200 × 512 × C multiply-adds).

export class KnnNovelty {
  private norms = new Float64Array(0);
  private count = 0;
  private data = new Float32Array(0);
  private best = new Float64Array(8);
  // Scratch of score(): indices of the current and the previous row's nearest references, and a
  // per-reference mark of those already tried for the current row.
  private bestIdx = new Int32Array(0);
  private prevIdx = new Int32Array(0);
  private mark = new Uint32Array(0);

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
    this.norms = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += (this.data[j * C + c] as number) ** 2;
      this.norms[j] = s;
    }
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
    if (this.count === 0 || n === 0) return out.fill(Number.NaN);
    const C = this.channels;
    const kk = Math.min(this.k + (leaveOneOut ? 1 : 0), this.count);
    if (this.best.length < kk) this.best = new Float64Array(kk);
    // Plain JS: 1200 × 512 × 39 multiply-adds is ~20 ms and behaves the same on every tfjs backend
    // (with tfjs-wasm the n×M intermediate made a frame take seconds here; cause not pinned down).
    const M = this.count;
    const refs = this.data;
    const best = this.best;
    if (this.bestIdx.length < kk) {
      this.bestIdx = new Int32Array(kk);
      this.prevIdx = new Int32Array(kk);
    }
    if (this.mark.length < M) this.mark = new Uint32Array(M);
    const bestIdx = this.bestIdx;
    const prev = this.prevIdx;
    const mark = this.mark;
    mark.fill(0);
    let nPrev = 0;
    // Squared distance summed 8 channels at a time: partial sums only grow, so a reference stops as
    // soon as it cannot be among the k nearest. Same result as the full n×M×C product.
    const consider = (xo: number, j: number): void => {
      const ro = j * C;
      const bound = best[kk - 1] as number;
      let v = 0;
      let c = 0;
      while (c < C) {
        const end = Math.min(c + 8, C);
        for (; c < end; c++) {
          const d = (z[xo + c] as number) - (refs[ro + c] as number);
          v += d * d;
        }
        if (v >= bound) return;
      }
      let q = kk - 1;
      while (q > 0 && (best[q - 1] as number) > v) {
        best[q] = best[q - 1] as number;
        bestIdx[q] = bestIdx[q - 1] as number;
        q--;
      }
      best[q] = v;
      bestIdx[q] = j;
    };
    for (let i = 0; i < n; i++) {
      best.fill(Number.POSITIVE_INFINITY);
      bestIdx.fill(-1);
      const xo = i * C;
      // Neighbouring cells look alike: the previous row's nearest references, tried first, give a
      // tight bound at once, so most of the others stop after the first block (bench/run.ts history).
      const stamp = i + 1;
      for (let p = 0; p < nPrev; p++) {
        const j = prev[p] as number;
        mark[j] = stamp;
        consider(xo, j);
      }
      for (let j = 0; j < M; j++) if (mark[j] !== stamp) consider(xo, j);
      nPrev = 0;
      for (let q = 0; q < kk; q++) if ((bestIdx[q] as number) >= 0) prev[nPrev++] = bestIdx[q] as number;
      let s = 0;
      let used = 0;
      for (let j = 0; j < kk && used < this.k; j++) {
        const v = best[j] as number;
        if (leaveOneOut && j === 0 && v < 1e-6) continue;
        s += Math.sqrt(Math.max(v, 0));
        used++;
      }
      out[i] = used ? s / used : Number.NaN;
    }
    return out;
  }

  dispose(): void {
    this.norms = new Float64Array(0);
    this.count = 0;
    this.data = new Float32Array(0);
  }
}
