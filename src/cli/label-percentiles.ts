// The energy percentiles `label` reports, and the fixed bounds `label --stats` fits, computed as the
// labeller's running percentiles are.

/** The percentiles every summary lists (the configured calibration percentiles are added to them). */
export const PERCENTILES = [1, 5, 25, 50, 75, 95, 99];

/**
 * Percentiles of energy from log10 energies, interpolated as the labeller's running percentiles
 * (LogEnergyPercentiles.percentile) are; NaN without labels.
 */
export function energyPercentiles(logEnergies: number[], ps: readonly number[]): Record<string, number> {
  const sorted = Float64Array.from(logEnergies).sort();
  const n = sorted.length;
  const out: Record<string, number> = {};
  for (const p of ps) {
    let v = Number.NaN;
    if (n > 0) {
      const pos = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
      const i = Math.floor(pos);
      const f = pos - i;
      v = i + 1 < n ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
    }
    out[`p${p}`] = 10 ** v;
  }
  return out;
}
