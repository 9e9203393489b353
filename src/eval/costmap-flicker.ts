// Costmap flicker: how fast the costmap's value of a cell changes while the camera keeps looking at
// it and the ground under it stays the same. A model that knows the ground gives it a steady cost;
// one that swings makes a planner slow down and speed up on the same ground. Definition in
// docs/learning.md ("Costmap flicker").
//
// Per processed frame, the cells "in view" are the costmap cells holding the ground point of a
// feature cell that the evaluator scores (1–8 m, footprint on one terrain type, true terrain known).
// A pair of consecutive frames, at most MAX_GAP_S apart, contributes |Δvalue| and Δt for every cell
// in view in both with the same true terrain type and a known value (≠ −1) in both snapshots.
// flicker = Σ|Δvalue| / ΣΔt, in cost points (0..100) per second.

import { groundCellKey } from "../core/geometry.ts";
import type { Costmap } from "../core/types.ts";

/** Frames further apart than this do not form a pair (the cell did not stay in view). */
export const MAX_GAP_S = 0.5;

/** Ground points of one frame's scored cells: odom x, y, true terrain type and its roughness. */
export interface InViewCells {
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  types: ArrayLike<number>;
  /** True roughness of each point's ground (NaN where unknown); needed only for the agreement. */
  roughness?: ArrayLike<number>;
  n: number;
}

/** A costmap cell in view: its ground's type (CONFLICT for two types), truth and published value. */
export interface InViewCell {
  type: number;
  truth: number;
  value: number;
}

export const CONFLICT = -2;

type CostmapView = Pick<Costmap, "resolution" | "originX" | "originY" | "width" | "height" | "data">;

/** The costmap cells holding a frame's in-view ground points and a known value, by world cell. */
export function cellsInView(cells: InViewCells, costmap: CostmapView): Map<number, InViewCell> {
  const res = costmap.resolution;
  const ix0 = Math.round(costmap.originX / res);
  const iy0 = Math.round(costmap.originY / res);
  const cur = new Map<number, InViewCell>();
  for (let i = 0; i < cells.n; i++) {
    const x = cells.xs[i]!;
    const y = cells.ys[i]!;
    const type = cells.types[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y) || type < 0) continue;
    const ix = Math.floor(x / res);
    const iy = Math.floor(y / res);
    const lx = ix - ix0;
    const ly = iy - iy0;
    if (lx < 0 || ly < 0 || lx >= costmap.width || ly >= costmap.height) continue;
    const value = costmap.data[ly * costmap.width + lx]!;
    if (value < 0) continue;
    const k = groundCellKey(ix, iy);
    const seen = cur.get(k);
    // Two ground points of different terrain in one cell: the cell's ground is not one type.
    if (seen) {
      if (seen.type !== type) seen.type = CONFLICT;
    } else cur.set(k, { type, truth: cells.roughness?.[i] ?? Number.NaN, value });
  }
  return cur;
}

export class FlickerMeter {
  #prev = new Map<number, InViewCell>();
  #prevStamp = Number.NaN;
  sumAbs = 0;
  seconds = 0;
  pairs = 0;

  /** One frame: its in-view ground points and the costmap snapshot after integrating it. */
  observe(stamp: number, cells: InViewCells, costmap: CostmapView): void {
    this.observeCells(stamp, cellsInView(cells, costmap));
  }

  /** One frame's cells in view (cellsInView). */
  observeCells(stamp: number, cur: Map<number, InViewCell>): void {
    const dt = stamp - this.#prevStamp;
    if (dt > 0 && dt <= MAX_GAP_S) {
      for (const [k, c] of cur) {
        const p = this.#prev.get(k);
        if (!p || c.type < 0 || p.type !== c.type) continue;
        this.sumAbs += Math.abs(c.value - p.value);
        this.seconds += dt;
        this.pairs++;
      }
    }
    this.#prev = cur;
    this.#prevStamp = stamp;
  }

  /** Cost points per second; null when no cell stayed in view over a pair of frames. */
  get flicker(): number | null {
    return this.seconds > 0 ? this.sumAbs / this.seconds : null;
  }
}
