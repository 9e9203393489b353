// Synthetic terrain-like textures for the learning tests: smooth value noise of a given grain size
// and contrast over a base colour, from a seeded PRNG so every run sees the same pixels.

import { seededRandom as mulberry32 } from "../src/core/random.ts";
import type { ImageFrame } from "../src/core/types.ts";

export { mulberry32 };

export interface TextureSpec {
  /** Base colour 0..255. */
  rgb: [number, number, number];
  /** Grain size in pixels (1 = per-pixel noise). */
  grain: number;
  /** Noise amplitude (± grey levels). */
  contrast: number;
  /** Optional stripe period (px) along x, added to the noise. */
  stripes?: number;
}

/** A w×h rgb8 image of the texture; bilinear value noise on a lattice of `grain` pixels. */
export function textureImage(spec: TextureSpec, w: number, h: number, seed: number): ImageFrame {
  const rand = mulberry32(seed);
  const g = Math.max(1, spec.grain);
  const lw = Math.ceil(w / g) + 2;
  const lh = Math.ceil(h / g) + 2;
  const lattice = new Float32Array(lw * lh);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rand() * 2 - 1;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const fy = y / g;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = x / g;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const a = lattice[y0 * lw + x0] as number;
      const b = lattice[y0 * lw + x0 + 1] as number;
      const c = lattice[(y0 + 1) * lw + x0] as number;
      const d = lattice[(y0 + 1) * lw + x0 + 1] as number;
      let v = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
      if (spec.stripes) v = 0.5 * v + 0.5 * Math.sin((2 * Math.PI * x) / spec.stripes);
      const n = v * spec.contrast;
      const o = (y * w + x) * 3;
      for (let k = 0; k < 3; k++)
        data[o + k] = Math.max(0, Math.min(255, Math.round((spec.rgb[k] as number) + n)));
    }
  }
  return { stamp: 0, frameId: "camera_optical_frame", width: w, height: h, encoding: "rgb8", data };
}

/** Mean feature vector over all cells of a feature map (HWC). */
export function meanFeature(data: Float32Array, channels: number): Float64Array {
  const m = new Float64Array(channels);
  const n = data.length / channels;
  for (let i = 0; i < n; i++)
    for (let k = 0; k < channels; k++) m[k] = (m[k] as number) + (data[i * channels + k] as number) / n;
  return m;
}

export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
}

/** Area under the ROC curve: probability a random positive scores higher than a random negative. */
export function auroc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  let wins = 0;
  for (let i = 0; i < positives.length; i++) {
    for (let j = 0; j < negatives.length; j++) {
      const p = positives[i] as number;
      const q = negatives[j] as number;
      wins += p > q ? 1 : p === q ? 0.5 : 0;
    }
  }
  return wins / (positives.length * negatives.length);
}
