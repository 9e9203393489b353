// Messages between LiveTrainer (main thread) and the training worker thread, and the worker's start data.

import type { LearnerConfig } from "./config.ts";
import type { LearnerStats } from "./learner.ts";
import type { CheckpointCamera } from "./learner-checkpoint.ts";
import type { KnnSearchState } from "./novelty.ts";

export const WORKER_KIND = "terrain-learner/live-trainer";

/** workerData of a training worker; `kind` tells the worker module it was started for this. */
export interface WorkerInit {
  kind: typeof WORKER_KIND;
  cfg: LearnerConfig;
  channels: number;
  lockstep?: boolean;
}

export interface LiveTrainerStats extends LearnerStats {
  /** Measured busy time / wall time of the training loop since the previous publication. */
  busyFraction: number;
  /** Weight hand-overs applied to the predictor so far. */
  weightsReceived: number;
  paused: boolean;
}

export type ToWorker =
  | { type: "samples"; features: ArrayBuffer; targets: ArrayBuffer; weights: ArrayBuffer }
  | { type: "publish"; id: number }
  | { type: "train"; id: number; steps: number }
  | { type: "calibration"; lo: number; hi: number; exponent: number }
  | { type: "save"; id: number; dir: string; camera?: CheckpointCamera }
  | { type: "load"; id: number; dir: string }
  | { type: "pause" }
  | { type: "resume" }
  /** Forget everything; weights packed afterwards carry `generation`. */
  | { type: "reset"; generation: number }
  | { type: "stop" };

export type WorkerStats = Omit<LiveTrainerStats, "weightsReceived">;

export type FromWorker =
  | { type: "ready"; backend: string }
  | {
      type: "weights";
      weights: ArrayBuffer;
      search: KnnSearchState | null;
      stats: WorkerStats;
      id: number | null;
      /** The resets the worker had done when it packed these weights (older ones are stale). */
      generation: number;
    }
  | { type: "done"; id: number; result: string | boolean }
  | { type: "failed"; id: number; message: string }
  | { type: "stopped" };
