// The camera model of the roughness image: the camera's intrinsics scaled to the feature grid, so
// that RViz and Foxglove can project the 40×30 `~/roughness/image` onto the camera image (and a
// consumer can ray-cast its cells) with the usual CameraInfo machinery.
//
// Cell (r, c) covers the camera pixels [c·strideX, (c+1)·strideX) × [r·strideY, (r+1)·strideY)
// (pixel centres at integer coordinates, as in ROS). A camera pixel coordinate u is therefore grid
// coordinate (u + ½)/strideX − ½: fx and fy scale by 1/stride, the principal point also shifts by
// the half-pixel offset. Distortion acts on normalised coordinates and stays as it is; R is kept.

import type { CameraModel, RoughnessGrid } from "../core/types.ts";

export function gridCameraModel(
  camera: CameraModel,
  grid: Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY" | "stamp" | "frameId">,
): CameraModel {
  const sx = 1 / grid.strideX;
  const sy = 1 / grid.strideY;
  const K = camera.K;
  const P = camera.P;
  // Rows 0 and 1 of K and P map to u and v; row 2 is unchanged.
  const u = (a: number, b: number, c: number) => [a * sx, b * sx, (c + 0.5) * sx - 0.5];
  const v = (a: number, b: number, c: number) => [a * sy, b * sy, (c + 0.5) * sy - 0.5];
  const k = [...u(K[0]!, K[1]!, K[2]!), ...v(K[3]!, K[4]!, K[5]!), K[6]!, K[7]!, K[8]!];
  // P's 4th column is the baseline term fx·Tx (stereo); it scales like fx.
  const p =
    P.length === 12
      ? [
          ...u(P[0]!, P[1]!, P[2]!),
          P[3]! * sx,
          ...v(P[4]!, P[5]!, P[6]!),
          P[7]! * sy,
          P[8]!,
          P[9]!,
          P[10]!,
          P[11]!,
        ]
      : [k[0]!, k[1]!, k[2]!, 0, k[3]!, k[4]!, k[5]!, 0, 0, 0, 1, 0];
  return {
    stamp: grid.stamp,
    frameId: grid.frameId,
    width: grid.cols,
    height: grid.rows,
    K: k,
    D: camera.D,
    distortionModel: camera.distortionModel,
    P: p,
  };
}
