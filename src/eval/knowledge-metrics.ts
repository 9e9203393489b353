// What the model knows, as numbers: per-terrain rank agreement of a probe set's predictions with the
// true roughness, and the stability figures of a run. Pure functions of predictions and truth; the
// probe set itself is in probe-set.ts, docs/learning.md defines every figure.

import { auroc, spearman } from "./metrics.ts";

/** Fewest terrain types a terrain-level Spearman is computed over (below: null). */
export const MIN_RANKED_TYPES = 3;

/** One terrain type's probe cells, as the model predicts them now. */
export interface TerrainScore {
  index: number;
  /** True roughness of the type (0..1). */
  truth: number;
  /** Mean predicted roughness over the type's probe cells. */
  mean: number;
  /** Mean confidence over the type's probe cells. */
  confidence: number;
}

/**
 * Types whose mean prediction is a number. A model that outputs NaN for a type has no mean there; left
 * in, the pair counts would score it as right or wrong by accident and Spearman would drop it after
 * the three-type check.
 */
function scored(scores: readonly TerrainScore[]): TerrainScore[] {
  return scores.filter((s) => Number.isFinite(s.mean));
}

/**
 * Spearman ρ of per-terrain mean prediction vs true roughness; null with fewer than 3 types whose mean
 * is a number.
 */
export function terrainRho(all: readonly TerrainScore[]): number | null {
  const scores = scored(all);
  if (scores.length < MIN_RANKED_TYPES) return null;
  const r = spearman(
    scores.map((s) => s.mean),
    scores.map((s) => s.truth),
  );
  return Number.isFinite(r) ? r : null;
}

/**
 * Fraction of terrain pairs with different true roughness whose predicted means are ordered the same
 * way (a tie in prediction counts half), over the types whose mean is a number; null when there is no
 * such pair.
 */
export function pairAccuracy(all: readonly TerrainScore[]): number | null {
  const scores = scored(all);
  let pairs = 0;
  let right = 0;
  for (let i = 0; i < scores.length; i++) {
    for (let j = i + 1; j < scores.length; j++) {
      const a = scores[i]!;
      const b = scores[j]!;
      if (a.truth === b.truth) continue;
      pairs++;
      const dp = a.mean - b.mean;
      if (dp === 0) right += 0.5;
      else if (dp > 0 === a.truth > b.truth) right++;
    }
  }
  return pairs > 0 ? right / pairs : null;
}

/**
 * AUROC of (1 − confidence) separating cells of never-driven types (positives) from cells of driven
 * types; null when either side is empty.
 */
export function confidenceAuroc(
  confidence: ArrayLike<number>,
  neverDriven: ArrayLike<boolean | number>,
): number | null {
  const scores = Array.from(confidence, (c) => 1 - c);
  const r = auroc(scores, neverDriven);
  return Number.isFinite(r) ? r : null;
}

/** Spearman over pooled cells; null when undefined (fewer than two cells, constant input). */
export function cellRho(pred: ArrayLike<number>, truth: ArrayLike<number>): number | null {
  const r = spearman(pred, truth);
  return Number.isFinite(r) ? r : null;
}

/**
 * The time after which `value` stays at or above `threshold` to the end of the curve: the t of the
 * first point of the final unbroken run of points ≥ threshold. Null when the last point is below
 * (or null), or the curve is empty.
 */
export function timeToThreshold(
  curve: readonly { t: number; value: number | null }[],
  threshold: number,
): number | null {
  let since: number | null = null;
  for (const p of curve) {
    if (p.value !== null && Number.isFinite(p.value) && p.value >= threshold) since ??= p.t;
    else since = null;
  }
  return since;
}

/**
 * Lowest trailing prequential ρ at curve points t ≥ `after` (points whose ρ is undefined are
 * skipped); null when there is none.
 */
export function minTrailingRho(
  curve: readonly { t: number; trailingSpearman: number }[],
  after: number,
): number | null {
  let min: number | null = null;
  for (const p of curve) {
    if (p.t < after || !Number.isFinite(p.trailingSpearman)) continue;
    if (min === null || p.trailingSpearman < min) min = p.trailingSpearman;
  }
  return min;
}
