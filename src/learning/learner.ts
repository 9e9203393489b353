// OnlineLearner: replay buffer + feature standardisation + roughness/novelty head + confidence.
//
//   addSamples(features n×C, roughness targets, weights)   from the association (one row per cell)
//   train(steps)                                             Adam steps on batches from the buffer
//   predict(features n×C, n) → roughness, confidence         one batched call per frame
//
// Features are standardised with running mean/std (feature-normaliser.ts); the buffer keeps raw
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
// Published weights: a moving average of the trained ones when configured (weight-average.ts).
//
// Prediction runs as one onnxruntime session (onnx-predictor.ts: standardise, MLP, kNN or autoencoder
// score in a single native call) whose weights are inputs, fed from the tfjs head, which stays the
// trainer. If that session cannot be built, predict() warns once and uses the tfjs head + KnnNovelty.
//
// Scheduling is the caller's: replay drives train() from sensor stamps with TrainingClock, live mode
// runs the same learner in a worker (worker.ts) and hands weights to a predict-only copy here.

import { writeCheckpoint } from "./checkpoint.ts";
import type { LearnerConfig } from "./config.ts";
import { FeatureNormaliser } from "./feature-normaliser.ts";
import { TerrainHead } from "./head.ts";
import { LabelCalibration } from "./label-calibration.ts";
import { type CheckpointCamera, checkpointInfo, loadLatestWeights } from "./learner-checkpoint.ts";
import { confidenceFromError, confidenceMap, logErrorStats } from "./learner-confidence.ts";
import { bufferOptions, headOptions, noveltyProjection, predictorOptions } from "./learner-setup.ts";
import {
  type LearnerOptions,
  type LearnerStats,
  type PredictorExport,
  STATS_EVERY,
} from "./learner-types.ts";
import { decodeWeights, encodeWeights } from "./learner-weights.ts";
import { KnnNovelty, type KnnSearchState } from "./novelty.ts";
import { PredictorLink } from "./predictor-link.ts";
import { ReplayBuffer } from "./replay-buffer.ts";
import { type BackendName, type BackendPreference, initBackend, tf } from "./tf-backend.ts";
import { WeightAverage } from "./weight-average.ts";

export type { LearnerOptions, LearnerStats, PredictorExport } from "./learner-types.ts";
export { PREDICTION_SETTINGS } from "./learner-types.ts";
export { TrainingClock } from "./schedule.ts";

/** Samples used to measure the training reconstruction-error distribution. */
const ERR_PROBE = 256;

export class OnlineLearner {
  readonly cfg: LearnerConfig;
  readonly channels: number;
  readonly backend: BackendName;
  private head: TerrainHead;
  private readonly buffer: ReplayBuffer;
  private readonly warn: (m: string) => void;
  private readonly norm: FeatureNormaliser;
  // Reused scratch: batches and standardised prediction inputs.
  private readonly bx: Float32Array;
  private readonly by: Float32Array;
  private readonly bw: Float32Array;
  private readonly px: Float32Array;
  private readonly py: Float32Array;
  private readonly pw: Float32Array;
  private zbuf = new Float32Array(0);
  private steps = 0;
  /** The camera a resumed checkpoint recorded, carried into saves made before a frame is seen. */
  private resumedCamera: CheckpointCamera | undefined;
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
  private readonly calibration: LabelCalibration;
  /** head_target log_energy: the head's output is a log-energy target, calibrated at the output. */
  private readonly logHead: boolean;
  private readonly average: WeightAverage;
  /** Per-frame predictor (onnx-predictor.ts), built on the first predict(); null: tfjs + JS fallback. */
  private readonly link: PredictorLink;

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
    this.logHead = cfg.head_target === "log_energy";
    this.calibration = new LabelCalibration(this.logHead);
    this.average = new WeightAverage(cfg, backend);
    this.head = new TerrainHead(headOptions(cfg, channels, this.logHead), backend);
    this.buffer = new ReplayBuffer(bufferOptions(cfg, channels));
    this.norm = new FeatureNormaliser(channels);
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
    const feed = {
      options: () => predictorOptions(this.cfg, this.channels, this.knn !== null, this.logHead),
      normaliser: this.norm,
      weights: () => this.average.weights(this.head),
      shapes: () => this.head.shapes(),
      knn: this.knn,
    };
    this.link = new PredictorLink(feed, opts.predictor !== "tfjs", this.warn);
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
    const learner = new OnlineLearner(cfg, channels, backend, opts, noveltyProjection(cfg, channels));
    // The predictor's session now rather than on the first frame (a few ms; ~80 ms when it is the
    // process's first onnxruntime session), and a fallback warning at start-up rather than mid-run.
    learner.link.get();
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
    this.norm.add(features, targets, n);
    this.buffer.add(features, targets, weights, n);
  }

  /**
   * Stored targets are log10(energy); train on calibrateLogEnergy(target, lo, hi, exponent). Called
   * with the labeller's current bounds and scale whenever they move; a change smaller than 0.5 % of
   * the range keeps the current map (re-binning the buffer on every label would cost more than it is worth).
   */
  setLabelCalibration(lo: number, hi: number, exponent: number): void {
    const maps = this.calibration.update(lo, hi, exponent);
    if (maps) this.buffer.setTargetMap(...maps);
  }

  /** The bounds set by setLabelCalibration (null: targets are used as given). */
  get labelCalibration(): { lo: number; hi: number; exponent: number } | null {
    return this.calibration.bounds;
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
      this.norm.standardise(this.bx, n);
      const last = s === steps - 1;
      const r = this.head.trainStep(this.bx, this.by, this.bw, n, last);
      if (last) {
        this.lastLoss = r.loss;
        this.lastReconLoss = r.reconLoss;
      }
      this.steps++;
    }
    this.average.update(this.head, steps);
    this.link.headVersion++;
    // Refreshing the novelty references/statistics costs about as much as a few steps: not after
    // every small chunk (the live worker trains 4 steps at a time), and always before weights leave.
    if (this.steps - this.statsAt >= STATS_EVERY) this.updateErrorStats();
    return { loss: this.lastLoss, steps };
  }

  private updateErrorStats(): void {
    // A predict-only copy (live predictor) has no buffer: keep the statistics it was handed.
    if (this.buffer.size < 2) return;
    this.statsAt = this.steps;
    if (this.knn) {
      // Fresh references from the (balanced) buffer, then calibrate on another draw.
      const m = this.buffer.sampleDistinct(this.cfg.novelty_references, this.rx, this.rt, this.rw);
      this.norm.standardise(this.rx, m);
      this.knn.rebuild(this.rx, m);
      this.link.refsVersion++;
    }
    const n = this.buffer.sample(ERR_PROBE, this.px, this.py, this.pw, false);
    if (n < 2) return;
    const score = this.probeScores(n);
    const { mean, std } = logErrorStats(score, n);
    this.errMean = mean;
    this.errStd = std;
  }

  /**
   * Leave-one-out novelty of the n raw rows in px (standardised in place). Through the onnxruntime
   * predictor when there is one: the same computation as predict(), and the kNN candidates come from
   * its TopK instead of a JS search index that would have to be rebuilt for every new reference set.
   */
  private probeScores(n: number): Float32Array {
    this.norm.refresh();
    const p = this.link.get();
    let idx: { idx: BigInt64Array; kk: number } | null = null;
    let score: Float32Array | null = null;
    try {
      if (p && this.knn) idx = p.nearest(this.px, n, this.cfg.novelty_neighbors + 1);
      else if (p) score = p.run(this.px, n).score;
    } catch (err) {
      this.link.drop(`failed: ${(err as Error).message}`);
    }
    this.norm.standardise(this.px, n);
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
    return confidenceFromError(reconError, this.errMean, this.errStd, this.cfg.confidence_sigma);
  }

  /** Roughness (0..1) and confidence (0..1) of n feature vectors (row-major n×C), one batched pass. */
  predict(
    features: Float32Array,
    n: number,
  ): { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array } {
    const C = this.channels;
    if (features.length < n * C)
      throw new Error(`predict: features has ${features.length} floats for ${n} × ${C}`);
    this.norm.refresh();
    const p = this.link.get();
    if (p) {
      let out: { roughness: Float32Array; score: Float32Array } | null = null;
      try {
        out = p.run(features, n);
      } catch (err) {
        this.link.drop(`failed: ${(err as Error).message}`);
      }
      if (out)
        return {
          roughness: this.calibration.toRoughness(out.roughness, n),
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
    for (let i = 0; i < n * C; i++)
      if (!Number.isFinite(z[i] as number)) z[i] = this.norm.shift[i % C] as number;
    this.norm.standardise(z, n);
    // The autoencoder's reconstruction is only needed when it is the novelty score.
    const head = this.average.head(this.head, this.link.headVersion).predict(z, n, this.knn === null);
    const reconError = this.novelty(z, n, false, head.reconError);
    return {
      roughness: this.calibration.toRoughness(head.roughness, n),
      confidence: this.confidences(reconError),
      reconError,
    };
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
    this.norm.refresh();
    const p = this.link.get();
    if (!p) throw new Error("the onnxruntime head predictor is unavailable here");
    if (this.knn && this.knn.size === 0) throw new Error("the kNN novelty has no references yet");
    // A log-energy head's output is a target in fixed units: the export applies toRoughness's map.
    const cal = this.calibration;
    const logEnergyOutput = !this.logHead
      ? undefined
      : cal.units && cal.hi > cal.lo
        ? { ...cal.units, lo: cal.lo, hi: cal.hi, exponent: cal.exponent }
        : null;
    return {
      options: { ...p.opts },
      inputs: p.inputs(),
      confidence: confidenceMap(this.errMean, this.errStd, this.cfg.confidence_sigma),
      labelCalibration: this.labelCalibration,
      ...(logEnergyOutput !== undefined ? { logEnergyOutput } : {}),
      trainSteps: this.steps,
    };
  }

  // --- weights: everything a predictor needs (networks, normaliser, novelty statistics) -------------

  /** Serialises weights + normaliser + error statistics (little-endian, self-describing header). */
  async getWeights(): Promise<ArrayBuffer> {
    if (this.steps > 0 && this.statsAt !== this.steps) this.updateErrorStats();
    return encodeWeights(
      {
        arrays: this.average.weights(this.head),
        // kNN novelty references travel with the weights: the predictor has no replay buffer.
        refs: this.knn ? this.knn.references() : new Float32Array(0),
        steps: this.steps,
        normCount: this.norm.count,
        normMean: this.norm.mean,
        normM2: this.norm.m2,
        errMean: this.errMean,
        errStd: this.errStd,
        lastLoss: this.lastLoss,
        lastReconLoss: this.lastReconLoss,
        calLo: this.calibration.lo,
        calHi: this.calibration.hi,
        calExponent: this.calibration.exponent,
        logHead: this.logHead,
        units: this.calibration.units,
      },
      this.layout(),
    );
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
    const shapes = this.head.shapes();
    const w = decodeWeights(bytes, { ...this.layout(), shapes });
    const { arrays } = w;
    this.head.setWeights(arrays);
    // A loaded model is what predicts; training goes on from it and the average restarts there.
    this.average.restart(arrays);
    this.link.headVersion++;
    // The predictor takes the parsed arrays as they are instead of reading them back out of tfjs.
    this.link.setHead(arrays, shapes);
    if (this.knn) {
      const refCount = w.refs.length / this.channels;
      if (search) this.knn.restore(w.refs, refCount, search);
      else this.knn.rebuild(w.refs, refCount);
      this.link.refsVersion++;
    }
    this.steps = w.steps;
    this.statsAt = this.steps;
    this.errMean = w.errMean;
    this.errStd = w.errStd;
    this.lastLoss = w.lastLoss;
    this.lastReconLoss = w.lastReconLoss;
    if (this.logHead) this.calibration.units = w.units;
    // NaN bounds: the writer had no calibration (targets were roughness): keep the current map.
    if (w.calHi > w.calLo) {
      this.calibration.lo = Number.NaN; // re-map even when the bounds are the ones already set
      this.setLabelCalibration(w.calLo, w.calHi, w.calExponent);
    }
    this.norm.load(w.normCount, w.normMean, w.normM2);
  }

  /** This learner's networks as the weights format records them. */
  private layout(): { channels: number; hidden: number; bottleneck: number; logHead: boolean } {
    return {
      channels: this.channels,
      hidden: this.cfg.hidden_units,
      bottleneck: this.cfg.bottleneck,
      logHead: this.logHead,
    };
  }

  // --- checkpoints --------------------------------------------------------------------------------

  /**
   * Atomic checkpoint in `dir` (keeps cfg.checkpointKeep). Returns the manifest path. `camera`: the
   * frames' size, recorded for export (metadata only).
   */
  async saveCheckpoint(dir: string, camera?: CheckpointCamera): Promise<string> {
    const data = new Uint8Array(await this.getWeights());
    const { steps: trainSteps, channels, backend, lastLoss } = this;
    const state = { trainSteps, samplesSeen: this.buffer.totalSeen, channels, backend, lastLoss };
    const info = checkpointInfo(this.cfg, state, camera ?? this.resumedCamera);
    return writeCheckpoint(dir, data, info, this.cfg.checkpoint_keep);
  }

  /**
   * Resumes from the newest valid checkpoint in `dir`; corrupt or incompatible ones are skipped with a
   * warning. Returns false (fresh model) when there is none.
   */
  async loadLatestCheckpoint(dir: string): Promise<boolean> {
    const load = (data: Uint8Array) => this.setWeights(data);
    return loadLatestWeights(dir, this.warn, load, this.cfg, (c) => (this.resumedCamera = c ?? undefined));
  }

  /** Forgets everything learned (networks, buffer, normaliser) — the "reset model" service. */
  reset(): void {
    // A new head also drops Adam's moment estimates.
    const fresh = new TerrainHead(this.head.opts, this.backend);
    this.head.dispose();
    this.head = fresh;
    this.knn?.dispose();
    this.link.headVersion++;
    this.link.refsVersion++;
    this.statsAt = Number.NEGATIVE_INFINITY;
    this.buffer.clear();
    this.norm.reset();
    this.steps = 0;
    this.average.clear();
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
    this.average.dispose();
    this.knn?.dispose();
    this.link.dispose();
  }
}
