// Ranking and error metrics for the evaluation. Pure functions over typed arrays; NaN entries are
// skipped pairwise so callers can pass cells that have no ground truth without filtering first.

/**
 * Mid-ranks (1-based, ties share the mean of their ranks) of `values[0..n)`, which must be finite.
 * The order comes from an LSD radix sort of the values' bit patterns, 16 bits a pass: sorting
 * indices with a comparator made most of an evaluated replay's scoring time (about 5× slower on
 * the 700 000 cells of a minute's window).
 */
export function midRanks(values: ArrayLike<number>, n = values.length): Float64Array {
  const order = n < RADIX_MIN || !LITTLE_ENDIAN ? comparatorOrder(values, n) : radixOrder(values, n);
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

/** Below this many values the radix sort's 65 536-entry counts cost more than they save. */
const RADIX_MIN = 1024;
/** The radix sort reads a float64's words as [low, high]: true on x86-64 and arm64. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function comparatorOrder(values: ArrayLike<number>, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => values[a]! - values[b]!);
}

/** Indices of `values[0..n)` in ascending order (−0 just before +0, which the callers count as ties). */
function radixOrder(values: ArrayLike<number>, n: number): Uint32Array {
  // Predictions and ground truth are float32 values: their 32-bit patterns sort in two passes.
  let bits: Float32Array | Float64Array = new Float32Array(n);
  let single = true;
  for (let i = 0; i < n && single; i++) {
    bits[i] = values[i]!;
    single = bits[i] === values[i];
  }
  if (!single) {
    bits = new Float64Array(n);
    for (let i = 0; i < n; i++) bits[i] = values[i]!;
  }
  const stride = single ? 1 : 2;
  // IEEE 754 bits made unsigned-sortable: negatives get every bit flipped, positives the sign bit.
  const w = new Uint32Array(bits.buffer); // little-endian: [low, high] per float64
  for (let i = 0; i < n; i++) {
    const hi = stride * i + stride - 1;
    const neg = w[hi]! >>> 31;
    if (!single) w[2 * i] = neg ? ~w[2 * i]! >>> 0 : w[2 * i]!;
    w[hi] = neg ? ~w[hi]! >>> 0 : (w[hi]! | 0x80000000) >>> 0;
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const count = new Uint32Array(65536);
  for (let pass = 0; pass < 2 * stride; pass++) {
    const word = pass >> 1;
    const shift = (pass & 1) * 16;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(w[stride * i + word]! >>> shift) & 0xffff]!++;
    // A digit every value shares orders nothing.
    if (n === 0 || count[(w[word]! >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      next[count[(w[stride * i + word]! >>> shift) & 0xffff]!++] = i;
    }
    [order, next] = [next, order];
  }
  return order;
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
  if (nPos === 0 || nPos === m) return Number.NaN;
  return aurocOfRanks(midRanks(s, m), p);
}

/** auroc() from the scores' mid-ranks (all scores finite): for callers that have the ranks already. */
export function aurocOfRanks(ranks: ArrayLike<number>, positive: ArrayLike<number>): number {
  const m = Math.min(ranks.length, positive.length);
  let nPos = 0;
  for (let i = 0; i < m; i++) nPos += positive[i] ? 1 : 0;
  const nNeg = m - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  let sumPos = 0;
  for (let i = 0; i < m; i++) if (positive[i]) sumPos += ranks[i]!;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
