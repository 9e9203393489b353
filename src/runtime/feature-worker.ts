// The backbone and the head's feature context (features.ts) in a worker thread, so the main thread is
// free while onnxruntime runs. onnxruntime-node runs a session synchronously on the thread that calls
// it; in-process, every frame's ~4–5 ms of backbone (plus its input preprocessing and the 3×3
// neighbourhood means) block bag reading, labelling, the head and the outputs. In a worker they
// overlap with them: a replay that starts the next frames' features early (Pipeline.prefetch, see
// `readAhead`) keeps the worker busy while the main thread does everything else, and a live frame's
// backbone no longer delays IMU and odometry handling.
//
//   main thread                                   worker thread (this file)
//   features(img) → pixels copied into a slot's   Backbone (its own onnxruntime session):
//                   shared memory; {slot} ──────► preprocessing + session.run + headFeatures,
//   resolves with a FeatureMap viewing the  ◄──── written into the slot's shared feature memory
//   slot's features; release(map) frees the slot
//
// Slots are SharedArrayBuffers made once and reused frame after frame: a frame costs one pixel copy
// and two small messages, and no per-frame allocation on either thread (transferring fresh buffers
// made every frame count as new external memory and kept V8's collector busy). Requests are answered
// in order; several may be in flight. The features are a pure function of the image, so running them
// early or elsewhere changes no result.

import { isMainThread, parentPort, type Worker, workerData } from "node:worker_threads";
import type { ImageFrame } from "../core/types.ts";
import { Backbone, type BackboneInfo, type FeatureMap, featureGridFor } from "../learning/backbone.ts";
import { spawnModuleWorker } from "../learning/ts-worker.ts";
import type { LearnerConfig } from "./config.ts";
import { UserError } from "./errors.ts";
import { type FeatureContext, featureChannels, headFeatures } from "./features.ts";

const WORKER_KIND = "terrain-learner/feature-worker";

type BackboneConfig = Pick<
  LearnerConfig,
  "backbone" | "execution_providers" | "backbone_threads" | "input_width"
>;

type ToWorker =
  | {
      type: "extract";
      id: number;
      slot: number;
      width: number;
      height: number;
      encoding: ImageFrame["encoding"];
      bytes: number;
      /** Sent when the slot's memory is new (first use, or grown for a bigger camera). */
      pixels?: SharedArrayBuffer;
      features?: SharedArrayBuffer;
    }
  | { type: "stop" };

type FromWorker =
  | { type: "ready"; info: BackboneInfo }
  | { type: "warn"; message: string }
  | {
      type: "features";
      id: number;
      rows: number;
      cols: number;
      channels: number;
      strideX: number;
      strideY: number;
    }
  | { type: "failed"; id: number; message: string }
  | { type: "fatal"; message: string; loading?: true };

interface Slot {
  pixels: SharedArrayBuffer;
  features: SharedArrayBuffer;
  /** From features() until release() (or a failure): the worker or the caller is using it. */
  busy: boolean;
}

/**
 * How long close() waits for the worker to finish its queued frames before terminating it. Only a
 * hung worker should ever meet it: a thread ended inside an onnxruntime call aborts the whole process
 * (onnxruntime-node is built without node-addon-api's NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS), so
 * the frames of a full read-ahead (ten) must have time to finish even on a slow machine.
 */
const STOP_TIMEOUT_MS = 30_000;

export class FeatureWorker {
  readonly info: BackboneInfo;
  readonly context: FeatureContext;
  private readonly worker: Worker;
  private readonly warn: (m: string) => void;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { slot: number; resolve: (m: FeatureMap) => void; reject: (e: Error) => void }
  >();
  private readonly slots: Slot[] = [];
  private failure: Error | null = null;
  private closing = false;
  private readonly exited: Promise<void>;

  private constructor(
    worker: Worker,
    info: BackboneInfo,
    context: FeatureContext,
    warn: (m: string) => void,
  ) {
    this.worker = worker;
    this.info = info;
    this.context = context;
    this.warn = warn;
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", (err) => this.fail(new Error(`feature worker failed: ${err.message}`)));
    this.exited = new Promise((resolve) =>
      worker.once("exit", (code) => {
        this.fail(
          new Error(this.closing ? "feature worker is closed" : `feature worker exited (code ${code})`),
        );
        resolve();
      }),
    );
  }

  /**
   * Loads the backbone inside a new worker thread; resolves once its session is ready (or rejects with
   * the loader's error: a missing model, an unusable execution provider without cpu fallback, ...).
   */
  static async start(
    learner: BackboneConfig,
    context: FeatureContext,
    opts: { warn?: (m: string) => void } = {},
  ): Promise<FeatureWorker> {
    const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
    const worker = spawnModuleWorker(import.meta.url, {
      kind: WORKER_KIND,
      learner: {
        backbone: learner.backbone,
        execution_providers: [...learner.execution_providers],
        backbone_threads: learner.backbone_threads,
        input_width: learner.input_width,
      },
      context,
    });
    const info = await new Promise<BackboneInfo>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === "warn") warn(m.message);
        else if (m.type === "ready") done(() => resolve(m.info));
        // The model would not load: the user's to fix (one line), not a crash of the worker.
        else if (m.type === "fatal")
          done(() => reject(m.loading ? new UserError(m.message) : new Error(m.message)));
      };
      const onErr = (e: Error) =>
        done(() => reject(new Error(`feature worker failed to start: ${e.message}`)));
      const onExit = (code: number) =>
        done(() => reject(new Error(`feature worker exited with code ${code} before it was ready`)));
      const done = (f: () => void) => {
        worker.off("message", onMsg);
        worker.off("error", onErr);
        worker.off("exit", onExit);
        f();
      };
      worker.on("message", onMsg);
      worker.on("error", onErr);
      worker.on("exit", onExit);
    }).catch(async (err) => {
      await worker.terminate();
      throw err;
    });
    return new FeatureWorker(worker, info, context, warn);
  }

  get channels(): number {
    return this.info.channels;
  }
  get stride(): number {
    return this.info.stride;
  }
  get name(): string {
    return this.info.name;
  }
  /** Why the worker stopped working (it exited or crashed), unless it was closed on purpose. */
  get failed(): Error | null {
    return this.closing ? null : this.failure;
  }
  /** Shared-memory slots made so far (frames in flight plus maps not yet released, at their peak). */
  get slotCount(): number {
    return this.slots.length;
  }

  /** The feature grid of a width×height camera image, in that image's pixels (see Backbone.gridFor). */
  gridFor(width: number, height: number) {
    return featureGridFor(this.info, width, height);
  }

  /**
   * The head's input features of one image (the backbone's map with this worker's context). The
   * image's pixels are copied before this returns, so the caller may reuse its buffer at once. The
   * map's data lives in a shared slot until `release(map)`: copy what must outlive that.
   */
  features(img: ImageFrame): Promise<FeatureMap> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error("feature worker is closed"));
    const bytes = img.data.byteLength;
    const grid = this.gridFor(img.width, img.height);
    const floats = Math.max(0, grid.rows * grid.cols) * featureChannels(this.info.channels, this.context);
    let index = this.slots.findIndex((s) => !s.busy);
    if (index < 0) {
      index = this.slots.length;
      this.slots.push({ pixels: new SharedArrayBuffer(0), features: new SharedArrayBuffer(0), busy: false });
    }
    const slot = this.slots[index]!;
    const msg: ToWorker = {
      type: "extract",
      id: this.nextId++,
      slot: index,
      width: img.width,
      height: img.height,
      encoding: img.encoding,
      bytes,
    };
    if (slot.pixels.byteLength < bytes) msg.pixels = slot.pixels = new SharedArrayBuffer(bytes);
    if (slot.features.byteLength < floats * 4)
      msg.features = slot.features = new SharedArrayBuffer(floats * 4);
    new Uint8Array(slot.pixels, 0, bytes).set(img.data);
    slot.busy = true;
    const result = new Promise<FeatureMap>((resolve, reject) =>
      this.waiting.set(msg.id, { slot: index, resolve, reject }),
    );
    this.worker.postMessage(msg);
    return result;
  }

  /** Frees the slot of a map from features() (the map's data is overwritten by a later frame). */
  release(map: FeatureMap): void {
    const slot = this.slots.find((s) => s.busy && s.features === map.data.buffer);
    if (slot) slot.busy = false;
  }

  /**
   * Stops the worker after the frames already sent to it (their requests resolve as usual); a worker
   * that has not stopped after STOP_TIMEOUT_MS is terminated and whatever is left is rejected.
   */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    if (!this.failure) {
      this.worker.postMessage({ type: "stop" } satisfies ToWorker);
      const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.fail(new Error("feature worker is closed"));
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case "features": {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (!w) return;
        const n = m.rows * m.cols * m.channels;
        w.resolve({
          rows: m.rows,
          cols: m.cols,
          channels: m.channels,
          strideX: m.strideX,
          strideY: m.strideY,
          data: new Float32Array(this.slots[w.slot]!.features, 0, n),
        });
        return;
      }
      case "failed": {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (!w) return;
        this.slots[w.slot]!.busy = false;
        w.reject(new Error(m.message));
        return;
      }
      case "warn":
        this.warn(m.message);
        return;
      case "fatal":
        this.fail(new Error(`feature worker: ${m.message}`));
        return;
      case "ready":
        return;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

// --- worker side --------------------------------------------------------------------------------

async function runWorker(learner: BackboneConfig, context: FeatureContext): Promise<void> {
  const port = parentPort!;
  const post = (m: FromWorker) => port.postMessage(m);
  let backbone: Backbone;
  try {
    backbone = await Backbone.fromConfig(learner, { warn: (message) => post({ type: "warn", message }) });
  } catch (err) {
    post({ type: "fatal", message: (err as Error).message, loading: true });
    port.close();
    return;
  }
  const slots: { pixels: SharedArrayBuffer; features: SharedArrayBuffer }[] = [];
  // Fault injection (tests/pipeline-features.test.ts): the thread ends when a frame arrives after this
  // many, between two frames, as an uncaught error in it would end it. A test cannot end it with
  // worker.terminate(): a thread ended inside an onnxruntime call aborts the whole process
  // (onnxruntime-node is built without node-addon-api's NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
  const exitAfter = Number(process.env.TERRAIN_LEARNER_FAULT_FEATURE_WORKER_EXIT_AFTER ?? "") || 0;
  let framesDone = 0;
  // The backbone's own map, copied into the slot by headFeatures.
  let raw = new Float32Array(0);
  let queue: Promise<void> = Promise.resolve();
  port.on("message", (msg: ToWorker) => {
    if (msg.type === "stop") {
      queue = queue.then(async () => {
        await backbone.close();
        port.close();
      });
      return;
    }
    const slot = slots[msg.slot] ?? { pixels: new SharedArrayBuffer(0), features: new SharedArrayBuffer(0) };
    slots[msg.slot] = slot;
    if (msg.pixels) slot.pixels = msg.pixels;
    if (msg.features) slot.features = msg.features;
    queue = queue.then(async () => {
      // With the next frame (and any behind it) already sent: they are in flight when it ends.
      if (exitAfter > 0 && framesDone >= exitAfter) process.exit(70);
      const img: ImageFrame = {
        stamp: 0,
        frameId: "",
        width: msg.width,
        height: msg.height,
        encoding: msg.encoding,
        data: new Uint8Array(slot.pixels, 0, msg.bytes),
      };
      try {
        const grid = backbone.gridFor(img.width, img.height);
        const n = Math.max(0, grid.rows * grid.cols);
        const out = new Float32Array(slot.features, 0, n * featureChannels(backbone.channels, context));
        let map: FeatureMap;
        if (context === "none") {
          map = await backbone.extract(img, out);
        } else {
          if (raw.length !== n * backbone.channels) raw = new Float32Array(n * backbone.channels);
          map = headFeatures(await backbone.extract(img, raw), context, out);
        }
        post({
          type: "features",
          id: msg.id,
          rows: map.rows,
          cols: map.cols,
          channels: map.channels,
          strideX: map.strideX,
          strideY: map.strideY,
        });
      } catch (err) {
        post({ type: "failed", id: msg.id, message: (err as Error).message });
      }
      framesDone++;
    });
  });
  post({ type: "ready", info: backbone.info });
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  const { learner, context } = workerData as { learner: BackboneConfig; context: FeatureContext };
  runWorker(learner, context).catch((err: Error) => {
    parentPort?.postMessage({ type: "fatal", message: err.stack ?? err.message } satisfies FromWorker);
    process.exit(1);
  });
}
