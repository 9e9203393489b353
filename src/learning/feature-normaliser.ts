// Feature standardisation: running mean/variance of raw features (Welford over every training
// sample, float64) and the clipped (x − mean)/std map the head trains and predicts on. Raw filter
// energies and user backbones' activations come in arbitrary scales.

/** Standardised inputs are clipped: one wild feature must not saturate the whole head. */
export const CLIP = 8;
/** Floor on a channel's std: a channel constant so far (e.g. no colour texture yet) stays bounded. */
const MIN_STD = 1e-2;

export class FeatureNormaliser {
  readonly channels: number;
  count = 0;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  /** Never reallocated: the onnxruntime predictor feeds views of these arrays. */
  readonly shift: Float32Array;
  readonly scale: Float32Array;
  private dirty = true;

  constructor(channels: number) {
    this.channels = channels;
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
    this.shift = new Float32Array(channels);
    this.scale = new Float32Array(channels).fill(1);
  }

  /** Folds in the n rows (row-major n×C) whose target and features are all finite. */
  add(features: Float32Array, targets: Float32Array, n: number): void {
    const C = this.channels;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(targets[i] as number)) continue;
      let finite = true;
      for (let k = 0; k < C; k++) if (!Number.isFinite(features[i * C + k] as number)) finite = false;
      if (!finite) continue;
      this.count++;
      const inv = 1 / this.count;
      for (let k = 0; k < C; k++) {
        const x = features[i * C + k] as number;
        const m = this.mean[k] as number;
        const d = x - m;
        const m2 = m + d * inv;
        this.mean[k] = m2;
        this.m2[k] = (this.m2[k] as number) + d * (x - m2);
      }
    }
    this.dirty = true;
  }

  /** Brings shift/scale up to date with the running statistics. */
  refresh(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const n = this.count;
    for (let k = 0; k < this.channels; k++) {
      this.shift[k] = n > 0 ? (this.mean[k] as number) : 0;
      const variance = n > 1 ? (this.m2[k] as number) / (n - 1) : 1;
      this.scale[k] = 1 / Math.max(Math.sqrt(variance), MIN_STD);
    }
  }

  /** In place: x ← clip((x − mean)/std). */
  standardise(x: Float32Array, n: number): void {
    this.refresh();
    const C = this.channels;
    for (let i = 0; i < n; i++) {
      const o = i * C;
      for (let k = 0; k < C; k++) {
        const z = ((x[o + k] as number) - (this.shift[k] as number)) * (this.scale[k] as number);
        x[o + k] = Math.max(-CLIP, Math.min(CLIP, z));
      }
    }
  }

  /** Replaces the running statistics (weights loaded from another learner). */
  load(count: number, mean: Float64Array, m2: Float64Array): void {
    this.count = count;
    this.mean.set(mean);
    this.m2.set(m2);
    this.dirty = true;
  }

  reset(): void {
    this.count = 0;
    this.mean.fill(0);
    this.m2.fill(0);
    this.dirty = true;
  }
}
