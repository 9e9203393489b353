// Footprint → image association: project a label's ground footprint into a keyframe's image and
// rasterise it onto the backbone's feature grid (cell indices + fraction of each cell covered).
//
// Geometry, per keyframe: the footprint (odom, on the ground) → the keyframe's base_link through
// its interpolated planar pose (flat ground: z = 0 of the ground-level frame under base_link, see
// grid-ground-projection.ts) → camera_optical_frame through the TF extrinsics → pixels through the
// CameraModel (plumb_bob etc.). Straight ground edges curve
// under lens distortion, so edges are densified before projection; the polygon is clipped in 3D
// against a near plane and the (slightly enlarged) view frustum — so parts behind the camera or far
// outside the image never reach the lens model, where it folds back — and then in pixels against
// the image rectangle and each grid cell (Sutherland–Hodgman; coverage = clipped area / cell area).
//
// Everything runs on scratch typed arrays owned by the projector; only the result arrays allocate.

import { projectPoint, undistortNormalized } from "./camera.ts";
import { type Mat34, mat34ApplyPoint } from "./geometry.ts";
import type { CameraModel } from "./types.ts";

export interface FeatureGridSpec {
  rows: number;
  cols: number;
  /** Pixels per cell horizontally / vertically: cell (r, c) covers pixel columns [c·strideX, (c+1)·strideX). */
  strideX: number;
  strideY: number;
}

export interface GridFootprint {
  /** Cell indices r·cols + c, ascending. */
  cells: Int32Array;
  /** Fraction of each cell covered by the footprint (0..1). */
  weights: Float32Array;
  /** Share of the footprint's area that is inside the image (0..1). */
  visibleFraction: number;
  /** Projected polygon in pixels after clipping to the image (u, v interleaved), for overlays and tests. */
  pixels: Float64Array;
}

const MAX_VERTS = 512;
const NEAR = 0.05;

export class FootprintProjector {
  private readonly densify: number;
  private readonly minCellCoverage: number;
  // Two ping-pong buffers for 3D clipping and two for 2D.
  private a3 = new Float64Array(3 * MAX_VERTS);
  private b3 = new Float64Array(3 * MAX_VERTS);
  private a2 = new Float64Array(2 * MAX_VERTS);
  private b2 = new Float64Array(2 * MAX_VERTS);
  private c2 = new Float64Array(2 * MAX_VERTS);
  private d2 = new Float64Array(2 * MAX_VERTS);
  private readonly px = new Float64Array(2);
  // Frustum bounds in normalised (undistorted) coordinates for the last camera model seen.
  private boundsModel: CameraModel | null = null;
  private xMin = 0;
  private xMax = 0;
  private yMin = 0;
  private yMax = 0;
  private cellsScratch = new Int32Array(256);
  private weightsScratch = new Float32Array(256);

  constructor(options: { densify?: number; minCellCoverage?: number } = {}) {
    this.densify = Math.max(1, Math.min(16, options.densify ?? 4));
    this.minCellCoverage = options.minCellCoverage ?? 0.1;
  }

  private updateBounds(model: CameraModel): void {
    if (this.boundsModel === model) return;
    const out = new Float64Array(2);
    const K = model.K;
    const fx = K[0]!,
      skew = K[1]!,
      cx = K[2]!,
      fy = K[4]!,
      cy = K[5]!;
    let x0 = Infinity,
      x1 = -Infinity,
      y0 = Infinity,
      y1 = -Infinity;
    // Sample the image border: with barrel distortion the extreme rays are at the corners, with
    // pincushion at the edge midpoints; 9 points per side cover both.
    for (let i = 0; i <= 8; i++) {
      for (const [u, v] of [
        [-0.5 + (i / 8) * model.width, -0.5],
        [-0.5 + (i / 8) * model.width, model.height - 0.5],
        [-0.5, -0.5 + (i / 8) * model.height],
        [model.width - 0.5, -0.5 + (i / 8) * model.height],
      ] as const) {
        const yd = (v - cy) / fy;
        const xd = (u - cx - skew * yd) / fx;
        undistortNormalized(model, xd, yd, out);
        x0 = Math.min(x0, out[0]!);
        x1 = Math.max(x1, out[0]!);
        y0 = Math.min(y0, out[1]!);
        y1 = Math.max(y1, out[1]!);
      }
    }
    // 15 % margin: the final clip is against the image rectangle in pixels; this one only keeps
    // far-off points away from the lens model.
    const mx = 0.15 * (x1 - x0);
    const my = 0.15 * (y1 - y0);
    this.xMin = x0 - mx;
    this.xMax = x1 + mx;
    this.yMin = y0 - my;
    this.yMax = y1 + my;
    this.boundsModel = model;
  }

  /**
   * Projects the ground polygon (xs, ys at height z = groundZ in the world frame) into the image
   * with `opticalFromWorld` (optical ← world) and rasterises it on `grid`. Returns null when no
   * part of it is in view.
   */
  project(
    model: CameraModel,
    opticalFromWorld: Mat34,
    xs: Float64Array,
    ys: Float64Array,
    grid: FeatureGridSpec,
    groundZ = 0,
  ): GridFootprint | null {
    this.updateBounds(model);
    const nv = xs.length;
    const dens = this.densify;
    if (nv < 3 || nv * dens > MAX_VERTS / 2) return null;
    // 1. Densify the edges on the ground and move to the optical frame.
    let src = this.a3;
    let dst = this.b3;
    let n = 0;
    for (let i = 0; i < nv; i++) {
      const x0 = xs[i]!,
        y0 = ys[i]!;
      const x1 = xs[(i + 1) % nv]!,
        y1 = ys[(i + 1) % nv]!;
      for (let k = 0; k < dens; k++) {
        const u = k / dens;
        mat34ApplyPoint(opticalFromWorld, x0 + u * (x1 - x0), y0 + u * (y1 - y0), groundZ, src, 3 * n);
        n++;
      }
    }
    const fullArea = area3(src, n);
    if (!(fullArea > 0)) return null;
    // 2. Clip against z ≥ NEAR and the four frustum planes (all through the optical centre).
    const planes = [
      [0, 0, 1, -NEAR],
      [-1, 0, this.xMax, 0], // x ≤ xMax·z
      [1, 0, -this.xMin, 0], // x ≥ xMin·z
      [0, -1, this.yMax, 0],
      [0, 1, -this.yMin, 0],
    ] as const;
    for (const [a, b, c, d] of planes) {
      n = clipPlane3(src, n, dst, a, b, c, d);
      if (n < 3) return null;
      const t = src;
      src = dst;
      dst = t;
    }
    const inFrustumArea = area3(src, n);
    // 3. Project the clipped vertices.
    const p2 = this.a2;
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (projectPoint(model, src[3 * i]!, src[3 * i + 1]!, src[3 * i + 2]!, this.px, true)) {
        p2[2 * m] = this.px[0]!;
        p2[2 * m + 1] = this.px[1]!;
        m++;
      }
    }
    if (m < 3) return null;
    const pixArea = Math.abs(area2(p2, m));
    if (!(pixArea > 0)) return null;
    // 4. Clip to the image rectangle.
    const W = model.width;
    const H = model.height;
    const img = clipBox2(p2, m, this.b2, this.c2, -0.5, -0.5, W - 0.5, H - 0.5);
    const imgPoly = this.b2;
    if (img < 3) return null;
    const imgArea = Math.abs(area2(imgPoly, img));
    if (!(imgArea > 0)) return null;
    const visibleFraction = Math.min(1, (inFrustumArea / fullArea) * (imgArea / pixArea));
    // 5. Rasterise on the grid.
    const { rows, cols, strideX: sx, strideY: sy } = grid;
    let u0 = Infinity,
      u1 = -Infinity,
      v0 = Infinity,
      v1 = -Infinity;
    for (let i = 0; i < img; i++) {
      const u = imgPoly[2 * i]!,
        v = imgPoly[2 * i + 1]!;
      if (u < u0) u0 = u;
      if (u > u1) u1 = u;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
    }
    const c0 = Math.max(0, Math.floor((u0 + 0.5) / sx));
    const c1 = Math.min(cols - 1, Math.floor((u1 + 0.5) / sx));
    const r0 = Math.max(0, Math.floor((v0 + 0.5) / sy));
    const r1 = Math.min(rows - 1, Math.floor((v1 + 0.5) / sy));
    let k = 0;
    const cellArea = sx * sy;
    // A far footprint can be smaller than one cell: then the cell holding most of it is kept alone
    // (with its small weight) rather than losing every sample beyond a few metres.
    let bestCell = -1;
    let bestCov = 0;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cn = clipBox2(
          imgPoly,
          img,
          this.c2,
          this.d2,
          c * sx - 0.5,
          r * sy - 0.5,
          (c + 1) * sx - 0.5,
          (r + 1) * sy - 0.5,
        );
        if (cn < 3) continue;
        const cov = Math.abs(area2(this.c2, cn)) / cellArea;
        if (cov > bestCov) {
          bestCov = cov;
          bestCell = r * cols + c;
        }
        if (cov < this.minCellCoverage || cov <= 0) continue;
        if (k === this.cellsScratch.length) {
          const nc = new Int32Array(k * 2);
          nc.set(this.cellsScratch);
          this.cellsScratch = nc;
          const nw = new Float32Array(k * 2);
          nw.set(this.weightsScratch);
          this.weightsScratch = nw;
        }
        this.cellsScratch[k] = r * cols + c;
        this.weightsScratch[k] = Math.min(1, cov);
        k++;
      }
    }
    if (k === 0 && bestCell >= 0) {
      this.cellsScratch[0] = bestCell;
      this.weightsScratch[0] = Math.min(1, bestCov);
      k = 1;
    }
    return {
      cells: this.cellsScratch.slice(0, k),
      weights: this.weightsScratch.slice(0, k),
      visibleFraction,
      pixels: imgPoly.slice(0, 2 * img),
    };
  }
}

/** Magnitude of the vector area of a planar 3D polygon. */
function area3(p: Float64Array, n: number): number {
  let ax = 0,
    ay = 0,
    az = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const x0 = p[3 * i]!,
      y0 = p[3 * i + 1]!,
      z0 = p[3 * i + 2]!;
    const x1 = p[3 * j]!,
      y1 = p[3 * j + 1]!,
      z1 = p[3 * j + 2]!;
    ax += y0 * z1 - z0 * y1;
    ay += z0 * x1 - x0 * z1;
    az += x0 * y1 - y0 * x1;
  }
  return 0.5 * Math.hypot(ax, ay, az);
}

/** Signed shoelace area of a 2D polygon (u, v interleaved). */
export function area2(p: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    s += p[2 * i]! * p[2 * j + 1]! - p[2 * j]! * p[2 * i + 1]!;
  }
  return s / 2;
}

/** Keeps the part with a·x + b·y + c·z + d ≥ 0. */
function clipPlane3(
  src: Float64Array,
  n: number,
  dst: Float64Array,
  a: number,
  b: number,
  c: number,
  d: number,
): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const px = src[3 * i]!,
      py = src[3 * i + 1]!,
      pz = src[3 * i + 2]!;
    const qx = src[3 * j]!,
      qy = src[3 * j + 1]!,
      qz = src[3 * j + 2]!;
    const dp = a * px + b * py + c * pz + d;
    const dq = a * qx + b * qy + c * qz + d;
    if (dp >= 0) {
      if (m >= MAX_VERTS) return m;
      dst[3 * m] = px;
      dst[3 * m + 1] = py;
      dst[3 * m + 2] = pz;
      m++;
    }
    if (dp >= 0 !== dq >= 0) {
      if (m >= MAX_VERTS) return m;
      const t = dp / (dp - dq);
      dst[3 * m] = px + t * (qx - px);
      dst[3 * m + 1] = py + t * (qy - py);
      dst[3 * m + 2] = pz + t * (qz - pz);
      m++;
    }
  }
  return m;
}

/** Keeps the part with s·(coord axis) + d ≥ 0 (axis 0 = u, 1 = v). */
function clipAxis2(
  src: Float64Array,
  n: number,
  dst: Float64Array,
  axis: 0 | 1,
  s: number,
  d: number,
): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const pv = s * src[2 * i + axis]! + d;
    const qv = s * src[2 * j + axis]! + d;
    if (pv >= 0) {
      if (m >= MAX_VERTS) return m;
      dst[2 * m] = src[2 * i]!;
      dst[2 * m + 1] = src[2 * i + 1]!;
      m++;
    }
    if (pv >= 0 !== qv >= 0) {
      if (m >= MAX_VERTS) return m;
      const t = pv / (pv - qv);
      dst[2 * m] = src[2 * i]! + t * (src[2 * j]! - src[2 * i]!);
      dst[2 * m + 1] = src[2 * i + 1]! + t * (src[2 * j + 1]! - src[2 * i + 1]!);
      m++;
    }
  }
  return m;
}

/** Clips a 2D polygon to [u0,u1]×[v0,v1]; the result is in `out` (tmp is scratch). */
function clipBox2(
  src: Float64Array,
  n: number,
  out: Float64Array,
  tmp: Float64Array,
  u0: number,
  v0: number,
  u1: number,
  v1: number,
): number {
  n = clipAxis2(src, n, out, 0, 1, -u0);
  if (n < 3) return n;
  n = clipAxis2(out, n, tmp, 0, -1, u1);
  if (n < 3) return n;
  n = clipAxis2(tmp, n, out, 1, 1, -v0);
  if (n < 3) return n;
  n = clipAxis2(out, n, tmp, 1, -1, v1);
  out.set(tmp.subarray(0, 2 * n));
  return n;
}
