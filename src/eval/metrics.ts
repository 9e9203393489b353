// Ranking and error metrics for the evaluation. Pure functions over typed arrays; NaN entries are
// skipped pairwise so callers can pass cells that have no ground truth without filtering first.

/** Mid-ranks (1-based, ties share the mean of their ranks) of `values[0..n)`. */
export function midRanks(values: ArrayLike<number>, n = values.length): Float64Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j]!] === values[order[i]!]) j++;
    const rank = (i + 1 + j) / 2; // mean of ranks i+1 .. j
    for (let k = i; k < j; k++) ranks[order[k]!] = rank;
    i = j;
  }
  return ranks;
}

function finitePairs(a: ArrayLike<number>, b: ArrayLike<number>): [Float64Array, Float64Array] {
  const n = Math.min(a.length, b.length);
  let m = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(a[i]!) && Number.isFinite(b[i]!)) m++;
  const x = new Float64Array(m);
  const y = new Float64Array(m);
  m = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(a[i]!) && Number.isFinite(b[i]!)) {
      x[m] = a[i]!;
      y[m++] = b[i]!;
    }
  }
  return [x, y];
}

/** Pearson correlation; NaN when either side is constant or fewer than 2 pairs. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const [x, y] = finitePairs(a, b);
  const n = x.length;
  if (n < 2) return Number.NaN;
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return Number.NaN;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's ρ: Pearson correlation of mid-ranks (correct with ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const [x, y] = finitePairs(a, b);
  if (x.length < 2) return Number.NaN;
  return pearson(midRanks(x), midRanks(y));
}

/** Mean absolute error over finite pairs; NaN when none. */
export function mae(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  const n = Math.min(pred.length, truth.length);
  let s = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - truth[i]!;
    if (Number.isFinite(d)) {
      s += Math.abs(d);
      m++;
    }
  }
  return m ? s / m : Number.NaN;
}

/**
 * Area under the ROC curve of `scores` for separating positives from negatives (Mann–Whitney U with
 * mid-ranks, so tied scores count one half). NaN when one class is empty. Entries with a non-finite
 * score are skipped.
 */
export function auroc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = Math.min(scores.length, positive.length);
  let m = 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(scores[i]!)) m++;
  const s = new Float64Array(m);
  const p = new Uint8Array(m);
  m = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]!)) continue;
    s[m] = scores[i]!;
    p[m++] = positive[i] ? 1 : 0;
  }
  let nPos = 0;
  for (let i = 0; i < m; i++) nPos += p[i]!;
  const nNeg = m - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  const ranks = midRanks(s, m);
  let sumPos = 0;
  for (let i = 0; i < m; i++) if (p[i]) sumPos += ranks[i]!;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
