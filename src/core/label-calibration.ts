// Label calibration: log10(energy) → roughness 0..1, between bounds fixed in config or taken from
// the running percentiles of the recent labels' log-energies.

/** The `labeler.calibration` config section (structurally; src/runtime/config-labels.ts is the source). */
export interface CalibrationSettings {
  mode: "fixed" | "percentile";
  low: number;
  high: number;
  low_percentile: number;
  high_percentile: number;
  warmup: number;
  /** The labels' scale between the bounds: 0 linear in log10 energy, γ > 0 linear in energy^γ. */
  exponent: number;
}

/** Where the calibration bounds currently come from. */
export type CalibrationSource = "fixed" | "warmup" | "percentile";

/** Labels whose energies feed the running percentiles (≈ 17 min of driving at 1 m/s). */
const PERCENTILE_HISTORY = 4096;

/** Share of the 0..1 range kept for the tails beyond the calibration bounds (see calibrateLogEnergy). */
export const CALIBRATION_TAIL = 0.05;

/**
 * Where log10(energy) lies between the bounds on the labels' scale: 0 at `lo`, 1 at `hi`. Exponent
 * 0: linear in log10 energy. γ > 0: linear in energy^γ (0.5: in rms vibration), which keeps
 * the rough end of the range as wide as the smooth end instead of compressing it as a log does.
 */
function scalePosition(logEnergy: number, lo: number, hi: number, exponent: number): number {
  if (!(exponent > 0)) return (logEnergy - lo) / (hi - lo);
  // Relative to lo, so no power of ten overflows.
  return (10 ** (exponent * (logEnergy - lo)) - 1) / (10 ** (exponent * (hi - lo)) - 1);
}

/**
 * log10(energy) → roughness 0..1: linear on the labels' scale (`exponent`, see scalePosition) from
 * CALIBRATION_TAIL at `lo` to 1 − CALIBRATION_TAIL at `hi`, with hyperbolic tails beyond
 * (continuous slope) instead of a hard clamp. A clamp would give every step rougher than the 95th
 * percentile the same label, and the learner could no longer tell a cobbled path from a rock field;
 * the tails keep the order while staying inside 0..1.
 */
export function calibrateLogEnergy(logEnergy: number, lo: number, hi: number, exponent: number): number {
  if (!(hi > lo) || Number.isNaN(logEnergy)) return 0.5;
  const m = CALIBRATION_TAIL;
  const x = scalePosition(logEnergy, lo, hi, exponent);
  const slope = (1 - 2 * m) / m;
  // Hyperbolic tails (slope-continuous at the bounds): unlike exponential ones they do not round to
  // exactly 0 or 1 a few ranges out, so even far outliers keep their order.
  if (x < 0) return m / (1 - x * slope);
  if (x > 1) return 1 - m / (1 + (x - 1) * slope);
  return m + (1 - 2 * m) * x;
}

/** The log10(energy) that calibrateLogEnergy maps to `roughness` with bounds lo..hi (NaN: no bounds). */
export function logEnergyForRoughness(roughness: number, lo: number, hi: number, exponent: number): number {
  if (!(hi > lo) || !Number.isFinite(roughness)) return Number.NaN;
  const m = CALIBRATION_TAIL;
  const slope = (1 - 2 * m) / m;
  const y = Math.min(1 - 1e-6, Math.max(1e-6, roughness));
  const x = y < m ? (1 - m / y) / slope : y > 1 - m ? 1 + (m / (1 - y) - 1) / slope : (y - m) / (1 - 2 * m);
  if (!(exponent > 0)) return lo + x * (hi - lo);
  // Below zero energy there is nothing: the lowest roughnesses map to the least energy there is.
  const e = 1 + x * (10 ** (exponent * (hi - lo)) - 1);
  return lo + Math.log10(Math.max(e, 1e-12)) / exponent;
}

/** The log10(energy) values of the last labels, with their percentiles. */
export class LogEnergyPercentiles {
  private readonly window: number;
  private readonly history: Float64Array;
  private readonly sorted: Float64Array;
  private total = 0;

  constructor(window?: number) {
    this.window = Math.max(2, window ?? PERCENTILE_HISTORY);
    this.history = new Float64Array(this.window);
    this.sorted = new Float64Array(this.window);
  }

  /** Labels recorded so far (including those that left the window). */
  get count(): number {
    return this.total;
  }

  /**
   * Adds a value to the window of the last values, keeping a sorted copy up to date by binary
   * search + memmove (a full sort per label cost ~300 µs).
   */
  record(v: number): void {
    const sorted = this.sorted;
    let n = Math.min(this.total, this.window);
    if (this.total >= this.window) {
      const old = this.history[this.total % this.window]!;
      const i = lowerBound(sorted, n, old);
      sorted.copyWithin(i, i + 1, n);
      n--;
    }
    const j = lowerBound(sorted, n, v);
    sorted.copyWithin(j + 1, j, n);
    sorted[j] = v;
    this.history[this.total % this.window] = v;
    this.total++;
  }

  /** Percentile p (0..100) over the window (NaN before any value). */
  percentile(p: number): number {
    const n = Math.min(this.total, this.window);
    if (n === 0) return Number.NaN;
    const sorted = this.sorted;
    const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < n ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
  }

  /**
   * The bounds labels are calibrated with right now: the configured ones in fixed mode and during
   * warmup, else the running percentiles.
   */
  bounds(c: CalibrationSettings): { lo: number; hi: number; source: CalibrationSource } {
    if (c.mode === "percentile") {
      if (this.total >= Math.max(2, c.warmup)) {
        return {
          lo: this.percentile(c.low_percentile),
          hi: this.percentile(c.high_percentile),
          source: "percentile",
        };
      }
      return { lo: c.low, hi: c.high, source: "warmup" };
    }
    return { lo: c.low, hi: c.high, source: "fixed" };
  }
}

/** First index in sorted[0..n) whose value is ≥ v. */
function lowerBound(sorted: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
