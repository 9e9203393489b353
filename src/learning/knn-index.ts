// Principal-axis index of the kNN references: sorted by the first axis, with lower-bound coordinates.

/** Principal axes whose coordinates bound the distance from below (see KnnNovelty). */
const KNN_AXES = 8;

/**
 * The references sorted by their projection on the set's first principal axis (`proj`), and their
 * coordinates on the first P principal axes (orthonormal, row-major P×C in `axes`).
 */
export interface KnnIndex {
  sorted: Float32Array<ArrayBuffer>;
  proj: Float64Array<ArrayBuffer>;
  coords: Float64Array<ArrayBuffer>;
  axes: Float64Array<ArrayBuffer>;
  P: number;
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

/** The index of m rows of `data` (row-major m×C). */
export function buildKnnIndex(data: Float32Array, m: number, C: number): KnnIndex {
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
  const sorted = new Float32Array(m * C);
  const proj = new Float64Array(m);
  const sortedCoords = new Float64Array(m * P);
  order.forEach((j, q) => {
    sorted.set(data.subarray(j * C, j * C + C), q * C);
    sortedCoords.set(coords.subarray(j * P, j * P + P), q * P);
    proj[q] = coords[j * P] as number;
  });
  return { sorted, proj, coords: sortedCoords, axes, P };
}
