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
// references ("local", below) make one linear map, applied to references once per rebuild and to
// queries once per call; the search then runs in the mapped space.

/** Principal axes whose coordinates bound the distance from below (see KnnNovelty). */
const KNN_AXES = 8;
/**
 * Ridge added to the covariance of nearest-neighbour differences (standardised units²) before it is
 * inverted (metric "local"): directions in which neighbouring references never differ must not
 * blow a cell's distance up on rounding noise alone.
 */
const LOCAL_RIDGE = 0.05;

/**
 * How distances are measured: "standardised" is the plain Euclidean distance between standardised
 * rows; "local" the Mahalanobis distance under the covariance of the differences between each
 * reference and its nearest other reference, i.e. in units of how much neighbouring samples of the
 * same ground vary. Globally standardised channels are dominated by what varies between driven
 * terrains and with range and light; a type never driven on can differ from driven ones mostly in
 * directions where those vary little (patchwork's rubble: asphalt's colour with cobbles' texture,
 * linearly separable from every driven type yet no further from them than far-off driven cells are
 * from each other), and the local metric weights exactly those directions up.
 */
export type NoveltyMetric = "standardized" | "local";

/**
 * The local metric of m rows of z (row-major m×C): T (row-major C×C, upper triangular) such that
 * ‖(x − y)·T‖² = (x − y)ᵀ(S + λI)⁻¹(x − y), S the covariance of nearest-neighbour differences.
 * With S + λI = L·Lᵀ (Cholesky), T = L⁻ᵀ. Null for fewer than two rows.
 */
export function localMetric(z: Float32Array, m: number, C: number, ridge = LOCAL_RIDGE): Float32Array | null {
  if (m < 2) return null;
  const S = new Float64Array(C * C);
  const diff = new Float64Array(C);
  for (let j = 0; j < m; j++) {
    let bestD = Number.POSITIVE_INFINITY;
    let nn = -1;
    for (let q = 0; q < m; q++) {
      if (q === j) continue;
      let d = 0;
      for (let c = 0; c < C && d < bestD; c++) {
        const v = (z[j * C + c] as number) - (z[q * C + c] as number);
        d += v * v;
      }
      if (d < bestD) {
        bestD = d;
        nn = q;
      }
    }
    for (let c = 0; c < C; c++) diff[c] = (z[j * C + c] as number) - (z[nn * C + c] as number);
    for (let c = 0; c < C; c++) {
      const dc = diff[c] as number;
      for (let e = c; e < C; e++) S[c * C + e]! += dc * (diff[e] as number);
    }
  }
  for (let c = 0; c < C; c++) {
    for (let e = c; e < C; e++) S[c * C + e] = (S[c * C + e] as number) / m;
    S[c * C + c]! += ridge;
    for (let e = 0; e < c; e++) S[c * C + e] = S[e * C + c] as number;
  }
  // Cholesky, lower L in place of S's lower triangle.
  const L = new Float64Array(C * C);
  for (let c = 0; c < C; c++) {
    for (let e = 0; e <= c; e++) {
      let s = S[c * C + e] as number;
      for (let q = 0; q < e; q++) s -= (L[c * C + q] as number) * (L[e * C + q] as number);
      L[c * C + e] = c === e ? Math.sqrt(Math.max(s, ridge * 1e-6)) : s / (L[e * C + e] as number);
    }
  }
  // L⁻¹ by forward substitution, column by column; T = (L⁻¹)ᵀ.
  const T = new Float32Array(C * C);
  const col = new Float64Array(C);
  for (let e = 0; e < C; e++) {
    for (let c = 0; c < C; c++) {
      let s = c === e ? 1 : 0;
      for (let q = e; q < c; q++) s -= (L[c * C + q] as number) * (col[q] as number);
      col[c] = c < e ? 0 : s / (L[c * C + c] as number);
    }
    // col = column e of L⁻¹, i.e. row e of T.
    for (let c = 0; c < C; c++) T[e * C + c] = col[c] as number;
  }
  return T;
}

/** out (n×D) = x (n×C) · M (row-major C×D). */
export function applyMetric(
  x: Float32Array,
  n: number,
  C: number,
  M: Float32Array,
  D: number,
  out: Float32Array,
): void {
  // Each row of M is non-zero only in one span: a projection row in one column (orientations
  // summed), a row of the local metric's triangular T from its diagonal on. Products with the zeros
  // outside it would add +0 to a sum that starts at +0 and so cannot be −0: leaving them out gives
  // the same bits (for finite x) at a fraction of the multiply-adds.
  const lo = new Int32Array(C);
  const hi = new Int32Array(C);
  for (let e = 0; e < C; e++) {
    const me = e * D;
    let a = 0;
    while (a < D && M[me + a] === 0) a++;
    let b = D;
    while (b > a && M[me + b - 1] === 0) b--;
    lo[e] = a;
    hi[e] = b;
  }
  const acc = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    const o = i * C;
    acc.fill(0);
    // Row by row of M (contiguous); rows of zeros in x cost little.
    for (let e = 0; e < C; e++) {
      const xe = x[o + e] as number;
      if (xe === 0) continue;
      const me = e * D;
      const b = hi[e] as number;
      for (let c = lo[e] as number; c < b; c++) acc[c] = (acc[c] as number) + xe * (M[me + c] as number);
    }
    out.set(acc, i * D);
  }
}

/** A (p×q) · B (q×r), row-major. */
function matmul(A: Float32Array, B: Float32Array, p: number, q: number, r: number): Float32Array {
  const out = new Float32Array(p * r);
  applyMetric(A, p, q, B, r, out);
  return out;
}

/** Makes axes[a] (a C-vector inside `axes`) orthogonal to axes[0..a) and unit length. */
function orthonormalise(v: Float64Array, axes: Float64Array, a: number, C: number): void {
  for (let b = 0; b < a; b++) {
    let d = 0;
    for (let c = 0; c < C; c++) d += (v[c] as number) * (axes[b * C + c] as number);
    for (let c = 0; c < C; c++) v[c] = (v[c] as number) - d * (axes[b * C + c] as number);
  }
  let norm = 0;
  for (let c = 0; c < C; c++) norm += (v[c] as number) ** 2;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let c = 0; c < C; c++) v[c] = (v[c] as number) / norm;
}

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
    const m = this.count;
    const C = this.dims;
    const data = this.space;
    // Principal axes by power iteration with deflation (Gram–Schmidt against the earlier ones, so
    // they stay orthonormal: the bound is exact for any such axes, good ones make it tight).
    const mean = new Float64Array(C);
    for (let j = 0; j < m; j++) for (let c = 0; c < C; c++) mean[c]! += (data[j * C + c] as number) / m;
    const P = Math.min(KNN_AXES, C);
    const axes = new Float64Array(P * C);
    // The C×C scatter matrix once (m·C² multiply-adds), then cheap C² iterations on it: the same
    // power iteration as over the rows, ~5× less work per rebuild (which the live predictor does on
    // the main thread at every weight hand-over).
    const cov = new Float64Array(C * C);
    const row = new Float64Array(C);
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < C; c++) row[c] = (data[j * C + c] as number) - (mean[c] as number);
      for (let c = 0; c < C; c++) {
        const rc = row[c] as number;
        for (let e = c; e < C; e++) cov[c * C + e]! += rc * (row[e] as number);
      }
    }
    for (let c = 0; c < C; c++) for (let e = 0; e < c; e++) cov[c * C + e] = cov[e * C + c] as number;
    const w = new Float64Array(C);
    for (let a = 0; a < P; a++) {
      const v = axes.subarray(a * C, a * C + C);
      for (let c = 0; c < C; c++) v[c] = ((c * 7919 + a * 104729) % 17) - 8 + (c === a ? 16 : 0);
      for (let it = 0; it < 20; it++) {
        orthonormalise(v, axes, a, C);
        for (let c = 0; c < C; c++) {
          let d = 0;
          for (let e = 0; e < C; e++) d += (cov[c * C + e] as number) * (v[e] as number);
          w[c] = d;
        }
        let norm = 0;
        for (let c = 0; c < C; c++) norm += (w[c] as number) ** 2;
        if (!(norm > 1e-24) || !Number.isFinite(norm)) break; // no variance left: keep v as it is
        v.set(w);
      }
      orthonormalise(v, axes, a, C);
    }
    const coords = new Float64Array(m * P);
    for (let j = 0; j < m; j++) {
      for (let a = 0; a < P; a++) {
        let d = 0;
        for (let c = 0; c < C; c++) d += (data[j * C + c] as number) * (axes[a * C + c] as number);
        coords[j * P + a] = d;
      }
    }
    const order = Array.from({ length: m }, (_, j) => j).sort(
      (a, b) => (coords[a * P] as number) - (coords[b * P] as number),
    );
    this.sorted = new Float32Array(m * C);
    this.proj = new Float64Array(m);
    this.coords = new Float64Array(m * P);
    order.forEach((j, q) => {
      this.sorted.set(data.subarray(j * C, j * C + C), q * C);
      this.coords.set(coords.subarray(j * P, j * P + P), q * P);
      this.proj[q] = coords[j * P] as number;
    });
    this.axes = axes;
    this.P = P;
    this.xp = new Float64Array(P);
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
