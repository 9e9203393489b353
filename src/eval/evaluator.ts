// Prequential evaluation on simulator bags: every frame's prediction is scored when the frame
// arrives, i.e. before any label for the ground it shows can exist, against the ground-truth map.
// This is the honest test of "predicting ground not yet driven": the learner has only seen labels
// from the past.
//
// For each frame the feature-cell centres are projected onto the ground with the TRUE pose of the
// robot (/sim/ground_truth/pose), so odometry drift does not count against the learner, and looked
// up in the ground-truth roughness and terrain maps. Scored cells: those whose ground point lies
// `minRange..maxRange` m from the camera (the distances the learner is taught at) and, by default,
// whose whole footprint lies on one terrain type (a cell straddling two patches has no single true
// roughness). Metrics over all cells are reported next to them.
//
// Next to the learner, a trivial baseline is scored on the same cells: the running mean of all labels
// made so far (what a robot knows without looking at images).

import { pixelToGround } from "../core/camera.ts";
import { type Mat34, mat34Compose } from "../core/geometry.ts";
import type { CameraModel, OdomSample, RoughnessGrid, Transform } from "../core/types.ts";
import { type GridMap, gridIndex, staticChain, type TerrainInfo, TruePoses } from "./ground-truth.ts";
import { auroc, mae, pearson, spearman } from "./metrics.ts";
import type { KnowledgeSummary } from "./probe-set.ts";

export interface EvalOptions {
  /** Range along the camera ray (m) of the cells that are scored. */
  minRange: number;
  maxRange: number;
  /** Ground truth at or above this is "rough" for the AUROC. */
  roughThreshold: number;
  /** Learning-curve window (s). */
  window: number;
  /** Final metrics are over the last `finalWindow` seconds. */
  finalWindow: number;
  /** Score only cells whose footprint lies on a single terrain type. */
  excludeBoundaries: boolean;
  /** Base frame of the robot (the true pose's child frame). */
  baseFrame: string;
  /**
   * Diagnostic: the outputs (grid, costmap) carry the ground truth where it is known, at confidence
   * 1, instead of the model's prediction; the model is still what is scored. What is left of the
   * costmap flicker is then the outputs' own (projection, rasterising, evidence decay).
   */
  truthOutputs: boolean;
}

export const DEFAULT_EVAL_OPTIONS: EvalOptions = {
  minRange: 1,
  maxRange: 8,
  roughThreshold: 0.5,
  window: 10,
  finalWindow: 60,
  excludeBoundaries: true,
  baseFrame: "base_link",
  truthOutputs: false,
};

export interface MetricSet {
  spearman: number;
  mae: number;
  auroc: number;
  cells: number;
}

export interface StabilitySummary {
  /** Lowest trailing prequential ρ at curve points t ≥ `after` s; null when none. */
  minTrailingRho: number | null;
  after: number;
  /** Mean |Δ cost| per second of costmap cells in view on unchanged ground (costmap-flicker.ts). */
  costmapFlicker: number | null;
  /** Cell-frame pairs the flicker pools. */
  flickerPairs: number;
}

export interface EvalSummary {
  /** Learner metrics over the final window. */
  spearman: number;
  mae: number;
  auroc: number;
  /** AUROC of (1 − confidence) for cells on never-driven terrain vs driven terrain; NaN if the world has none in view. */
  confidenceAuroc: number;
  cells: number;
  window: { start: number; end: number };
  baseline: MetricSet;
  /** Same metrics including cells on terrain boundaries. */
  allCells: MetricSet & { baseline: MetricSet };
  /** Over the whole run. */
  overall: MetricSet & { baseline: MetricSet; confidenceAuroc: number };
  /**
   * Per `window` seconds: metrics of that window, and over the trailing `finalWindow` seconds ending
   * there (the goal's "last minute", as it develops).
   */
  curve: {
    t: number;
    spearman: number;
    mae: number;
    auroc: number;
    baselineSpearman: number;
    baselineMae: number;
    cells: number;
    trailingSpearman: number;
    trailingMae: number;
    trailingBaselineSpearman: number;
  }[];
  /** Final window, per terrain type in view: what the learner predicts for each. */
  byTerrain: {
    index: number;
    name: string;
    truth: number;
    driven: boolean;
    cells: number;
    mean: number;
    std: number;
    confidence: number;
  }[];
  /** Labels against the true roughness under the robot: how good the supervision itself is. */
  labels: {
    count: number;
    spearman: number;
    mae: number;
    pearson: number;
    /** Per terrain type under the robot: label mean/std vs the true roughness. */
    byTerrain: { index: number; name: string; truth: number; count: number; mean: number; std: number }[];
  };
  /** What a fixed probe set says the model knows, per curve point (probe-set.ts; with a probe set). */
  knowledge?: KnowledgeSummary;
  /** How steady the learner and its costmap are (added by the stream graph's evaluation taps). */
  stability?: StabilitySummary;
  frames: number;
  framesScored: number;
  terrains: (TerrainInfo & { drivenSource: "world" | "trajectory" })[];
  options: EvalOptions;
  warnings: string[];
}

/** Growable typed column. */
class Column<T extends Float64Array | Float32Array | Int16Array | Uint8Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(4096);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export class PrequentialEvaluator {
  readonly options: EvalOptions;
  #poses = new TruePoses();
  #roughness: GridMap | undefined;
  #terrain: GridMap | undefined;
  #static = new Map<string, Transform>();
  #camera: CameraModel | undefined;
  #terrains: TerrainInfo[] | undefined;
  #drivenByTrajectory = new Set<number>();
  #labelSum = 0;
  #labelCount = 0;
  #frames = 0;
  #framesScored = 0;
  #firstStamp = Number.NaN;
  #lastStamp = Number.NaN;
  #warnings = new Set<string>();
  #lastTruth: { stamp: number; truth: ReturnType<PrequentialEvaluator["truthFor"]> } | undefined;
  // Per scored cell.
  #t = new Column((n) => new Float64Array(n));
  #pred = new Column((n) => new Float32Array(n));
  #conf = new Column((n) => new Float32Array(n));
  #gt = new Column((n) => new Float32Array(n));
  #base = new Column((n) => new Float32Array(n));
  #type = new Column((n) => new Int16Array(n));
  #boundary = new Column((n) => new Uint8Array(n));
  // Per label.
  #labelT = new Column((n) => new Float64Array(n));
  #labelValue = new Column((n) => new Float32Array(n));
  #labelTruth = new Column((n) => new Float32Array(n));
  #labelType = new Column((n) => new Int16Array(n));
  // Scratch.
  #worldFromBase: Mat34 = new Float64Array(12);
  #worldFromOptical: Mat34 = new Float64Array(12);
  #p = new Float64Array(3);

  constructor(options: Partial<EvalOptions> = {}) {
    this.options = { ...DEFAULT_EVAL_OPTIONS, ...options };
  }

  get hasGroundTruth(): boolean {
    return this.#roughness !== undefined && this.#poses.size > 0;
  }

  setTerrains(terrains: TerrainInfo[] | undefined): void {
    this.#terrains = terrains;
  }

  onTruePose(s: OdomSample): void {
    this.#poses.add(s.stamp, s.pose.position, s.pose.orientation);
    if (this.#terrain) {
      const i = gridIndex(this.#terrain, s.pose.position.x, s.pose.position.y);
      if (i >= 0) this.#drivenByTrajectory.add(this.#terrain.values[i]!);
    }
  }

  onGroundTruth(kind: "roughness" | "terrain", map: GridMap): void {
    if (kind === "roughness") this.#roughness = map;
    else this.#terrain = map;
  }

  onTransforms(ts: readonly Transform[]): void {
    for (const t of ts) if (t.isStatic) this.#static.set(t.child, t);
  }

  onCameraInfo(c: CameraModel): void {
    this.#camera = c;
  }

  onLabel(roughness: number, stamp?: number): void {
    if (!Number.isFinite(roughness)) return;
    this.#labelSum += roughness;
    this.#labelCount++;
    // Label quality: the true roughness under the robot (true pose) at the label's stamp. A learner
    // cannot rank terrain better than its labels do, so this is the first thing to look at.
    if (stamp !== undefined && this.#roughness && this.#poses.at(stamp, this.#worldFromBase)) {
      const i = gridIndex(this.#roughness, this.#worldFromBase[3]!, this.#worldFromBase[7]!);
      const v = i >= 0 ? this.#roughness.values[i]! : -1;
      if (v >= 0) {
        this.#labelT.push(stamp);
        this.#labelValue.push(roughness);
        this.#labelTruth.push(v / 100);
        const j = this.#terrain
          ? gridIndex(this.#terrain, this.#worldFromBase[3]!, this.#worldFromBase[7]!)
          : -1;
        this.#labelType.push(j >= 0 && this.#terrain ? this.#terrain.values[j]! : -1);
      }
    }
  }

  /** Stamp of the first frame that could be scored (NaN before). */
  get firstStamp(): number {
    return this.#firstStamp;
  }

  /** The world's terrain table (undefined without world metadata). */
  get worldTerrains(): readonly TerrainInfo[] | undefined {
    return this.#terrains;
  }

  /** Types the true pose has been on so far. */
  get drivenByTrajectory(): ReadonlySet<number> {
    return this.#drivenByTrajectory;
  }

  /** Terrain type under the robot (true pose) at `stamp`; −1 when unknown. */
  terrainUnderRobot(stamp: number): number {
    const m = this.#terrain;
    if (!m || !this.#poses.at(stamp, this.#worldFromBase)) return -1;
    const j = gridIndex(m, this.#worldFromBase[3]!, this.#worldFromBase[7]!);
    return j >= 0 ? m.values[j]! : -1;
  }

  /** The ground truth scoreFrame computed for the frame at `stamp` (undefined for another frame). */
  lastTruth(stamp: number): ReturnType<PrequentialEvaluator["truthFor"]> | undefined {
    return this.#lastTruth?.stamp === stamp ? this.#lastTruth.truth : undefined;
  }

  /** The baseline's current prediction (0.5 before the first label). */
  get baseline(): number {
    return this.#labelCount ? this.#labelSum / this.#labelCount : 0.5;
  }

  /**
   * Ground truth for each cell of a frame (NaN where unknown or out of the scored range), plus the
   * terrain type and boundary flag. Null when pose/camera/extrinsics are not known yet.
   */
  truthFor(
    stamp: number,
    grid: Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY" | "frameId">,
  ): { roughness: Float32Array; terrain: Int16Array; boundary: Uint8Array; range: Float32Array } | null {
    const cam = this.#camera;
    const rough = this.#roughness;
    if (!cam || !rough) return null;
    if (!this.#poses.at(stamp, this.#worldFromBase)) return null;
    const opticalFrame = grid.frameId || cam.frameId;
    const baseFromOptical = staticChain(this.#static, this.options.baseFrame, opticalFrame);
    if (!baseFromOptical) {
      this.#warnings.add(`no static transform chain ${this.options.baseFrame} ← ${opticalFrame}`);
      return null;
    }
    mat34Compose(this.#worldFromBase, baseFromOptical, this.#worldFromOptical);
    const { rows, cols, strideX, strideY } = grid;
    const n = rows * cols;
    const out = new Float32Array(n).fill(Number.NaN);
    const terrain = new Int16Array(n).fill(-1);
    const boundary = new Uint8Array(n);
    const range = new Float32Array(n).fill(Number.NaN);
    const p = this.#p;
    const tmap = this.#terrain;
    // Terrain at the cell corners, for the boundary test.
    const cornerType = new Int16Array((rows + 1) * (cols + 1)).fill(-1);
    if (tmap) {
      for (let r = 0; r <= rows; r++) {
        for (let c = 0; c <= cols; c++) {
          const t = pixelToGround(cam, this.#worldFromOptical, c * strideX - 0.5, r * strideY - 0.5, p);
          if (t < 0) continue;
          const i = gridIndex(tmap, p[0]!, p[1]!);
          if (i >= 0) cornerType[r * (cols + 1) + c] = tmap.values[i]!;
        }
      }
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const k = r * cols + c;
        const t = pixelToGround(
          cam,
          this.#worldFromOptical,
          (c + 0.5) * strideX - 0.5,
          (r + 0.5) * strideY - 0.5,
          p,
        );
        if (t < 0) continue;
        range[k] = t;
        const i = gridIndex(rough, p[0]!, p[1]!);
        if (i < 0) continue;
        const v = rough.values[i]!;
        if (v < 0) continue;
        out[k] = v / 100;
        if (tmap) {
          const j = gridIndex(tmap, p[0]!, p[1]!);
          const type = j >= 0 ? tmap.values[j]! : -1;
          terrain[k] = type;
          const w = cols + 1;
          const a = cornerType[r * w + c]!,
            b = cornerType[r * w + c + 1]!,
            d = cornerType[(r + 1) * w + c]!,
            e = cornerType[(r + 1) * w + c + 1]!;
          if (a !== type || b !== type || d !== type || e !== type) boundary[k] = 1;
        }
      }
    }
    return { roughness: out, terrain, boundary, range };
  }

  /** Scores one frame's predictions (call BEFORE the labels of this moment are trained on). */
  scoreFrame(grid: RoughnessGrid): number {
    this.#frames++;
    const stamp = grid.stamp;
    const truth = this.truthFor(stamp, grid);
    this.#lastTruth = { stamp, truth };
    if (!truth) return 0;
    // The scored span: min/max over frames that could be scored (a frame stamped out of order must
    // not shrink it, and frames without ground truth must not stretch it).
    if (!(stamp >= this.#firstStamp)) this.#firstStamp = stamp;
    if (!(stamp <= this.#lastStamp)) this.#lastStamp = stamp;
    const { minRange, maxRange } = this.options;
    const base = this.baseline;
    let scored = 0;
    const n = grid.rows * grid.cols;
    for (let k = 0; k < n; k++) {
      const gt = truth.roughness[k]!;
      const range = truth.range[k]!;
      const pred = grid.roughness[k]!;
      if (!Number.isFinite(gt) || !(range >= minRange && range <= maxRange) || !Number.isFinite(pred))
        continue;
      this.#t.push(stamp);
      this.#pred.push(pred);
      this.#conf.push(grid.confidence[k]!);
      this.#gt.push(gt);
      this.#base.push(base);
      this.#type.push(truth.terrain[k]!);
      this.#boundary.push(truth.boundary[k]!);
      scored++;
    }
    if (scored) this.#framesScored++;
    return scored;
  }

  #terrainTable(): (TerrainInfo & { drivenSource: "world" | "trajectory" })[] {
    if (this.#terrains?.length) return this.#terrains.map((t) => ({ ...t, drivenSource: "world" as const }));
    const seen = new Set<number>();
    const types = this.#type.view();
    for (let i = 0; i < types.length; i++) if (types[i]! >= 0) seen.add(types[i]!);
    for (const d of this.#drivenByTrajectory) seen.add(d);
    return [...seen]
      .sort((a, b) => a - b)
      .map((index) => ({
        index,
        name: `terrain${index}`,
        roughness: Number.NaN,
        driven: this.#drivenByTrajectory.has(index),
        drivenSource: "trajectory" as const,
      }));
  }

  #metrics(from: number, to: number, includeBoundaries: boolean, useBaseline: boolean): MetricSet {
    const t = this.#t.view();
    const pred = useBaseline ? this.#base.view() : this.#pred.view();
    const gt = this.#gt.view();
    const boundary = this.#boundary.view();
    const idx: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t[i]! < from || t[i]! > to) continue;
      if (!includeBoundaries && boundary[i]) continue;
      idx.push(i);
    }
    const p = new Float64Array(idx.length);
    const g = new Float64Array(idx.length);
    const pos = new Uint8Array(idx.length);
    idx.forEach((i, j) => {
      p[j] = pred[i]!;
      g[j] = gt[i]!;
      pos[j] = gt[i]! >= this.options.roughThreshold ? 1 : 0;
    });
    return { spearman: spearman(p, g), mae: mae(p, g), auroc: auroc(p, pos), cells: idx.length };
  }

  #confidenceAuroc(from: number, to: number, terrains: TerrainInfo[]): number {
    const undriven = new Set(terrains.filter((x) => !x.driven).map((x) => x.index));
    if (undriven.size === 0) return Number.NaN;
    const t = this.#t.view();
    const conf = this.#conf.view();
    const types = this.#type.view();
    const boundary = this.#boundary.view();
    const scores: number[] = [];
    const positive: boolean[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t[i]! < from || t[i]! > to || types[i]! < 0) continue;
      if (this.options.excludeBoundaries && boundary[i]) continue;
      scores.push(1 - conf[i]!);
      positive.push(undriven.has(types[i]!));
    }
    return auroc(scores, positive);
  }

  #labelsByTerrain(terrains: TerrainInfo[]): EvalSummary["labels"]["byTerrain"] {
    const types = this.#labelType.view();
    const values = this.#labelValue.view();
    const truth = this.#labelTruth.view();
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

  #predictionsByTerrain(from: number, to: number, terrains: TerrainInfo[]): EvalSummary["byTerrain"] {
    const t = this.#t.view();
    const types = this.#type.view();
    const pred = this.#pred.view();
    const conf = this.#conf.view();
    const gt = this.#gt.view();
    const boundary = this.#boundary.view();
    const acc = new Map<number, { n: number; s: number; s2: number; c: number; truth: number }>();
    for (let i = 0; i < t.length; i++) {
      if (t[i]! < from || t[i]! > to || (this.options.excludeBoundaries && boundary[i])) continue;
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

  summary(): EvalSummary {
    const o = this.options;
    const end = this.#lastStamp;
    const start = Math.max(this.#firstStamp, end - o.finalWindow);
    const inc = !o.excludeBoundaries;
    const fin = this.#metrics(start, end, inc, false);
    const finBase = this.#metrics(start, end, inc, true);
    const terrains = this.#terrainTable();
    const curve: EvalSummary["curve"] = [];
    if (Number.isFinite(this.#firstStamp)) {
      for (let w0 = this.#firstStamp; w0 < end; w0 += o.window) {
        const w1 = Math.min(end, w0 + o.window);
        const m = this.#metrics(w0, w1, inc, false);
        const b = this.#metrics(w0, w1, inc, true);
        const tr0 = Math.max(this.#firstStamp, w1 - o.finalWindow);
        const tm = this.#metrics(tr0, w1, inc, false);
        const tb = this.#metrics(tr0, w1, inc, true);
        curve.push({
          trailingSpearman: tm.spearman,
          trailingMae: tm.mae,
          trailingBaselineSpearman: tb.spearman,
          t: round(w1 - this.#firstStamp, 3),
          spearman: m.spearman,
          mae: m.mae,
          auroc: m.auroc,
          baselineSpearman: b.spearman,
          baselineMae: b.mae,
          cells: m.cells,
        });
      }
    }
    const all = this.#metrics(start, end, true, false);
    const allBase = this.#metrics(start, end, true, true);
    const ov = this.#metrics(this.#firstStamp, end, inc, false);
    const ovBase = this.#metrics(this.#firstStamp, end, inc, true);
    const warnings = [...this.#warnings];
    if (!this.#roughness)
      warnings.push("no ground truth in this bag (/sim/ground_truth/roughness): nothing scored");
    else if (this.#poses.size === 0)
      warnings.push("no true pose in this bag (/sim/ground_truth/pose): nothing scored");
    return {
      spearman: fin.spearman,
      mae: fin.mae,
      auroc: fin.auroc,
      confidenceAuroc: this.#confidenceAuroc(start, end, terrains),
      cells: fin.cells,
      window: { start: round(start - this.#firstStamp, 3), end: round(end - this.#firstStamp, 3) },
      baseline: finBase,
      allCells: { ...all, baseline: allBase },
      overall: {
        ...ov,
        baseline: ovBase,
        confidenceAuroc: this.#confidenceAuroc(this.#firstStamp, end, terrains),
      },
      curve,
      byTerrain: this.#predictionsByTerrain(start, end, terrains),
      labels: {
        count: this.#labelT.length,
        spearman: spearman(this.#labelValue.view(), this.#labelTruth.view()),
        mae: mae(this.#labelValue.view(), this.#labelTruth.view()),
        pearson: pearson(this.#labelValue.view(), this.#labelTruth.view()),
        byTerrain: this.#labelsByTerrain(terrains),
      },
      frames: this.#frames,
      framesScored: this.#framesScored,
      terrains,
      options: o,
      warnings,
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
