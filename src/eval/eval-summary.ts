// Turns the evaluator's scored cells and labels into an EvalSummary (final window, curve, per terrain).

import type { EvalOptions, EvalSummary } from "./eval-types.ts";
import type { TerrainInfo } from "./ground-truth.ts";
import { auroc, mae, pearson, spearman } from "./metrics.ts";
import { LABELS_FOR_DRIVEN } from "./probe-set.ts";
import { inWindow, WindowMetrics } from "./window-metrics.ts";

/** One entry per scored cell. */
export interface CellViews {
  t: Float64Array;
  pred: Float32Array;
  conf: Float32Array;
  gt: Float32Array;
  base: Float32Array;
  type: Int16Array;
  boundary: Uint8Array;
}

/** One entry per label with a known true roughness under the robot. */
export interface LabelViews {
  t: Float64Array;
  value: Float32Array;
  truth: Float32Array;
  type: Int16Array;
}

export interface SummaryInput {
  cells: CellViews;
  labels: LabelViews;
  options: EvalOptions;
  /** Span of the frames that could be scored (NaN when none). */
  firstStamp: number;
  lastStamp: number;
  /** The world's terrain table, when the bag has one. */
  worldTerrains: TerrainInfo[] | undefined;
  drivenByTrajectory: ReadonlySet<number>;
  frames: number;
  framesScored: number;
  warnings: string[];
}

export function summarise(s: SummaryInput): EvalSummary {
  const { cells, labels } = s;
  const o = s.options;
  const first = s.firstStamp;
  const end = s.lastStamp;
  const start = Math.max(first, end - o.finalWindow);
  const inc = !o.excludeBoundaries;
  const windows = new WindowMetrics(cells, first, o.roughThreshold);
  const metrics = (
    from: number,
    to: number,
    includeBoundaries: boolean,
    useBaseline: boolean,
    drivenFrom?: ReadonlyMap<number, number>,
  ) => windows.metrics(from, to, includeBoundaries, useBaseline, drivenFrom);
  const drivenFrom = drivenSince(labels);
  const fin = metrics(start, end, inc, false);
  const finBase = metrics(start, end, inc, true);
  const terrains = terrainTable(s.worldTerrains, cells.type, s.drivenByTrajectory);
  const curve: EvalSummary["curve"] = [];
  if (Number.isFinite(first)) {
    for (let w0 = first; w0 < end; w0 += o.window) {
      const w1 = Math.min(end, w0 + o.window);
      const m = metrics(w0, w1, inc, false);
      const b = metrics(w0, w1, inc, true);
      const tr0 = Math.max(first, w1 - o.finalWindow);
      const tm = metrics(tr0, w1, inc, false);
      const tb = metrics(tr0, w1, inc, true);
      const td = metrics(tr0, w1, inc, false, drivenFrom);
      curve.push({
        trailingSpearman: tm.spearman,
        trailingSpearmanDriven: td.spearman,
        trailingMae: tm.mae,
        trailingBaselineSpearman: tb.spearman,
        t: round(w1 - first, 3),
        spearman: m.spearman,
        mae: m.mae,
        auroc: m.auroc,
        baselineSpearman: b.spearman,
        baselineMae: b.mae,
        cells: m.cells,
      });
    }
  }
  const all = metrics(start, end, true, false);
  const allBase = metrics(start, end, true, true);
  const ov = metrics(first, end, inc, false);
  const ovBase = metrics(first, end, inc, true);
  return {
    spearman: fin.spearman,
    mae: fin.mae,
    auroc: fin.auroc,
    confidenceAuroc: confidenceAuroc(cells, first, start, end, terrains, o.excludeBoundaries),
    cells: fin.cells,
    window: { start: round(start - first, 3), end: round(end - first, 3) },
    baseline: finBase,
    allCells: { ...all, baseline: allBase },
    overall: {
      ...ov,
      baseline: ovBase,
      confidenceAuroc: confidenceAuroc(cells, first, first, end, terrains, o.excludeBoundaries),
    },
    curve,
    byTerrain: predictionsByTerrain(cells, first, start, end, terrains, o.excludeBoundaries),
    labels: {
      count: labels.t.length,
      spearman: spearman(labels.value, labels.truth),
      mae: mae(labels.value, labels.truth),
      pearson: pearson(labels.value, labels.truth),
      byTerrain: labelsByTerrain(labels, terrains),
    },
    frames: s.frames,
    framesScored: s.framesScored,
    terrains,
    options: o,
    warnings: s.warnings,
  };
}

/** The world's terrain table, or (without one) the types seen in view or under the robot. */
function terrainTable(
  worldTerrains: TerrainInfo[] | undefined,
  types: Int16Array,
  drivenByTrajectory: ReadonlySet<number>,
): (TerrainInfo & { drivenSource: "world" | "trajectory" })[] {
  if (worldTerrains?.length) return worldTerrains.map((t) => ({ ...t, drivenSource: "world" as const }));
  const seen = new Set<number>();
  for (let i = 0; i < types.length; i++) if (types[i]! >= 0) seen.add(types[i]!);
  for (const d of drivenByTrajectory) seen.add(d);
  return [...seen]
    .sort((a, b) => a - b)
    .map((index) => ({
      index,
      name: `terrain${index}`,
      roughness: Number.NaN,
      driven: drivenByTrajectory.has(index),
      drivenSource: "trajectory" as const,
    }));
}

/** Per terrain type: the stamp of its LABELS_FOR_DRIVEN-th label (the type under the robot). */
function drivenSince(labels: LabelViews): Map<number, number> {
  const count = new Map<number, number>();
  const since = new Map<number, number>();
  const order = [...labels.t.keys()].sort((a, b) => labels.t[a]! - labels.t[b]!);
  for (const i of order) {
    const type = labels.type[i]!;
    if (type < 0) continue;
    const n = (count.get(type) ?? 0) + 1;
    count.set(type, n);
    if (n === LABELS_FOR_DRIVEN) since.set(type, labels.t[i]!);
  }
  return since;
}

function confidenceAuroc(
  cells: CellViews,
  first: number,
  from: number,
  to: number,
  terrains: TerrainInfo[],
  excludeBoundaries: boolean,
): number {
  const undriven = new Set(terrains.filter((x) => !x.driven).map((x) => x.index));
  if (undriven.size === 0) return Number.NaN;
  const { t, conf, type: types, boundary } = cells;
  const scores: number[] = [];
  const positive: boolean[] = [];
  for (let i = 0; i < t.length; i++) {
    if (!inWindow(t[i]!, first, from, to) || types[i]! < 0) continue;
    if (excludeBoundaries && boundary[i]) continue;
    scores.push(1 - conf[i]!);
    positive.push(undriven.has(types[i]!));
  }
  return auroc(scores, positive);
}

function labelsByTerrain(labels: LabelViews, terrains: TerrainInfo[]): EvalSummary["labels"]["byTerrain"] {
  const { type: types, value: values, truth } = labels;
  const acc = new Map<number, { n: number; s: number; s2: number; truth: number }>();
  for (let i = 0; i < types.length; i++) {
    const a = acc.get(types[i]!) ?? { n: 0, s: 0, s2: 0, truth: truth[i]! };
    a.n++;
    a.s += values[i]!;
    a.s2 += values[i]! * values[i]!;
    acc.set(types[i]!, a);
  }
  return [...acc.entries()]
    .sort((x, y) => x[1].truth - y[1].truth)
    .map(([index, a]) => {
      const mean = a.s / a.n;
      return {
        index,
        name: terrains.find((t) => t.index === index)?.name ?? `terrain${index}`,
        truth: a.truth,
        count: a.n,
        mean: round(mean, 4),
        std: round(Math.sqrt(Math.max(0, a.s2 / a.n - mean * mean)), 4),
      };
    });
}

function predictionsByTerrain(
  cells: CellViews,
  first: number,
  from: number,
  to: number,
  terrains: TerrainInfo[],
  excludeBoundaries: boolean,
): EvalSummary["byTerrain"] {
  const { t, type: types, pred, conf, gt, boundary } = cells;
  const acc = new Map<number, { n: number; s: number; s2: number; c: number; truth: number }>();
  for (let i = 0; i < t.length; i++) {
    if (!inWindow(t[i]!, first, from, to) || (excludeBoundaries && boundary[i])) continue;
    const a = acc.get(types[i]!) ?? { n: 0, s: 0, s2: 0, c: 0, truth: gt[i]! };
    a.n++;
    a.s += pred[i]!;
    a.s2 += pred[i]! * pred[i]!;
    a.c += conf[i]!;
    acc.set(types[i]!, a);
  }
  return [...acc.entries()]
    .sort((x, y) => x[1].truth - y[1].truth)
    .map(([index, a]) => {
      const mean = a.s / a.n;
      const info = terrains.find((x) => x.index === index);
      return {
        index,
        name: info?.name ?? `terrain${index}`,
        truth: round(a.truth, 4),
        driven: info?.driven ?? true,
        cells: a.n,
        mean: round(mean, 4),
        std: round(Math.sqrt(Math.max(0, a.s2 / a.n - mean * mean)), 4),
        confidence: round(a.c / a.n, 4),
      };
    });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
