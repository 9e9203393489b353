// Supervision: the stamp-ordered sensor inputs into the SelfSupervisor (pose history, vibration
// labeller, keyframes, association), and out of it labels and training samples, the samples as
// rows the learner takes: one (feature vector, target, coverage weight) per covered feature cell.
// Also the sensor-fault diagnostics the graph reports (camera gaps, odometry jumps).

import { calibrateLogEnergy, logEnergyForRoughness } from "../../core/label-calibration.ts";
import type { LabelEnergyOverride } from "../../core/labeller.ts";
import { NearViewMap, type TaughtCell } from "../../core/near-view-teacher.ts";
import { describeGround, type GroundPlane, SelfSupervisor } from "../../core/self-supervisor.ts";
import type { OdomSample, Pose2, RoughnessLabel, Stamp } from "../../core/types.ts";
import type { FeatureMap } from "../../learning/backbone.ts";
import type { SampleRows } from "../../learning/sample-rows.ts";
import type { Config } from "../config.ts";
import type { PipelineDiagnostics } from "../events.ts";
import type { GraphInput } from "./inputs.ts";

export type { SampleRows };

/** A camera silent for longer than this (s) is a gap in the diagnostics. */
const CAMERA_GAP_S = 2;
/** An odometry step longer than ODOM_JUMP_M + ODOM_JUMP_SPEED_FACTOR·max(|v|, 0.5 m/s)·dt is a jump. */
const ODOM_JUMP_M = 1;
const ODOM_JUMP_SPEED_FACTOR = 3;

export class SupervisionStage {
  readonly supervisor: SelfSupervisor<FeatureMap>;
  readonly counts = { labels: 0, samples: 0, rows: 0, taughtRows: 0 };
  #nearView: NearViewMap | undefined;
  readonly #teacherWeight: number;
  readonly #exponent: number;
  readonly diagnostics: PipelineDiagnostics = {
    cameraGaps: 0,
    longestCameraGap: 0,
    framesBackwards: 0,
    odomJumps: 0,
  };
  #lastFrameStamp = Number.NaN;
  #kx = new Float64Array(0);
  #ky = new Float64Array(0);
  #lastOdom = { stamp: Number.NaN, x: 0, y: 0, speed: 0 };
  /** The ground plane last checked, and the line last reported about it. */
  #groundSeen: GroundPlane | undefined;
  #groundLine = "";

  /**
   * @param channels feature channels per row
   * @param rawTargets rows carry log10(energy) + calibration bounds (the learner maps them)
   * @param labelEnergy diagnostic: label energies not from the vibration (EvalOptions.truthLabels)
   * @param note one line when the ground plane the camera is projected onto is known or changes
   */
  constructor(
    private readonly config: Config,
    private readonly channels: number,
    private readonly rawTargets: boolean,
    labelEnergy?: LabelEnergyOverride,
    private readonly note?: (m: string) => void,
  ) {
    this.supervisor = new SelfSupervisor<FeatureMap>({
      frames: config.frames,
      fusion: config.fusion,
      keyframes: config.keyframes,
      labeler: config.labeler,
      association: config.association,
      labelEnergy,
    } as ConstructorParameters<typeof SelfSupervisor<FeatureMap>>[0]);
    this.#teacherWeight = config.association.near_teacher_weight;
    this.#exponent = config.labeler.calibration.exponent;
    if (this.#teacherWeight > 0) this.#nearView = new NearViewMap();
  }

  /** True when far views are taught by near ones (`association.near_teacher_weight` > 0). */
  get teachesFarViews(): boolean {
    return this.#nearView !== undefined;
  }

  /** A frame's raw predictions at its cells' ground points (odom), the robot at `pose`, for the near-view map. */
  observePredictions(
    stamp: Stamp,
    pose: Pose2 | null,
    xs: Float64Array,
    ys: Float64Array,
    roughness: Float32Array,
    confidence: Float32Array,
  ): void {
    const map = this.#nearView;
    if (!map) return;
    if (pose) map.observe(stamp, xs, ys, roughness, confidence, pose.x, pose.y);
  }

  /**
   * The stamps went back (fusion's `clockJump`): everything kept by stamp starts afresh. Drain with
   * `final` first, so the labels of the timeline before are made and associated with its keyframes.
   */
  restartTime(): void {
    this.supervisor.restartTime();
    if (this.#nearView) this.#nearView = new NearViewMap(this.#nearView.settings);
    this.#lastFrameStamp = Number.NaN;
    this.#lastOdom.stamp = Number.NaN;
  }

  /** One stamp-ordered input (frames only count towards the diagnostics here). */
  onInput(e: GraphInput): void {
    switch (e.kind) {
      case "imu":
        this.supervisor.onImu(e.sample);
        return;
      case "odom":
        this.#checkOdom(e.sample);
        this.supervisor.onOdom(e.sample);
        return;
      case "transforms":
        this.supervisor.onTransforms(e.transforms);
        this.#checkGround();
        return;
      case "cameraInfo":
        this.supervisor.onCameraInfo(e.model);
        this.#checkGround();
        return;
      case "frame":
        this.#frameArrived(e.stamp);
        return;
      default:
    }
  }

  /** Labels made since the last call and their samples as rows (`final`: the last steps too). */
  drain(stamp: Stamp, final = false): { labels: RoughnessLabel[]; rows: SampleRows | undefined } {
    const { labels, samples } = final ? this.supervisor.flush() : this.supervisor.drain();
    this.counts.labels += labels.length;
    const C = this.channels;
    let n = 0;
    for (const s of samples) if (this.supervisor.keyframeData(s.keyframeId)) n += s.cells.length;
    const taught = this.#taught();
    for (const t of taught) n += t.cells.length;
    if (n === 0) return { labels, rows: undefined };
    const features = new Float32Array(n * C);
    const targets = new Float32Array(n);
    const weights = new Float32Array(n);
    // Raw log-energies + the current bounds: the learner re-maps its whole buffer when the labeller's
    // percentile calibration moves, so early labels do not keep a roughness from a stale calibration.
    const raw = this.rawTargets;
    const { lo, hi } = raw ? this.supervisor.calibrationBounds() : { lo: 0, hi: 1 };
    let row = 0;
    for (const s of samples) {
      const fm = this.supervisor.keyframeData(s.keyframeId);
      if (!fm) continue;
      for (let i = 0; i < s.cells.length; i++) {
        const cell = s.cells[i]!;
        features.set(fm.data.subarray(cell * C, cell * C + C), row * C);
        targets[row] = raw ? Math.log10(Math.max(s.label.energy, 1e-12)) : s.roughness;
        weights[row] = s.cellWeights[i]!;
        row++;
      }
    }
    for (const t of taught) {
      for (const c of t.cells) {
        const target = raw ? logEnergyForRoughness(c.roughness, lo, hi, this.#exponent) : c.roughness;
        if (!Number.isFinite(target)) continue;
        features.set(t.data.subarray(c.cell * C, c.cell * C + C), row * C);
        targets[row] = target;
        weights[row] = this.#teacherWeight * c.confidence;
        row++;
        this.counts.taughtRows++;
      }
    }
    this.counts.samples += samples.length;
    this.counts.rows += row;
    return {
      labels,
      rows: {
        stamp,
        features: features.subarray(0, row * C),
        targets: targets.subarray(0, row),
        weights: weights.subarray(0, row),
        n: row,
        channels: C,
        targetKind: raw ? "logEnergy" : "roughness",
        lo,
        hi,
      },
    };
  }

  /**
   * Rows of a keyframe's cells taught as labels of the given log10 energies would be, weight 1
   * (EvalOptions.truthCells).
   */
  truthRows(stamp: Stamp, data: Float32Array, cells: number[], logEnergy: number[]): SampleRows | undefined {
    const C = this.channels;
    const n = cells.length;
    if (n === 0) return undefined;
    const raw = this.rawTargets;
    const { lo, hi } = this.supervisor.calibrationBounds();
    const features = new Float32Array(n * C);
    const targets = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const cell = cells[i]!;
      features.set(data.subarray(cell * C, cell * C + C), i * C);
      const logE = logEnergy[i]!;
      targets[i] = raw ? logE : calibrateLogEnergy(logE, lo, hi, this.#exponent);
    }
    this.counts.rows += n;
    const weights = new Float32Array(n).fill(1);
    return {
      stamp,
      features,
      targets,
      weights,
      n,
      channels: C,
      targetKind: raw ? "logEnergy" : "roughness",
      lo,
      hi,
    };
  }

  /** Far cells of the keyframes the robot has driven past, with what the near views saw there. */
  #taught(): { data: Float32Array; cells: TaughtCell[] }[] {
    const map = this.#nearView;
    if (!map) return [];
    const out: { data: Float32Array; cells: TaughtCell[] }[] = [];
    for (const k of this.supervisor.takeKeyframesPassed(map.settings.farMax)) {
      const m = k.grid.rows * k.grid.cols;
      if (this.#kx.length < m) {
        this.#kx = new Float64Array(m);
        this.#ky = new Float64Array(m);
      }
      const xs = this.#kx.subarray(0, m);
      const ys = this.#ky.subarray(0, m);
      if (!this.supervisor.projectGridToGround(k.stamp, k.grid, xs, ys, k.pose, undefined, k.mount)) continue;
      const cells = map.teach(xs, ys, k.pose.x, k.pose.y);
      if (cells.length) out.push({ data: k.data.data, cells });
    }
    return out;
  }

  /** Camera gaps and frames out of order, for the diagnostics (the frame is processed either way). */
  #frameArrived(stamp: Stamp): void {
    const last = this.#lastFrameStamp;
    if (!Number.isFinite(stamp)) return;
    if (Number.isFinite(last)) {
      if (!(stamp > last)) {
        this.diagnostics.framesBackwards++;
        return;
      }
      const gap = stamp - last;
      if (gap > CAMERA_GAP_S) this.diagnostics.cameraGaps++;
      if (gap > this.diagnostics.longestCameraGap) this.diagnostics.longestCameraGap = gap;
    }
    this.#lastFrameStamp = stamp;
  }

  /** Reports the ground plane once the camera is known, and again whenever it changes. */
  #checkGround(): void {
    const sup = this.supervisor;
    const plane = sup.groundPlane;
    // The supervisor replaces the object only when it looks at TF again: cheap to test per input.
    if (plane === this.#groundSeen || !sup.cameraModel) return;
    this.#groundSeen = plane;
    const line = describeGround(plane, this.config.frames);
    if (line === this.#groundLine) return;
    this.#groundLine = line;
    this.note?.(`terrain-learner: ${line}`);
  }

  /** Odometry that moves further than its own speed allows (counted; the pose is used as it is). */
  #checkOdom(s: OdomSample): void {
    const { x, y } = s.pose.position;
    const speed = Math.hypot(s.linear.x, s.linear.y);
    if (!Number.isFinite(s.stamp) || !Number.isFinite(x) || !Number.isFinite(y)) return;
    const last = this.#lastOdom;
    if (Number.isFinite(last.stamp)) {
      const dt = s.stamp - last.stamp;
      if (!(dt > 0)) return;
      const v = Math.max(Number.isFinite(speed) ? speed : 0, last.speed, 0.5);
      if (Math.hypot(x - last.x, y - last.y) > ODOM_JUMP_M + ODOM_JUMP_SPEED_FACTOR * v * dt)
        this.diagnostics.odomJumps++;
    }
    last.stamp = s.stamp;
    last.x = x;
    last.y = y;
    last.speed = Number.isFinite(speed) ? speed : 0;
  }
}
