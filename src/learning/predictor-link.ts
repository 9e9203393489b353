// Keeps the per-frame onnxruntime predictor (onnx-predictor.ts) in step with the tfjs trainer: builds
// it once, copies the head's weights and the kNN references in lazily when their versions move, and
// drops it for good (tfjs + JS kNN from then on, warned once) when it cannot be built or fails.

import type { KnnNovelty } from "./novelty.ts";
import { OnnxPredictor, type OnnxPredictorOptions } from "./onnx-predictor.ts";

/** Where the predictor's inputs come from (read when they are needed, not copied up front). */
export interface PredictorFeed {
  options(): OnnxPredictorOptions;
  /** Wrapped, not copied: these arrays must be updated in place for as long as the predictor lives. */
  normaliser: { readonly shift: Float32Array; readonly scale: Float32Array };
  weights(): Float32Array[];
  shapes(): number[][];
  knn: KnnNovelty | null;
}

export class PredictorLink {
  /** undefined: not built yet; null: unavailable here (tfjs + JS fallback). */
  private ort: OnnxPredictor | null | undefined;
  /** Bumped whenever the head's weights / the kNN references change; the predictor copies lazily. */
  headVersion = 0;
  refsVersion = 0;
  private headAt = -1;
  private refsAt = -1;
  private readonly feed: PredictorFeed;
  private readonly warn: (m: string) => void;

  constructor(feed: PredictorFeed, enabled: boolean, warn: (m: string) => void) {
    this.feed = feed;
    this.warn = warn;
    if (!enabled) this.ort = null;
  }

  /** The predictor with the current weights, or null when it cannot be built here. */
  get(): OnnxPredictor | null {
    if (this.ort === undefined) {
      try {
        this.ort = OnnxPredictor.create(this.feed.options());
        this.ort.setNormaliser(this.feed.normaliser.shift, this.feed.normaliser.scale);
      } catch (err) {
        this.drop(`could not be built: ${(err as Error).message}`);
      }
    }
    const p = this.ort;
    if (!p) return null;
    if (this.headAt !== this.headVersion) {
      p.setHead(this.feed.weights(), this.feed.shapes());
      this.headAt = this.headVersion;
    }
    const knn = this.feed.knn;
    if (knn && this.refsAt !== this.refsVersion) {
      p.setReferences(knn.searchReferences(), knn.size, knn.searchTransform(), knn.searchDims);
      this.refsAt = this.refsVersion;
    }
    return p;
  }

  /** Gives weights just parsed to a built predictor as they are, instead of reading them back out of tfjs. */
  setHead(arrays: readonly Float32Array[], shapes: readonly number[][]): void {
    if (!this.ort) return;
    this.ort.setHead(arrays, shapes);
    this.headAt = this.headVersion;
  }

  drop(why: string): void {
    this.ort?.dispose();
    this.ort = null;
    this.warn(`learner: onnxruntime head predictor ${why}; predicting with tfjs + JS kNN instead`);
  }

  dispose(): void {
    this.ort?.dispose();
    this.ort = null;
  }
}
