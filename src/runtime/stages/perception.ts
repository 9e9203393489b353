// Perception: a camera frame → backbone features (in the feature worker, or on this thread after the
// worker died: no frame is lost) → the head's roughness + confidence per feature cell → the grid
// (shrunk towards the running label mean where unsure, smoothed) with each cell's ground position
// in odom. Predictions use the model as it is now: labels made after the frame are trained on later.

import type { SelfSupervisor } from "../../core/self-supervisor.ts";
import type { ImageFrame, Pose2, Problem, RoughnessGrid, Stamp } from "../../core/types.ts";
import { decodeCompressed } from "../../io/ros/decode-image.ts";
import { Backbone, type FeatureMap } from "../../learning/backbone.ts";
import type { CheckpointCamera } from "../../learning/learner-checkpoint.ts";
import type { Config } from "../config.ts";
import { FeatureWorker } from "../feature-worker.ts";
import { type FeatureContext, headFeatures, shrinkToPrior, smoothGrid } from "../features.ts";
import type { PipelineLearner } from "../learners.ts";
import type { FrameInput, Prefetched } from "./inputs.ts";

/** What the pipeline extracts frame features with: in-process or in a worker thread. */
export type FeatureBackbone = Backbone | FeatureWorker;

/** One perceived frame. `features` (and the scratch xs/ys/mask) are valid until the next frame. */
export interface PerceivedFrame {
  stamp: Stamp;
  image: ImageFrame;
  features: FeatureMap;
  grid: RoughnessGrid;
  /** The head's own output before the prior pull and smoothing (the learner's buffers: use at once). */
  raw: { roughness: Float32Array; confidence: Float32Array };
  /** Odom position of each cell centre (NaN: sky / behind the camera / unknown pose). */
  xs: Float64Array;
  ys: Float64Array;
  /** 1 where the cell is on the ground. */
  mask: Uint8Array;
  grounded: boolean;
  /** The robot's odometry pose at the frame's stamp (SelfSupervisor.framePose), null when unknown. */
  pose: Pose2 | null;
  /** performance.now() when the frame's turn came (frame time). */
  t0: number;
}

export class PerceptionStage {
  readonly counts = { framesProcessed: 0, keyframes: 0, framesRecomputed: 0 };
  /** The newest perceived frame's size and frame id: checkpoints record it for export. */
  camera: CheckpointCamera | undefined;
  frameMsTotal = 0;
  featureWaitMsTotal = 0;
  /** The in-process backbone that took over after the backbone worker died. */
  #fallback: Promise<Backbone> | undefined;
  #labelCount = 0;
  #labelMean = 0.5;
  // Scratch reused frame after frame.
  #xs = new Float64Array(0);
  #ys = new Float64Array(0);
  #mask = new Uint8Array(0);

  constructor(
    private readonly config: Config,
    readonly backbone: FeatureBackbone,
    private readonly learner: PipelineLearner,
    private readonly supervisor: SelfSupervisor<FeatureMap>,
    private readonly context: FeatureContext,
    private readonly warn: (m: string) => void,
    private readonly problem: (p: Problem) => void,
  ) {}

  /** Starts a frame's decode and features now (replay read-ahead); they do not depend on the model. */
  prefetch(f: FrameInput): Prefetched {
    const image = "encoding" in f.frame ? Promise.resolve(f.frame) : decodeCompressed(f.frame);
    const features = image.then((img) => this.#features(img));
    // Observed here: a failure is reported when the frame's turn comes, not as an unhandled rejection.
    features.catch(() => {});
    return { image, features };
  }

  /** Running mean of recent labels (about the last 300): the prior for unfamiliar ground. */
  onLabel(roughness: number): void {
    this.#labelCount++;
    this.#labelMean += (roughness - this.#labelMean) / Math.min(this.#labelCount, 300);
  }

  /** The frame's grid, or undefined when it failed (reported as a `frame` problem). */
  async perceive(f: FrameInput): Promise<PerceivedFrame | undefined> {
    let image: ImageFrame;
    try {
      image = await (f.prefetched?.image ?? ("encoding" in f.frame ? f.frame : decodeCompressed(f.frame)));
    } catch (err) {
      this.#frameError(err);
      return undefined;
    }
    // The input's stamp wins (fusion.camera_delay corrects it; a prefetched image has the raw one).
    if (image.stamp !== f.stamp) image = { ...image, stamp: f.stamp };
    const t0 = performance.now();
    let features: FeatureMap;
    try {
      features = await (f.prefetched?.features ?? this.#features(image));
    } catch (err) {
      this.#frameError(err);
      return undefined;
    }
    this.featureWaitMsTotal += performance.now() - t0;
    try {
      return this.#predict(image, features, t0);
    } catch (err) {
      this.release(features);
      this.#frameError(err);
      return undefined;
    }
  }

  /** Stores the frame as a keyframe if the supervisor wants one; true when stored. */
  keep(p: PerceivedFrame): boolean {
    if (!this.supervisor.wantsKeyframe(p.stamp)) return false;
    const f = p.features;
    const kept = this.backbone instanceof FeatureWorker ? { ...f, data: f.data.slice() } : f;
    const spec = { rows: f.rows, cols: f.cols, strideX: f.strideX, strideY: f.strideY };
    if (this.supervisor.addKeyframe(p.stamp, spec, kept) === null) return false;
    this.counts.keyframes++;
    return true;
  }

  /** The frame is done (counted, frame time measured). */
  processed(p: PerceivedFrame): void {
    this.counts.framesProcessed++;
    this.frameMsTotal += performance.now() - p.t0;
  }

  /** The worker's features live in a shared slot until released (a keyframe keeps a copy). */
  release(features: FeatureMap): void {
    if (this.backbone instanceof FeatureWorker) this.backbone.release(features);
  }

  reportFailure(err: unknown): void {
    this.#frameError(err);
  }

  async close(): Promise<void> {
    if (this.#fallback) await (await this.#fallback).close();
  }

  #predict(image: ImageFrame, features: FeatureMap, t0: number): PerceivedFrame {
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
    // CameraInfo may describe another size than the images (a resized or smaller compressed stream).
    this.supervisor.fitImage(image.width, image.height);
    if (
      this.camera?.width !== image.width ||
      this.camera.height !== image.height ||
      this.camera.frameId !== image.frameId
    )
      this.camera = { width: image.width, height: image.height, frameId: image.frameId };
    const pose = this.supervisor.framePose(stamp);
    const grounded = pose !== null && this.supervisor.projectGridToGround(stamp, spec, xs, ys, pose);
    if (!grounded) {
      xs.fill(Number.NaN);
      ys.fill(Number.NaN);
    }
    const mask = this.#mask;
    for (let i = 0; i < n; i++) mask[i] = Number.isFinite(xs[i]!) ? 1 : 0;
    let roughness = pred.roughness;
    let confidence = pred.confidence;
    const prior = this.config.outputs.prior_weight;
    if (prior > 0 && this.#labelCount > 0) {
      const shrunk = new Float32Array(n);
      shrinkToPrior(roughness, confidence, this.#labelMean, prior, shrunk);
      roughness = shrunk;
    }
    for (let pass = 0; pass < this.config.outputs.smoothing; pass++) {
      const r = new Float32Array(n);
      const c = new Float32Array(n);
      smoothGrid(spec.rows, spec.cols, roughness, confidence, grounded ? mask : undefined, r, c);
      roughness = r;
      confidence = c;
    }
    const grid: RoughnessGrid = { stamp, frameId: image.frameId, ...spec, roughness, confidence };
    const raw = { roughness: pred.roughness, confidence: pred.confidence };
    return { stamp, image, features, grid, raw, xs, ys, mask, grounded, pose, t0 };
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
        this.counts.framesRecomputed++;
        return this.#inProcess(img, b.failed);
      });
    }
    return b.extract(img).then((map) => headFeatures(map, this.context));
  }

  #inProcess(img: ImageFrame, why: Error): Promise<FeatureMap> {
    this.#fallback ??= this.#startFallback(why);
    return this.#fallback.then((bb) => bb.extract(img)).then((map) => headFeatures(map, this.context));
  }

  #startFallback(why: Error): Promise<Backbone> {
    this.warn(`terrain-learner: ${why.message}; running the backbone on the pipeline's thread from now on`);
    this.problem({ type: "problem", kind: "backboneWorker", message: why.message });
    const started = Backbone.fromConfig(this.config.learner, { warn: this.warn });
    started.catch(() => {});
    return started;
  }

  #frameError(err: unknown): void {
    this.problem({ type: "problem", kind: "frame", message: (err as Error).message });
  }
}
