// Per-frame roughness images: the raw grids as 32FC1 images at grid resolution (what a consumer that
// wants numbers reads) and an rgb8 overlay at camera resolution (what a person looks at).
//
// Overlay: each pixel takes the colour of its feature cell's roughness, blended over the camera
// image with opacity = alpha × confidence, so confident predictions stand out and uncertain ones
// fade. Cells below `min_confidence` are greyed and hatched (diagonal lines) — "I don't know this
// ground" must never look like "smooth". Cells marked invalid in `mask` (above the horizon, no
// ground) keep the camera image.

import type { ImageFrame, RoughnessGrid } from "../core/types.ts";
import { lutIndex, ROUGHNESS_LUT } from "./colormap.ts";

export interface OverlayOptions {
  /** Maximum opacity of the colour layer (at confidence 1). */
  alpha?: number;
  /** Cells below this confidence are hatched grey. */
  minConfidence?: number;
  /** Per-cell flag (rows × cols): 0 = not ground, leave the camera image. */
  mask?: Uint8Array;
  /** Hatch spacing in pixels. */
  hatch?: number;
}

/**
 * Renders the overlay into `out` (allocated when absent; reuse it frame after frame). The camera image
 * may be rgb8 or mono8; the overlay is always rgb8 with the camera's size, stamp and frame.
 */
export function renderOverlay(
  image: ImageFrame,
  grid: RoughnessGrid,
  options: OverlayOptions = {},
  out?: Uint8Array,
): ImageFrame {
  const { width, height } = image;
  const alpha = options.alpha ?? 0.6;
  const minConf = options.minConfidence ?? 0.3;
  const hatch = options.hatch ?? 8;
  const mask = options.mask;
  const n = width * height * 3;
  const data = out && out.length === n ? out : new Uint8Array(n);
  const src = image.data;
  const mono = image.encoding === "mono8";
  const { rows, cols, strideX, strideY } = grid;
  for (let v = 0; v < height; v++) {
    const r = Math.floor(v / strideY);
    for (let u = 0; u < width; u++) {
      const p = v * width + u;
      const o = 3 * p;
      let R: number, G: number, B: number;
      if (mono) {
        R = G = B = src[p]!;
      } else {
        R = src[o]!;
        G = src[o + 1]!;
        B = src[o + 2]!;
      }
      const c = Math.floor(u / strideX);
      if (r < rows && c < cols) {
        const cell = r * cols + c;
        if (!mask || mask[cell]) {
          const conf = grid.confidence[cell]!;
          const li = lutIndex(grid.roughness[cell]!);
          if (li < 0 || !(conf >= minConf)) {
            // Unknown: desaturate and hatch.
            const grey = 0.3 * R + 0.59 * G + 0.11 * B;
            const onLine = (u + v) % hatch < 2;
            const g = onLine ? 60 : 0.5 * grey + 64;
            R = G = B = g;
          } else {
            const a = alpha * (conf > 1 ? 1 : conf);
            R = R + a * (ROUGHNESS_LUT[3 * li]! - R);
            G = G + a * (ROUGHNESS_LUT[3 * li + 1]! - G);
            B = B + a * (ROUGHNESS_LUT[3 * li + 2]! - B);
          }
        }
      }
      data[o] = R;
      data[o + 1] = G;
      data[o + 2] = B;
    }
  }
  return { stamp: image.stamp, frameId: image.frameId, width, height, encoding: "rgb8", data };
}
