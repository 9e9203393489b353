// Projects the cell centres of a feature grid onto the odom ground plane, and says where that plane
// is relative to the robot's base frame.
//
// The ground is z = 0 of a "ground-level" frame G: directly below `frames.base` along the ground's
// normal, x along the base's heading, z up. The planar odometry pose (x, y, yaw of the base) places
// G in odom, so the camera's pose for the projection is G ← optical = (G ← base) · (base ← optical).
// G ← base comes from TF (REP-105's base_footprint under base_link: height and tilt), from a
// configured height, or is the identity (the ground is z = 0 of the base frame itself).

import type { FeatureGridSpec } from "./association.ts";
import { intersectGround, pixelRay } from "./camera.ts";
import { type Mat34, mat34, mat34Compose, mat34FromPose2, mat34FromTransform } from "./geometry.ts";
import type { CameraModel, Pose2, Transform } from "./types.ts";

/** Where the ground plane under the base comes from (reported once, and in the supervisor's stats). */
export interface GroundPlane {
  /** tf: z = 0 of `frame` found in TF; config: `frames.base_height`; base: z = 0 of the base frame. */
  source: "tf" | "config" | "base";
  /** The frame whose z = 0 is the ground (tf), else the base frame. */
  frame: string;
  /** Height of the base frame's origin above the ground (m). */
  height: number;
  /** Angle between the base frame's z axis and the ground's normal (rad). */
  tilt: number;
}

/**
 * G ← base for a ground frame known through TF (`groundFromBase`: ground ← base, e.g.
 * base_footprint ← base_link): the plane z = 0 of that frame, with G's origin directly below the
 * base and its x axis the base's x projected onto the plane (so the odometry's yaw still applies;
 * the ground frame's own yaw and horizontal offset do not matter). Null when the base's x axis is
 * perpendicular to the ground (no heading on the plane).
 */
export function groundLevelFromBase(
  groundFromBase: Pick<Transform, "translation" | "rotation">,
  out: Mat34,
): Mat34 | null {
  const m = mat34FromTransform(groundFromBase, out);
  // The ground's normal in base coordinates (third row of R), and the base's height along it.
  const nx = m[8]!;
  const ny = m[9]!;
  const nz = m[10]!;
  const h = m[11]!;
  // The base's x axis without its component along the normal.
  let xx = 1 - nx * nx;
  let xy = -nx * ny;
  let xz = -nx * nz;
  const len = Math.hypot(xx, xy, xz);
  if (!(len > 1e-6)) return null;
  xx /= len;
  xy /= len;
  xz /= len;
  // y = n × x
  out[0] = xx;
  out[1] = xy;
  out[2] = xz;
  out[3] = 0;
  out[4] = ny * xz - nz * xy;
  out[5] = nz * xx - nx * xz;
  out[6] = nx * xy - ny * xx;
  out[7] = 0;
  out[8] = nx;
  out[9] = ny;
  out[10] = nz;
  out[11] = h;
  return out;
}

/** Angle between the base's z axis and the ground normal of a G ← base from groundLevelFromBase (rad). */
export function groundTilt(groundLevelFromBase: Mat34): number {
  return Math.acos(Math.min(1, Math.max(-1, groundLevelFromBase[10]!)));
}

/** One line on the ground plane the camera's cells are projected onto (frames.ground, base_height). */
export function describeGround(plane: GroundPlane, frames: { base: string; ground?: string }): string {
  const h = plane.height.toFixed(3);
  switch (plane.source) {
    case "tf": {
      const tilt = (plane.tilt * 180) / Math.PI;
      return `ground plane: z = 0 of ${plane.frame} (TF), ${frames.base} ${h} m above it${tilt >= 0.05 ? `, tilted ${tilt.toFixed(1)}°` : ""}`;
    }
    case "config":
      return `ground plane: ${h} m below ${frames.base} (frames.base_height)`;
    case "base":
      return frames.ground && frames.ground !== frames.base
        ? `ground plane: z = 0 of ${frames.base} (no ${frames.ground} in TF; set frames.base_height if ${frames.base} is not on the ground)`
        : `ground plane: z = 0 of ${frames.base}`;
  }
}

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
   * Writes the odom (x, y) of every cell centre (row-major) seen from `pose` (the planar pose of the
   * base); NaN where the ray misses the ground within `maxRange`. `groundFromOptical` is the camera
   * in the ground-level frame under the base (the ground is its z = 0; see the top of this file).
   * Throws when the outputs are shorter than the grid.
   */
  project(
    camera: CameraModel,
    groundFromOptical: Mat34,
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
      groundFromOptical,
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
