// Live mode: training runs in a worker thread under a CPU budget; the main thread keeps a predict-only
// OnlineLearner that receives fresh weights every `publish_every` seconds. Frame inference therefore
// never waits for a training step, and training never starves the camera pipeline.
//
//   main thread (this file)                  worker thread (worker-thread.ts)
//   addSamples → pending typed arrays ──┐    OnlineLearner (buffer, Adam, normaliser)
//   flush() → one message, buffers      └──► addSamples; loop { train(k); sleep to budget }
//             transferred, not copied         every publish_every: getWeights ──┐
//   predictor.setWeights(weights) ◄──────────────────────────────────────────────┘ (transferred)
//
// Lockstep (replay): the worker trains only when told, exactly `steps` steps on everything sent
// before the request, and hands the weights back to the caller without applying them. The caller
// applies them at a point fixed in sensor time (the pipeline: one training block later), so a replay
// on two cores gives the same model at any speed, while frame inference and training overlap.
//
// CPU budget: after a chunk of steps that took `busy` ms the worker sleeps busy·(1−b)/b ms, so busy
// time / wall time ≈ b (learner.cpu_budget, a share of one core).
//
// The worker's entry is worker-thread.ts, a TypeScript file. `execArgv: ["--import", "tsx"]` does not
// work for it on Node 20 (the loader registered by --import inside a worker is not applied to the
// worker's own entry module: "Unknown file extension .ts"), so a two-line bootstrap imports it through
// tsx's API instead (ts-worker.ts). A compiled .js build starts the file directly. The message types
// are in worker-protocol.ts.

import { extname } from "node:path";
import type { Worker } from "node:worker_threads";
import type { LearnerConfig } from "./config.ts";
import { OnlineLearner } from "./learner.ts";
import type { CheckpointCamera } from "./learner-checkpoint.ts";
import type { KnnSearchState } from "./novelty.ts";
import { spawnModuleWorker } from "./ts-worker.ts";
import {
  type FromWorker,
  type LiveTrainerStats,
  type ToWorker,
  WORKER_KIND,
  type WorkerInit,
} from "./worker-protocol.ts";

export type { LiveTrainerStats } from "./worker-protocol.ts";

// Same extension as this module: .ts when run from source, .js in a compiled build.
const WORKER_ENTRY = new URL(`./worker-thread${extname(new URL(import.meta.url).pathname)}`, import.meta.url)
  .href;

export interface LiveTrainerOptions {
  warn?: (message: string) => void;
  /** Called on the main thread after the predictor took new weights. */
  onWeights?: (stats: LiveTrainerStats) => void;
  /** Most sample rows per message to the worker (default 1024). */
  flushRows?: number;
  /** Train only on trainSteps() requests (replay), no budgeted loop and no periodic hand-over. */
  lockstep?: boolean;
}

/** Weights after a lockstep block, not yet applied to the predictor. */
export interface TrainedBlock {
  /** The reset count the block was trained in; applyWeights ignores a block from before a reset. */
  generation: number;
  weights: ArrayBuffer;
  /** The kNN references' search space, as the worker computed it (OnlineLearner.setWeights). */
  search: KnnSearchState | null;
  stats: LiveTrainerStats;
}

export class LiveTrainer {
  /** Main-thread learner used only for predict(); updated with the worker's weights. */
  readonly predictor: OnlineLearner;
  private readonly worker: Worker;
  private readonly channels: number;
  private readonly opts: LiveTrainerOptions;
  private readonly warn: (m: string) => void;
  private pendingF: Float32Array;
  private pendingT: Float32Array;
  private pendingW: Float32Array;
  private pendingN = 0;
  private sentCalibration: [number, number, number] = [Number.NaN, Number.NaN, Number.NaN];
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: string | boolean) => void; reject: (e: Error) => void }
  >();
  private lastStats: LiveTrainerStats;
  private weightsReceived = 0;
  private exited = false;
  private readonly exitPromise: Promise<void>;
  readonly lockstep: boolean;
  private readonly blocks = new Map<
    number,
    { resolve: (b: TrainedBlock) => void; reject: (e: Error) => void }
  >();
  /** Rows sent to the worker (its buffer is non-empty once this is > 0). */
  private rowsSent = 0;
  /** Resets so far: weights the worker packed before the latest one are not applied. */
  private generation = 0;

  private constructor(worker: Worker, predictor: OnlineLearner, opts: LiveTrainerOptions) {
    this.worker = worker;
    this.predictor = predictor;
    this.channels = predictor.channels;
    this.opts = opts;
    this.lockstep = opts.lockstep === true;
    this.warn = opts.warn ?? ((m) => console.warn(m));
    const rows = Math.max(1, opts.flushRows ?? 1024);
    this.pendingF = new Float32Array(rows * this.channels);
    this.pendingT = new Float32Array(rows);
    this.pendingW = new Float32Array(rows);
    this.lastStats = { ...predictor.stats(), busyFraction: 0, weightsReceived: 0, paused: false };
    worker.on("message", (msg: FromWorker) => this.onMessage(msg));
    this.exitPromise = new Promise((resolve) => {
      worker.once("exit", () => {
        this.exited = true;
        for (const w of this.waiting.values()) w.reject(new Error("training worker exited"));
        this.waiting.clear();
        for (const b of this.blocks.values()) b.reject(new Error("training worker exited"));
        this.blocks.clear();
        resolve();
      });
    });
    worker.on("error", (err) => this.warn(`training worker failed: ${err.message}`));
  }

  /** Starts the worker (its own tfjs backend) and the main-thread predictor; resolves when both are ready. */
  static async start(
    cfg: LearnerConfig,
    channels: number,
    opts: LiveTrainerOptions = {},
  ): Promise<LiveTrainer> {
    const predictor = await OnlineLearner.create(cfg, channels, { warn: opts.warn });
    const worker = spawnModuleWorker(WORKER_ENTRY, {
      kind: WORKER_KIND,
      cfg,
      channels,
      lockstep: opts.lockstep === true,
    } satisfies WorkerInit);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === "ready") {
          cleanup();
          resolve();
        }
      };
      const onErr = (e: Error) => {
        cleanup();
        reject(new Error(`training worker failed to start: ${e.message}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`training worker exited with code ${code} before it was ready`));
      };
      const cleanup = () => {
        worker.off("message", onMsg);
        worker.off("error", onErr);
        worker.off("exit", onExit);
      };
      worker.on("message", onMsg);
      worker.on("error", onErr);
      worker.on("exit", onExit);
    }).catch((err) => {
      predictor.dispose();
      throw err;
    });
    return new LiveTrainer(worker, predictor, opts);
  }

  get backend(): string {
    return this.predictor.backend;
  }

  /** False once the worker thread has exited. */
  get running(): boolean {
    return !this.exited;
  }

  private onMessage(msg: FromWorker): void {
    const block = msg.type === "weights" && msg.id !== null ? this.blocks.get(msg.id) : undefined;
    if (block && msg.type === "weights" && msg.id !== null) {
      // Lockstep: the caller decides when these weights take effect.
      this.blocks.delete(msg.id);
      block.resolve({
        generation: msg.generation,
        weights: msg.weights,
        search: msg.search,
        stats: { ...msg.stats, weightsReceived: this.weightsReceived },
      });
      return;
    }
    if (msg.type === "weights" && msg.generation !== this.generation) {
      // Packed before a reset: the forgotten model must not come back.
      if (msg.id !== null) this.settle(msg.id, true);
    } else if (msg.type === "weights") {
      try {
        this.predictor.setWeights(msg.weights, msg.search);
        this.weightsReceived++;
        this.lastStats = { ...msg.stats, weightsReceived: this.weightsReceived };
        this.opts.onWeights?.(this.lastStats);
      } catch (err) {
        this.warn(`live trainer: could not apply weights: ${(err as Error).message}`);
      }
      if (msg.id !== null) this.settle(msg.id, true);
    } else if (msg.type === "done") {
      this.settle(msg.id, msg.result);
    } else if (msg.type === "failed") {
      const w = this.waiting.get(msg.id) ?? this.blocks.get(msg.id);
      this.waiting.delete(msg.id);
      this.blocks.delete(msg.id);
      w?.reject(new Error(msg.message));
    }
  }

  private settle(id: number, value: string | boolean): void {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    w?.resolve(value);
  }

  private request(msg: ToWorker & { id: number }): Promise<string | boolean> {
    if (this.exited) return Promise.reject(new Error("training worker is not running"));
    return new Promise((resolve, reject) => {
      this.waiting.set(msg.id, { resolve, reject });
      this.worker.postMessage(msg);
    });
  }

  /**
   * Queues samples (copied). Live, each call's rows go to the worker at once (at most flushRows per
   * message); in lockstep they wait for the next trainSteps(). Holding live rows back until
   * flushRows had gathered kept a new robot from training for its first half minute at 160×120.
   */
  addSamples(features: Float32Array, targets: Float32Array, weights?: Float32Array): void {
    const C = this.channels;
    const n = targets.length;
    if (features.length < n * C)
      throw new Error(`addSamples: features has ${features.length} floats for ${n} × ${C}`);
    const cap = this.pendingT.length;
    for (let i = 0; i < n; i++) {
      this.pendingF.set(features.subarray(i * C, i * C + C), this.pendingN * C);
      this.pendingT[this.pendingN] = targets[i] as number;
      this.pendingW[this.pendingN] = weights ? (weights[i] as number) : 1;
      this.pendingN++;
      if (this.pendingN === cap) this.flush();
    }
    if (!this.lockstep) this.flush();
  }

  /** Sends queued samples now, transferring their buffers (fresh ones are allocated for the next batch). */
  flush(): void {
    const n = this.pendingN;
    if (n === 0 || this.exited) return;
    const C = this.channels;
    const full = n === this.pendingT.length;
    const f = full ? this.pendingF : this.pendingF.slice(0, n * C);
    const t = full ? this.pendingT : this.pendingT.slice(0, n);
    const w = full ? this.pendingW : this.pendingW.slice(0, n);
    const msg: ToWorker = {
      type: "samples",
      features: f.buffer as ArrayBuffer,
      targets: t.buffer as ArrayBuffer,
      weights: w.buffer as ArrayBuffer,
    };
    this.worker.postMessage(msg, [msg.features, msg.targets, msg.weights]);
    this.rowsSent += n;
    if (full) {
      // The transferred arrays are detached now (length 0); allocate the next batch's.
      this.pendingF = new Float32Array(n * C);
      this.pendingT = new Float32Array(n);
      this.pendingW = new Float32Array(n);
    }
    this.pendingN = 0;
  }

  /** Label calibration for the worker's training targets (see OnlineLearner.setLabelCalibration). */
  setLabelCalibration(lo: number, hi: number, exponent: number): void {
    if (!(hi > lo)) throw new Error(`label calibration needs lo < hi, got [${lo}, ${hi}]`);
    // The pipeline calls this with every batch of samples; only a real move is worth a message.
    const tol = 0.005 * (hi - lo);
    const [sLo, sHi, sExp] = this.sentCalibration;
    if (Math.abs(lo - sLo) <= tol && Math.abs(hi - sHi) <= tol && exponent === sExp) return;
    this.sentCalibration = [lo, hi, exponent];
    if (!this.exited) this.worker.postMessage({ type: "calibration", lo, hi, exponent } satisfies ToWorker);
  }

  /** Predicts with the latest published weights (never waits for the worker). */
  predict(
    features: Float32Array,
    n: number,
  ): { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array } {
    return this.predictor.predict(features, n);
  }

  /**
   * Lockstep: the worker runs exactly `steps` steps on every sample sent before this call and
   * resolves with the resulting weights, which are NOT applied: call applyWeights() when they
   * should take effect.
   */
  trainSteps(steps: number): Promise<TrainedBlock> {
    if (!this.lockstep) throw new Error("trainSteps() needs a LiveTrainer started with lockstep: true");
    if (this.exited) return Promise.reject(new Error("training worker is not running"));
    this.flush();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.blocks.set(id, { resolve, reject });
      this.worker.postMessage({ type: "train", id, steps } satisfies ToWorker);
    });
  }

  /** Hands a lockstep block's weights to the predictor; false (nothing done) for a block from before a reset. */
  applyWeights(block: TrainedBlock): boolean {
    if (block.generation !== this.generation) return false;
    this.predictor.setWeights(block.weights, block.search);
    this.weightsReceived++;
    this.lastStats = { ...block.stats, weightsReceived: this.weightsReceived };
    this.opts.onWeights?.(this.lastStats);
    return true;
  }

  /** Rows handed to the worker so far (queued ones included). */
  get rowsAdded(): number {
    return this.rowsSent + this.pendingN;
  }

  /** Asks the worker for its current weights now; resolves once the predictor has them. */
  async publishNow(): Promise<void> {
    this.flush();
    await this.request({ type: "publish", id: this.nextId++ });
  }

  /** The worker writes a checkpoint of its full learner state; resolves with the manifest path. */
  async saveCheckpoint(dir: string, camera?: CheckpointCamera): Promise<string> {
    this.flush();
    return String(
      await this.request({ type: "save", id: this.nextId++, dir, ...(camera ? { camera } : {}) }),
    );
  }

  /** The worker resumes from the newest valid checkpoint and publishes it; false when there is none. */
  async loadLatestCheckpoint(dir: string): Promise<boolean> {
    return Boolean(await this.request({ type: "load", id: this.nextId++, dir }));
  }

  pause(): void {
    if (!this.exited) this.worker.postMessage({ type: "pause" } satisfies ToWorker);
  }
  resume(): void {
    if (!this.exited) this.worker.postMessage({ type: "resume" } satisfies ToWorker);
  }
  /** Forgets everything in the worker and in the predictor. */
  reset(): void {
    this.pendingN = 0;
    this.rowsSent = 0;
    this.generation++;
    this.predictor.reset();
    // The stats of the forgotten model would stand until the worker next publishes.
    this.lastStats = {
      ...this.predictor.stats(),
      busyFraction: 0,
      weightsReceived: this.weightsReceived,
      paused: this.lastStats.paused,
    };
    if (!this.exited)
      this.worker.postMessage({ type: "reset", generation: this.generation } satisfies ToWorker);
  }

  stats(): LiveTrainerStats {
    return { ...this.lastStats, numTensors: this.predictor.stats().numTensors };
  }

  /** Stops training: the worker publishes its last weights and exits (terminated after `timeoutMs`). */
  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.exited) {
      this.flush();
      this.worker.postMessage({ type: "stop" } satisfies ToWorker);
      const timer = setTimeout(() => void this.worker.terminate(), timeoutMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    this.predictor.dispose();
  }
}
