// Per-frame ground truth: feature-cell centres and corners projected onto the ground-truth maps.

import { pixelToGround } from "../core/camera.ts";
import type { Mat34 } from "../core/geometry.ts";
import type { CameraModel, RoughnessGrid } from "../core/types.ts";
import { type GridMap, gridIndex } from "./ground-truth.ts";

/** Per cell of a frame: true roughness (NaN where unknown), terrain type (−1), boundary flag, range (m). */
export interface FrameTruth {
  roughness: Float32Array;
  terrain: Int16Array;
  boundary: Uint8Array;
  range: Float32Array;
}

/**
 * Looks each cell of a frame up in the roughness map (and the terrain map, when given) with the camera
 * at `worldFromOptical`. `p` is scratch (3 values).
 */
export function projectFrameTruth(
  cam: CameraModel,
  worldFromOptical: Mat34,
  grid: Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY">,
  rough: GridMap,
  tmap: GridMap | undefined,
  p: Float64Array,
): FrameTruth {
  const { rows, cols, strideX, strideY } = grid;
  const n = rows * cols;
  const out = new Float32Array(n).fill(Number.NaN);
  const terrain = new Int16Array(n).fill(-1);
  const boundary = new Uint8Array(n);
  const range = new Float32Array(n).fill(Number.NaN);
  // Terrain at the cell corners, for the boundary test.
  const cornerType = new Int16Array((rows + 1) * (cols + 1)).fill(-1);
  if (tmap) {
    for (let r = 0; r <= rows; r++) {
      for (let c = 0; c <= cols; c++) {
        const t = pixelToGround(cam, worldFromOptical, c * strideX - 0.5, r * strideY - 0.5, p);
        if (t < 0) continue;
        const i = gridIndex(tmap, p[0]!, p[1]!);
        if (i >= 0) cornerType[r * (cols + 1) + c] = tmap.values[i]!;
      }
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      const t = pixelToGround(cam, worldFromOptical, (c + 0.5) * strideX - 0.5, (r + 0.5) * strideY - 0.5, p);
      if (t < 0) continue;
      range[k] = t;
      const i = gridIndex(rough, p[0]!, p[1]!);
      if (i < 0) continue;
      const v = rough.values[i]!;
      if (v < 0) continue;
      out[k] = v / 100;
      if (tmap) {
        const j = gridIndex(tmap, p[0]!, p[1]!);
        const type = j >= 0 ? tmap.values[j]! : -1;
        terrain[k] = type;
        const w = cols + 1;
        const a = cornerType[r * w + c]!,
          b = cornerType[r * w + c + 1]!,
          d = cornerType[(r + 1) * w + c]!,
          e = cornerType[(r + 1) * w + c + 1]!;
        if (a !== type || b !== type || d !== type || e !== type) boundary[k] = 1;
      }
    }
  }
  return { roughness: out, terrain, boundary, range };
}
