// One frame panel of the replay report: the camera image with the predicted and the true roughness.

import type { ImageFrame, RoughnessGrid } from "../core/types.ts";
import type { FramePanel } from "../eval/report.ts";
import { renderOverlay } from "../outputs/images.ts";
import type { Config } from "../runtime/config.ts";

/**
 * `t = 36 s`, with the decimals that tell panels `spacing` seconds apart from each other (a short
 * run's panels all fall within a few seconds).
 */
export function panelCaption(t: number, spacing: number): string {
  const decimals = spacing > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(spacing)))) : 0;
  return `t = ${t.toFixed(decimals)} s`;
}

export function makePanel(
  image: ImageFrame,
  grid: RoughnessGrid,
  truth: Float32Array,
  caption: string,
  config: Config,
): FramePanel {
  const n = grid.rows * grid.cols;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = Number.isFinite(truth[i]!) ? 1 : 0;
  const truthGrid: RoughnessGrid = { ...grid, roughness: truth, confidence: new Float32Array(n).fill(1) };
  const o = config.outputs;
  return {
    caption,
    camera: image,
    predicted: renderOverlay(image, grid, { alpha: 0.75, minConfidence: o.min_confidence, mask }),
    truth: renderOverlay(image, truthGrid, { alpha: 0.75, minConfidence: 0, mask }),
  };
}
