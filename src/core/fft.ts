// A small in-place radix-2 FFT and a Welch power spectral density over typed arrays.
//
// The labeller computes one PSD per 0.25 m of ground, i.e. a few per second, over windows of
// 32..256 samples; a textbook iterative FFT is plenty. What matters is that nothing allocates per
// call: `WelchPsd` owns its buffers (sized for the largest segment it was asked for) and reuses
// twiddles and the Hann window across calls.

/** Smallest power of two ≥ n (n ≥ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** Largest power of two ≤ n (n ≥ 1). */
export function prevPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p <<= 1;
  return p;
}

/**
 * In-place complex FFT of length n (a power of two) on separate real/imaginary arrays, using the
 * precomputed cos/sin tables of the largest size (`tableSize`, a multiple of n).
 */
export function fftInPlace(
  re: Float64Array,
  im: Float64Array,
  n: number,
  cosTable: Float64Array,
  sinTable: Float64Array,
  tableSize: number,
): void {
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = tableSize / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const c = cosTable[k * step]!;
        const s = sinTable[k * step]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * c + im[b]! * s;
        const xi = im[b]! * c - re[b]! * s;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/**
 * Welch PSD estimator with a Hann window and 50 % overlap, one-sided, in units²/Hz, with each
 * segment's mean removed (gravity and bias do not count as vibration) — scipy.signal.welch's
 * defaults, so numbers can be checked against it. A linear detrend was tried and dropped: on
 * 0.3 s segments it turns a low-frequency vibration (2–3 cycles per segment) into a ramp that the
 * band integral then over-counts by ~25 %.
 */
export class WelchPsd {
  readonly maxSegment: number;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly cosT: Float64Array;
  private readonly sinT: Float64Array;
  private readonly window: Float64Array;
  private windowSize = 0;
  private windowPower = 0;
  /** One-sided PSD of the last call, maxSegment/2+1 bins (only the first segment/2+1 are valid). */
  readonly psd: Float64Array;

  constructor(maxSegment: number) {
    if (!(maxSegment >= 4) || prevPow2(maxSegment) !== maxSegment) {
      throw new Error(`Welch segment size ${maxSegment} must be a power of two ≥ 4`);
    }
    this.maxSegment = maxSegment;
    this.re = new Float64Array(maxSegment);
    this.im = new Float64Array(maxSegment);
    this.cosT = new Float64Array(maxSegment / 2);
    this.sinT = new Float64Array(maxSegment / 2);
    for (let k = 0; k < maxSegment / 2; k++) {
      this.cosT[k] = Math.cos((2 * Math.PI * k) / maxSegment);
      this.sinT[k] = Math.sin((2 * Math.PI * k) / maxSegment);
    }
    this.window = new Float64Array(maxSegment);
    this.psd = new Float64Array(maxSegment / 2 + 1);
  }

  private prepareWindow(n: number): void {
    if (this.windowSize === n) return;
    let power = 0;
    for (let i = 0; i < n; i++) {
      // Periodic Hann (scipy.signal.welch's default `hann` is periodic for spectral use).
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      this.window[i] = w;
      power += w * w;
    }
    this.windowSize = n;
    this.windowPower = power;
  }

  /**
   * PSD of x[offset .. offset+count) (a ring buffer is handled by the caller copying into a linear
   * scratch) sampled at fs Hz with segments of `segment` samples (power of two ≤ maxSegment and
   * ≤ count). Writes `psd[0 .. segment/2]` and returns the number of segments averaged.
   */
  compute(x: Float64Array, offset: number, count: number, fs: number, segment: number): number {
    if (segment > this.maxSegment || segment > count || prevPow2(segment) !== segment || segment < 4) {
      throw new Error(`Welch segment ${segment} invalid for ${count} samples (max ${this.maxSegment})`);
    }
    this.prepareWindow(segment);
    const half = segment / 2;
    const psd = this.psd;
    for (let k = 0; k <= half; k++) psd[k] = 0;
    const hop = half;
    const nSeg = 1 + Math.floor((count - segment) / hop);
    // Centre the segments in the window so both ends are used equally.
    const lead = Math.floor((count - segment - (nSeg - 1) * hop) / 2);
    const re = this.re;
    const im = this.im;
    const w = this.window;
    const n = segment;
    for (let s = 0; s < nSeg; s++) {
      const base = offset + lead + s * hop;
      let sy = 0;
      for (let i = 0; i < n; i++) sy += x[base + i]!;
      const mean = sy / n;
      for (let i = 0; i < n; i++) {
        re[i] = (x[base + i]! - mean) * w[i]!;
        im[i] = 0;
      }
      fftInPlace(re, im, n, this.cosT, this.sinT, this.maxSegment);
      for (let k = 0; k <= half; k++) psd[k] = psd[k]! + re[k]! * re[k]! + im[k]! * im[k]!;
    }
    const scale = 1 / (fs * this.windowPower * nSeg);
    for (let k = 0; k <= half; k++) {
      // One-sided: double every bin except DC and Nyquist.
      psd[k] = psd[k]! * scale * (k === 0 || k === half ? 1 : 2);
    }
    return nSeg;
  }

  /** ∫ PSD over [low, high] Hz of the last `compute` (rectangle rule on bins whose centre is inside). */
  bandPower(fs: number, segment: number, low: number, high: number): number {
    const df = fs / segment;
    const half = segment / 2;
    let sum = 0;
    for (let k = 0; k <= half; k++) {
      const f = k * df;
      if (f >= low && f <= high) sum += this.psd[k]!;
    }
    return sum * df;
  }
}
