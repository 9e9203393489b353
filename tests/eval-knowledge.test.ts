// The knowledge and stability metrics on hand-made predictions whose answers are known by hand: the
// probe set's stratified choice, terrain ρ / pair accuracy / confidence AUROC per curve point,
// timeToRank's "stays" semantics, minTrailingRho (all ground and driven ground), the costmap flicker
// and the speed limit's steadiness.

import { describe, expect, it } from "vitest";
import { FlickerMeter, MAX_GAP_S } from "../src/eval/costmap-flicker.ts";
import { summarise } from "../src/eval/eval-summary.ts";
import { DEFAULT_EVAL_OPTIONS } from "../src/eval/eval-types.ts";
import {
  cellRho,
  confidenceAuroc,
  minTrailingRho,
  pairAccuracy,
  terrainRho,
  timeToThreshold,
} from "../src/eval/knowledge-metrics.ts";
import { learningCurveSvg, rhoAxisMin } from "../src/eval/plots.ts";
import {
  KnowledgeProbe,
  LABELS_FOR_DRIVEN,
  type ProbeCandidate,
  type ProbeSet,
  selectProbeCells,
} from "../src/eval/probe-set.ts";
import { SpeedChangeMeter } from "../src/eval/speed-change.ts";
import { emptyCells } from "./helpers/eval-cells.ts";

const score = (index: number, truth: number, mean: number) => ({ index, truth, mean, confidence: 1 });

describe("terrain-level metrics", () => {
  it("terrainRho is null below three types and the Spearman of means above", () => {
    expect(terrainRho([])).toBeNull();
    expect(terrainRho([score(0, 0.1, 0.2), score(1, 0.5, 0.6)])).toBeNull();
    expect(terrainRho([score(0, 0.1, 0.2), score(1, 0.5, 0.6), score(2, 0.9, 0.7)])).toBe(1);
    expect(terrainRho([score(0, 0.1, 0.7), score(1, 0.5, 0.6), score(2, 0.9, 0.2)])).toBe(-1);
    // Ranks of truth 1,2,3,4 vs prediction 2,1,3,4: ρ = 1 − 6·2/(4·15) = 0.8.
    const four = [score(0, 0.1, 0.3), score(1, 0.2, 0.1), score(2, 0.3, 0.5), score(3, 0.4, 0.9)];
    expect(terrainRho(four)).toBeCloseTo(0.8, 12);
  });

  it("pairAccuracy counts ordered pairs, ties in prediction as half, ties in truth not at all", () => {
    const four = [score(0, 0.1, 0.3), score(1, 0.2, 0.1), score(2, 0.3, 0.5), score(3, 0.4, 0.9)];
    expect(pairAccuracy(four)).toBeCloseTo(5 / 6, 12);
    expect(pairAccuracy([score(0, 0.1, 0.5), score(1, 0.2, 0.5)])).toBe(0.5);
    expect(pairAccuracy([score(0, 0.3, 0.1), score(1, 0.3, 0.9)])).toBeNull();
    expect(pairAccuracy([score(0, 0.1, 0.1)])).toBeNull();
  });

  it("a type whose mean prediction is NaN (a diverged model) is left out of terrain ρ and pair accuracy", () => {
    // Three types, one without a mean: two remain, too few to rank (not ρ 1 from the two).
    expect(terrainRho([score(0, 0.1, 0.2), score(1, 0.5, Number.NaN), score(2, 0.9, 0.7)])).toBeNull();
    // Four types, one NaN: the Spearman of the three that have means (here ordered exactly wrong).
    const four = [score(0, 0.1, 0.9), score(1, 0.2, Number.NaN), score(2, 0.3, 0.5), score(3, 0.4, 0.1)];
    expect(terrainRho(four)).toBe(-1);
    // The NaN type's pairs are neither right nor wrong: 0 of the 3 remaining pairs, not 1 of 6.
    expect(pairAccuracy(four)).toBe(0);
    expect(pairAccuracy([score(0, 0.1, Number.NaN), score(1, 0.2, 0.5)])).toBeNull();
  });

  it("confidence AUROC: never-driven cells with lower confidence rank first; null with one class", () => {
    expect(confidenceAuroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(1);
    expect(confidenceAuroc([0.2, 0.8, 0.9, 0.1], [0, 0, 1, 1])).toBe(0.5);
    expect(confidenceAuroc([0.9, 0.8], [0, 0])).toBeNull();
    expect(cellRho([1, 2, 3], [0.1, 0.2, 0.3])).toBe(1);
    expect(cellRho([1], [0.1])).toBeNull();
  });

  it("timeToRank is the start of the final unbroken run at or above the threshold", () => {
    const c = (v: (number | null)[]) => v.map((value, i) => ({ t: 10 * (i + 1), value }));
    expect(timeToThreshold(c([null, null, 0.5, 0.9, 0.85, 0.8]), 0.8)).toBe(40);
    // A dip resets it: reaching 0.8 early does not count if it does not stay.
    expect(timeToThreshold(c([0.9, 0.95, 0.7, 0.9, 0.9]), 0.8)).toBe(40);
    expect(timeToThreshold(c([0.9, 0.95, 0.9, 0.79]), 0.8)).toBeNull();
    expect(timeToThreshold(c([0.9, null]), 0.8)).toBeNull();
    expect(timeToThreshold(c([0.8, 0.8]), 0.8)).toBe(10);
    expect(timeToThreshold([], 0.8)).toBeNull();
  });

  it("minTrailingRho looks only at points from `after` on and skips undefined ρ", () => {
    const curve = [-0.5, 0.2, 0.6, Number.NaN, 0.4, 0.9].map((r, i) => ({
      t: 30 * (i + 1),
      trailingSpearman: r,
    }));
    expect(minTrailingRho(curve, 90)).toBe(0.4);
    expect(minTrailingRho(curve, 0)).toBe(-0.5);
    expect(minTrailingRho(curve, 500)).toBeNull();
  });

  it("ties in truth and prediction at once: mid-ranks for ρ, equal-truth pairs not counted, tied means ½", () => {
    // Truth 0.1, 0.1, 0.5, 0.9 → ranks 1.5, 1.5, 3, 4; means 0.3, 0.2, 0.3, 0.8 → ranks 2.5, 1, 2.5, 4.
    // Σdxdy = 0 + 1.5 + 0 + 2.25 = 3.75, Σdx² = Σdy² = 4.5 → ρ = 3.75 / 4.5 = 5/6.
    const tied = [score(0, 0.1, 0.3), score(1, 0.1, 0.2), score(2, 0.5, 0.3), score(3, 0.9, 0.8)];
    expect(terrainRho(tied)).toBeCloseTo(5 / 6, 12);
    // Pairs of different truth: (0,2) tied means ½, (0,3) (1,2) (1,3) (2,3) right; (0,1) not a pair.
    expect(pairAccuracy(tied)).toBeCloseTo(4.5 / 5, 12);
  });

  it("timeToRank: a null point inside a run breaks it; minTrailingRho counts the point at exactly `after`", () => {
    const c = (v: (number | null)[]) => v.map((value, i) => ({ t: 10 * (i + 1), value }));
    expect(timeToThreshold(c([0.9, null, 0.85, 0.9]), 0.8)).toBe(30);
    const curve = [
      { t: 80, trailingSpearman: -0.9 },
      { t: 90, trailingSpearman: 0.1 },
      { t: 100, trailingSpearman: 0.5 },
    ];
    expect(minTrailingRho(curve, 90)).toBe(0.1);
    expect(minTrailingRho(curve, 90.001)).toBe(0.5);
  });

  it("the trailing ρ over driven ground leaves out types not yet driven (3 labels) when seen", () => {
    // Types 0 (0.2) and 1 (0.8) driven from the start, type 2 (0.5) from its third label at 122 s.
    // Type 2 is predicted 0.95 until then, 0.5 after.
    const truth = [0.2, 0.8, 0.5];
    const n = 180 * 3;
    const cells = emptyCells(n);
    for (let i = 0; i < n; i++) {
      const t = Math.floor(i / 3);
      const k = i % 3;
      cells.t[i] = t;
      cells.type[i] = k;
      cells.gt[i] = truth[k]!;
      cells.pred[i] = k === 2 && t < 122 ? 0.95 : truth[k]! + 0.001 * (t % 7);
    }
    const lt = [1, 2, 3, 4, 5, 6, 120, 121, 122];
    const labels = {
      t: Float64Array.from(lt),
      value: new Float32Array(lt.length),
      truth: Float32Array.from(lt.map((_, i) => truth[Math.floor(i / 3)]!)),
      type: Int16Array.from(lt.map((_, i) => Math.floor(i / 3))),
    };
    const ev = summarise({
      cells,
      labels,
      options: DEFAULT_EVAL_OPTIONS,
      firstStamp: 0,
      lastStamp: 179,
      worldTerrains: undefined,
      drivenByTrajectory: new Set([0, 1, 2]),
      frames: 180,
      framesScored: 180,
      warnings: [],
    });
    const at = (t: number) => ev.curve.find((c) => c.t === t)!;
    // 40–100 s: type 2 (0.5) predicted above type 1 (0.8) pulls ρ down; without it the order is right.
    expect(at(100).trailingSpearman).toBeLessThan(0.7);
    expect(at(100).trailingSpearmanDriven).toBeGreaterThan(0.85);
    // 119–179 s: type 2 counts from 122 s on, predicted right; its cells before 122 s do not count.
    expect(at(179).trailingSpearmanDriven).toBeGreaterThan(0.85);
    expect(at(179).trailingSpearman).toBeLessThan(at(179).trailingSpearmanDriven);
  });

  it("the ρ axis reaches down to the lowest plotted value", () => {
    expect(rhoAxisMin([0.5, 0.9])).toBe(-0.2);
    expect(rhoAxisMin([0.5, -0.45, null])).toBe(-0.5);
    expect(rhoAxisMin([-0.6])).toBe(-0.6);
    expect(rhoAxisMin([-3])).toBe(-1);
  });

  it("the learning curve plots the knowledge curve and does not clip a low baseline", () => {
    const curve = [10, 20].map((t) => ({
      t,
      spearman: 0.3,
      mae: 0.2,
      baselineSpearman: -0.7,
      baselineMae: 0.3,
      trailingSpearman: 0.4,
      trailingBaselineSpearman: -0.72,
    }));
    const knowledge = [
      { t: 10, terrainRho: null, terrainRhoAll: 0.5 },
      { t: 20, terrainRho: 0.9, terrainRhoAll: 0.8 },
    ];
    const svg = learningCurveSvg(curve, "t", 0.85, knowledge);
    expect(svg).toContain("knowledge: terrain ρ of probe-set means, types driven so far");
    // Axis −0.8..1 over 280 px from y = 60: the baseline's −0.72 is drawn at 340 − 0.08/1.8·280.
    expect(svg).toContain('cy="327.6"');
    expect(learningCurveSvg(curve, "t")).not.toContain("knowledge:");
    expect(svg).not.toContain("no value in this run");
    // A run too short for a line (fewer types driven than a terrain ρ needs): its legend entry says
    // so, rather than name a line that is not drawn.
    const short = learningCurveSvg(curve, "t", 0.85, [{ t: 20, terrainRho: null, terrainRhoAll: 1 }]);
    expect(short).toContain(
      "knowledge: terrain ρ of probe-set means, types driven so far (no value in this run)",
    );
    expect(short).toContain("all types the run drives</text>");
  });

  it("labels the time axis's end when the run is not a whole number of steps, clear of the tick before", () => {
    const xLabels = (end: number) => {
      const curve = [10, end].map((t) => ({
        t,
        spearman: 0.5,
        mae: 0.2,
        baselineSpearman: 0.1,
        baselineMae: 0.3,
      }));
      const svg = learningCurveSvg(curve, "t");
      // The top panel's axis labels (the panel's bottom edge is at y = 340).
      return [
        ...svg.matchAll(/<text x="([\d.]+)" y="355" font-size="11" text-anchor="middle">(\d+)<\/text>/g),
      ].map((m) => ({ x: Number(m[1]), label: m[2] }));
    };
    for (const [end, want] of [
      [175, ["0", "50", "100", "150", "175"]],
      [19.93, ["0", "5", "10", "15", "20"]],
      [20, ["0", "5", "10", "15", "20"]],
      // 150 would sit 13 px from 152's label: it gives way.
      [152, ["0", "50", "100", "152"]],
    ] as const) {
      const ticks = xLabels(end);
      expect(
        ticks.map((t) => t.label),
        `${end} s`,
      ).toEqual(want);
      expect(ticks.at(-1)!.x, `${end} s`).toBe(860);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]!.x - ticks[i - 1]!.x).toBeGreaterThanOrEqual(40);
    }
  });

  it("keeps every legend clear of the plotted points, and inside the image", () => {
    // An early, high error (a short run, or the first window): the top-left corner of the MAE panel.
    const curve = [1, 10].map((t) => ({
      t,
      spearman: 0.9,
      mae: 0.6,
      baselineSpearman: 0.9,
      baselineMae: 0.6,
    }));
    const svg = learningCurveSvg(curve, "t", 0.85);
    const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)![1]);
    const plots = [
      ...svg.matchAll(/<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)" fill="#fafafa"/g),
    ].map((m) => ({ x: +m[1]!, y: +m[2]!, w: +m[3]!, h: +m[4]! }));
    expect(plots).toHaveLength(2);
    for (const name of [
      "learner",
      "baseline",
      "prequential ρ, per 10 s window: cells in view in that window",
    ]) {
      const m = new RegExp(`<text x="([\\d.]+)" y="([\\d.]+)" font-size="12">${name}</text>`).exec(svg);
      expect(m, name).not.toBeNull();
      const y = Number(m![2]);
      expect(y, name).toBeLessThan(height - 4);
      for (const p of plots) expect(y > p.y && y < p.y + p.h, `${name} inside a plot`).toBe(false);
    }
  });
});

describe("probe set selection", () => {
  // Three types over 10 frames: type 0 everywhere, type 1 (never driven) in frames 0..4 only, type 2
  // rare (5 cells), type 3 too rare to keep (2 cells).
  const candidates: ProbeCandidate[] = [];
  for (let f = 0; f < 10; f++) {
    for (let c = 0; c < 6; c++) candidates.push({ frame: f, cell: c, type: 0, truth: 0.1 });
    if (f < 5) for (let c = 6; c < 10; c++) candidates.push({ frame: f, cell: c, type: 1, truth: 0.9 });
    if (f % 2 === 0) candidates.push({ frame: f, cell: 20, type: 2, truth: 0.5 });
    if (f < 2) candidates.push({ frame: f, cell: 30, type: 3, truth: 0.7 });
  }

  it("takes the same number of cells per type, leaves out types with too few, deterministically", () => {
    const sel = selectProbeCells(candidates, { perType: 4, minPerType: 3 });
    expect(sel.cellsPerType).toBe(4);
    const per = new Map<number, number>();
    for (const c of sel.cells) per.set(c.type, (per.get(c.type) ?? 0) + 1);
    expect([...per.entries()].sort()).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
    ]);
    expect(sel.excluded).toEqual([{ index: 3, available: 2 }]);
    expect(selectProbeCells([...candidates].reverse(), { perType: 4, minPerType: 3 })).toEqual(sel);
  });

  it("spreads each type's cells over the frames it appears in", () => {
    const sel = selectProbeCells(candidates, { perType: 5, minPerType: 3 });
    const frames0 = sel.cells.filter((c) => c.type === 0).map((c) => c.frame);
    expect(frames0).toEqual([1, 3, 5, 7, 9]);
    // The fewest available (type 2: 5 cells) caps every type.
    expect(sel.cellsPerType).toBe(5);
    expect(sel.cells.filter((c) => c.type === 2).map((c) => c.frame)).toEqual([0, 2, 4, 6, 8]);
  });
});

describe("knowledge probe scoring", () => {
  // Four types, two cells each; type 3 is never driven.
  const truths = [0.1, 0.3, 0.6, 0.8];
  const probe: ProbeSet = {
    channels: 1,
    features: Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3]),
    cells: [0, 0, 1, 1, 2, 2, 3, 3].map((type, i) => ({ stamp: i, cell: i, type, truth: truths[type]! })),
    frameStamps: [0, 1, 2, 3, 4, 5, 6, 7],
    terrains: truths.map((truth, index) => ({ index, name: `t${index}`, truth, driven: index !== 3 })),
    cellsPerType: 2,
    excluded: [],
    candidateFrames: 8,
  };
  // Predicts from the feature (the type): types 0 and 1 swapped; confidence low on type 3.
  const predict = (means: number[]) => (f: Float32Array, n: number) => ({
    roughness: Float32Array.from({ length: n }, (_, i) => means[f[i]!]!),
    confidence: Float32Array.from({ length: n }, (_, i) => (f[i] === 3 ? 0.1 : 0.9)),
  });

  it("terrain ρ over driven-so-far types is null until three have labels, then follows the model", () => {
    const k = new KnowledgeProbe(probe);
    const p0 = k.score(10, predict([0.3, 0.2, 0.5, 0.9]));
    expect(p0.drivenSoFar).toEqual([]);
    expect(p0.terrainRho).toBeNull();
    // All driven types (0, 1, 2): means 0.3, 0.2, 0.5 vs truth 0.1, 0.3, 0.6 → ρ = 0.5.
    expect(p0.terrainRhoAll).toBeCloseTo(0.5, 12);
    expect(p0.pairAccuracyAll).toBeCloseTo(2 / 3, 12);
    expect(p0.confidenceAuroc).toBe(1);
    for (let i = 0; i < LABELS_FOR_DRIVEN; i++) {
      k.onLabelType(0);
      k.onLabelType(2);
    }
    k.onLabelType(1); // one label is not enough
    k.onLabelType(-1);
    expect(k.score(20, predict([0.3, 0.2, 0.5, 0.9])).drivenSoFar).toEqual([0, 2]);
    for (let i = 0; i < LABELS_FOR_DRIVEN; i++) k.onLabelType(1);
    const p2 = k.score(30, predict([0.1, 0.2, 0.5, 0.9]));
    expect(p2.drivenSoFar).toEqual([0, 1, 2]);
    expect(p2.terrainRho).toBe(1);
    expect(p2.cellRho).toBe(1);
    expect(p2.byTerrain.map((b) => b.mean)).toEqual([0.1, 0.2, 0.5, 0.9]);
    const s = k.summary();
    expect(s.timeToRank).toBe(30);
    expect(s.curve).toHaveLength(3);
  });
});

describe("costmap flicker", () => {
  const res = 0.5;
  const map = (values: number[]) => ({
    resolution: res,
    originX: 0,
    originY: 0,
    width: 4,
    height: 1,
    data: Int8Array.from(values),
  });
  // Ground points in costmap cells 0, 1 and 2 (x = 0.25, 0.75, 1.25), terrain types 5, 5, 7.
  const view = (types = [5, 5, 7]) => ({ xs: [0.25, 0.75, 1.25], ys: [0.1, 0.1, 0.1], types, n: 3 });

  it("is the mean absolute change per second over cells in view on unchanged ground", () => {
    const m = new FlickerMeter();
    expect(m.flicker).toBeNull();
    m.observe(0, view(), map([10, 20, 30, 40]));
    m.observe(0.1, view(), map([12, 20, 27, 0]));
    // |2| + |0| + |3| over 3 cells × 0.1 s.
    expect(m.flicker).toBeCloseTo(5 / 0.3, 9);
    expect(m.pairs).toBe(3);
  });

  it("skips cells whose ground type changed, unknown values, and frames too far apart", () => {
    const m = new FlickerMeter();
    m.observe(0, view(), map([10, 20, 30, 40]));
    m.observe(0.1, view([5, 6, 7]), map([11, 90, -1, 40]));
    expect(m.pairs).toBe(1);
    expect(m.flicker).toBeCloseTo(1 / 0.1, 9);
    m.observe(0.1 + MAX_GAP_S + 0.01, view([5, 6, 7]), map([50, 90, 30, 40]));
    expect(m.pairs).toBe(1);
  });

  it("skips a cell holding ground of two types, and a cell out of view in the frame before", () => {
    const m = new FlickerMeter();
    const pts = (xs: number[], types: number[]) => ({ xs, ys: xs.map(() => 0.1), types, n: xs.length });
    // Cell 1 holds ground of types 5 and 7: no single ground, never counted.
    m.observe(0, pts([0.25, 0.75, 0.8], [5, 5, 7]), map([10, 20, 30, 40]));
    m.observe(0.1, pts([0.25, 0.75, 0.8], [5, 5, 7]), map([12, 25, 30, 40]));
    expect(m.pairs).toBe(1);
    // Only cell 2 in view: it was not in view before, cell 0 is not in view now.
    m.observe(0.2, pts([1.25], [7]), map([50, 25, 33, 40]));
    expect(m.pairs).toBe(1);
    // Cell 0 back in view: not counted against 0.1 s (it left view in between); cell 2 counts.
    m.observe(0.3, pts([0.25, 1.25], [5, 7]), map([60, 25, 35, 40]));
    expect(m.pairs).toBe(2);
    expect(m.flicker).toBeCloseTo((2 + 2) / 0.2, 9);
  });

  it("follows a cell by its position when the window moves", () => {
    const m = new FlickerMeter();
    m.observe(0, view(), map([10, 20, 30, 40]));
    // Window shifted one cell right: the cell at x = 0.75 is now at index 0.
    m.observe(0.2, view(), { ...map([20, 33, 0, 0]), originX: res });
    // Cells 1 and 2 in view in both: |20−20| + |33−30| over 2 × 0.2 s (cell 0 left the window).
    expect(m.pairs).toBe(2);
    expect(m.flicker).toBeCloseTo(3 / 0.4, 9);
  });
});

describe("speed limit change", () => {
  it("is the mean |Δ limit| per second over frames at most MAX_GAP_S apart, and the mean limit", () => {
    const m = new SpeedChangeMeter();
    expect(m.change).toBeNull();
    expect(m.mean).toBeNull();
    m.observe(0, 2);
    m.observe(0.1, 1.5); // 0.5 over 0.1 s
    m.observe(0.2, 1.5); // 0 over 0.1 s
    m.observe(0.2 + MAX_GAP_S + 0.1, 0.3); // a gap: no pair
    m.observe(0.9, 0.5); // 0.2 over 0.1 s
    m.observe(1.0, Number.NaN); // ignored
    expect(m.change).toBeCloseTo(0.7 / 0.3, 9);
    expect(m.mean).toBeCloseTo((2 + 1.5 + 1.5 + 0.3 + 0.5) / 5, 9);
  });
});
