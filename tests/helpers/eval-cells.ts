// Scored cells for summarise() built by hand: confident, baseline 0.5, off boundaries; the test fills
// in stamps, predictions, truths and types.

import type { CellViews } from "../../src/eval/eval-summary.ts";

export function emptyCells(n: number): CellViews {
  return {
    t: new Float64Array(n),
    pred: new Float32Array(n),
    conf: new Float32Array(n).fill(1),
    gt: new Float32Array(n),
    base: new Float32Array(n).fill(0.5),
    type: new Int16Array(n),
    boundary: new Uint8Array(n),
  };
}
