// Published weights (learner.weight_average_half_life > 0): an exponential moving average of the
// trained head's weights, which predictions, hand-overs and checkpoints use instead of the last step's.

import type { LearnerConfig } from "./config.ts";
import { TerrainHead } from "./head.ts";
import type { BackendName } from "./tf-backend.ts";

export class WeightAverage {
  private readonly cfg: LearnerConfig;
  private readonly backend: BackendName;
  private average: Float32Array[] | null = null;
  /** The tfjs fallback's copy of the averaged weights, and the head version it holds. */
  private published: TerrainHead | null = null;
  private publishedAt = -1;

  constructor(cfg: LearnerConfig, backend: BackendName) {
    this.cfg = cfg;
    this.backend = backend;
  }

  /** Folds the trained weights into the moving average (one call per train() block of `steps`). */
  update(head: TerrainHead, steps: number): void {
    const halfLife = this.cfg.weight_average_half_life;
    if (!(halfLife > 0)) return;
    const w = head.getWeights();
    const avg = this.average;
    if (!avg) {
      this.average = w;
      return;
    }
    const keep = 0.5 ** (steps / halfLife);
    for (let i = 0; i < w.length; i++) {
      const a = avg[i] as Float32Array;
      const b = w[i] as Float32Array;
      for (let j = 0; j < a.length; j++) a[j] = keep * (a[j] as number) + (1 - keep) * (b[j] as number);
    }
  }

  /** The weights that predict: the moving average when there is one, else the trained ones. */
  weights(head: TerrainHead): Float32Array[] {
    return this.average ? this.average.map((a) => a.slice()) : head.getWeights();
  }

  /** The tfjs head with the published weights (a copy holding the average, when there is one). */
  head(head: TerrainHead, headVersion: number): TerrainHead {
    if (!this.average) return head;
    if (!this.published) this.published = new TerrainHead(head.opts, this.backend);
    if (this.publishedAt !== headVersion) {
      this.published.setWeights(this.average);
      this.publishedAt = headVersion;
    }
    return this.published;
  }

  /** A loaded model is what predicts: the average restarts from its weights. */
  restart(arrays: Float32Array[]): void {
    this.average = this.cfg.weight_average_half_life > 0 ? arrays.map((a) => a.slice()) : null;
  }

  clear(): void {
    this.average = null;
  }

  dispose(): void {
    this.published?.dispose();
  }
}
