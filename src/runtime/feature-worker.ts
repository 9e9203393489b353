// The backbone and the head's feature context (features.ts) in a worker thread, so the main thread is
// free while onnxruntime runs. onnxruntime-node runs a session synchronously on the thread that calls
// it; in-process, every frame's ~4–5 ms of backbone (plus its input preprocessing and the 3×3
// neighbourhood means) block bag reading, labelling, the head and the outputs. In a worker they
// overlap with them: a replay that starts the next frames' features early (Pipeline.prefetch, see
// `readAhead`) keeps the worker busy while the main thread does everything else, and a live frame's
// backbone no longer delays IMU and odometry handling.
//
//   main thread                                   worker thread (this file)
//   extract(img) → pixels copied into a pooled    Backbone (its own onnxruntime session):
//                  buffer, transferred      ────► preprocessing + session.run + headFeatures
//   resolves with the FeatureMap           ◄──── features transferred, the pixel buffer handed back
//
// Requests are answered in order; several may be in flight. The features are a pure function of the
// image, so running them early or elsewhere changes no result.

import { isMainThread, parentPort, type Worker, workerData } from "node:worker_threads";
import type { ImageFrame } from "../core/types.ts";
import { Backbone, type BackboneInfo, type FeatureMap, featureGridFor } from "../learning/backbone.ts";
import type { LearnerConfig } from "./config.ts";
import { type FeatureContext, headFeatures } from "./features.ts";
import { spawnModuleWorker } from "./ts-worker.ts";

const WORKER_KIND = "terrain-learner/feature-worker";

type BackboneConfig = Pick<
  LearnerConfig,
  "backbone" | "executionProviders" | "backboneThreads" | "inputWidth"
>;

type ToWorker =
  | {
      type: "extract";
      id: number;
      width: number;
      height: number;
      encoding: ImageFrame["encoding"];
      bytes: number;
      pixels: ArrayBuffer;
    }
  | { type: "release"; data: ArrayBuffer }
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
      data: ArrayBuffer;
      pixels: ArrayBuffer;
    }
  | { type: "failed"; id: number; message: string; pixels: ArrayBuffer }
  | { type: "fatal"; message: string };

/** Pixel buffers kept for reuse (a frame or two in flight, plus read-ahead). */
const POOL_MAX = 6;

export class FeatureWorker {
  readonly info: BackboneInfo;
  readonly context: FeatureContext;
  private readonly worker: Worker;
  private readonly warn: (m: string) => void;
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (m: FeatureMap) => void; reject: (e: Error) => void }
  >();
  private pool: ArrayBuffer[] = [];
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
        executionProviders: [...learner.executionProviders],
        backboneThreads: learner.backboneThreads,
        inputWidth: learner.inputWidth,
      },
      context,
    });
    const info = await new Promise<BackboneInfo>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === "warn") warn(m.message);
        else if (m.type === "ready") done(() => resolve(m.info));
        else if (m.type === "fatal") done(() => reject(new Error(m.message)));
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

  /** The feature grid of a width×height camera image, in that image's pixels (see Backbone.gridFor). */
  gridFor(width: number, height: number) {
    return featureGridFor(this.info, width, height);
  }

  /**
   * The head's input features of one image (the backbone's map with this worker's context). The
   * image's pixels are copied before this returns, so the caller may reuse its buffer at once.
   */
  features(img: ImageFrame): Promise<FeatureMap> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error("feature worker is closed"));
    const bytes = img.data.byteLength;
    let pixels = this.pool.pop();
    if (!pixels || pixels.byteLength < bytes) pixels = new ArrayBuffer(bytes);
    new Uint8Array(pixels, 0, bytes).set(img.data);
    const id = this.nextId++;
    const result = new Promise<FeatureMap>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const msg: ToWorker = {
      type: "extract",
      id,
      width: img.width,
      height: img.height,
      encoding: img.encoding,
      bytes,
      pixels,
    };
    this.worker.postMessage(msg, [pixels]);
    return result;
  }

  /**
   * Hands a map's buffer back for reuse once the caller no longer needs it (not kept as keyframe
   * data): fewer large allocations per frame on both threads. The map's data is unusable afterwards.
   */
  release(map: FeatureMap): void {
    const buf = map.data.buffer;
    if (this.failure || !(buf instanceof ArrayBuffer) || buf.byteLength === 0) return;
    if (map.data.byteOffset !== 0 || map.data.byteLength !== buf.byteLength) return;
    this.worker.postMessage({ type: "release", data: buf } satisfies ToWorker, [buf]);
  }

  /** Stops the worker; requests still in flight are rejected. */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    if (!this.failure) {
      this.worker.postMessage({ type: "stop" } satisfies ToWorker);
      const timer = setTimeout(() => void this.worker.terminate(), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    this.fail(new Error("feature worker is closed"));
  }

  private recycle(pixels: ArrayBuffer): void {
    if (this.pool.length < POOL_MAX) this.pool.push(pixels);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case "features": {
        this.recycle(m.pixels);
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.resolve({
          rows: m.rows,
          cols: m.cols,
          channels: m.channels,
          strideX: m.strideX,
          strideY: m.strideY,
          data: new Float32Array(m.data),
        });
        return;
      }
      case "failed": {
        this.recycle(m.pixels);
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.reject(new Error(m.message));
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
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let backbone: Backbone;
  try {
    backbone = await Backbone.fromConfig(learner, { warn: (message) => post({ type: "warn", message }) });
  } catch (err) {
    post({ type: "fatal", message: (err as Error).message });
    port.close();
    return;
  }
  let queue: Promise<void> = Promise.resolve();
  // Buffers the main thread handed back, and the backbone's own map (copied into the head's).
  const free: ArrayBuffer[] = [];
  let raw = new Float32Array(0);
  port.on("message", (msg: ToWorker) => {
    if (msg.type === "release") {
      // Newest kept: after a camera size change the old size's buffers age out.
      free.push(msg.data);
      if (free.length > POOL_MAX) free.shift();
      return;
    }
    if (msg.type === "stop") {
      queue = queue.then(async () => {
        await backbone.close();
        port.close();
      });
      return;
    }
    queue = queue.then(async () => {
      const img: ImageFrame = {
        stamp: 0,
        frameId: "",
        width: msg.width,
        height: msg.height,
        encoding: msg.encoding,
        data: new Uint8Array(msg.pixels, 0, msg.bytes),
      };
      try {
        const grid = backbone.gridFor(img.width, img.height);
        const n = Math.max(0, grid.rows * grid.cols);
        const outLen = n * (context === "none" ? backbone.channels : 2 * backbone.channels + 1);
        let out: Float32Array | undefined;
        for (let i = free.length - 1; i >= 0 && !out; i--) {
          if (free[i]!.byteLength === outLen * 4) out = new Float32Array(free.splice(i, 1)[0]!);
        }
        out ??= new Float32Array(outLen);
        let map: FeatureMap;
        if (context === "none") {
          map = await backbone.extract(img, out);
        } else {
          if (raw.length !== n * backbone.channels) raw = new Float32Array(n * backbone.channels);
          map = headFeatures(await backbone.extract(img, raw), context, out);
        }
        const data = map.data;
        // Transferable only when the map owns its whole buffer (it does: a fresh array per frame).
        const buf =
          data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
            ? (data.buffer as ArrayBuffer)
            : data.slice().buffer;
        post(
          {
            type: "features",
            id: msg.id,
            rows: map.rows,
            cols: map.cols,
            channels: map.channels,
            strideX: map.strideX,
            strideY: map.strideY,
            data: buf,
            pixels: msg.pixels,
          },
          [buf, msg.pixels],
        );
      } catch (err) {
        post({ type: "failed", id: msg.id, message: (err as Error).message, pixels: msg.pixels }, [
          msg.pixels,
        ]);
      }
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
