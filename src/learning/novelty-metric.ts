// Distance metrics of the kNN novelty: the local Mahalanobis metric and the linear map that applies it.

/**
 * Ridge added to the covariance of nearest-neighbour differences (standardised units²) before it is
 * inverted (metric "local"): directions in which neighbouring references never differ must not
 * blow a cell's distance up on rounding noise alone.
 */
export const LOCAL_RIDGE = 0.05;

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
export function matmul(A: Float32Array, B: Float32Array, p: number, q: number, r: number): Float32Array {
  const out = new Float32Array(p * r);
  applyMetric(A, p, q, B, r, out);
  return out;
}
