// Far views taught by near ones. Vibration labels exist only for the track the robot drives, and most
// of their association rows come from keyframes that saw that track 1–3 m ahead, so the head learns
// little about how ground looks from 4–8 m. It then predicts the same ground differently from far and
// from near, and the costmap drifts as the robot approaches (docs/learning.md, "Where the flicker
// comes from"). Here, what the model predicts for ground seen from close up is remembered per ground
// cell, and once the robot has passed, the far cells of older keyframes that saw that ground are
// given it as a target, weighted by the near view's confidence.

import { groundCellKey } from "./geometry.ts";

export interface NearViewSettings {
  /** Ground cell side of the near-view map (m). */
  cell: number;
  /** Near views: ground this far from the robot (m, horizontal). */
  nearMin: number;
  nearMax: number;
  /** Far views taught: keyframe cells this far from the robot at the keyframe (m). */
  farMin: number;
  farMax: number;
  /** Near views are forgotten after this long (s of sensor time). */
  horizon: number;
  /** At most this many rows per keyframe (evenly spaced over its eligible cells). */
  rowsPerKeyframe: number;
  /** Near observations a map cell must have gathered before it teaches. */
  minObservations: number;
}

export const NEAR_VIEW_DEFAULTS: NearViewSettings = {
  cell: 0.25,
  nearMin: 1,
  nearMax: 3,
  farMin: 4,
  farMax: 8,
  horizon: 60,
  rowsPerKeyframe: 64,
  minObservations: 3,
};

interface Entry {
  n: number;
  sumW: number;
  sumWR: number;
  stamp: number;
}

/** One far cell to teach: the cell index in the keyframe's grid, its target and the view's confidence. */
export interface TaughtCell {
  cell: number;
  roughness: number;
  confidence: number;
}

export class NearViewMap {
  readonly settings: NearViewSettings;
  readonly #cells = new Map<number, Entry>();
  #pruned = Number.NEGATIVE_INFINITY;

  constructor(settings: Partial<NearViewSettings> = {}) {
    this.settings = { ...NEAR_VIEW_DEFAULTS, ...settings };
  }

  get size(): number {
    return this.#cells.size;
  }

  /** One frame's predictions at its cells' ground points (odom; NaN: no ground), robot at (rx, ry). */
  observe(
    stamp: number,
    xs: ArrayLike<number>,
    ys: ArrayLike<number>,
    roughness: ArrayLike<number>,
    confidence: ArrayLike<number>,
    rx: number,
    ry: number,
  ): void {
    const { cell, nearMin, nearMax } = this.settings;
    const lo2 = nearMin * nearMin;
    const hi2 = nearMax * nearMax;
    const n = Math.min(xs.length, ys.length, roughness.length, confidence.length);
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const y = ys[i]!;
      const r = roughness[i]!;
      const c = confidence[i]!;
      const d2 = (x - rx) ** 2 + (y - ry) ** 2;
      if (!(d2 >= lo2 && d2 <= hi2) || !Number.isFinite(r) || !(c > 0)) continue;
      const k = groundCellKey(Math.floor(x / cell), Math.floor(y / cell));
      const e = this.#cells.get(k);
      if (e) {
        e.n++;
        e.sumW += c;
        e.sumWR += c * r;
        e.stamp = stamp;
      } else this.#cells.set(k, { n: 1, sumW: c, sumWR: c * r, stamp });
    }
    if (stamp - this.#pruned > this.settings.horizon / 4) this.#prune(stamp);
  }

  /**
   * The far cells of a keyframe the map can teach: cells whose ground point lies farMin..farMax from
   * the robot at the keyframe, on a map cell seen often enough from near; the target is the near
   * views' confidence-weighted mean, the confidence their mean. At most rowsPerKeyframe of them.
   */
  teach(xs: ArrayLike<number>, ys: ArrayLike<number>, rx: number, ry: number): TaughtCell[] {
    const { cell, farMin, farMax, minObservations, rowsPerKeyframe } = this.settings;
    const lo2 = farMin * farMin;
    const hi2 = farMax * farMax;
    const found: TaughtCell[] = [];
    const n = Math.min(xs.length, ys.length);
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const y = ys[i]!;
      const d2 = (x - rx) ** 2 + (y - ry) ** 2;
      if (!(d2 >= lo2 && d2 <= hi2)) continue;
      const e = this.#cells.get(groundCellKey(Math.floor(x / cell), Math.floor(y / cell)));
      if (!e || e.n < minObservations) continue;
      found.push({ cell: i, roughness: e.sumWR / e.sumW, confidence: e.sumW / e.n });
    }
    if (found.length <= rowsPerKeyframe) return found;
    const step = found.length / rowsPerKeyframe;
    return Array.from({ length: rowsPerKeyframe }, (_, j) => found[Math.floor(j * step)]!);
  }

  #prune(stamp: number): void {
    this.#pruned = stamp;
    const oldest = stamp - this.settings.horizon;
    for (const [k, e] of this.#cells) if (e.stamp < oldest) this.#cells.delete(k);
  }
}
