// Per-stage wall-clock timers for the benchmarks, installed by wrapping prototype methods of the
// classes the pipeline uses, so the measured code is the shipped code (no bench-only code path in
// src/). Installed once per process, before the pipeline is created.
//
// Stage → what is timed:
//   decode    reading the bag: chunk decompression + CDR deserialisation (the caller times its
//             iterator with `timed("decode", ...)`), plus JPEG decoding when the bag has it
//   backbone  Backbone.extract (onnxruntime) when it runs on the pipeline's thread
//             (learner.backbone_worker false); with the backbone worker (the default) the main
//             thread's share: its wait for a frame's features (the pipeline's featureWaitMs), what the
//             overlap with read-ahead did not hide. Copying a frame's pixels into the worker's slot
//             happens while reading ahead and counts as decode.
//   head      OnlineLearner.predict (roughness + confidence for every cell)
//   label     SelfSupervisor.onImu/onImuRaw/onOdom (validation, ring buffers) + VibrationLabeller.process/finish
//   associate SelfSupervisor.collect (label footprints into every live keyframe) + wantsKeyframe/addKeyframe
//   train     OnlineLearner.train + addSamples (replay buffer insertion) when training runs inline;
//             with the lockstep worker (learner.replay_training: worker, the default) the steps run on
//             another thread and this is the main thread's share: LiveTrainer.addSamples (queueing,
//             transfer) + applyWeights (the block's weights into the predictor). Waiting for a block
//             that is not done yet shows up in the remainder.
//   outputs   SelfSupervisor.projectGridToGround + RollingCostmap (grid → odom costmap)
// Whatever the pipeline does outside these (row gathering, events, overlay, evaluation) is the
// remainder: total − Σ stages.

import { VibrationLabeller } from "../src/core/labeller.ts";
import { SelfSupervisor } from "../src/core/self-supervisor.ts";
import { Backbone } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { LiveTrainer } from "../src/learning/worker.ts";
import { RollingCostmap } from "../src/outputs/costmap.ts";

export const STAGES = ["decode", "backbone", "head", "label", "associate", "train", "outputs"] as const;
export type Stage = (typeof STAGES)[number];

export const stageMs: Record<Stage, number> = {
  decode: 0,
  backbone: 0,
  head: 0,
  label: 0,
  associate: 0,
  train: 0,
  outputs: 0,
};
export const stageCalls: Record<Stage, number> = {
  decode: 0,
  backbone: 0,
  head: 0,
  label: 0,
  associate: 0,
  train: 0,
  outputs: 0,
};

export function resetStages(): void {
  for (const s of STAGES) {
    stageMs[s] = 0;
    stageCalls[s] = 0;
  }
}

// Nested timed calls (e.g. drain → labeller.process) are not counted twice: only the outermost
// timed call of any stage runs the clock.
let depth = 0;

type AnyProto = Record<string, unknown>;

function wrap(proto: object, name: string, stage: Stage): void {
  const p = proto as AnyProto;
  const orig = p[name];
  if (typeof orig !== "function")
    throw new Error(`bench/stages: ${proto.constructor.name}.${name} is not a method`);
  p[name] = function (this: unknown, ...args: unknown[]) {
    if (depth > 0) return (orig as (...a: unknown[]) => unknown).apply(this, args);
    depth++;
    const t0 = performance.now();
    let result: unknown;
    try {
      result = (orig as (...a: unknown[]) => unknown).apply(this, args);
    } catch (err) {
      depth--;
      stageMs[stage] += performance.now() - t0;
      throw err;
    }
    depth--;
    if (result instanceof Promise) {
      // Async work (onnxruntime, tfjs) runs off this stack; time until it settles.
      return result.finally(() => {
        stageMs[stage] += performance.now() - t0;
        stageCalls[stage]++;
      });
    }
    stageMs[stage] += performance.now() - t0;
    stageCalls[stage]++;
    return result;
  };
}

let installed = false;
export function installStageTimers(): void {
  if (installed) return;
  installed = true;
  wrap(Backbone.prototype, "extract", "backbone");
  wrap(OnlineLearner.prototype, "predict", "head");
  wrap(OnlineLearner.prototype, "train", "train");
  wrap(OnlineLearner.prototype, "addSamples", "train");
  for (const m of ["addSamples", "applyWeights", "setLabelCalibration"])
    wrap(LiveTrainer.prototype, m, "train");
  for (const m of ["onImu", "onImuRaw", "onOdom"]) wrap(SelfSupervisor.prototype, m, "label");
  wrap(VibrationLabeller.prototype, "process", "label");
  wrap(VibrationLabeller.prototype, "finish", "label");
  for (const m of ["collect", "wantsKeyframe", "addKeyframe"]) wrap(SelfSupervisor.prototype, m, "associate");
  wrap(SelfSupervisor.prototype, "projectGridToGround", "outputs");
  for (const m of ["advance", "integrate", "snapshot"]) wrap(RollingCostmap.prototype, m, "outputs");
}

/** Times an async step of the caller (e.g. the bag iterator's next()) under `stage`. */
export async function timed<T>(stage: Stage, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    stageMs[stage] += performance.now() - t0;
    stageCalls[stage]++;
  }
}
