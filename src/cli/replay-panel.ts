// One frame panel of the replay report: the camera image with the predicted and the true roughness.

import type { ImageFrame, RoughnessGrid } from "../core/types.ts";
import type { FramePanel } from "../eval/report.ts";
import { renderOverlay } from "../outputs/images.ts";
import type { Config } from "../runtime/config.ts";

export function makePanel(
  image: ImageFrame,
  grid: RoughnessGrid,
  truth: Float32Array,
  t: number,
  config: Config,
): FramePanel {
  const n = grid.rows * grid.cols;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = Number.isFinite(truth[i]!) ? 1 : 0;
  const truthGrid: RoughnessGrid = { ...grid, roughness: truth, confidence: new Float32Array(n).fill(1) };
  const o = config.outputs;
  return {
    caption: `t = ${t.toFixed(0)} s`,
    camera: image,
    predicted: renderOverlay(image, grid, { alpha: 0.75, minConfidence: o.min_confidence, mask }),
    truth: renderOverlay(image, truthGrid, { alpha: 0.75, minConfidence: 0, mask }),
  };
}
