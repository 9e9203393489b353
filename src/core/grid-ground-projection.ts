// Projects the cell centres of a feature grid onto the odom ground plane.

import type { FeatureGridSpec } from "./association.ts";
import { intersectGround, pixelRay } from "./camera.ts";
import { type Mat34, mat34, mat34Compose, mat34FromPose2 } from "./geometry.ts";
import type { CameraModel, Pose2 } from "./types.ts";

/** Keeps the cell rays of the last camera model and grid: both change rarely, frames come often. */
export class GridGroundProjector {
  private readonly m1 = mat34();
  private readonly m2 = mat34();
  private readonly hit = new Float64Array(3);
  private rayCache: {
    model: CameraModel;
    rows: number;
    cols: number;
    sx: number;
    sy: number;
    rays: Float64Array;
  } | null = null;

  /**
   * Writes the odom (x, y) of every cell centre (row-major) seen from `pose`; NaN where the ray
   * misses the ground within `maxRange`. Throws when the outputs are shorter than the grid.
   */
  project(
    camera: CameraModel,
    baseFromOptical: Mat34,
    pose: Pose2,
    grid: FeatureGridSpec,
    outX: Float64Array,
    outY: Float64Array,
    maxRange: number,
  ): void {
    const n = grid.rows * grid.cols;
    if (outX.length < n || outY.length < n) {
      throw new Error(
        `projectGridToGround: outputs hold ${Math.min(outX.length, outY.length)} values, grid has ${n} cells`,
      );
    }
    const rays = this.cellRays(camera, grid);
    const odomFromOptical = mat34Compose(
      mat34FromPose2(pose.x, pose.y, pose.yaw, this.m1),
      baseFromOptical,
      this.m2,
    );
    const hit = this.hit;
    for (let i = 0; i < n; i++) {
      const t = intersectGround(
        odomFromOptical,
        rays[3 * i]!,
        rays[3 * i + 1]!,
        rays[3 * i + 2]!,
        hit,
        0,
        maxRange,
      );
      if (t < 0) {
        outX[i] = Number.NaN;
        outY[i] = Number.NaN;
      } else {
        outX[i] = hit[0]!;
        outY[i] = hit[1]!;
      }
    }
  }

  private cellRays(model: CameraModel, grid: FeatureGridSpec): Float64Array {
    const c = this.rayCache;
    if (
      c &&
      c.model === model &&
      c.rows === grid.rows &&
      c.cols === grid.cols &&
      c.sx === grid.strideX &&
      c.sy === grid.strideY
    ) {
      return c.rays;
    }
    const rays = new Float64Array(grid.rows * grid.cols * 3);
    for (let r = 0; r < grid.rows; r++) {
      for (let col = 0; col < grid.cols; col++) {
        const u = (col + 0.5) * grid.strideX - 0.5;
        const v = (r + 0.5) * grid.strideY - 0.5;
        pixelRay(model, u, v, rays, 3 * (r * grid.cols + col));
      }
    }
    this.rayCache = { model, rows: grid.rows, cols: grid.cols, sx: grid.strideX, sy: grid.strideY, rays };
    return rays;
  }
}
