// Confidence from novelty: the training ground's log-error statistics, and the map from a cell's
// novelty score to confidence 0..1 (shared by predict() and the exported graph's constants).

/** log(score + CONF_EPS), and a floor on the training errors' spread. */
export const CONF_EPS = 1e-8;
export const MIN_ERR_STD = 0.05;

/** Mean and std of log(score + CONF_EPS) over the first n scores. */
export function logErrorStats(score: Float32Array, n: number): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.log((score[i] as number) + CONF_EPS);
    s += l;
    s2 += l * l;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(s2 / n - mean * mean, 0)) };
}

/** The constants of exp(−½(max(0, (log(score + eps) − mean)/std)/sigma)²). */
export function confidenceMap(
  mean: number,
  std: number,
  sigma: number,
): { eps: number; mean: number; std: number; sigma: number } {
  return { eps: CONF_EPS, mean, std: Math.max(std, MIN_ERR_STD), sigma };
}

/** Confidence 0..1 of a novelty score: 1 at or below the training mean, 0 for NaN. */
export function confidenceFromError(reconError: number, mean: number, std: number, sigma: number): number {
  const z = (Math.log(reconError + CONF_EPS) - mean) / Math.max(std, MIN_ERR_STD);
  if (!(z > 0)) return z <= 0 ? 1 : 0; // NaN error → 0
  const u = z / sigma;
  return Math.exp(-0.5 * u * u);
}
