// OnlineLearner: replay buffer + feature standardisation + roughness/novelty head + confidence.
//
//   addSamples(features n×C, roughness targets, weights)   from the association (one row per cell)
//   train(steps)                                             Adam steps on batches from the buffer
//   predict(features n×C, n) → roughness, confidence         one batched call per frame
//
// Features are standardised with running mean/std (Welford over every training sample), because raw
// filter energies and user backbones' activations come in arbitrary scales. The buffer keeps raw
// features, so a drifting normaliser never corrupts stored samples.
//
// Confidence: after each train() call the autoencoder's log reconstruction error is measured on a
// sample of the buffer (mean μ, std σ). A cell with error z = (log e − μ)/σ standard deviations above
// the training ground gets confidence exp(−½(z/confidence_sigma)²) (1 at or below μ). Before any
// training every cell has confidence 0: the model knows nothing yet.
//
// Targets: addSamples takes either roughness 0..1 directly, or raw label values (log10 vibration
// energy, what the pipeline passes) together with setLabelCalibration(lo, hi); the buffer keeps the
// raw values and every drawn batch is mapped with the latest bounds (the labeller's percentiles move
// as the robot meets new ground, and a sample labelled early must not keep a stale roughness).
//
// Head target (learner.head_target): "log_energy" trains the head on log10 energy in fixed units
// and calibrates only its output (output-calibration.ts), so a moving percentile calibration never
// rewrites what the head has to learn; "roughness" trains on the calibrated label itself.
//
// Published weights (learner.weight_average_half_life > 0): predictions, hand-overs and
// checkpoints use an exponential moving average of the trained weights, not the last step's.
//
// Prediction runs as one onnxruntime session (onnx-predictor.ts: standardise, MLP, kNN or autoencoder
// score in a single native call) whose weights are inputs, fed from the tfjs head, which stays the
// trainer. If that session cannot be built, predict() warns once and uses the tfjs head + KnnNovelty.
//
// Scheduling is the caller's: replay drives train() from sensor stamps with TrainingClock, live mode
// runs the same learner in a worker (worker.ts) and hands weights to a predict-only copy here.

import type * as ort from "onnxruntime-node";
import { calibrateLogEnergy } from "../core/labeller.ts";
import { modelSha256, resolveBackbonePath } from "./backbone.ts";
import { type LoadedCheckpoint, readLatestCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import type { LearnerConfig } from "./config.ts";
import { TerrainHead } from "./head.ts";
import { KnnNovelty, type KnnSearchState } from "./novelty.ts";
import { backboneChannelNames, invariantProjection } from "./novelty-features.ts";
import { OnnxPredictor, type OnnxPredictorOptions } from "./onnx-predictor.ts";
import { calibrateHeadOutputs, logEnergyTarget, targetUnits } from "./output-calibration.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import { type BackendName, type BackendPreference, initBackend, tf } from "./tf-backend.ts";

export { TrainingClock } from "./schedule.ts";

/** Standardised inputs are clipped: one wild feature must not saturate the whole head. */
const CLIP = 8;
/** Floor on a channel's std: a channel constant so far (e.g. no colour texture yet) stays bounded. */
const MIN_STD = 1e-2;
/** Samples used to measure the training reconstruction-error distribution. */
const ERR_PROBE = 256;
/** Training steps between refreshes of the novelty references and statistics. */
const STATS_EVERY = 20;
const MAGIC = 0x31484c54; // "TLH1"
/**
 * Weights format: 2 added the head target and its fixed units (format 1 heads predicted calibrated
 * roughness through a sigmoid; their weights mean something else and are refused).
 */
const FORMAT = 2;
/** 8 u32 + 12 f64. */
const HEADER_BYTES = 8 * 4 + 12 * 8;
/** Confidence: log(score + CONF_EPS), and a floor on the training errors' spread. */
const CONF_EPS = 1e-8;
const MIN_ERR_STD = 0.05;
/** Weights are (de)serialised by byte copies on little-endian hosts (all onnxruntime-node ships for). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Writes `values` as little-endian float32 at byte `offset` of `dv`. */
function putFloat32s(dv: DataView, offset: number, values: Float32Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(dv.buffer, dv.byteOffset + offset, values.byteLength).set(
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
  } else {
    for (let i = 0; i < values.length; i++) dv.setFloat32(offset + 4 * i, values[i] as number, true);
  }
}

/** Reads `count` little-endian float32 at byte `offset` of `dv` (any alignment) into a new array. */
function getFloat32s(dv: DataView, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(new Uint8Array(dv.buffer, dv.byteOffset + offset, 4 * count));
  } else {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  }
  return out;
}

export interface LearnerStats {
  backend: BackendName;
  bufferSize: number;
  samplesSeen: number;
  trainSteps: number;
  lastLoss: number;
  lastReconLoss: number;
  numTensors: number;
  binSizes: number[];
  /** Log reconstruction error of training samples: mean and std (NaN before training). */
  errorMean: number;
  errorStd: number;
}

/**
 * What a standalone predictor needs to compute predict() (learning/export-graph.ts): the onnxruntime
 * predictor's graph options and weight inputs, and the confidence map
 * exp(−½(max(0, (log(score + eps) − mean)/std)/sigma)²).
 */
export interface PredictorExport {
  options: OnnxPredictorOptions;
  inputs: Record<string, ort.Tensor>;
  confidence: { eps: number; mean: number; std: number; sigma: number };
  labelCalibration: { lo: number; hi: number } | null;
  trainSteps: number;
}

/** The learner settings a checkpoint's weights are only meaningful with (recorded in its manifest). */
export const PREDICTION_SETTINGS = [
  "backbone",
  "input_width",
  "hidden_units",
  "bottleneck",
  "novelty",
  "novelty_references",
  "novelty_neighbors",
  "novelty_metric",
  "novelty_ridge",
  "novelty_features",
  "confidence_sigma",
  "head_target",
] as const satisfies readonly (keyof LearnerConfig)[];

export interface LearnerOptions {
  warn?: (message: string) => void;
  /**
   * Per-frame prediction: "onnx" (default) runs it as one onnxruntime session (onnx-predictor.ts),
   * falling back to "tfjs" (the tfjs head + KnnNovelty in JS) when that session cannot be built.
   */
  predictor?: "onnx" | "tfjs";
}

export class OnlineLearner {
  readonly cfg: LearnerConfig;
  readonly channels: number;
  readonly backend: BackendName;
  private head: TerrainHead;
  private readonly buffer: ReplayBuffer;
  private readonly warn: (m: string) => void;
  // Welford running statistics of raw features (float64).
  private normCount = 0;
  private readonly normMean: Float64Array;
  private readonly normM2: Float64Array;
  private readonly shift: Float32Array;
  private readonly scale: Float32Array;
  private normDirty = true;
  // Reused scratch: batches and standardised prediction inputs.
  private readonly bx: Float32Array;
  private readonly by: Float32Array;
  private readonly bw: Float32Array;
  private readonly px: Float32Array;
  private readonly py: Float32Array;
  private readonly pw: Float32Array;
  private zbuf = new Float32Array(0);
  private steps = 0;
  private lastLoss = Number.NaN;
  private lastReconLoss = Number.NaN;
  private readonly knn: KnnNovelty | null;
  private readonly rx: Float32Array;
  private readonly rt: Float32Array;
  private readonly rw: Float32Array;
  private errMean = Number.NaN;
  /** trainSteps when the novelty statistics were last refreshed. */
  private statsAt = Number.NEGATIVE_INFINITY;
  private errStd = Number.NaN;
  /** Label calibration bounds on raw targets (NaN: targets are roughness already). */
  private calLo = Number.NaN;
  private calHi = Number.NaN;
  /** Per-frame predictor (onnx-predictor.ts), built on the first predict(); null: tfjs + JS fallback. */
  private ort: OnnxPredictor | null | undefined;
  /** Bumped whenever the head's weights / the kNN references change; the predictor copies lazily. */
  private headVersion = 0;
  private refsVersion = 0;
  private ortHeadAt = -1;
  private ortRefsAt = -1;
  /** head_target log_energy: the head's output is a log-energy target, calibrated at the output. */
  private readonly logHead: boolean;
  /** Fixed target units of a log-energy head (set by the first label calibration). */
  private units: { offset: number; scale: number } | null = null;
  /** Moving average of the head's weights (weight_average_half_life > 0), what predicts. */
  private average: Float32Array[] | null = null;
  /** The tfjs fallback's copy of the averaged weights, and the headVersion it holds. */
  private published: TerrainHead | null = null;
  private publishedAt = -1;

  private constructor(
    cfg: LearnerConfig,
    channels: number,
    backend: BackendName,
    opts: LearnerOptions,
    projection: { matrix: Float32Array; dims: number } | null,
  ) {
    this.cfg = cfg;
    this.channels = channels;
    this.backend = backend;
    this.warn = opts.warn ?? ((m) => console.warn(m));
    if (opts.predictor === "tfjs") this.ort = null;
    this.logHead = cfg.head_target === "log_energy";
    this.head = new TerrainHead(
      {
        channels,
        hidden: cfg.hidden_units,
        bottleneck: cfg.bottleneck,
        learningRate: cfg.learning_rate,
        seed: cfg.seed,
        trainReconstruction: cfg.novelty === "autoencoder",
        output: this.logHead ? "linear" : "sigmoid",
      },
      backend,
    );
    this.buffer = new ReplayBuffer({
      capacity: cfg.buffer_size,
      channels,
      balance: cfg.balance,
      bins: cfg.bins,
      seed: cfg.seed,
      recentShare: cfg.recent_share,
      recentSamples: cfg.recent_samples,
    });
    this.normMean = new Float64Array(channels);
    this.normM2 = new Float64Array(channels);
    this.shift = new Float32Array(channels);
    this.scale = new Float32Array(channels).fill(1);
    this.bx = new Float32Array(cfg.batch_size * channels);
    this.by = new Float32Array(cfg.batch_size);
    this.bw = new Float32Array(cfg.batch_size);
    this.px = new Float32Array(ERR_PROBE * channels);
    this.py = new Float32Array(ERR_PROBE);
    this.pw = new Float32Array(ERR_PROBE);
    this.knn =
      cfg.novelty === "knn"
        ? new KnnNovelty(channels, cfg.novelty_neighbors, cfg.novelty_metric, projection, cfg.novelty_ridge)
        : null;
    this.rx = new Float32Array(this.knn ? cfg.novelty_references * channels : 0);
    this.rt = new Float32Array(this.knn ? cfg.novelty_references : 0);
    this.rw = new Float32Array(this.knn ? cfg.novelty_references : 0);
  }

  /** Initialises the tfjs backend (cfg.backend) for this thread and builds the networks. */
  static async create(
    cfg: LearnerConfig,
    channels: number,
    opts: LearnerOptions = {},
  ): Promise<OnlineLearner> {
    if (!Number.isInteger(channels) || channels < 1)
      throw new Error(`learner needs a positive channel count, got ${channels}`);
    const backend = await initBackend(cfg.backend as BackendPreference);
    let projection: { matrix: Float32Array; dims: number } | null = null;
    if (cfg.novelty === "knn" && cfg.novelty_features === "invariant") {
      // The same file the pipeline's backbone is loaded from (Backbone.fromConfig).
      const path = resolveBackbonePath(cfg.backbone);
      // Null (all features, no warning: this is the default) for a backbone without channel names
      // or features that are not its head layout (a learner fed something else, as in tests).
      projection = invariantProjection(backboneChannelNames(path), channels);
    }
    const learner = new OnlineLearner(cfg, channels, backend, opts, projection);
    // The predictor's session now rather than on the first frame (a few ms; ~80 ms when it is the
    // process's first onnxruntime session), and a fallback warning at start-up rather than mid-run.
    learner.predictor();
    return learner;
  }

  get trainSteps(): number {
    return this.steps;
  }
  get bufferSize(): number {
    return this.buffer.size;
  }

  /** Adds n = targets.length samples (features row-major n×C); non-finite rows are dropped. */
  addSamples(features: Float32Array, targets: Float32Array, weights?: Float32Array): void {
    const n = targets.length;
    const C = this.channels;
    if (features.length < n * C) {
      throw new Error(`addSamples: features has ${features.length} floats for ${n} targets × ${C} channels`);
    }
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(targets[i] as number)) continue;
      let finite = true;
      for (let k = 0; k < C; k++) if (!Number.isFinite(features[i * C + k] as number)) finite = false;
      if (!finite) continue;
      this.normCount++;
      const inv = 1 / this.normCount;
      for (let k = 0; k < C; k++) {
        const x = features[i * C + k] as number;
        const m = this.normMean[k] as number;
        const d = x - m;
        const m2 = m + d * inv;
        this.normMean[k] = m2;
        this.normM2[k] = (this.normM2[k] as number) + d * (x - m2);
      }
    }
    this.normDirty = true;
    this.buffer.add(features, targets, weights, n);
  }

  /**
   * Stored targets are log10(energy); train on calibrateLogEnergy(target, lo, hi). Called with the
   * labeller's current bounds whenever they move; a change smaller than 0.5 % of the range keeps the
   * current map (re-binning the buffer on every label would cost more than it is worth).
   */
  setLabelCalibration(lo: number, hi: number): void {
    if (!(hi > lo)) throw new Error(`label calibration needs lo < hi, got [${lo}, ${hi}]`);
    const tol = 0.005 * (hi - lo);
    if (Math.abs(lo - this.calLo) <= tol && Math.abs(hi - this.calHi) <= tol) return;
    this.calLo = lo;
    this.calHi = hi;
    const calibrate = (raw: number) => calibrateLogEnergy(raw, lo, hi);
    if (!this.logHead) {
      this.buffer.setTargetMap(calibrate);
      return;
    }
    // Units fixed once: later calibrations only move the output map and the roughness bins.
    this.units ??= targetUnits(lo, hi);
    const units = this.units;
    this.buffer.setTargetMap((raw) => logEnergyTarget(raw, units), calibrate);
  }

  /** Head outputs → roughness in place (a log-energy head; a roughness head's are final). */
  private toRoughness(values: Float32Array, n: number): Float32Array {
    if (!this.logHead) return values;
    const u = this.units;
    if (u && this.calHi > this.calLo)
      return calibrateHeadOutputs(values, n, { ...u, lo: this.calLo, hi: this.calHi });
    // Targets given as roughness (no calibration): the linear output is roughness already.
    for (let i = 0; i < n; i++) values[i] = Math.min(1, Math.max(0, values[i] as number));
    return values;
  }

  /** The bounds set by setLabelCalibration (null: targets are used as given). */
  get labelCalibration(): { lo: number; hi: number } | null {
    return this.calHi > this.calLo ? { lo: this.calLo, hi: this.calHi } : null;
  }

  private refreshNorm(): void {
    if (!this.normDirty) return;
    this.normDirty = false;
    const n = this.normCount;
    for (let k = 0; k < this.channels; k++) {
      this.shift[k] = n > 0 ? (this.normMean[k] as number) : 0;
      const variance = n > 1 ? (this.normM2[k] as number) / (n - 1) : 1;
      this.scale[k] = 1 / Math.max(Math.sqrt(variance), MIN_STD);
    }
  }

  /** In place: x ← clip((x − mean)/std). */
  private standardise(x: Float32Array, n: number): void {
    this.refreshNorm();
    const C = this.channels;
    for (let i = 0; i < n; i++) {
      const o = i * C;
      for (let k = 0; k < C; k++) {
        const z = ((x[o + k] as number) - (this.shift[k] as number)) * (this.scale[k] as number);
        x[o + k] = Math.max(-CLIP, Math.min(CLIP, z));
      }
    }
  }

  /**
   * Runs `steps` Adam steps (none until the buffer holds cfg.minSamples). The loss of the last step is
   * returned; the novelty statistics are refreshed at the end.
   */
  async train(steps: number): Promise<{ loss: number; steps: number }> {
    if (steps <= 0 || this.buffer.size < this.cfg.min_samples) return { loss: this.lastLoss, steps: 0 };
    const B = this.cfg.batch_size;
    for (let s = 0; s < steps; s++) {
      const n = this.buffer.sample(B, this.bx, this.by, this.bw);
      this.standardise(this.bx, n);
      const last = s === steps - 1;
      const r = this.head.trainStep(this.bx, this.by, this.bw, n, last);
      if (last) {
        this.lastLoss = r.loss;
        this.lastReconLoss = r.reconLoss;
      }
      this.steps++;
    }
    this.updateAverage(steps);
    this.headVersion++;
    // Refreshing the novelty references/statistics costs about as much as a few steps: not after
    // every small chunk (the live worker trains 4 steps at a time), and always before weights leave.
    if (this.steps - this.statsAt >= STATS_EVERY) this.updateErrorStats();
    return { loss: this.lastLoss, steps };
  }

  /** Folds the trained weights into the moving average (one call per train() block). */
  private updateAverage(steps: number): void {
    const halfLife = this.cfg.weight_average_half_life;
    if (!(halfLife > 0)) return;
    const w = this.head.getWeights();
    const avg = this.average;
    if (!avg) {
      this.average = w;
      return;
    }
    const keep = 0.5 ** (steps / halfLife);
    for (let i = 0; i < w.length; i++) {
      const a = avg[i] as Float32Array;
      const b = w[i] as Float32Array;
      for (let j = 0; j < a.length; j++) a[j] = keep * (a[j] as number) + (1 - keep) * (b[j] as number);
    }
  }

  /** The weights that predict: the moving average when there is one, else the trained ones. */
  private publishedWeights(): Float32Array[] {
    return this.average ? this.average.map((a) => a.slice()) : this.head.getWeights();
  }

  private updateErrorStats(): void {
    // A predict-only copy (live predictor) has no buffer: keep the statistics it was handed.
    if (this.buffer.size < 2) return;
    this.statsAt = this.steps;
    if (this.knn) {
      // Fresh references from the (balanced) buffer, then calibrate on another draw.
      const m = this.buffer.sampleDistinct(this.cfg.novelty_references, this.rx, this.rt, this.rw);
      this.standardise(this.rx, m);
      this.knn.rebuild(this.rx, m);
      this.refsVersion++;
    }
    const n = this.buffer.sample(ERR_PROBE, this.px, this.py, this.pw, false);
    if (n < 2) return;
    const score = this.probeScores(n);
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.log((score[i] as number) + 1e-8);
      s += l;
      s2 += l * l;
    }
    this.errMean = s / n;
    this.errStd = Math.sqrt(Math.max(s2 / n - this.errMean * this.errMean, 0));
  }

  /**
   * Leave-one-out novelty of the n raw rows in px (standardised in place). Through the onnxruntime
   * predictor when there is one: the same computation as predict(), and the kNN candidates come from
   * its TopK instead of a JS search index that would have to be rebuilt for every new reference set.
   */
  private probeScores(n: number): Float32Array {
    this.refreshNorm();
    const p = this.predictor();
    let idx: { idx: BigInt64Array; kk: number } | null = null;
    let score: Float32Array | null = null;
    try {
      if (p && this.knn) idx = p.nearest(this.px, n, this.cfg.novelty_neighbors + 1);
      else if (p) score = p.run(this.px, n).score;
    } catch (err) {
      this.dropPredictor(`failed: ${(err as Error).message}`);
    }
    this.standardise(this.px, n);
    if (idx && this.knn) return this.knn.scoreCandidates(this.px, n, idx.idx, idx.kk, true);
    return score ?? this.novelty(this.px, n, true);
  }

  /** Raw novelty of standardised rows: kNN distance or autoencoder reconstruction error. */
  private novelty(z: Float32Array, n: number, leaveOneOut: boolean, reconError?: Float32Array): Float32Array {
    if (this.knn) return this.knn.score(z, n, leaveOneOut);
    return reconError ?? this.head.predict(z, n).reconError;
  }

  /** Maps a reconstruction error to confidence 0..1 (0 when nothing has been trained yet). */
  confidenceOf(reconError: number): number {
    if (!(this.steps > 0) || !Number.isFinite(this.errMean)) return 0;
    const z = (Math.log(reconError + CONF_EPS) - this.errMean) / Math.max(this.errStd, MIN_ERR_STD);
    if (!(z > 0)) return z <= 0 ? 1 : 0; // NaN error → 0
    const u = z / this.cfg.confidence_sigma;
    return Math.exp(-0.5 * u * u);
  }

  /**
   * The onnxruntime predictor with the current weights, or null when it cannot be built here (then
   * predict() uses tfjs + KnnNovelty, the trainer's own code; warned once).
   */
  private predictor(): OnnxPredictor | null {
    if (this.ort === undefined) {
      try {
        this.ort = OnnxPredictor.create({
          channels: this.channels,
          hidden: this.cfg.hidden_units,
          bottleneck: this.cfg.bottleneck,
          novelty: this.knn ? "knn" : "autoencoder",
          neighbours: this.cfg.novelty_neighbors,
          searchTransform: this.cfg.novelty_metric === "local" || this.cfg.novelty_features === "invariant",
          clip: CLIP,
          intraOpThreads: this.cfg.predict_threads,
          output: this.logHead ? "linear" : "sigmoid",
        });
        this.ort.setNormaliser(this.shift, this.scale);
      } catch (err) {
        this.dropPredictor(`could not be built: ${(err as Error).message}`);
      }
    }
    const p = this.ort;
    if (!p) return null;
    if (this.ortHeadAt !== this.headVersion) {
      p.setHead(this.publishedWeights(), this.head.shapes());
      this.ortHeadAt = this.headVersion;
    }
    if (this.knn && this.ortRefsAt !== this.refsVersion) {
      p.setReferences(
        this.knn.searchReferences(),
        this.knn.size,
        this.knn.searchTransform(),
        this.knn.searchDims,
      );
      this.ortRefsAt = this.refsVersion;
    }
    return p;
  }

  private dropPredictor(why: string): void {
    this.ort?.dispose();
    this.ort = null;
    this.warn(`learner: onnxruntime head predictor ${why}; predicting with tfjs + JS kNN instead`);
  }

  /** Roughness (0..1) and confidence (0..1) of n feature vectors (row-major n×C), one batched pass. */
  predict(
    features: Float32Array,
    n: number,
  ): { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array } {
    const C = this.channels;
    if (features.length < n * C)
      throw new Error(`predict: features has ${features.length} floats for ${n} × ${C}`);
    this.refreshNorm();
    const p = this.predictor();
    if (p) {
      let out: { roughness: Float32Array; score: Float32Array } | null = null;
      try {
        out = p.run(features, n);
      } catch (err) {
        this.dropPredictor(`failed: ${(err as Error).message}`);
      }
      if (out)
        return {
          roughness: this.toRoughness(out.roughness, n),
          confidence: this.confidences(out.score),
          reconError: out.score,
        };
    }
    return this.predictTf(features, n);
  }

  /** The fallback (and reference) prediction: tfjs head + KnnNovelty in JS. */
  predictTf(
    features: Float32Array,
    n: number,
  ): { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array } {
    const C = this.channels;
    if (features.length < n * C)
      throw new Error(`predict: features has ${features.length} floats for ${n} × ${C}`);
    if (this.zbuf.length < n * C) this.zbuf = new Float32Array(n * C);
    const z = this.zbuf;
    z.set(features.subarray(0, n * C));
    // Non-finite features (a broken backbone output) become the training mean; confidence says the rest.
    for (let i = 0; i < n * C; i++) if (!Number.isFinite(z[i] as number)) z[i] = this.shift[i % C] as number;
    this.standardise(z, n);
    // The autoencoder's reconstruction is only needed when it is the novelty score.
    const head = this.publishedHead().predict(z, n, this.knn === null);
    const reconError = this.novelty(z, n, false, head.reconError);
    return {
      roughness: this.toRoughness(head.roughness, n),
      confidence: this.confidences(reconError),
      reconError,
    };
  }

  /** The tfjs head with the published weights (a copy holding the moving average, when there is one). */
  private publishedHead(): TerrainHead {
    if (!this.average) return this.head;
    if (!this.published) this.published = new TerrainHead(this.head.opts, this.backend);
    if (this.publishedAt !== this.headVersion) {
      this.published.setWeights(this.average);
      this.publishedAt = this.headVersion;
    }
    return this.published;
  }

  private confidences(score: Float32Array): Float32Array {
    const confidence = new Float32Array(score.length);
    for (let i = 0; i < score.length; i++) confidence[i] = this.confidenceOf(score[i] as number);
    return confidence;
  }

  /**
   * The current prediction as a graph's inputs and constants (for export). Throws before any
   * training (every confidence would be 0) or without the onnxruntime predictor.
   */
  exportPredictor(): PredictorExport {
    if (!(this.steps > 0) || !Number.isFinite(this.errMean))
      throw new Error("the learner has not been trained yet: nothing to export");
    this.refreshNorm();
    const p = this.predictor();
    if (!p) throw new Error("the onnxruntime head predictor is unavailable here");
    if (this.knn && this.knn.size === 0) throw new Error("the kNN novelty has no references yet");
    // The graph's output would be the log-energy target, not roughness (output-calibration.ts).
    if (this.logHead)
      throw new Error("export supports learner.head_target roughness only (this head learns log energy)");
    return {
      options: { ...p.opts },
      inputs: p.inputs(),
      confidence: {
        eps: CONF_EPS,
        mean: this.errMean,
        std: Math.max(this.errStd, MIN_ERR_STD),
        sigma: this.cfg.confidence_sigma,
      },
      labelCalibration: this.labelCalibration,
      trainSteps: this.steps,
    };
  }

  // --- weights: everything a predictor needs (networks, normaliser, novelty statistics) -------------

  /** Serialises weights + normaliser + error statistics (little-endian, self-describing header). */
  async getWeights(): Promise<ArrayBuffer> {
    if (this.steps > 0 && this.statsAt !== this.steps) this.updateErrorStats();
    const arrays = this.publishedWeights();
    const C = this.channels;
    const headerBytes = HEADER_BYTES;
    const normBytes = 2 * C * 8;
    const floats = arrays.reduce((a, w) => a + w.length, 0);
    // kNN novelty references travel with the weights: the predictor has no replay buffer.
    const refs = this.knn ? this.knn.references() : new Float32Array(0);
    const refCount = refs.length / C;
    const buf = new ArrayBuffer(headerBytes + normBytes + (floats + refs.length) * 4);
    const dv = new DataView(buf);
    const u32 = [
      MAGIC,
      FORMAT,
      C,
      this.cfg.hidden_units,
      this.cfg.bottleneck,
      arrays.length,
      floats,
      refCount,
    ];
    u32.forEach((v, i) => {
      dv.setUint32(i * 4, v, true);
    });
    const f64 = [
      this.steps,
      this.normCount,
      this.errMean,
      this.errStd,
      this.lastLoss,
      this.lastReconLoss,
      this.calLo,
      this.calHi,
      this.logHead ? 1 : 0,
      this.units?.offset ?? Number.NaN,
      this.units?.scale ?? Number.NaN,
      0,
    ];
    f64.forEach((v, i) => {
      dv.setFloat64(32 + i * 8, v, true);
    });
    let o = headerBytes;
    for (let k = 0; k < C; k++, o += 8) dv.setFloat64(o, this.normMean[k] as number, true);
    for (let k = 0; k < C; k++, o += 8) dv.setFloat64(o, this.normM2[k] as number, true);
    for (const w of arrays) {
      putFloat32s(dv, o, w);
      o += w.byteLength;
    }
    putFloat32s(dv, o, refs);
    return buf;
  }

  /**
   * The kNN novelty's search space for the references getWeights() ships (see setWeights), or null
   * (autoencoder novelty, no references yet). Call after getWeights().
   */
  searchState(): KnnSearchState | null {
    return this.knn ? this.knn.searchState() : null;
  }

  /**
   * Loads weights from getWeights() of a learner with the same channels/hidden/bottleneck. `search`:
   * that learner's searchState() right after, when it has the same novelty settings (the live
   * trainer's worker): the references' search space is taken as it is instead of estimated again.
   */
  setWeights(buf: ArrayBuffer | Uint8Array, search: KnnSearchState | null = null): void {
    const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
    if (bytes.byteLength < HEADER_BYTES)
      throw new Error(`learner weights: ${bytes.byteLength} bytes is too short for the header`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = dv.getUint32(0, true);
    if (magic !== MAGIC) throw new Error(`learner weights: bad magic 0x${magic.toString(16)}`);
    const format = dv.getUint32(4, true);
    if (format !== FORMAT) {
      throw new Error(
        `learner weights: format ${format}, this terrain-learner reads format ${FORMAT} (format 1 was written before the head could learn log energy; its weights cannot be converted: start a fresh model or remove the old checkpoints)`,
      );
    }
    const logHead = dv.getFloat64(96, true) === 1;
    if (logHead !== this.logHead) {
      const name = (b: boolean) => (b ? "log_energy" : "roughness");
      throw new Error(
        `learner weights are for learner.head_target ${name(logHead)}; this learner has ${name(this.logHead)}`,
      );
    }
    const C = dv.getUint32(8, true);
    const hidden = dv.getUint32(12, true);
    const bottleneck = dv.getUint32(16, true);
    const nArrays = dv.getUint32(20, true);
    const floats = dv.getUint32(24, true);
    if (C !== this.channels || hidden !== this.cfg.hidden_units || bottleneck !== this.cfg.bottleneck) {
      throw new Error(
        `learner weights are for ${C} channels/${hidden} hidden/${bottleneck} bottleneck; this learner has ${this.channels}/${this.cfg.hidden_units}/${this.cfg.bottleneck}`,
      );
    }
    const refCount = dv.getUint32(28, true);
    const expected = HEADER_BYTES + 16 * C + 4 * floats + 4 * refCount * C;
    if (bytes.byteLength !== expected)
      throw new Error(`learner weights: ${bytes.byteLength} bytes, expected ${expected}`);
    const shapes = this.head.shapes();
    if (nArrays !== shapes.length)
      throw new Error(`learner weights: ${nArrays} tensors, expected ${shapes.length}`);
    let o = HEADER_BYTES + 16 * C;
    const arrays = shapes.map((shape) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const a = getFloat32s(dv, o, size);
      o += 4 * size;
      return a;
    });
    this.head.setWeights(arrays);
    // A loaded model is what predicts; training goes on from it and the average restarts there.
    this.average = this.cfg.weight_average_half_life > 0 ? arrays.map((a) => a.slice()) : null;
    this.headVersion++;
    // The predictor takes the parsed arrays as they are instead of reading them back out of tfjs.
    if (this.ort) {
      this.ort.setHead(arrays, shapes);
      this.ortHeadAt = this.headVersion;
    }
    if (this.knn) {
      const refs = getFloat32s(dv, o, refCount * C);
      if (search) this.knn.restore(refs, refCount, search);
      else this.knn.rebuild(refs, refCount);
      this.refsVersion++;
    }
    this.steps = dv.getFloat64(32, true);
    this.statsAt = this.steps;
    this.normCount = dv.getFloat64(40, true);
    this.errMean = dv.getFloat64(48, true);
    this.errStd = dv.getFloat64(56, true);
    this.lastLoss = dv.getFloat64(64, true);
    this.lastReconLoss = dv.getFloat64(72, true);
    const offset = dv.getFloat64(104, true);
    const scale = dv.getFloat64(112, true);
    if (this.logHead) this.units = scale > 0 ? { offset, scale } : null;
    // NaN bounds: the writer had no calibration (targets were roughness): keep the current map.
    const lo = dv.getFloat64(80, true);
    const hi = dv.getFloat64(88, true);
    if (hi > lo) {
      this.calLo = Number.NaN; // re-map even when the bounds are the ones already set
      this.setLabelCalibration(lo, hi);
    }
    for (let k = 0; k < C; k++) this.normMean[k] = dv.getFloat64(HEADER_BYTES + 8 * k, true);
    for (let k = 0; k < C; k++) this.normM2[k] = dv.getFloat64(HEADER_BYTES + 8 * (C + k), true);
    this.normDirty = true;
  }

  // --- checkpoints --------------------------------------------------------------------------------

  /** Atomic checkpoint in `dir` (keeps cfg.checkpointKeep). Returns the manifest path. */
  async saveCheckpoint(dir: string): Promise<string> {
    const data = new Uint8Array(await this.getWeights());
    return writeCheckpoint(
      dir,
      data,
      {
        trainSteps: this.steps,
        samplesSeen: this.buffer.totalSeen,
        channels: this.channels,
        hiddenUnits: this.cfg.hidden_units,
        bottleneck: this.cfg.bottleneck,
        backend: this.backend,
        loss: Number.isFinite(this.lastLoss) ? this.lastLoss : null,
        learner: Object.fromEntries(PREDICTION_SETTINGS.map((k) => [k, this.cfg[k]])),
        backboneSha256: this.backboneSha256(),
      },
      this.cfg.checkpoint_keep,
    );
  }

  /** sha256 of the backbone file the features come from (null when it cannot be read). */
  private backboneSha256(): string | null {
    try {
      return modelSha256(resolveBackbonePath(this.cfg.backbone));
    } catch {
      return null;
    }
  }

  /**
   * Resumes from the newest valid checkpoint in `dir`; corrupt or incompatible ones are skipped with a
   * warning. Returns false (fresh model) when there is none.
   */
  async loadLatestCheckpoint(dir: string): Promise<boolean> {
    const accept = (c: LoadedCheckpoint): string | null => {
      try {
        this.setWeights(c.data);
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    };
    const loaded = await readLatestCheckpoint(dir, this.warn, accept);
    return loaded !== null;
  }

  /** Forgets everything learned (networks, buffer, normaliser) — the "reset model" service. */
  reset(): void {
    // A new head also drops Adam's moment estimates.
    const fresh = new TerrainHead(this.head.opts, this.backend);
    this.head.dispose();
    this.head = fresh;
    this.knn?.dispose();
    this.headVersion++;
    this.refsVersion++;
    this.statsAt = Number.NEGATIVE_INFINITY;
    this.buffer.clear();
    this.normCount = 0;
    this.normMean.fill(0);
    this.normM2.fill(0);
    this.normDirty = true;
    this.steps = 0;
    this.average = null;
    this.lastLoss = Number.NaN;
    this.lastReconLoss = Number.NaN;
    this.errMean = Number.NaN;
    this.errStd = Number.NaN;
  }

  stats(): LearnerStats {
    return {
      backend: this.backend,
      bufferSize: this.buffer.size,
      samplesSeen: this.buffer.totalSeen,
      trainSteps: this.steps,
      lastLoss: this.lastLoss,
      lastReconLoss: this.lastReconLoss,
      numTensors: tf.memory().numTensors,
      binSizes: this.buffer.binSizes(),
      errorMean: this.errMean,
      errorStd: this.errStd,
    };
  }

  dispose(): void {
    this.head.dispose();
    this.published?.dispose();
    this.knn?.dispose();
    this.ort?.dispose();
    this.ort = null;
  }
}
