// k-nearest-neighbour novelty: the mean distance (standardised feature units) from a cell's feature
// vector to its k nearest neighbours among M reference samples drawn from the replay buffer. Ground
// that looks like something driven on has close neighbours; ground unlike anything driven on does not.
//
// Compared with the autoencoder's reconstruction error this needs no training and does not generalise
// to unseen ground that happens to lie in the autoencoder's subspace; it costs one n×M matrix product
// per frame at most (1200 × 256 × C multiply-adds), far fewer with the pruning in score().
//
// Distances need not be between the standardised rows as they are: a fixed projection (features
// invariant to heading and exposure, novelty-features.ts) and/or a metric estimated from the
// references ("local", novelty-metric.ts) make one linear map, applied to references once per
// rebuild and to queries once per call; the search then runs in the mapped space.

import { buildKnnIndex } from "./knn-index.ts";
import { applyMetric, LOCAL_RIDGE, localMetric, matmul, type NoveltyMetric } from "./novelty-metric.ts";

export { applyMetric, localMetric, type NoveltyMetric } from "./novelty-metric.ts";

/**
 * The score of one row from its kk smallest squared distances (ascending, in best[0..kk)): the mean
 * distance to the k nearest; with leaveOneOut a first one at ~0 (the row itself) does not count.
 */
function meanOfNearest(best: Float64Array, kk: number, k: number, leaveOneOut: boolean): number {
  let s = 0;
  let used = 0;
  for (let j = 0; j < kk && used < k; j++) {
    const v = best[j] as number;
    if (leaveOneOut && j === 0 && v < 1e-6) continue;
    s += Math.sqrt(Math.max(v, 0));
    used++;
  }
  return used ? s / used : Number.NaN;
}

/** A KnnNovelty's search space for its references: see searchState() and restore(). */
export interface KnnSearchState {
  /** channels×searchDims, or null when distances are between the standardised rows as they are. */
  transform: Float32Array | null;
  /** The references in the search space, size×searchDims. */
  space: Float32Array;
}

export class KnnNovelty {
  private count = 0;
  private data = new Float32Array(0);
  /**
   * The space every search runs in: rows times `transform` (C×dims; null: the rows themselves),
   * i.e. the projection (when given) followed by the local metric's T (metric "local").
   */
  private transform: Float32Array<ArrayBufferLike> | null = null;
  private dims: number;
  private space: Float32Array = new Float32Array(0);
  private zt = new Float32Array(0);
  // The references again, sorted by their projection on the set's first principal axis, and their
  // coordinates on the first P principal axes (orthonormal, row-major P×C in `axes`). For unit,
  // orthogonal axes the distance in those P coordinates is a lower bound of the full distance, so
  // most references are ruled out with P multiply-adds instead of C; and a search that walks outward
  // from the query's projection on the first axis can stop once that gap alone passes the k-th
  // nearest so far.
  private sorted = new Float32Array(0);
  private proj = new Float64Array(0);
  private coords = new Float64Array(0);
  private axes = new Float64Array(0);
  private P = 0;
  private xp = new Float64Array(0);
  private best = new Float64Array(8);
  // Scratch of score(): positions (in sorted order) of the current and the previous row's nearest
  // references, and a per-reference mark of those already tried for the current row.
  private bestIdx = new Int32Array(0);
  private prevIdx = new Int32Array(0);
  private mark = new Uint32Array(0);
  /** Whether sorted/proj/coords/axes describe the current references (see rebuild). */
  private indexed = false;

  /**
   * `projection` (row-major channels×d), when given, maps every row to d features before distances
   * are measured (e.g. novelty on features invariant to heading and exposure: see
   * novelty-features.ts); the local metric is then estimated on the projected rows.
   */
  constructor(
    readonly channels: number,
    readonly k: number,
    readonly metricKind: NoveltyMetric = "standardized",
    readonly projection: { matrix: Float32Array; dims: number } | null = null,
    readonly ridge = LOCAL_RIDGE,
  ) {
    this.dims = projection ? projection.dims : channels;
  }

  /** Features per row in the search space (searchReferences(), searchTransform()'s columns). */
  get searchDims(): number {
    return this.dims;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Replaces the reference set with m standardised rows of z (row-major m×C). The search index is
   * built on the first score() after it: a predictor that scores with onnxruntime (onnx-predictor.ts)
   * only needs the rows, and the live predictor replaces them on the main thread at every hand-over.
   */
  rebuild(z: Float32Array, m: number): void {
    this.dispose();
    if (m === 0) return;
    const C = this.channels;
    const D = this.dims;
    this.data = z.slice(0, m * C);
    this.count = m;
    const P = this.projection?.matrix ?? null;
    const projected = P ? matmul(this.data, P, m, C, D) : this.data;
    const T = this.metricKind === "local" ? localMetric(projected, m, D, this.ridge) : null;
    this.transform = P && T ? matmul(P, T, C, D, D) : (P ?? T);
    this.space = T ? matmul(projected, T, m, D, D) : projected;
  }

  /**
   * The search space rebuild() made from the current references (copies), for restore() in a
   * KnnNovelty with the same settings; null without references.
   */
  searchState(): KnnSearchState | null {
    if (this.count === 0) return null;
    return {
      transform: this.transform ? this.transform.slice() : null,
      space: this.space.slice(0, this.count * this.dims),
    };
  }

  /**
   * rebuild(z, m) for references whose search space another KnnNovelty with the same settings
   * already computed (searchState(): the live predictor takes it with the trainer's weights instead
   * of estimating the local metric again at every hand-over). The state's arrays are used as they
   * are. A state that does not fit these settings and m rows is ignored: rebuild() runs.
   */
  restore(z: Float32Array, m: number, state: KnnSearchState | null): void {
    const D = this.dims;
    const needsTransform = this.projection !== null || (this.metricKind === "local" && m >= 2);
    const fits =
      state !== null &&
      m > 0 &&
      state.space.length === m * D &&
      (state.transform === null
        ? !needsTransform
        : needsTransform && state.transform.length === this.channels * D);
    if (!fits) {
      this.rebuild(z, m);
      return;
    }
    this.dispose();
    this.data = z.slice(0, m * this.channels);
    this.count = m;
    this.transform = state.transform;
    this.space = state.space;
  }

  /**
   * The search space's map (row-major channels×searchDims: projection, then the local metric's T),
   * null when distances are between the rows as given.
   */
  searchTransform(): Float32Array<ArrayBufferLike> | null {
    return this.transform;
  }

  /** The references in the search space (references() times searchTransform()), row-major size×searchDims. */
  searchReferences(): Float32Array {
    return this.space.subarray(0, this.count * this.dims);
  }

  /** Rows z (n×channels) in the search space: z itself, or z·transform in scratch. */
  private toSpace(z: Float32Array, n: number): Float32Array {
    const M = this.transform;
    if (!M) return z;
    const D = this.dims;
    if (this.zt.length < n * D) this.zt = new Float32Array(n * D);
    applyMetric(z, n, this.channels, M, D, this.zt);
    return this.zt;
  }

  private buildIndex(): void {
    this.indexed = true;
    const index = buildKnnIndex(this.space, this.count, this.dims);
    this.sorted = index.sorted;
    this.proj = index.proj;
    this.coords = index.coords;
    this.axes = index.axes;
    this.P = index.P;
    this.xp = new Float64Array(index.P);
  }

  /** The reference rows (standardised, row-major size×C), e.g. to hand to a predictor. */
  references(): Float32Array {
    return this.data.subarray(0, this.count * this.channels);
  }

  /**
   * Mean distance to the k nearest references for n standardised rows. With `leaveOneOut`, a
   * reference at distance ~0 (the row itself, for rows drawn from the buffer) is skipped.
   */
  score(zIn: Float32Array, n: number, leaveOneOut = false): Float32Array {
    const out = new Float32Array(n);
    if (this.count === 0 || n === 0) return out.fill(Number.NaN);
    if (!this.indexed) this.buildIndex();
    const z = this.toSpace(zIn, n);
    const C = this.dims;
    const kk = Math.min(this.k + (leaveOneOut ? 1 : 0), this.count);
    if (this.best.length < kk) this.best = new Float64Array(kk);
    // Plain JS, exact, and far fewer multiply-adds than the n×M×C product (bench/run.ts history):
    // references are visited outward from the query's projection on the principal axis and the walk
    // stops when the projection gap alone exceeds the k-th nearest distance; each distance is summed
    // 8 channels at a time and abandoned once past it; the previous row's nearest references
    // (neighbouring cells look alike) are tried first so that bound is tight from the start.
    const M = this.count;
    const refs = this.sorted;
    const proj = this.proj;
    const axes = this.axes;
    const coords = this.coords;
    const P = this.P;
    const xp = this.xp;
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
      const stamp = i + 1;
      for (let p = 0; p < nPrev; p++) {
        const j = prev[p] as number;
        mark[j] = stamp;
        consider(xo, j);
      }
      for (let a = 0; a < P; a++) {
        let d = 0;
        for (let c = 0; c < C; c++) d += (z[xo + c] as number) * (axes[a * C + c] as number);
        xp[a] = d;
      }
      const px = xp[0] as number;
      // First sorted position with proj >= px, then walk both ways, nearer projection first.
      let lo = 0;
      let hi = M;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((proj[mid] as number) < px) lo = mid + 1;
        else hi = mid;
      }
      let down = lo - 1;
      let up = lo;
      while (down >= 0 || up < M) {
        const gDown = down >= 0 ? px - (proj[down] as number) : Number.POSITIVE_INFINITY;
        const gUp = up < M ? (proj[up] as number) - px : Number.POSITIVE_INFINITY;
        const goUp = gUp < gDown;
        const gap = goUp ? gUp : gDown;
        if (gap * gap >= (best[kk - 1] as number)) break; // every reference left is further still
        const j = goUp ? up++ : down--;
        if (mark[j] === stamp) continue;
        let lb = 0;
        for (let a = 0; a < P; a++) {
          const d = (xp[a] as number) - (coords[j * P + a] as number);
          lb += d * d;
        }
        if (lb < (best[kk - 1] as number)) consider(xo, j);
      }
      nPrev = 0;
      for (let q = 0; q < kk; q++) if ((bestIdx[q] as number) >= 0) prev[nPrev++] = bestIdx[q] as number;
      out[i] = meanOfNearest(best, kk, this.k, leaveOneOut);
    }
    return out;
  }

  /**
   * score() when a search elsewhere (the onnxruntime predictor's TopK) already found each row's
   * candidates: `idx` holds, row-major n×kk, indices into references() of the kk = min(k (+1 with
   * leaveOneOut), size) nearest. Their distances are recomputed exactly here, so the leave-one-out
   * test sees a true 0 for the row itself rather than the rounding left by an expanded square.
   */
  scoreCandidates(
    zIn: Float32Array,
    n: number,
    idx: ArrayLike<bigint | number>,
    kk: number,
    leaveOneOut = false,
  ): Float32Array {
    const out = new Float32Array(n);
    if (this.count === 0 || n === 0 || kk === 0) return out.fill(Number.NaN);
    const C = this.dims;
    const z = this.toSpace(zIn, n);
    const refs = this.space;
    if (this.best.length < kk) this.best = new Float64Array(kk);
    const best = this.best;
    for (let i = 0; i < n; i++) {
      const xo = i * C;
      for (let q = 0; q < kk; q++) {
        const j = Number(idx[i * kk + q]);
        if (!(j >= 0 && j < this.count)) throw new Error(`kNN candidate ${j} of row ${i} is not a reference`);
        const ro = j * C;
        let v = 0;
        for (let c = 0; c < C; c++) {
          const d = (z[xo + c] as number) - (refs[ro + c] as number);
          v += d * d;
        }
        // Insertion into the ascending prefix (the candidates' order may differ by rounding).
        let p = q;
        while (p > 0 && (best[p - 1] as number) > v) {
          best[p] = best[p - 1] as number;
          p--;
        }
        best[p] = v;
      }
      out[i] = meanOfNearest(best, kk, this.k, leaveOneOut);
    }
    return out;
  }

  dispose(): void {
    this.count = 0;
    this.indexed = false;
    this.data = new Float32Array(0);
    this.transform = null;
    this.space = this.data;
    this.zt = new Float32Array(0);
    this.sorted = new Float32Array(0);
    this.proj = new Float64Array(0);
    this.coords = new Float64Array(0);
    this.axes = new Float64Array(0);
    this.P = 0;
  }
}
