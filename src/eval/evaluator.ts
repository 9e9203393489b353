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

import { type Mat34, mat34Compose } from "../core/geometry.ts";
import type { CameraModel, OdomSample, RoughnessGrid, Transform } from "../core/types.ts";
import { Column } from "./column.ts";
import { summarise } from "./eval-summary.ts";
import { DEFAULT_EVAL_OPTIONS, type EvalOptions, type EvalSummary } from "./eval-types.ts";
import { type FrameTruth, projectFrameTruth } from "./frame-truth.ts";
import { type GridMap, gridIndex, staticChain, type TerrainInfo, TruePoses } from "./ground-truth.ts";

export {
  DEFAULT_EVAL_OPTIONS,
  type EvalOptions,
  type EvalSummary,
  type MetricSet,
  type StabilitySummary,
} from "./eval-types.ts";

/** log10 of the energy the truth diagnostics give ground of true roughness r (0..1): 2·r − 1.2. */
export function truthLogEnergy(r: number): number {
  return 2 * r - 1.2;
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
  #lastTruth: { stamp: number; truth: FrameTruth | null } | undefined;
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

  /**
   * The energy a label of the step t0..t1 gets under EvalOptions.truthLabels: 10^(2·r − 1.2), r the
   * mean true roughness under the robot (true pose) at five instants of the step (the simulator's
   * vibration spans about the same decades); undefined without truth.
   */
  truthLabelEnergy(t0: number, t1: number): number | undefined {
    const m = this.#roughness;
    if (!m) return undefined;
    let sum = 0;
    let n = 0;
    for (let k = 0; k < 5; k++) {
      if (!this.#poses.at(t0 + ((t1 - t0) * k) / 4, this.#worldFromBase)) continue;
      const i = gridIndex(m, this.#worldFromBase[3]!, this.#worldFromBase[7]!);
      const v = i >= 0 ? m.values[i]! : -1;
      if (v < 0) continue;
      sum += v / 100;
      n++;
    }
    if (n === 0) {
      this.truthLabelMisses++;
      return undefined;
    }
    return 10 ** truthLogEnergy(sum / n);
  }

  /** Labels that kept their measured energy under truthLabels (no truth for their step). */
  truthLabelMisses = 0;

  /** Terrain type under the robot (true pose) at `stamp`; −1 when unknown. */
  terrainUnderRobot(stamp: number): number {
    const m = this.#terrain;
    if (!m || !this.#poses.at(stamp, this.#worldFromBase)) return -1;
    const j = gridIndex(m, this.#worldFromBase[3]!, this.#worldFromBase[7]!);
    return j >= 0 ? m.values[j]! : -1;
  }

  /** The ground truth scoreFrame computed for the frame at `stamp` (undefined for another frame). */
  lastTruth(stamp: number): FrameTruth | null | undefined {
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
  ): FrameTruth | null {
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
    return projectFrameTruth(cam, this.#worldFromOptical, grid, rough, this.#terrain, this.#p);
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

  summary(): EvalSummary {
    const warnings = [...this.#warnings];
    if (!this.#roughness)
      warnings.push("no ground truth in this bag (/sim/ground_truth/roughness): nothing scored");
    else if (this.#poses.size === 0)
      warnings.push("no true pose in this bag (/sim/ground_truth/pose): nothing scored");
    if (this.truthLabelMisses > 0)
      warnings.push(
        `truth labels: ${this.truthLabelMisses} labels kept their measured energy (no truth for their step)`,
      );
    return summarise({
      cells: {
        t: this.#t.view(),
        pred: this.#pred.view(),
        conf: this.#conf.view(),
        gt: this.#gt.view(),
        base: this.#base.view(),
        type: this.#type.view(),
        boundary: this.#boundary.view(),
      },
      labels: {
        t: this.#labelT.view(),
        value: this.#labelValue.view(),
        truth: this.#labelTruth.view(),
        type: this.#labelType.view(),
      },
      options: this.options,
      firstStamp: this.#firstStamp,
      lastStamp: this.#lastStamp,
      worldTerrains: this.#terrains,
      drivenByTrajectory: this.#drivenByTrajectory,
      frames: this.#frames,
      framesScored: this.#framesScored,
      warnings,
    });
  }
}
