// The camera model of the roughness image: the same camera, seen through the prediction grid. A
// viewer (Foxglove's 3D panel, RViz's Camera display) needs it to place the 32FC1 roughness image,
// whose pixels are grid cells, in the scene.

import type { CameraModel, RoughnessGrid } from "../core/types.ts";

type GridShape = Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY">;

/**
 * `camera` with its intrinsics scaled to `grid`: cell (r, c) covers pixels [c·strideX, (c+1)·strideX),
 * so its centre, pixel (c + 0.5)·strideX − 0.5, is grid pixel c. Distortion applies to normalised
 * coordinates and is unchanged; the stamp and frame are the grid's.
 */
export function roughnessCameraModel(
  camera: CameraModel,
  grid: GridShape & { stamp: number; frameId: string },
): CameraModel {
  const sx = grid.strideX;
  const sy = grid.strideY;
  if (!(sx > 0 && sy > 0)) throw new Error(`grid strides must be positive, got ${sx}×${sy}`);
  // A pixel u maps to grid coordinate (u + 0.5)/sx − 0.5. For a 3-row projection matrix M (K or P),
  // u = (row0·X)/(row2·X), so row0 becomes (row0 + 0.5·row2)/sx − 0.5·row2; row1 likewise with sy.
  const scale = (m: readonly number[], cols: number): number[] => {
    const out = m.slice(0, 3 * cols);
    for (let j = 0; j < cols; j++) {
      const w = m[2 * cols + j]!;
      out[j] = (m[j]! + 0.5 * w) / sx - 0.5 * w;
      out[cols + j] = (m[cols + j]! + 0.5 * w) / sy - 0.5 * w;
    }
    return out;
  };
  const K = scale(camera.K, 3);
  const P = scale(camera.P, 4);
  return {
    stamp: grid.stamp,
    frameId: grid.frameId,
    width: grid.cols,
    height: grid.rows,
    K,
    D: camera.D,
    distortionModel: camera.distortionModel,
    P,
  };
}
