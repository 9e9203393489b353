// The knowledge probe: a fixed set of feature cells from frames spread over a simulator run, chosen
// once from the whole bag before replay, the same number per terrain type (never-driven types
// included). At each curve point the current model predicts them all; what it gets right there is
// what it knows, whatever happens to be in view. The probe frames are held out of training (the
// stream graph never makes them keyframes). Definitions: docs/learning.md.

import type { TerrainInfo } from "./ground-truth.ts";
import {
  cellRho,
  confidenceAuroc,
  pairAccuracy,
  type TerrainScore,
  terrainRho,
  timeToThreshold,
} from "./knowledge-metrics.ts";

/** An eligible cell of a candidate frame: on one terrain type, in the scored range. */
export interface ProbeCandidate {
  /** Candidate frame index (frames in time order). */
  frame: number;
  /** Cell index r·cols + c in the frame's feature grid. */
  cell: number;
  type: number;
  /** True roughness under the cell (0..1). */
  truth: number;
}

export interface ProbeSelectOptions {
  /** Cells per terrain type at most. */
  perType: number;
  /** A type with fewer eligible cells than this is left out (and named). */
  minPerType: number;
}

export const DEFAULT_PROBE_OPTIONS: ProbeSelectOptions & { frames: number } = {
  frames: 24,
  perType: 48,
  minPerType: 8,
};

export interface ProbeSelection {
  cellsPerType: number;
  /** Chosen cells, by type then time. */
  cells: ProbeCandidate[];
  /** Types seen in the candidate frames but left out: too few eligible cells. */
  excluded: { index: number; available: number }[];
  /** Eligible cells per type kept (the fewest caps every type). */
  available: Map<number, number>;
}

/**
 * Stratified choice: every type with at least `minPerType` eligible cells gets the same number,
 * min(perType, fewest available), taken evenly spaced through its candidates in time order (so they
 * come from frames spread over the run). Deterministic: same candidates, same cells.
 */
export function selectProbeCells(
  candidates: readonly ProbeCandidate[],
  o: ProbeSelectOptions,
): ProbeSelection {
  const byType = new Map<number, ProbeCandidate[]>();
  for (const c of candidates) {
    if (c.type < 0) continue;
    const list = byType.get(c.type) ?? [];
    list.push(c);
    byType.set(c.type, list);
  }
  const excluded: ProbeSelection["excluded"] = [];
  const kept: [number, ProbeCandidate[]][] = [];
  for (const [type, list] of [...byType.entries()].sort((a, b) => a[0] - b[0])) {
    if (list.length < o.minPerType) excluded.push({ index: type, available: list.length });
    else kept.push([type, list.sort((a, b) => a.frame - b.frame || a.cell - b.cell)]);
  }
  const k = Math.min(o.perType, ...kept.map(([, l]) => l.length));
  const available = new Map(kept.map(([type, l]) => [type, l.length]));
  const cells: ProbeCandidate[] = [];
  for (const [, list] of kept) {
    for (let j = 0; j < k; j++) cells.push(list[Math.floor(((j + 0.5) * list.length) / k)]!);
  }
  return { cellsPerType: kept.length ? k : 0, cells, excluded, available };
}

/** A chosen probe set with the feature vectors of its cells. */
export interface ProbeSet {
  channels: number;
  /** n × channels, row i = cells[i]. */
  features: Float32Array;
  cells: { stamp: number; cell: number; type: number; truth: number }[];
  /** Stamps of the frames the cells come from: held out of training. */
  frameStamps: number[];
  /**
   * The types in the set: true roughness (world's value, else the cells' mean), driven flag, and
   * the eligible cells the candidate frames had (the fewest sets `cellsPerType`).
   */
  terrains: { index: number; name: string; truth: number; driven: boolean; eligible?: number }[];
  cellsPerType: number;
  excluded: { index: number; name: string; available: number }[];
  /** Candidate frames looked at. */
  candidateFrames: number;
}

export interface KnowledgePoint {
  t: number;
  /** Types with at least LABELS_FOR_DRIVEN labels so far (that are in the probe set). */
  drivenSoFar: number[];
  /** Over the driven-so-far types; null with fewer than 3. */
  terrainRho: number | null;
  /** Over all types the run drives (the world's driven flag). */
  terrainRhoAll: number | null;
  pairAccuracy: number | null;
  pairAccuracyAll: number | null;
  /** All probe cells pooled (every type). */
  cellRho: number | null;
  /** (1 − confidence), cells of never-driven types vs driven types. */
  confidenceAuroc: number | null;
  byTerrain: { index: number; mean: number; confidence: number }[];
}

export interface KnowledgeSummary {
  curve: KnowledgePoint[];
  /** Sensor time after which driven-so-far terrainRho stays ≥ RANK_THRESHOLD; null if never. */
  timeToRank: number | null;
  probe: {
    cells: number;
    cellsPerType: number;
    frames: number;
    candidateFrames: number;
    terrains: ProbeSet["terrains"];
    excluded: ProbeSet["excluded"];
  };
}

/** A type counts as driven so far once it has this many labels (one stray label at a patch edge does not). */
export const LABELS_FOR_DRIVEN = 3;
export const RANK_THRESHOLD = 0.8;

export type Predict = (
  features: Float32Array,
  n: number,
) => { roughness: Float32Array; confidence: Float32Array };

/** Scores the probe set at curve points; knows which types have labels so far. */
export class KnowledgeProbe {
  readonly curve: KnowledgePoint[] = [];
  readonly #labels = new Map<number, number>();

  constructor(readonly probe: ProbeSet) {}

  /** A label was made on ground of this type (−1: unknown). */
  onLabelType(type: number): void {
    if (type >= 0) this.#labels.set(type, (this.#labels.get(type) ?? 0) + 1);
  }

  /** Predicts every probe cell with the model as it is now (predict must not train). */
  score(t: number, predict: Predict): KnowledgePoint {
    const p = this.probe;
    const n = p.cells.length;
    const out = n
      ? predict(p.features, n)
      : { roughness: new Float32Array(0), confidence: new Float32Array(0) };
    const acc = new Map<number, { s: number; c: number; n: number }>();
    const truth = new Float64Array(n);
    const never = new Uint8Array(n);
    const driven = new Set(p.terrains.filter((x) => x.driven).map((x) => x.index));
    for (let i = 0; i < n; i++) {
      const cell = p.cells[i]!;
      const a = acc.get(cell.type) ?? { s: 0, c: 0, n: 0 };
      a.s += out.roughness[i]!;
      a.c += out.confidence[i]!;
      a.n++;
      acc.set(cell.type, a);
      truth[i] = cell.truth;
      never[i] = driven.has(cell.type) ? 0 : 1;
    }
    const scores: TerrainScore[] = p.terrains
      .filter((x) => acc.has(x.index))
      .map((x) => {
        const a = acc.get(x.index)!;
        return { index: x.index, truth: x.truth, mean: a.s / a.n, confidence: a.c / a.n };
      });
    const soFar = scores.filter((s) => (this.#labels.get(s.index) ?? 0) >= LABELS_FOR_DRIVEN);
    const all = scores.filter((s) => driven.has(s.index));
    const point: KnowledgePoint = {
      t,
      drivenSoFar: soFar.map((s) => s.index),
      terrainRho: terrainRho(soFar),
      terrainRhoAll: terrainRho(all),
      pairAccuracy: pairAccuracy(soFar),
      pairAccuracyAll: pairAccuracy(all),
      cellRho: cellRho(out.roughness, truth),
      confidenceAuroc: confidenceAuroc(out.confidence, never),
      byTerrain: scores.map((s) => ({
        index: s.index,
        mean: round4(s.mean),
        confidence: round4(s.confidence),
      })),
    };
    this.curve.push(point);
    return point;
  }

  summary(): KnowledgeSummary {
    const p = this.probe;
    return {
      curve: this.curve,
      timeToRank: timeToThreshold(
        this.curve.map((c) => ({ t: c.t, value: c.terrainRho })),
        RANK_THRESHOLD,
      ),
      probe: {
        cells: p.cells.length,
        cellsPerType: p.cellsPerType,
        frames: p.frameStamps.length,
        candidateFrames: p.candidateFrames,
        terrains: p.terrains,
        excluded: p.excluded,
      },
    };
  }
}

/** The probe's terrain table: the world's names, truth and driven flags where it has them. */
export function probeTerrains(
  cells: readonly { type: number; truth: number }[],
  world: readonly TerrainInfo[] | undefined,
  drivenByTrajectory: ReadonlySet<number>,
): ProbeSet["terrains"] {
  const sums = new Map<number, { s: number; n: number }>();
  for (const c of cells) {
    const a = sums.get(c.type) ?? { s: 0, n: 0 };
    a.s += c.truth;
    a.n++;
    sums.set(c.type, a);
  }
  return [...sums.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, a]) => {
      const w = world?.find((x) => x.index === index);
      return {
        index,
        name: w?.name ?? `terrain${index}`,
        truth: w && Number.isFinite(w.roughness) ? w.roughness : round4(a.s / a.n),
        driven: w ? w.driven : drivenByTrajectory.has(index),
      };
    });
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
