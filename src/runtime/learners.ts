// The learner as the graph's learning stage sees it, over the three ways it can run: in-process
// (replay, training inline on the sensor-time schedule), in a lockstep worker (replay on two cores:
// deterministic, weights one block behind) and in a budgeted worker (live: training off the frame
// path, weights handed to a main-thread predictor).

import { OnlineLearner } from "../learning/learner.ts";
import type { CheckpointCamera } from "../learning/learner-checkpoint.ts";
import { noveltyCostWarning } from "../learning/learner-setup.ts";
import { LiveTrainer, type TrainedBlock } from "../learning/worker.ts";
import type { Config } from "./config.ts";

/**
 * What the pipeline needs from a learner. `OnlineLearner` is one (replay: trained in-process on the
 * sensor-time schedule); in live mode the pipeline wraps a `LiveTrainer` (training in a worker thread
 * under `learner.cpu_budget`, weights handed to a main-thread predictor) in the same shape, without `train`.
 */
export interface PipelineLearner {
  readonly backend: string;
  readonly channels: number;
  addSamples(features: Float32Array, targets: Float32Array, weights?: Float32Array): void;
  /**
   * When present, targets are log10(label energy) and this sets the bounds that map them to
   * roughness (the labeller's current calibration); without it targets are label roughness.
   */
  setLabelCalibration?(lo: number, hi: number, exponent: number): void;
  /** Present when the pipeline drives training itself (replay). */
  train?(steps: number): Promise<{ loss: number; steps: number }>;
  /** Lockstep training: applies the block still in flight (end of a replay). */
  settle?(): Promise<{ loss: number; steps: number }>;
  predict(features: Float32Array, n: number): { roughness: Float32Array; confidence: Float32Array };
  saveCheckpoint(dir: string): Promise<string>;
  loadLatestCheckpoint(dir: string): Promise<boolean>;
  reset(): void;
  /**
   * Present when the learner trains on its own (live: the worker's loop): stops and restarts that
   * loop. Without it, training happens only in the blocks the pipeline asks for.
   */
  pause?(): void;
  resume?(): void;
  stats(): { bufferSize: number; trainSteps: number; lastLoss: number };
  /** Releases tensors / stops the worker. */
  close(): Promise<void>;
}

/** The camera frames' size as the pipeline last saw it (recorded in checkpoints for export). */
type CameraNow = () => CheckpointCamera | undefined;
const NO_CAMERA: CameraNow = () => undefined;

function inProcess(l: OnlineLearner, camera: CameraNow): PipelineLearner {
  return {
    get backend() {
      return l.backend;
    },
    channels: l.channels,
    addSamples: (f, t, w) => l.addSamples(f, t, w),
    setLabelCalibration: (lo, hi, exponent) => l.setLabelCalibration(lo, hi, exponent),
    train: (steps) => l.train(steps),
    predict: (f, n) => l.predict(f, n),
    saveCheckpoint: (dir) => l.saveCheckpoint(dir, camera()),
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
function inLockstep(t: LiveTrainer, camera: CameraNow): PipelineLearner {
  let pending: Promise<TrainedBlock> | null = null;
  let stepsBefore = 0;
  const apply = (block: TrainedBlock) => {
    // A block trained before a reset brings nothing back.
    if (!t.applyWeights(block)) return { loss: Number.NaN, steps: 0 };
    const steps = block.stats.trainSteps - stepsBefore;
    stepsBefore = block.stats.trainSteps;
    return { loss: block.stats.lastLoss, steps };
  };
  return {
    ...inWorker(t, camera),
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
      return { ...s, bufferSize: Math.max(s.bufferSize, Math.min(t.rowsAdded, t.predictor.cfg.buffer_size)) };
    },
  };
}

function inWorker(t: LiveTrainer, camera: CameraNow): PipelineLearner {
  return {
    get backend() {
      return t.backend;
    },
    channels: t.predictor.channels,
    addSamples: (f, tg, w) => t.addSamples(f, tg, w),
    setLabelCalibration: (lo, hi, exponent) => t.setLabelCalibration(lo, hi, exponent),
    predict: (f, n) => t.predict(f, n),
    saveCheckpoint: (dir) => t.saveCheckpoint(dir, camera()),
    loadLatestCheckpoint: (dir) => t.loadLatestCheckpoint(dir),
    reset: () => t.reset(),
    pause: () => t.pause(),
    resume: () => t.resume(),
    stats: () => t.stats(),
    close: () => t.stop(),
  };
}

/**
 * The learner for a pipeline: injected (tests, a shared one), or made for the mode from config.
 * `camera` gives the frames' size at each save (an injected PipelineLearner records its own).
 */
export async function createLearner(
  config: Config,
  mode: "replay" | "live",
  channels: number,
  injected: OnlineLearner | PipelineLearner | undefined,
  warn: (m: string) => void,
  camera: CameraNow = NO_CAMERA,
): Promise<PipelineLearner> {
  if (injected) return injected instanceof OnlineLearner ? inProcess(injected, camera) : injected;
  const cost = noveltyCostWarning(config.learner, channels);
  if (cost) warn(cost);
  if (mode === "live") return inWorker(await LiveTrainer.start(config.learner, channels, { warn }), camera);
  if (config.learner.replay_training === "worker" && config.learner.enabled)
    return inLockstep(await LiveTrainer.start(config.learner, channels, { warn, lockstep: true }), camera);
  return inProcess(await OnlineLearner.create(config.learner, channels, { warn }), camera);
}
