// Per-frame ground truth: feature-cell centres and corners projected onto the ground-truth maps.

import { intersectGround, pixelRay } from "../core/camera.ts";
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
 * The optical-frame rays through a grid's cell centres and corners. They do not change from frame to
 * frame, and pixelRay's undistortion iterates: computed once per camera model and grid (the last one
 * is kept; CameraInfo arrives with every frame, so the key is the model's values, not the object).
 */
let lastRays: { key: string; centres: Float64Array; corners: Float64Array } | undefined;

function gridRays(
  cam: CameraModel,
  grid: Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY">,
): { centres: Float64Array; corners: Float64Array } {
  const { rows, cols, strideX, strideY } = grid;
  const key = JSON.stringify([cam.distortionModel, [...cam.K], [...cam.D], rows, cols, strideX, strideY]);
  if (lastRays?.key === key) return lastRays;
  const centres = new Float64Array(rows * cols * 3);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      pixelRay(cam, (c + 0.5) * strideX - 0.5, (r + 0.5) * strideY - 0.5, centres, 3 * (r * cols + c));
  const corners = new Float64Array((rows + 1) * (cols + 1) * 3);
  for (let r = 0; r <= rows; r++)
    for (let c = 0; c <= cols; c++)
      pixelRay(cam, c * strideX - 0.5, r * strideY - 0.5, corners, 3 * (r * (cols + 1) + c));
  lastRays = { key, centres, corners };
  return lastRays;
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
  const { rows, cols } = grid;
  const n = rows * cols;
  const out = new Float32Array(n).fill(Number.NaN);
  const terrain = new Int16Array(n).fill(-1);
  const boundary = new Uint8Array(n);
  const range = new Float32Array(n).fill(Number.NaN);
  const { centres, corners } = gridRays(cam, grid);
  // Terrain at the cell corners, for the boundary test.
  const cornerType = new Int16Array((rows + 1) * (cols + 1)).fill(-1);
  if (tmap) {
    for (let r = 0; r <= rows; r++) {
      for (let c = 0; c <= cols; c++) {
        const q = 3 * (r * (cols + 1) + c);
        const t = intersectGround(worldFromOptical, corners[q]!, corners[q + 1]!, corners[q + 2]!, p);
        if (t < 0) continue;
        const i = gridIndex(tmap, p[0]!, p[1]!);
        if (i >= 0) cornerType[r * (cols + 1) + c] = tmap.values[i]!;
      }
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      const t = intersectGround(
        worldFromOptical,
        centres[3 * k]!,
        centres[3 * k + 1]!,
        centres[3 * k + 2]!,
        p,
      );
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
