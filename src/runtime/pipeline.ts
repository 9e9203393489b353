// The composition root: bag events (or core-typed inputs) in, predictions/labels/stats out.
//
//   const pipeline = await createPipeline(config, { mode: "replay", evaluate: true });
//   pipeline.events$.subscribe((e) => { ... });      // typed PipelineEvent values, see below
//   for await (const event of bag.messages()) await pipeline.push(event);
//   const summary = await pipeline.finish();          // final stats (+ eval summary), emits "done"
//   await pipeline.close();
//
// Inputs: `push(event)` takes a `BagEvent` from src/io/bag (topic → type by `config.topics`; the
// simulator's ground-truth topics feed the evaluator) or a `CoreInput` (already-converted core types,
// what the ROS 2 node and the serial source produce). Problems (undecodable messages) become
// `problem` events and the run goes on.
//
// Per processed image: backbone features → head prediction (roughness + confidence per cell) →
// [evaluation, scored BEFORE the labels of this moment are trained on] → outputs (32FC1 grids, overlay,
// rolling odom costmap, roughness ahead, speed limit) → `prediction` event; if the SelfSupervisor wants
// a keyframe, the feature map is stored with it. Labels and training samples are drained from the
// supervisor as IMU/odometry arrive; each sample's cells become (feature vector, target, coverage
// weight) rows for the learner.
//
// Scheduling:
// - replay: every frame is processed, in order (await each push); training runs `learner.stepsPerSecond`
//   steps per second of SENSOR time, in 1 s blocks, so results do not depend on machine speed.
// - live: `push` never waits for a frame: an image arriving while one is processed replaces the pending
//   one (latest wins) and is counted in `stats().framesDropped`; training runs on the same sensor-time
//   schedule but off the frame path (not awaited by push).
//
// Events (`events$`): { type: "prediction" | "label" | "stats" | "problem" | "done" }. Sinks (recorder,
// MQTT, ROS publisher) subscribe; `outputsToRos(event.outputs)` in src/outputs builds the ROS messages.

import { Subject } from "rxjs";
import { emptyPoseAt } from "../core/pose-history.ts";
import { SelfSupervisor, type TrainingSample } from "../core/self-supervisor.ts";
import type {
  CameraModel,
  CompressedFrame,
  ImageFrame,
  ImuSample,
  OdomSample,
  Problem,
  RoughnessGrid,
  RoughnessLabel,
  Stamp,
  Transform,
} from "../core/types.ts";
import { type EvalOptions, type EvalSummary, PrequentialEvaluator } from "../eval/evaluator.ts";
import { gridMapFromRos, parseSimWorld, type TerrainInfo } from "../eval/ground-truth.ts";
import type { BagEvent, BagMessage } from "../io/bag/types.ts";
import {
  cameraInfoFromRos,
  compressedFromRos,
  imageFromRos,
  imuFromRos,
  odomFromRos,
  transformsFromRos,
} from "../io/ros/convert.ts";
import { decodeCompressed } from "../io/ros/decode-image.ts";
import { Backbone, type FeatureMap } from "../learning/backbone.ts";
import { OnlineLearner } from "../learning/learner.ts";
import { LiveTrainer, type TrainedBlock } from "../learning/worker.ts";
import { RollingCostmap } from "../outputs/costmap.ts";
import { renderOverlay } from "../outputs/images.ts";
import type { FrameOutputs } from "../outputs/index.ts";
import { roughnessAhead, suggestedSpeed } from "../outputs/speed.ts";
import type { Config } from "./config.ts";
import { FeatureWorker } from "./feature-worker.ts";
import { type FeatureContext, featureChannels, headFeatures, shrinkToPrior, smoothGrid } from "./features.ts";

const DEFAULT_CONTEXT: FeatureContext =
  (process.env.TERRAIN_LEARNER_FEATURE_CONTEXT as FeatureContext | undefined) ?? "neighbourhood";

/** Simulator ground-truth topics (see notes/contracts.md). */
export const SIM_TOPICS = {
  roughness: "/sim/ground_truth/roughness",
  terrain: "/sim/ground_truth/terrain",
  pose: "/sim/ground_truth/pose",
} as const;

export type CoreInput =
  | { kind: "imu"; sample: ImuSample }
  | { kind: "odom"; sample: OdomSample }
  | { kind: "image"; frame: ImageFrame }
  | { kind: "compressed"; frame: CompressedFrame }
  | { kind: "cameraInfo"; model: CameraModel }
  | { kind: "transforms"; transforms: Transform[] };

export interface PredictionEvent {
  type: "prediction";
  stamp: Stamp;
  /** The camera image the prediction was made on (rgb8/mono8). */
  image: ImageFrame;
  outputs: FrameOutputs;
  /** Whether this frame was stored as a keyframe. */
  keyframe: boolean;
}
export interface LabelEvent {
  type: "label";
  label: RoughnessLabel;
}
export interface StatsEvent {
  type: "stats";
  stamp: Stamp;
  stats: PipelineStats;
}
export interface ProblemEvent {
  type: "problem";
  problem: Problem;
}
export interface DoneEvent {
  type: "done";
  summary: PipelineSummary;
}
export type PipelineEvent = PredictionEvent | LabelEvent | StatsEvent | ProblemEvent | DoneEvent;

export interface PipelineStats {
  /** Sensor time of the last input (s). */
  stamp: Stamp;
  /** Sensor seconds since the first input. */
  sensorSeconds: number;
  framesIn: number;
  framesProcessed: number;
  /** Live mode: frames replaced by a newer one while a frame was processed. */
  framesDropped: number;
  keyframes: number;
  labels: number;
  samples: number;
  /** Feature rows (cells) given to the learner. */
  rows: number;
  trainSteps: number;
  lastLoss: number;
  backend: string;
  bufferSize: number;
  problems: Record<string, number>;
  /** The SelfSupervisor's own counters. */
  supervisor: unknown;
  /** Mean wall-clock milliseconds per processed frame (backbone + head + outputs). */
  frameMs: number;
  /**
   * Of frameMs, the mean wait for the frame's features (the backbone): with the backbone worker and
   * read-ahead this is only what the overlap with the other work did not hide.
   */
  featureWaitMs: number;
  /**
   * Frames the backbone worker held when it died, computed again on the pipeline's thread (0 unless
   * problems.backboneWorker).
   */
  framesRecomputed: number;
  /** Sensor faults the pipeline sees across streams (bad samples by reason are in `supervisor`). */
  diagnostics: PipelineDiagnostics;
}

export interface PipelineDiagnostics {
  /** Silences of the camera longer than CAMERA_GAP_S between consecutive frames. */
  cameraGaps: number;
  /** Longest time between consecutive frames (s). */
  longestCameraGap: number;
  /** Frames whose stamp is not after the previous frame's. */
  framesBackwards: number;
  /** Odometry steps too long for the reported speed (relocalisation, odometry reset). */
  odomJumps: number;
}

/** A camera silent for longer than this (s) is a gap in the diagnostics. */
const CAMERA_GAP_S = 2;
/** An odometry step longer than ODOM_JUMP_M + ODOM_JUMP_SPEED_FACTOR·max(|v|, 0.5 m/s)·dt is a jump. */
const ODOM_JUMP_M = 1;
const ODOM_JUMP_SPEED_FACTOR = 3;

export interface PipelineSummary extends PipelineStats {
  eval: EvalSummary | undefined;
  wallSeconds: number;
  realtimeFactor: number;
}

/**
 * What the pipeline needs from a learner. `OnlineLearner` is one (replay: trained in-process on the
 * sensor-time schedule); in live mode the pipeline wraps a `LiveTrainer` (training in a worker thread
 * under `learner.cpuBudget`, weights handed to a main-thread predictor) in the same shape, without `train`.
 */
export interface PipelineLearner {
  readonly backend: string;
  readonly channels: number;
  addSamples(features: Float32Array, targets: Float32Array, weights?: Float32Array): void;
  /**
   * When present, targets are log10(label energy) and this sets the bounds that map them to
   * roughness (the labeller's current calibration); without it targets are label roughness.
   */
  setLabelCalibration?(lo: number, hi: number): void;
  /** Present when the pipeline drives training itself (replay). */
  train?(steps: number): Promise<{ loss: number; steps: number }>;
  /** Lockstep training: applies the block still in flight (end of a replay). */
  settle?(): Promise<{ loss: number; steps: number }>;
  predict(features: Float32Array, n: number): { roughness: Float32Array; confidence: Float32Array };
  saveCheckpoint(dir: string): Promise<string>;
  loadLatestCheckpoint(dir: string): Promise<boolean>;
  reset(): void;
  stats(): { bufferSize: number; trainSteps: number; lastLoss: number };
  /** Releases tensors / stops the worker. */
  close(): Promise<void>;
}

function inProcess(l: OnlineLearner): PipelineLearner {
  return {
    get backend() {
      return l.backend;
    },
    channels: l.channels,
    addSamples: (f, t, w) => l.addSamples(f, t, w),
    setLabelCalibration: (lo, hi) => l.setLabelCalibration(lo, hi),
    train: (steps) => l.train(steps),
    predict: (f, n) => l.predict(f, n),
    saveCheckpoint: (dir) => l.saveCheckpoint(dir),
    loadLatestCheckpoint: (dir) => l.loadLatestCheckpoint(dir),
    reset: () => l.reset(),
    stats: () => l.stats(),
    close: async () => l.dispose(),
  };
}

/**
 * Replay with training in a lockstep worker: train(steps) queues block k and returns once block
 * k−1's weights are in the predictor, so predictions lag training by one block (one second of sensor
 * time) whatever the replay speed, and the next second's frames are inferred while block k trains.
 */
function inLockstep(t: LiveTrainer): PipelineLearner {
  let pending: Promise<TrainedBlock> | null = null;
  let stepsBefore = 0;
  const apply = (block: TrainedBlock) => {
    t.applyWeights(block);
    const steps = block.stats.trainSteps - stepsBefore;
    stepsBefore = block.stats.trainSteps;
    return { loss: block.stats.lastLoss, steps };
  };
  return {
    ...inWorker(t),
    train: async (steps) => {
      const previous = pending;
      pending = t.trainSteps(steps);
      // Observed here so a failure is not "unhandled" before the next call awaits it.
      pending.catch(() => {});
      return previous ? apply(await previous) : { loss: Number.NaN, steps: 0 };
    },
    settle: async () => {
      const last = pending;
      pending = null;
      return last ? apply(await last) : { loss: Number.NaN, steps: 0 };
    },
    loadLatestCheckpoint: async (dir) => {
      const ok = await t.loadLatestCheckpoint(dir);
      stepsBefore = t.stats().trainSteps;
      return ok;
    },
    reset: () => {
      t.reset();
      stepsBefore = 0;
    },
    // The worker reports its buffer with each block; before the first one, what was sent decides.
    stats: () => {
      const s = t.stats();
      return { ...s, bufferSize: Math.max(s.bufferSize, Math.min(t.rowsAdded, t.predictor.cfg.bufferSize)) };
    },
  };
}

function inWorker(t: LiveTrainer): PipelineLearner {
  return {
    get backend() {
      return t.backend;
    },
    channels: t.predictor.channels,
    addSamples: (f, tg, w) => t.addSamples(f, tg, w),
    setLabelCalibration: (lo, hi) => t.setLabelCalibration(lo, hi),
    predict: (f, n) => t.predict(f, n),
    saveCheckpoint: (dir) => t.saveCheckpoint(dir),
    loadLatestCheckpoint: (dir) => t.loadLatestCheckpoint(dir),
    reset: () => t.reset(),
    stats: () => t.stats(),
    close: () => t.stop(),
  };
}

export interface PipelineOptions {
  mode?: "replay" | "live";
  /** Attach the prequential evaluator (simulator bags). */
  evaluate?: boolean | Partial<EvalOptions>;
  /** World description for the confidence metric (MCAP metadata `terrain_learner_sim`). */
  simMetadata?: Map<string, string> | Record<string, string>;
  /** Build the rgb8 overlay for every frame (costs a pass over the image). Default true. */
  overlay?: boolean;
  /** Build the costmap snapshot for every frame. Default true. */
  costmap?: boolean;
  /** Emit a stats event every this many sensor seconds. Default 5. */
  statsEvery?: number;
  /**
   * Inject a backbone/learner (tests, the ROS node sharing one): an injected backbone runs on the
   * pipeline's thread. Otherwise created from config (`learner.backboneWorker`: in a worker thread).
   */
  backbone?: Backbone;
  /** Injected learners are not closed by the pipeline. */
  learner?: OnlineLearner | PipelineLearner;
  /** Extra context in the head's feature vectors (see features.ts). Default "neighbourhood". */
  featureContext?: FeatureContext;
  warn?: (message: string) => void;
}

/** What the pipeline extracts frame features with: in-process or in a worker thread. */
export type FeatureBackbone = Backbone | FeatureWorker;

export interface Pipeline {
  readonly events$: import("rxjs").Observable<PipelineEvent>;
  readonly backbone: FeatureBackbone;
  readonly learner: PipelineLearner;
  /** Feeds one input. Replay: resolves when it is fully processed. Live: resolves at once for images. */
  push(event: BagEvent | CoreInput): Promise<void>;
  /**
   * Replay: announces an input that will be pushed later (in push order), so a camera frame's
   * features start computing now, while the inputs before it are processed. Every prefetched input
   * must then be pushed; `readAhead` does both. Returns the bytes of image data held for the frame
   * until it is pushed, 0 when no frame was started (other inputs, and live mode).
   */
  prefetch(event: BagEvent | CoreInput): number;
  stats(): PipelineStats;
  /** Ground truth per cell of a frame's grid (NaN unknown) when evaluating a simulator bag. */
  truthFor(stamp: Stamp, grid: RoughnessGrid): { roughness: Float32Array } | undefined;
  /** Waits for pending work, emits final stats and `done`, returns the summary. */
  finish(): Promise<PipelineSummary>;
  close(): Promise<void>;
}

export async function createPipeline(config: Config, options: PipelineOptions = {}): Promise<Pipeline> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const context = options.featureContext ?? DEFAULT_CONTEXT;
  const backbone =
    options.backbone ??
    (config.learner.backboneWorker
      ? await FeatureWorker.start(config.learner, context, { warn })
      : await Backbone.fromConfig(config.learner, { warn }));
  const channels = featureChannels(backbone.channels, context);
  let learner: PipelineLearner;
  if (options.learner) {
    learner = options.learner instanceof OnlineLearner ? inProcess(options.learner) : options.learner;
  } else if (options.mode === "live") {
    learner = inWorker(await LiveTrainer.start(config.learner, channels, { warn }));
  } else if (config.learner.replayTraining === "worker" && config.learner.enabled) {
    learner = inLockstep(await LiveTrainer.start(config.learner, channels, { warn, lockstep: true }));
  } else {
    learner = inProcess(await OnlineLearner.create(config.learner, channels, { warn }));
  }
  return new PipelineImpl(config, options, backbone, learner, warn);
}

class PipelineImpl implements Pipeline {
  readonly backbone: FeatureBackbone;
  readonly learner: PipelineLearner;
  readonly #events = new Subject<PipelineEvent>();
  readonly events$ = this.#events.asObservable();
  readonly #config: Config;
  readonly #mode: "replay" | "live";
  readonly #supervisor: SelfSupervisor<FeatureMap>;
  readonly #evaluator: PrequentialEvaluator | undefined;
  readonly #costmap: RollingCostmap;
  readonly #opts: PipelineOptions;
  readonly #warn: (m: string) => void;
  readonly #statsEvery: number;
  readonly #context: FeatureContext;
  #firstStamp = Number.NaN;
  #lastStamp = Number.NaN;
  #nextTrain = Number.NaN;
  #nextStats = Number.NaN;
  #nextDrain = Number.NaN;
  #pose = { x: 0, y: 0, yaw: 0, known: false };
  #poseAt = emptyPoseAt();
  #counts = {
    framesIn: 0,
    framesProcessed: 0,
    framesDropped: 0,
    keyframes: 0,
    labels: 0,
    samples: 0,
    rows: 0,
  };
  #problems: Record<string, number> = {};
  #frameMsTotal = 0;
  #featureWaitMsTotal = 0;
  #framesRecomputed = 0;
  #trainSteps = 0;
  #labelCount = 0;
  #labelMean = 0.5;
  #lastLoss = Number.NaN;
  #wallStart = performance.now();
  /** The in-process backbone that took over after the backbone worker died. */
  #fallback: Promise<Backbone> | undefined;
  // Replay: frames whose features were started ahead of their push (see prefetch).
  #prefetched = new Map<
    object,
    {
      input: Extract<InternalInput, { kind: "image" | "compressed" }>;
      image: Promise<ImageFrame>;
      features: Promise<FeatureMap>;
    }
  >();
  // Live mode.
  #busy: Promise<void> | undefined;
  #pending: (() => Promise<ImageFrame>) | undefined;
  #training: Promise<void> = Promise.resolve();
  // Scratch reused frame after frame.
  #xs = new Float64Array(0);
  #ys = new Float64Array(0);
  #mask = new Uint8Array(0);
  #closed = false;
  #diag: PipelineDiagnostics = { cameraGaps: 0, longestCameraGap: 0, framesBackwards: 0, odomJumps: 0 };
  #lastFrameStamp = Number.NaN;
  #lastOdom = { stamp: Number.NaN, x: 0, y: 0, speed: 0 };

  constructor(
    config: Config,
    options: PipelineOptions,
    backbone: FeatureBackbone,
    learner: PipelineLearner,
    warn: (m: string) => void,
  ) {
    this.#config = config;
    this.#opts = options;
    this.#mode = options.mode ?? "replay";
    this.backbone = backbone;
    this.learner = learner;
    this.#warn = warn;
    this.#statsEvery = options.statsEvery ?? 5;
    this.#context = options.featureContext ?? DEFAULT_CONTEXT;
    this.#supervisor = new SelfSupervisor<FeatureMap>({
      frames: config.frames,
      fusion: config.fusion,
      keyframes: config.keyframes,
      labeller: config.labeller,
      association: config.association,
    } as ConstructorParameters<typeof SelfSupervisor<FeatureMap>>[0]);
    if (options.evaluate) {
      this.#evaluator = new PrequentialEvaluator({
        minRange: config.association.minDistance,
        maxRange: config.association.maxDistance,
        baseFrame: config.frames.base,
        ...(typeof options.evaluate === "object" ? options.evaluate : {}),
      });
      const terrains: TerrainInfo[] | undefined = parseSimWorld(options.simMetadata);
      this.#evaluator.setTerrains(terrains);
    }
    const o = config.outputs;
    this.#costmap = new RollingCostmap({
      frameId: config.frames.odom,
      resolution: o.costmapResolution,
      size: o.costmapSize,
      halfLife: o.costmapHalfLife,
      minConfidence: o.minConfidence,
    });
  }

  prefetch(event: BagEvent | CoreInput): number {
    if (this.#closed || this.#mode !== "replay" || this.#prefetched.has(event)) return 0;
    let input: InternalInput;
    if ("type" in event) {
      if (event.type !== "message") return 0;
      const t = this.#config.topics;
      if (event.topic !== t.image && event.topic !== t.compressedImage) return 0;
      // A message that does not convert is left to push(), which reports it (once).
      try {
        const converted = this.#convert(event);
        if (!converted) return 0;
        input = converted;
      } catch {
        return 0;
      }
    } else input = event;
    if (input.kind !== "image" && input.kind !== "compressed") return 0;
    const image = input.kind === "image" ? Promise.resolve(input.frame) : decodeCompressed(input.frame);
    const features = image.then((img) => this.#features(img));
    // Observed here: a failure is reported when the frame is pushed, not as an unhandled rejection.
    features.catch(() => {});
    this.#prefetched.set(event, { input, image, features });
    // A compressed frame is held compressed until its decode; at least 1 so that it counts.
    return Math.max(1, input.frame.data.byteLength);
  }

  /** The head's input features of a frame, from the worker or the in-process backbone. */
  #features(img: ImageFrame): Promise<FeatureMap> {
    const b = this.backbone;
    if (b instanceof FeatureWorker) {
      // The worker died (a crash, out of memory): the rest of the run goes on with the backbone on
      // this thread, and so do the frames it held (up to the read-ahead): their pixels are still
      // here, so none is lost. A frame the backbone itself rejects fails as it would in-process.
      if (b.failed) return this.#inProcess(img, b.failed);
      return b.features(img).catch((err: unknown) => {
        if (!b.failed) throw err;
        this.#framesRecomputed++;
        return this.#inProcess(img, b.failed);
      });
    }
    return b.extract(img).then((map) => headFeatures(map, this.#context));
  }

  #inProcess(img: ImageFrame, why: Error): Promise<FeatureMap> {
    this.#fallback ??= this.#startFallback(why);
    return this.#fallback.then((bb) => bb.extract(img)).then((map) => headFeatures(map, this.#context));
  }

  #startFallback(why: Error): Promise<Backbone> {
    this.#warn(`terrain-learner: ${why.message}; running the backbone on the pipeline's thread from now on`);
    this.#problems.backboneWorker = (this.#problems.backboneWorker ?? 0) + 1;
    const started = Backbone.fromConfig(this.#config.learner, { warn: this.#warn });
    started.catch(() => {});
    return started;
  }

  async push(event: BagEvent | CoreInput): Promise<void> {
    if (this.#closed) throw new Error("pipeline is closed");
    const pre = this.#prefetched.get(event);
    if (pre) {
      this.#prefetched.delete(event);
      const stamp = pre.input.frame.stamp;
      await this.#advanceTime(stamp);
      this.#frameArrived(stamp);
      return this.#onFrame(() => pre.image, pre.features);
    }
    const input = "type" in event ? this.#fromBag(event) : event;
    if (!input) return;
    const stamp = stampOf(input);
    if (stamp !== undefined) await this.#advanceTime(stamp);
    switch (input.kind) {
      case "imu":
        this.#supervisor.onImu(input.sample);
        this.#maybeDrain(input.sample.stamp);
        return;
      case "odom":
        this.#checkOdom(input.sample);
        this.#supervisor.onOdom(input.sample);
        this.#maybeDrain(input.sample.stamp);
        return;
      case "transforms":
        this.#supervisor.onTransforms(input.transforms);
        this.#evaluator?.onTransforms(input.transforms);
        return;
      case "cameraInfo":
        this.#supervisor.onCameraInfo(input.model);
        this.#evaluator?.onCameraInfo(input.model);
        return;
      case "image":
        this.#frameArrived(input.frame.stamp);
        return this.#onFrame(async () => input.frame);
      case "compressed":
        this.#frameArrived(input.frame.stamp);
        return this.#onFrame(() => decodeCompressed(input.frame));
      case "truePose":
        this.#evaluator?.onTruePose(input.sample);
        return;
      case "groundTruth":
        this.#evaluator?.onGroundTruth(input.which, gridMapFromRos(input.message));
        return;
    }
  }

  /** Bag message → core input by topic; null for topics we do not use. */
  #fromBag(event: BagEvent): InternalInput | null {
    if (event.type === "problem") {
      this.#problem(event);
      return null;
    }
    try {
      return this.#convert(event);
    } catch (err) {
      this.#problem({
        type: "problem",
        kind: "convert",
        message: `${event.topic}: ${(err as Error).message}`,
        topic: event.topic,
        stamp: event.logTime,
      });
      return null;
    }
  }

  /** A bag message as a core input by topic (null for topics we do not use); throws if it does not convert. */
  #convert(event: BagMessage): InternalInput | null {
    const t = this.#config.topics;
    switch (event.topic) {
      case t.imu:
        return { kind: "imu", sample: imuFromRos(event.message) };
      case t.odom:
        return { kind: "odom", sample: odomFromRos(event.message) };
      case t.image:
        return { kind: "image", frame: imageFromRos(event.message) };
      case t.compressedImage:
        return { kind: "compressed", frame: compressedFromRos(event.message) };
      case t.cameraInfo:
        return { kind: "cameraInfo", model: cameraInfoFromRos(event.message) };
      case t.tf:
        return { kind: "transforms", transforms: transformsFromRos(event.message, false) };
      case t.tfStatic:
        return { kind: "transforms", transforms: transformsFromRos(event.message, true) };
      case SIM_TOPICS.pose:
        return this.#evaluator ? { kind: "truePose", sample: odomFromRos(event.message) } : null;
      case SIM_TOPICS.roughness:
        return this.#evaluator ? { kind: "groundTruth", which: "roughness", message: event.message } : null;
      case SIM_TOPICS.terrain:
        return this.#evaluator ? { kind: "groundTruth", which: "terrain", message: event.message } : null;
      default:
        return null;
    }
  }

  #problem(p: Problem): void {
    const count = (this.#problems[p.kind] ?? 0) + 1;
    this.#problems[p.kind] = count;
    // Failures of our own processing (not bad input) are worth one line each kind, even without a sink.
    if (count === 1 && (p.kind === "frame" || p.kind === "train"))
      this.#warn(`terrain-learner: ${p.message}`);
    this.#events.next({ type: "problem", problem: p });
  }

  /** Sensor-time bookkeeping: the fixed training schedule and periodic stats. */
  async #advanceTime(stamp: Stamp): Promise<void> {
    if (!Number.isFinite(stamp)) return;
    if (!Number.isFinite(this.#firstStamp)) {
      this.#firstStamp = stamp;
      this.#nextTrain = stamp + 1;
      this.#nextStats = stamp + this.#statsEvery;
      this.#nextDrain = stamp;
    }
    if (!(stamp > this.#lastStamp)) {
      if (!Number.isFinite(this.#lastStamp)) this.#lastStamp = stamp;
      return;
    }
    this.#lastStamp = stamp;
    // A long pause in the stamps (bag gap, clock jump) owes at most a few blocks, not thousands.
    if (stamp - this.#nextTrain > 3) this.#nextTrain = stamp - 3;
    while (stamp >= this.#nextTrain) {
      this.#nextTrain += 1;
      // Labels up to this second go into the buffer before the block of steps that may use them.
      this.#drain();
      const steps = Math.round(this.#config.learner.stepsPerSecond);
      // A learner without train() (live: the worker trains on its own budget) needs no schedule.
      if (
        this.learner.train &&
        this.#config.learner.enabled &&
        steps > 0 &&
        this.learner.stats().bufferSize > 0
      ) {
        if (this.#mode === "replay") await this.#train(steps);
        else this.#training = this.#training.then(() => this.#train(steps));
      }
    }
    if (stamp >= this.#nextStats) {
      while (this.#nextStats <= stamp) this.#nextStats += this.#statsEvery;
      this.#events.next({ type: "stats", stamp, stats: this.stats() });
    }
  }

  #train(steps: number): Promise<void> {
    return this.#countTraining(() => this.learner.train!(steps));
  }

  /** Runs a training call, counting its steps and loss; a failure becomes a problem event. */
  async #countTraining(run: () => Promise<{ loss: number; steps: number }>): Promise<void> {
    try {
      const r = await run();
      this.#trainSteps += r.steps;
      if (Number.isFinite(r.loss)) this.#lastLoss = r.loss;
    } catch (err) {
      this.#problem({
        type: "problem",
        kind: "train",
        message: `training failed: ${(err as Error).message}`,
      });
    }
  }

  #maybeDrain(stamp: Stamp): void {
    // Draining after each of 200 IMU messages per second is wasted work; 10 Hz of sensor time is plenty.
    if (stamp >= this.#nextDrain) {
      this.#nextDrain = stamp + 0.1;
      this.#drain();
    }
  }

  #drain(final = false): void {
    const { labels, samples } = final ? this.#supervisor.flush() : this.#supervisor.drain();
    for (const label of labels) {
      this.#counts.labels++;
      this.#evaluator?.onLabel(label.roughness, label.stamp);
      // Running mean of recent labels (about the last 300): the prior for unfamiliar ground.
      this.#labelCount++;
      this.#labelMean += (label.roughness - this.#labelMean) / Math.min(this.#labelCount, 300);
      this.#events.next({ type: "label", label });
    }
    if (samples.length) this.#addSamples(samples);
  }

  /** Training samples → (feature vector, target, weight) rows, one per covered feature cell. */
  #addSamples(samples: readonly TrainingSample[]): void {
    const C = this.learner.channels;
    let n = 0;
    for (const s of samples) if (this.#supervisor.keyframeData(s.keyframeId)) n += s.cells.length;
    if (n === 0) return;
    const features = new Float32Array(n * C);
    const targets = new Float32Array(n);
    const weights = new Float32Array(n);
    // Raw log-energies + the current bounds: the learner re-maps its whole buffer when the labeller's
    // percentile calibration moves, so early labels do not keep a roughness from a stale calibration.
    const raw = this.learner.setLabelCalibration !== undefined;
    if (raw) {
      const { lo, hi } = this.#supervisor.calibrationBounds();
      if (hi > lo) this.learner.setLabelCalibration!(lo, hi);
    }
    let row = 0;
    for (const s of samples) {
      const fm = this.#supervisor.keyframeData(s.keyframeId);
      if (!fm) continue;
      for (let i = 0; i < s.cells.length; i++) {
        const cell = s.cells[i]!;
        features.set(fm.data.subarray(cell * C, cell * C + C), row * C);
        targets[row] = raw ? Math.log10(Math.max(s.label.energy, 1e-12)) : s.roughness;
        weights[row] = s.cellWeights[i]!;
        row++;
      }
    }
    this.#counts.samples += samples.length;
    this.#counts.rows += row;
    if (this.#config.learner.enabled) {
      this.learner.addSamples(
        features.subarray(0, row * C),
        targets.subarray(0, row),
        weights.subarray(0, row),
      );
    }
  }

  #onFrame(load: () => Promise<ImageFrame>, features?: Promise<FeatureMap>): Promise<void> {
    this.#counts.framesIn++;
    if (this.#mode === "replay")
      return load().then(
        (img) => this.#processFrame(img, features).catch((err) => this.#frameError(err)),
        (err) => this.#frameError(err),
      );
    // Live: latest wins.
    if (this.#busy) {
      if (this.#pending) this.#counts.framesDropped++;
      this.#pending = load;
      return Promise.resolve();
    }
    const run = async (next: () => Promise<ImageFrame>): Promise<void> => {
      try {
        await this.#processFrame(await next());
      } catch (err) {
        this.#frameError(err);
      }
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending) await run(pending);
    };
    this.#busy = run(load).finally(() => {
      this.#busy = undefined;
    });
    return Promise.resolve();
  }

  /** Camera gaps and frames out of order, for the diagnostics (the frame is processed either way). */
  #frameArrived(stamp: Stamp): void {
    const last = this.#lastFrameStamp;
    if (!Number.isFinite(stamp)) return;
    if (Number.isFinite(last)) {
      if (!(stamp > last)) {
        this.#diag.framesBackwards++;
        return;
      }
      const gap = stamp - last;
      if (gap > CAMERA_GAP_S) this.#diag.cameraGaps++;
      if (gap > this.#diag.longestCameraGap) this.#diag.longestCameraGap = gap;
    }
    this.#lastFrameStamp = stamp;
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
        this.#diag.odomJumps++;
    }
    last.stamp = s.stamp;
    last.x = x;
    last.y = y;
    last.speed = Number.isFinite(speed) ? speed : 0;
  }

  #frameError(err: unknown): void {
    this.#problem({ type: "problem", kind: "frame", message: (err as Error).message });
  }

  async #processFrame(image: ImageFrame, prefetched?: Promise<FeatureMap>): Promise<void> {
    const t0 = performance.now();
    // Labels made up to this frame are trained on the schedule; the prediction below uses only the
    // model as it is now (prequential). The features do not depend on the model: a prefetch may
    // have started them before the inputs ahead of this frame were processed.
    const features = await (prefetched ?? this.#features(image));
    this.#featureWaitMsTotal += performance.now() - t0;
    try {
      this.#predictFrame(image, features, t0);
    } finally {
      // The worker's features live in a shared slot until released (a keyframe keeps a copy).
      if (this.backbone instanceof FeatureWorker) this.backbone.release(features);
    }
  }

  #predictFrame(image: ImageFrame, features: FeatureMap, t0: number): void {
    const stamp = image.stamp;
    const n = features.rows * features.cols;
    const pred = this.learner.predict(features.data, n);
    const spec = {
      rows: features.rows,
      cols: features.cols,
      strideX: features.strideX,
      strideY: features.strideY,
    };
    if (this.#xs.length !== n) {
      this.#xs = new Float64Array(n);
      this.#ys = new Float64Array(n);
      this.#mask = new Uint8Array(n);
    }
    const xs = this.#xs;
    const ys = this.#ys;
    const grounded = this.#supervisor.projectGridToGround(stamp, spec, xs, ys);
    if (!grounded) {
      xs.fill(Number.NaN);
      ys.fill(Number.NaN);
    }
    const mask = this.#mask;
    for (let i = 0; i < n; i++) mask[i] = Number.isFinite(xs[i]!) ? 1 : 0;
    let roughness = pred.roughness;
    let confidence = pred.confidence;
    const prior = this.#config.outputs.priorWeight;
    if (prior > 0 && this.#labelCount > 0) {
      const shrunk = new Float32Array(n);
      shrinkToPrior(roughness, confidence, this.#labelMean, prior, shrunk);
      roughness = shrunk;
    }
    for (let pass = 0; pass < this.#config.outputs.smoothing; pass++) {
      const r = new Float32Array(n);
      const c = new Float32Array(n);
      smoothGrid(spec.rows, spec.cols, roughness, confidence, grounded ? mask : undefined, r, c);
      roughness = r;
      confidence = c;
    }
    const grid: RoughnessGrid = { stamp, frameId: image.frameId, ...spec, roughness, confidence };
    // Scored now, before any label made after this frame is trained on (prequential).
    this.#evaluator?.scoreFrame(grid);

    const o = this.#config.outputs;
    // The robot's pose at the frame's stamp (interpolated odometry; the latest odometry if the
    // frame is slightly ahead of it).
    const pose = this.#pose;
    if (this.#supervisor.poseHistory.interpolate(stamp, this.#poseAt, 1.0)) {
      pose.x = this.#poseAt.x;
      pose.y = this.#poseAt.y;
      pose.yaw = this.#poseAt.yaw;
      pose.known = true;
    }
    let costmap: FrameOutputs["costmap"];
    if (pose.known && this.#opts.costmap !== false) {
      this.#costmap.advance(stamp, pose.x, pose.y);
      if (grounded)
        this.#costmap.integrate(
          grid.rows,
          grid.cols,
          xs,
          ys,
          grid.roughness,
          grid.confidence,
          pose.x,
          pose.y,
        );
      costmap = this.#costmap.snapshot(stamp);
    }
    const ahead = roughnessAhead(xs, ys, grid.roughness, grid.confidence, pose, {
      min: o.aheadMin,
      max: o.aheadMax,
      halfWidth: o.aheadHalfWidth,
    });
    const speedLimit = suggestedSpeed(ahead, o);
    const overlay =
      this.#opts.overlay === false
        ? undefined
        : renderOverlay(image, grid, {
            alpha: o.overlayAlpha,
            minConfidence: o.minConfidence,
            mask: grounded ? mask : undefined,
          });

    let keyframe = false;
    if (this.#supervisor.wantsKeyframe(stamp)) {
      const kept =
        this.backbone instanceof FeatureWorker ? { ...features, data: features.data.slice() } : features;
      const id = this.#supervisor.addKeyframe(stamp, spec, kept);
      if (id !== null) {
        keyframe = true;
        this.#counts.keyframes++;
      }
    }
    this.#counts.framesProcessed++;
    this.#frameMsTotal += performance.now() - t0;
    this.#events.next({
      type: "prediction",
      stamp,
      image,
      keyframe,
      outputs: {
        stamp,
        frameId: image.frameId,
        grid,
        overlay,
        costmap,
        ahead: ahead.roughness,
        aheadConfidence: ahead.confidence,
        speedLimit,
        camera: this.#supervisor.cameraModel ?? undefined,
      },
    });
  }

  /** The evaluator's ground truth for a frame's grid (plots); undefined without --eval. */
  truthFor(stamp: Stamp, grid: RoughnessGrid) {
    return this.#evaluator?.truthFor(stamp, grid) ?? undefined;
  }

  stats(): PipelineStats {
    const ls = this.learner.stats();
    return {
      stamp: this.#lastStamp,
      sensorSeconds: Number.isFinite(this.#firstStamp) ? this.#lastStamp - this.#firstStamp : 0,
      ...this.#counts,
      trainSteps: this.learner.train ? this.#trainSteps : ls.trainSteps,
      lastLoss: this.learner.train ? this.#lastLoss : ls.lastLoss,
      backend: this.learner.backend,
      bufferSize: ls.bufferSize,
      problems: { ...this.#problems },
      supervisor: this.#supervisor.stats(),
      frameMs: this.#counts.framesProcessed ? this.#frameMsTotal / this.#counts.framesProcessed : 0,
      featureWaitMs: this.#counts.framesProcessed
        ? this.#featureWaitMsTotal / this.#counts.framesProcessed
        : 0,
      framesRecomputed: this.#framesRecomputed,
      diagnostics: { ...this.#diag },
    };
  }

  async finish(): Promise<PipelineSummary> {
    while (this.#busy) await this.#busy;
    await this.#training;
    // The block still training in a lockstep worker: its weights are the run's final model.
    if (this.learner.settle) await this.#countTraining(() => this.learner.settle!());
    // The last steps' labels (their analysis window runs past the end of the data).
    this.#drain(true);
    const stats = this.stats();
    const wallSeconds = (performance.now() - this.#wallStart) / 1000;
    const summary: PipelineSummary = {
      ...stats,
      eval: this.#evaluator?.summary(),
      wallSeconds,
      realtimeFactor: wallSeconds > 0 ? stats.sensorSeconds / wallSeconds : 0,
    };
    this.#events.next({ type: "stats", stamp: stats.stamp, stats });
    this.#events.next({ type: "done", summary });
    return summary;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#prefetched.clear();
    this.#events.complete();
    const errors: unknown[] = [];
    // Every cleanup runs even if one throws.
    try {
      if (!this.#opts.learner) await this.learner.close();
    } catch (err) {
      errors.push(err);
    }
    try {
      if (!this.#opts.backbone) await this.backbone.close();
    } catch (err) {
      errors.push(err);
    }
    try {
      if (this.#fallback) await (await this.#fallback).close();
    } catch (err) {
      errors.push(err);
    }
    if (errors.length) throw errors[0];
  }
}

/**
 * The inputs of `source` in order, with the camera frames up to `frames` ahead of the one being
 * pushed already prefetched: their features are computed (in the backbone worker) while the inputs
 * before them are processed. Replay only; it holds at most `maxQueued` inputs, and starts no further
 * frame once the frames it holds reach `maxBytes` of image data (each also has a copy in the
 * backbone worker's shared memory): ten 640×480 rgb8 frames are 9 MB, a 4K camera gets two or three.
 *
 * Ten frames (one shared-memory slot each in the backbone worker) ride out the main thread's
 * uneven frames (a bag chunk decompressed every ~7 frames, a training block handed over, a major
 * GC) without leaving the backbone thread idle: 320×240@15 replays at 9.3× real time with 2 frames
 * ahead, 9.8× with 4, 10.5× with 8 and 10.6× with 10 or 16 on this 2-core machine.
 *
 *   for await (const event of readAhead(pipeline, source.messages())) await pipeline.push(event);
 */
export async function* readAhead<T>(
  pipeline: { prefetch(event: NoInfer<T>): number },
  source: AsyncIterable<T>,
  frames = 10,
  maxQueued = 1024,
  maxBytes = 64 * 2 ** 20,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  const held: number[] = [];
  let framesQueued = 0;
  let bytesQueued = 0;
  let done = false;
  try {
    for (;;) {
      while (!done && framesQueued < frames && bytesQueued < maxBytes && queue.length < maxQueued) {
        const r = await it.next();
        if (r.done) {
          done = true;
          break;
        }
        const bytes = pipeline.prefetch(r.value);
        queue.push(r.value);
        held.push(bytes);
        if (bytes > 0) {
          framesQueued++;
          bytesQueued += bytes;
        }
      }
      if (queue.length === 0) return;
      const bytes = held.shift() as number;
      if (bytes > 0) {
        framesQueued--;
        bytesQueued -= bytes;
      }
      yield queue.shift() as T;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

type InternalInput =
  | CoreInput
  | { kind: "truePose"; sample: OdomSample }
  | { kind: "groundTruth"; which: "roughness" | "terrain"; message: unknown };

function stampOf(input: InternalInput): Stamp | undefined {
  switch (input.kind) {
    case "imu":
    case "odom":
    case "truePose":
      return input.sample.stamp;
    case "image":
    case "compressed":
      return input.frame.stamp;
    default:
      return undefined;
  }
}
