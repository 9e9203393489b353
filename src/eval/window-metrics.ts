// Metrics over the scored cells of one time window, as the summary asks for them: each window of the
// curve is scored twice (the model and the running-mean baseline) against the same ground truth, so
// a window's cells are found once and the truth's ranks sorted once. Cells are appended frame by
// frame, so their stamps normally ascend and a window's cells are found by binary search; a run
// whose stamps do not ascend is scanned whole, as before. Every figure is what spearman(), mae() and
// auroc() give on the window's cells, computed from the same ranks.

import type { MetricSet } from "./eval-types.ts";
import { auroc, aurocOfRanks, mae, midRanks, pearson, spearman } from "./metrics.ts";

/** The columns of the scored cells the window metrics read (eval-summary.ts CellViews). */
export interface WindowCellColumns {
  t: Float64Array;
  pred: Float32Array;
  base: Float32Array;
  gt: Float32Array;
  type: Int16Array;
  boundary: Uint8Array;
}

/**
 * A cell stamped `t` is in the window (from, to]; the window that starts at the first scored frame
 * also holds that frame. Half-open so that a frame stamped on a boundary (at 15 Hz from the first
 * frame, nearly every 10-s boundary is one) is in one curve window, not two, and "the last 60 s"
 * holds 60 s of frames, not one more.
 */
export function inWindow(t: number, first: number, from: number, to: number): boolean {
  return t <= to && (t > from || from <= first);
}

interface Window {
  key: string;
  idx: Uint32Array;
  gt: Float64Array;
  gtFinite: boolean;
  gtRanks?: Float64Array;
}

export class WindowMetrics {
  readonly #ascending: boolean;
  /** The last two windows: the curve asks for each twice in a row (model, then baseline). */
  #recent: Window[] = [];

  constructor(
    private readonly cells: WindowCellColumns,
    private readonly first: number,
    private readonly roughThreshold: number,
  ) {
    const t = cells.t;
    let ascending = true;
    for (let i = 1; i < t.length && ascending; i++) ascending = t[i]! >= t[i - 1]!;
    this.#ascending = ascending;
  }

  /** Metrics over the cells of (from, to]; with `drivenFrom`, only cells of types driven before they were seen. */
  metrics(
    from: number,
    to: number,
    includeBoundaries: boolean,
    useBaseline: boolean,
    drivenFrom?: ReadonlyMap<number, number>,
  ): MetricSet {
    const w = this.#window(from, to, includeBoundaries, drivenFrom);
    const src = useBaseline ? this.cells.base : this.cells.pred;
    const n = w.idx.length;
    const p = new Float64Array(n);
    const pos = new Uint8Array(n);
    let finite = w.gtFinite;
    for (let j = 0; j < n; j++) {
      const v = src[w.idx[j]!]!;
      p[j] = v;
      pos[j] = w.gt[j]! >= this.roughThreshold ? 1 : 0;
      if (!Number.isFinite(v)) finite = false;
    }
    // With a missing value the pairs and scores left out differ per metric: the general functions.
    if (!finite || n < 2)
      return { spearman: spearman(p, w.gt), mae: mae(p, w.gt), auroc: auroc(p, pos), cells: n };
    const ranks = midRanks(p);
    w.gtRanks ??= midRanks(w.gt);
    return {
      spearman: pearson(ranks, w.gtRanks),
      mae: mae(p, w.gt),
      auroc: aurocOfRanks(ranks, pos),
      cells: n,
    };
  }

  #window(
    from: number,
    to: number,
    includeBoundaries: boolean,
    drivenFrom?: ReadonlyMap<number, number>,
  ): Window {
    const key = `${from} ${to} ${includeBoundaries} ${drivenFrom ? "driven" : "all"}`;
    const hit = this.#recent.find((w) => w.key === key);
    if (hit) return hit;
    const { t, gt, type, boundary } = this.cells;
    const first = this.first;
    let lo = 0;
    let hi = t.length;
    if (this.#ascending) {
      hi = firstAbove(t, to);
      lo = from <= first ? 0 : Math.min(hi, firstAbove(t, from));
    }
    const idx = new Uint32Array(hi - lo);
    let n = 0;
    for (let i = lo; i < hi; i++) {
      if (!inWindow(t[i]!, first, from, to)) continue;
      if (!includeBoundaries && boundary[i]) continue;
      if (drivenFrom && !(t[i]! >= (drivenFrom.get(type[i]!) ?? Number.POSITIVE_INFINITY))) continue;
      idx[n++] = i;
    }
    const cells = idx.subarray(0, n);
    const g = new Float64Array(n);
    let gtFinite = true;
    for (let j = 0; j < n; j++) {
      g[j] = gt[cells[j]!]!;
      if (!Number.isFinite(g[j]!)) gtFinite = false;
    }
    const w: Window = { key, idx: cells, gt: g, gtFinite };
    this.#recent = [w, ...this.#recent.slice(0, 1)];
    return w;
  }
}

/** The first index whose stamp is above `x` (stamps ascending). */
function firstAbove(t: Float64Array, x: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
