// Feature-grid geometry: which cells a camera image yields and reading cells out of a feature map.

export interface FeatureGridSpec {
  rows: number;
  cols: number;
  strideX: number;
  strideY: number;
}

export interface FeatureMap {
  rows: number;
  cols: number;
  channels: number;
  strideX: number;
  strideY: number;
  /** Cell-major HWC: data[(r*cols+c)*channels + k]. */
  data: Float32Array;
}

/**
 * The feature grid of a width×height camera image, in that image's pixels. Downscaled images
 * (wider than `input_width`) have cells of stride·width/inputWidth pixels; the grid covers the top-left
 * cols·strideX × rows·strideY pixels.
 */
export function featureGridFor(
  info: { stride: number; inputWidth: number },
  width: number,
  height: number,
): FeatureGridSpec {
  const s = info.stride;
  const iw = info.inputWidth;
  if (!(iw > 0 && width > iw)) {
    return { rows: Math.floor(height / s), cols: Math.floor(width / s), strideX: s, strideY: s };
  }
  // Integer arithmetic for the rows: floor(height·iw/width / s) without a float rounding below a whole.
  const cell = (s * width) / iw;
  return {
    rows: Math.floor((height * iw) / (width * s)),
    cols: Math.floor(iw / s),
    strideX: cell,
    strideY: cell,
  };
}

/** Rows of a feature map for the given cells (r*cols+c), row-major cells.length × channels. */
export function gatherCells(map: FeatureMap, cells: ArrayLike<number>, out?: Float32Array): Float32Array {
  const C = map.channels;
  const n = cells.length;
  const dst = out && out.length >= n * C ? out : new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const cell = cells[i] as number;
    if (!(cell >= 0 && cell < map.rows * map.cols))
      throw new Error(`cell ${cell} outside the ${map.rows}×${map.cols} grid`);
    dst.set(map.data.subarray(cell * C, cell * C + C), i * C);
  }
  return dst;
}
