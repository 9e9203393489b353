// Feature vectors the head sees, built from the backbone's map. With `context`, each cell's vector is
// extended with the mean of its 3×3 neighbourhood (texture statistics over a larger patch than one
// 8-pixel cell, which is noisy at a distance) and its normalised image row (the same terrain looks
// different at 2 m and at 8 m; the row tells the head roughly how far away a cell is).

import type { FeatureMap } from "../learning/backbone.ts";

export type FeatureContext = "none" | "neighbourhood";

export function featureChannels(backboneChannels: number, context: FeatureContext): number {
  return context === "none" ? backboneChannels : 2 * backboneChannels + 1;
}

// Horizontal 3-sums of the map, reused frame after frame (headFeatures is synchronous).
let rowSums = new Float32Array(0);

/**
 * The head's input map for a frame (the backbone's map itself when context is "none"). Writes into
 * `out` when it has the right length (rows·cols·(2C+1)), else into a new array.
 */
export function headFeatures(map: FeatureMap, context: FeatureContext, out?: Float32Array): FeatureMap {
  if (context === "none") return map;
  const { rows, cols, channels: C } = map;
  const D = 2 * C + 1;
  const src = map.data;
  const dst = out && out.length === rows * cols * D ? out : new Float32Array(rows * cols * D);
  // Separable box sums: horizontal 3-sums (in-bounds neighbours only), then vertical means.
  if (rowSums.length < rows * cols * C) rowSums = new Float32Array(rows * cols * C);
  const h = rowSums;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = (r * cols + c) * C;
      const hasL = c > 0;
      const hasR = c < cols - 1;
      // Summed left to right with float32 rounding after each add, as an accumulating Float32Array
      // would: the features (and so every result) stay bit-identical to the straightforward loop.
      if (hasL && hasR)
        for (let k = 0; k < C; k++) h[o + k] = Math.fround(src[o - C + k]! + src[o + k]!) + src[o + C + k]!;
      else if (hasL) for (let k = 0; k < C; k++) h[o + k] = src[o - C + k]! + src[o + k]!;
      else if (hasR) for (let k = 0; k < C; k++) h[o + k] = src[o + k]! + src[o + C + k]!;
      else for (let k = 0; k < C; k++) h[o + k] = src[o + k]!;
    }
  }
  for (let r = 0; r < rows; r++) {
    const nr = (r > 0 ? 1 : 0) + 1 + (r < rows - 1 ? 1 : 0);
    const up = r > 0 ? -cols * C : 0;
    const down = r < rows - 1 ? cols * C : 0;
    const rowFeature = (r + 0.5) / rows;
    for (let c = 0; c < cols; c++) {
      const nc = (c > 0 ? 1 : 0) + 1 + (c < cols - 1 ? 1 : 0);
      const inv = 1 / (nr * nc);
      const s = (r * cols + c) * C;
      const o = (r * cols + c) * D;
      for (let k = 0; k < C; k++) dst[o + k] = src[s + k]!;
      const m = o + C;
      // Top to bottom, float32 rounding after each add (see above).
      if (up && down)
        for (let k = 0; k < C; k++)
          dst[m + k] =
            Math.fround(Math.fround(h[s + up + k]! * inv) + h[s + k]! * inv) + h[s + down + k]! * inv;
      else if (up)
        for (let k = 0; k < C; k++) dst[m + k] = Math.fround(h[s + up + k]! * inv) + h[s + k]! * inv;
      else if (down)
        for (let k = 0; k < C; k++) dst[m + k] = Math.fround(h[s + k]! * inv) + h[s + down + k]! * inv;
      else for (let k = 0; k < C; k++) dst[m + k] = h[s + k]! * inv;
      dst[o + 2 * C] = rowFeature;
    }
  }
  return { rows, cols, channels: D, strideX: map.strideX, strideY: map.strideY, data: dst };
}

/**
 * 3×3 smoothing of a predicted grid over valid cells (mask 1 = ground), weighted by confidence: one
 * 8-pixel cell's texture is a noisy sample at a distance, its neighbours on the same ground are not.
 * Writes into `outR`/`outC` (must not alias the inputs).
 */
export function smoothGrid(
  rows: number,
  cols: number,
  rough: Float32Array,
  conf: Float32Array,
  mask: Uint8Array | undefined,
  outR: Float32Array,
  outC: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (mask && !mask[i]) {
        outR[i] = rough[i]!;
        outC[i] = conf[i]!;
        continue;
      }
      let sw = 0;
      let sr = 0;
      let sc = 0;
      let n = 0;
      for (let dr = -1; dr <= 1; dr++) {
        const rr = r + dr;
        if (rr < 0 || rr >= rows) continue;
        for (let dc = -1; dc <= 1; dc++) {
          const cc = c + dc;
          if (cc < 0 || cc >= cols) continue;
          const j = rr * cols + cc;
          if (mask && !mask[j]) continue;
          const w = (dr === 0 && dc === 0 ? 2 : 1) * (conf[j]! + 1e-3);
          sw += w;
          sr += w * rough[j]!;
          sc += conf[j]!;
          n++;
        }
      }
      outR[i] = sr / sw;
      outC[i] = sc / n;
    }
  }
}

/**
 * out[i] = r[i] + weight·(1 − conf[i])·(prior − r[i]): an uncertain cell leans towards the prior
 * (the mean roughness of the ground driven so far), a confident one keeps its prediction. An
 * extrapolation from texture alone to ground unlike any driven on is as likely to be far too rough as
 * far too smooth; the typical ground is the better bet until the robot has felt it.
 */
export function shrinkToPrior(
  rough: Float32Array,
  conf: Float32Array,
  prior: number,
  weight: number,
  out: Float32Array,
): void {
  for (let i = 0; i < rough.length; i++) {
    const c = conf[i]!;
    const w = weight * (1 - (c > 1 ? 1 : c < 0 || Number.isNaN(c) ? 0 : c));
    out[i] = rough[i]! + w * (prior - rough[i]!);
  }
}
