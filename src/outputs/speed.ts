// What a planner or speed governor consumes: one number for the ground just ahead, and a speed.

export interface AheadOptions {
  /** Band of forward distance in front of the robot (m, in base_link x). */
  min: number;
  max: number;
  /** Half the corridor width (m, |base_link y|). */
  halfWidth: number;
  /** Cells less confident than this, or at 0, count as ground it cannot judge (`unknown`); default 0. */
  minConfidence?: number;
}

export interface AheadResult {
  /** Confidence-weighted mean roughness in the band; NaN when no cell falls in it. */
  roughness: number;
  /** Mean confidence of the cells in the band (0 when none). */
  confidence: number;
  cells: number;
  /** Share of the band's cells below `minConfidence` or at confidence 0 (0..1; 0 when none). */
  unknown?: number;
}

/**
 * Confidence-weighted mean roughness of the cells whose ground position (xs, ys in the fixed frame)
 * falls in the corridor ahead of a robot at (x, y, yaw).
 */
export function roughnessAhead(
  xs: Float64Array,
  ys: Float64Array,
  roughness: Float32Array,
  confidence: Float32Array,
  robot: { x: number; y: number; yaw: number },
  options: AheadOptions,
): AheadResult {
  const cos = Math.cos(robot.yaw);
  const sin = Math.sin(robot.yaw);
  let sumWR = 0;
  let sumW = 0;
  let sumC = 0;
  let sumR = 0;
  let cells = 0;
  let unknown = 0;
  const minConf = options.minConfidence ?? 0;
  const n = xs.length;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - robot.x;
    const dy = ys[i]! - robot.y;
    const r = roughness[i]!;
    if (!Number.isFinite(dx) || !Number.isFinite(dy) || !Number.isFinite(r)) continue;
    const fwd = cos * dx + sin * dy;
    const lat = -sin * dx + cos * dy;
    if (fwd < options.min || fwd > options.max || Math.abs(lat) > options.halfWidth) continue;
    const c = Math.max(0, Math.min(1, confidence[i]!));
    // Confidence 0 is a model that knows nothing (untrained), whatever min_confidence says.
    if (!(c >= minConf) || c === 0) unknown++;
    sumWR += c * r;
    sumW += c;
    sumC += c;
    sumR += r;
    cells++;
  }
  if (cells === 0) return { roughness: Number.NaN, confidence: 0, cells: 0, unknown: 0 };
  // All-zero confidence: fall back to the plain mean but report confidence 0.
  const rough = sumW > 1e-9 ? sumWR / sumW : sumR / cells;
  return { roughness: rough, confidence: sumC / cells, cells, unknown: unknown / cells };
}

export interface SpeedOptions {
  max_speed: number;
  min_speed: number;
  min_confidence: number;
}

/**
 * Linear from max_speed (roughness 0) to min_speed (roughness 1). Unknown ground (no cells, mean
 * confidence below min_confidence or 0) gets min_speed: a robot should slow down for what it cannot
 * judge; with min_confidence 0 an untrained model's output (all confidence 0) drove it faster.
 * The share of the band it cannot judge (`unknown`) counts as min_speed too: the confidence-weighted
 * mean all but ignores those cells, so a corridor half unjudged (grey in the overlay, −1 in the
 * costmap, free space to Nav2) beside smooth known ground was driven at nearly max_speed.
 */
export function suggestedSpeed(ahead: AheadResult, options: SpeedOptions): number {
  if (
    !Number.isFinite(ahead.roughness) ||
    !(ahead.confidence >= options.min_confidence) ||
    !(ahead.confidence > 0)
  )
    return options.min_speed;
  const r = Math.max(0, Math.min(1, ahead.roughness));
  const known = options.max_speed - (options.max_speed - options.min_speed) * r;
  const u = Math.max(0, Math.min(1, ahead.unknown ?? 0));
  return known - (known - options.min_speed) * u;
}

/**
 * The published speed limit over time: a drop passes at once (rougher or unknown ground ahead), a
 * rise is held to `rise` m/s per second of sensor time, so a robot does not surge and brake while
 * the estimate for the same ground wavers. `rise` 0: the limit follows every frame.
 */
export class SpeedLimiter {
  #last = Number.NaN;
  #stamp = Number.NaN;

  constructor(readonly rise: number) {
    if (!(rise >= 0)) throw new Error(`speed limit rise must be ≥ 0 (got ${rise})`);
  }

  next(stamp: number, target: number): number {
    const dt = stamp - this.#stamp;
    let v = target;
    // First value, time going backwards (a bag restarted) or rate limiting off: take the target.
    if (this.rise > 0 && Number.isFinite(this.#last) && dt >= 0 && target > this.#last)
      v = Math.min(target, this.#last + this.rise * dt);
    this.#last = v;
    this.#stamp = stamp;
    return v;
  }
}
