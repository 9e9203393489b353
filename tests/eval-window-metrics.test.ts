// The summary's window metrics (found by binary search, truth ranks shared between the model and the
// baseline) must give exactly what the metric functions give on the window's cells found by a scan.

import { describe, expect, it } from "vitest";
import type { MetricSet } from "../src/eval/eval-types.ts";
import { auroc, mae, spearman } from "../src/eval/metrics.ts";
import { inWindow, type WindowCellColumns, WindowMetrics } from "../src/eval/window-metrics.ts";

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** Scored cells of `frames` frames, 40 per frame, stamped 15 Hz from t0 (shuffled: stamps out of order). */
function makeCells(seed: number, frames: number, opts: { shuffle?: boolean; nan?: boolean } = {}) {
  const r = rng(seed);
  const n = frames * 40;
  const c: WindowCellColumns = {
    t: new Float64Array(n),
    pred: new Float32Array(n),
    base: new Float32Array(n),
    gt: new Float32Array(n),
    type: new Int16Array(n),
    boundary: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const type = Math.floor(r() * 6);
    c.t[i] = 100 + Math.floor(i / 40) / 15;
    c.type[i] = type;
    c.gt[i] = type / 5; // ties: six values
    c.pred[i] = Math.round((type / 5 + (r() - 0.5) * 0.6) * 50) / 50; // ties too
    c.base[i] = 0.4 + Math.floor(i / 400) * 0.01;
    c.boundary[i] = r() < 0.1 ? 1 : 0;
    if (opts.nan && r() < 0.02) c.pred[i] = Number.NaN;
    if (opts.nan && r() < 0.02) c.gt[i] = Number.NaN;
  }
  if (opts.shuffle) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      for (const col of Object.values(c) as Float64Array[]) [col[i], col[j]] = [col[j]!, col[i]!];
    }
  }
  return c;
}

/** The plain way: scan every cell, then the metric functions. */
function reference(
  c: WindowCellColumns,
  first: number,
  from: number,
  to: number,
  includeBoundaries: boolean,
  useBaseline: boolean,
  threshold: number,
  drivenFrom?: ReadonlyMap<number, number>,
): MetricSet {
  const p: number[] = [];
  const g: number[] = [];
  for (let i = 0; i < c.t.length; i++) {
    if (!inWindow(c.t[i]!, first, from, to)) continue;
    if (!includeBoundaries && c.boundary[i]) continue;
    if (drivenFrom && !(c.t[i]! >= (drivenFrom.get(c.type[i]!) ?? Number.POSITIVE_INFINITY))) continue;
    p.push((useBaseline ? c.base : c.pred)[i]!);
    g.push(c.gt[i]!);
  }
  const pf = Float64Array.from(p);
  const gf = Float64Array.from(g);
  const pos = gf.map((v) => (v >= threshold ? 1 : 0));
  return { spearman: spearman(pf, gf), mae: mae(pf, gf), auroc: auroc(pf, pos), cells: p.length };
}

describe("window metrics", () => {
  const cases = [
    ["stamps in order", makeCells(1, 1200)],
    ["stamps out of order", makeCells(2, 600, { shuffle: true })],
    ["missing predictions and truth", makeCells(3, 900, { nan: true })],
  ] as const;
  for (const [name, cells] of cases) {
    it(`equal the metric functions on a scan of the cells (${name})`, () => {
      const first = Math.min(...cells.t);
      const end = Math.max(...cells.t);
      const drivenFrom = new Map([
        [0, first + 5],
        [2, first + 30],
        [4, first + 70],
      ]);
      const w = new WindowMetrics(cells, first, 0.5);
      let compared = 0;
      for (let w0 = first; w0 < end; w0 += 10) {
        const w1 = Math.min(end, w0 + 10);
        const tr0 = Math.max(first, w1 - 60);
        for (const [from, to] of [
          [w0, w1],
          [tr0, w1],
          [first - 1, end],
          [end + 1, end + 2],
        ] as const) {
          for (const inc of [true, false]) {
            for (const base of [false, true]) {
              for (const driven of [undefined, drivenFrom]) {
                const got = w.metrics(from, to, inc, base, driven);
                expect(got).toEqual(reference(cells, first, from, to, inc, base, 0.5, driven));
                compared++;
              }
            }
          }
        }
      }
      expect(compared).toBeGreaterThan(100);
    });
  }
});
