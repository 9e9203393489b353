// Pinhole camera with lens distortion, over `CameraModel` (sensor_msgs/CameraInfo).
//
// Points and rays are in the camera OPTICAL frame (REP-103): z forward, x right, y down. Pixel
// coordinates follow OpenCV/ROS: (u, v) = (column, row), the centre of the top-left pixel is (0, 0),
// so the image spans [-0.5, width - 0.5) × [-0.5, height - 0.5).
//
// Projection uses K and D, i.e. it maps into the RAW (distorted) image, which is what
// `image_raw` carries. Supported distortion models: plumb_bob (k1 k2 t1 t2 k3), rational_polynomial
// (k1 k2 t1 t2 k3 k4 k5 k6), equidistant (fisheye k1..k4) and none.
//
// Hot-path functions take scalars and write into caller-provided Float64Arrays: no allocation.

import {
  type Mat34,
  mat34ApplyPoint,
  mat34Compose,
  mat34FromQuat,
  mat34Invert,
  quatFromRPY,
} from "./geometry.ts";
import type { CameraModel, Quat } from "./types.ts";

/**
 * Rotation camera_link ← camera_optical_frame (REP-103): optical z (forward) is link x, optical x
 * (right) is link −y, optical y (down) is link −z. Equal to quatFromRPY(−π/2, 0, −π/2), which is
 * the transform every ROS camera driver publishes for this pair of frames.
 */
export const OPTICAL_IN_CAMERA_LINK: Readonly<Quat> = Object.freeze({ x: -0.5, y: 0.5, z: -0.5, w: 0.5 });

/** Mat34 camera_link ← camera_optical_frame (no translation). */
export function opticalToLinkMat34(out: Mat34): Mat34 {
  return mat34FromQuat(OPTICAL_IN_CAMERA_LINK, { x: 0, y: 0, z: 0 }, out);
}

/**
 * base_link ← camera_optical_frame for a camera at (x, y, z) on the robot, looking forward along
 * base_link +x, pitched DOWN by `pitchDown` rad (positive = towards the ground), with optional yaw
 * and roll of camera_link. Convenience for the simulator and tests.
 */
export function mountedOpticalMat34(
  mount: { x?: number; y?: number; z: number; pitchDown: number; yaw?: number; roll?: number },
  out: Mat34,
): Mat34 {
  // A positive pitch about y (REP-103) tilts x-forward towards −z, i.e. downwards.
  const link = mat34FromQuat(
    quatFromRPY(mount.roll ?? 0, mount.pitchDown, mount.yaw ?? 0),
    { x: mount.x ?? 0, y: mount.y ?? 0, z: mount.z },
    new Float64Array(12),
  );
  return mat34Compose(link, opticalToLinkMat34(new Float64Array(12)), out);
}

// ---------------------------------------------------------------------------------------------
// Intrinsics

/** Ideal pinhole intrinsics from a horizontal field of view (square pixels, centred). */
export function cameraModelFromFov(options: {
  width: number;
  height: number;
  hfovDeg: number;
  D?: readonly number[];
  distortionModel?: CameraModel["distortionModel"];
  frameId?: string;
  stamp?: number;
}): CameraModel {
  const { width, height, hfovDeg } = options;
  if (!(hfovDeg > 0 && hfovDeg < 180))
    throw new Error(`horizontal field of view ${hfovDeg}° is not in (0, 180)`);
  const f = width / 2 / Math.tan((hfovDeg * Math.PI) / 360);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const D = options.D ?? [0, 0, 0, 0, 0];
  return {
    stamp: options.stamp ?? 0,
    frameId: options.frameId ?? "camera_optical_frame",
    width,
    height,
    K: [f, 0, cx, 0, f, cy, 0, 0, 1],
    D,
    distortionModel: options.distortionModel ?? (D.every((d) => d === 0) ? "none" : "plumb_bob"),
    P: [f, 0, cx, 0, 0, f, cy, 0, 0, 0, 1, 0],
  };
}

/** Relative difference of the two scale factors beyond which an image is not a resize of the camera. */
const ASPECT_TOLERANCE = 0.02;

/**
 * The camera model for images of `width`×`height` when CameraInfo describes another size: a
 * resized stream (image_proc resize, a smaller compressed topic) keeps its intrinsics in the
 * camera's pixels. Pixel centres stay at integer coordinates: u' = (u + ½)·s − ½. The model itself
 * when the sizes agree; null when the image is not a uniform resize (a different aspect ratio).
 */
export function cameraForImage(c: CameraModel, width: number, height: number): CameraModel | null {
  if (c.width === width && c.height === height) return c;
  const sx = width / c.width;
  const sy = height / c.height;
  if (Math.abs(sx - sy) > ASPECT_TOLERANCE * Math.max(sx, sy)) return null;
  const K = c.K;
  const P = c.P;
  const u = (a: number, b: number, k: number) => [a * sx, b * sx, (k + 0.5) * sx - 0.5];
  const v = (a: number, b: number, k: number) => [a * sy, b * sy, (k + 0.5) * sy - 0.5];
  return {
    ...c,
    width,
    height,
    K: [...u(K[0]!, K[1]!, K[2]!), ...v(K[3]!, K[4]!, K[5]!), K[6]!, K[7]!, K[8]!],
    P: [...u(P[0]!, P[1]!, P[2]!), P[3]! * sx, ...v(P[4]!, P[5]!, P[6]!), P[7]! * sy, ...P.slice(8)],
  };
}

// ---------------------------------------------------------------------------------------------
// Distortion on normalised coordinates (x, y) = (X/Z, Y/Z)

const scratch = new Float64Array(2);

/**
 * Distorts normalised coordinates into out[0..1]. Returns false where the lens model folds back
 * (its radial mapping stops increasing): points that far off-axis cannot be imaged and a
 * projection would be wrong, not just inaccurate.
 */
export function distortNormalized(model: CameraModel, x: number, y: number, out: Float64Array): boolean {
  const D = model.D;
  switch (model.distortionModel) {
    case "none":
      out[0] = x;
      out[1] = y;
      return true;
    case "equidistant": {
      const r = Math.hypot(x, y);
      if (r < 1e-12) {
        out[0] = x;
        out[1] = y;
        return true;
      }
      const th = Math.atan(r);
      const t2 = th * th;
      const k1 = D[0] ?? 0,
        k2 = D[1] ?? 0,
        k3 = D[2] ?? 0,
        k4 = D[3] ?? 0;
      const thd = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))));
      const dthd = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)));
      if (!(dthd > 0)) return false;
      const s = thd / r;
      out[0] = x * s;
      out[1] = y * s;
      return true;
    }
    default: {
      // plumb_bob and rational_polynomial share the Brown–Conrady form.
      const k1 = D[0] ?? 0,
        k2 = D[1] ?? 0,
        p1 = D[2] ?? 0,
        p2 = D[3] ?? 0,
        k3 = D[4] ?? 0;
      const r2 = x * x + y * y;
      let radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
      let dRadial = 1 + r2 * (3 * k1 + r2 * (5 * k2 + r2 * 7 * k3));
      if (model.distortionModel === "rational_polynomial") {
        const k4 = D[5] ?? 0,
          k5 = D[6] ?? 0,
          k6 = D[7] ?? 0;
        const den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6));
        if (!(den > 1e-9)) return false;
        radial /= den;
        // Fold-back check by finite difference: the closed form is long and this path is rare.
        const r = Math.sqrt(r2);
        const r2b = (r * 1.001 + 1e-6) ** 2;
        const radB = (1 + r2b * (k1 + r2b * (k2 + r2b * k3))) / (1 + r2b * (k4 + r2b * (k5 + r2b * k6)));
        dRadial = Math.sqrt(r2b) * radB - r * radial;
      }
      if (!(dRadial > 0)) return false;
      out[0] = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
      out[1] = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
      return true;
    }
  }
}

/**
 * Inverse of `distortNormalized` by fixed-point iteration (OpenCV's undistortPoints scheme; converges
 * in a handful of steps for the mild distortion of ordinary lenses), Newton for equidistant.
 */
export function undistortNormalized(model: CameraModel, xd: number, yd: number, out: Float64Array): void {
  const D = model.D;
  switch (model.distortionModel) {
    case "none":
      out[0] = xd;
      out[1] = yd;
      return;
    case "equidistant": {
      const rd = Math.hypot(xd, yd);
      if (rd < 1e-12) {
        out[0] = xd;
        out[1] = yd;
        return;
      }
      const k1 = D[0] ?? 0,
        k2 = D[1] ?? 0,
        k3 = D[2] ?? 0,
        k4 = D[3] ?? 0;
      let th = Math.min(rd, Math.PI / 2 - 1e-6);
      for (let i = 0; i < 20; i++) {
        const t2 = th * th;
        const f = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - rd;
        const df = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)));
        const step = f / df;
        th -= step;
        if (Math.abs(step) < 1e-14) break;
      }
      const s = Math.tan(th) / rd;
      out[0] = xd * s;
      out[1] = yd * s;
      return;
    }
    default: {
      const k1 = D[0] ?? 0,
        k2 = D[1] ?? 0,
        p1 = D[2] ?? 0,
        p2 = D[3] ?? 0,
        k3 = D[4] ?? 0;
      const rational = model.distortionModel === "rational_polynomial";
      const k4 = D[5] ?? 0,
        k5 = D[6] ?? 0,
        k6 = D[7] ?? 0;
      let x = xd;
      let y = yd;
      for (let i = 0; i < 50; i++) {
        const r2 = x * x + y * y;
        let radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
        if (rational) radial /= 1 + r2 * (k4 + r2 * (k5 + r2 * k6));
        const dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
        const dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
        const nx = (xd - dx) / radial;
        const ny = (yd - dy) / radial;
        const change = Math.abs(nx - x) + Math.abs(ny - y);
        x = nx;
        y = ny;
        if (change < 1e-14) break;
      }
      out[0] = x;
      out[1] = y;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Projection

/**
 * Projects a point in the optical frame to pixel (u, v) → out[0], out[1]. Returns false when the
 * point is behind (or within 1 mm in front of) the camera, where the lens model folds back, or
 * when the pixel falls outside the image. With `allowOutside` the image bounds are not checked
 * (useful to clip a footprint polygon that is partly out of view); out is still written.
 */
export function projectPoint(
  model: CameraModel,
  x: number,
  y: number,
  z: number,
  out: Float64Array,
  allowOutside = false,
): boolean {
  if (!(z > 1e-3)) return false;
  if (!distortNormalized(model, x / z, y / z, scratch)) return false;
  const K = model.K;
  const u = K[0]! * scratch[0]! + K[1]! * scratch[1]! + K[2]!;
  const v = K[4]! * scratch[1]! + K[5]!;
  out[0] = u;
  out[1] = v;
  if (allowOutside) return true;
  return u >= -0.5 && u < model.width - 0.5 && v >= -0.5 && v < model.height - 0.5;
}

/** Object-returning convenience over `projectPoint` (allocates; not for per-pixel loops). */
export function project(
  model: CameraModel,
  p: { x: number; y: number; z: number },
): { u: number; v: number } | null {
  const out = new Float64Array(2);
  return projectPoint(model, p.x, p.y, p.z, out) ? { u: out[0]!, v: out[1]! } : null;
}

/** Unit ray through pixel (u, v) in the optical frame → out[offset..offset+2] (z > 0). */
export function pixelRay(model: CameraModel, u: number, v: number, out: Float64Array, offset = 0): void {
  const K = model.K;
  const fx = K[0]!,
    skew = K[1]!,
    cx = K[2]!,
    fy = K[4]!,
    cy = K[5]!;
  const yd = (v - cy) / fy;
  const xd = (u - cx - skew * yd) / fx;
  undistortNormalized(model, xd, yd, scratch);
  const x = scratch[0]!;
  const y = scratch[1]!;
  const n = Math.sqrt(x * x + y * y + 1);
  out[offset] = x / n;
  out[offset + 1] = y / n;
  out[offset + 2] = 1 / n;
}

/**
 * Unit rays for every pixel centre, row-major, 3 floats per pixel. They are constant in the optical
 * frame, so a renderer computes them once per camera and reuses them every frame.
 */
export function pixelRays(model: CameraModel): Float64Array {
  const { width, height } = model;
  const rays = new Float64Array(width * height * 3);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) pixelRay(model, u, v, rays, 3 * (v * width + u));
  }
  return rays;
}

// ---------------------------------------------------------------------------------------------
// Ground plane

/**
 * Intersects the optical-frame ray (rx, ry, rz) with the plane z = planeZ of the world frame,
 * given `worldFromOptical` (world ← camera_optical_frame). Writes the hit point (x, y, z) into
 * out[0..2] and returns the distance along the ray, or −1 when the ray does not go down to the
 * plane (sky, or the horizon within `maxRange`).
 */
export function intersectGround(
  worldFromOptical: Mat34,
  rx: number,
  ry: number,
  rz: number,
  out: Float64Array,
  planeZ = 0,
  maxRange = Number.POSITIVE_INFINITY,
): number {
  const m = worldFromOptical;
  const dz = m[8]! * rx + m[9]! * ry + m[10]! * rz;
  const oz = m[11]! - planeZ;
  // The ray must point towards the plane from the camera's side of it.
  if (!(dz * oz < 0)) return -1;
  const t = -oz / dz;
  if (t > maxRange) return -1;
  out[0] = m[3]! + t * (m[0]! * rx + m[1]! * ry + m[2]! * rz);
  out[1] = m[7]! + t * (m[4]! * rx + m[5]! * ry + m[6]! * rz);
  out[2] = planeZ;
  return t;
}

/** Ground point seen at pixel (u, v): pixelRay + intersectGround. Returns the range or −1. */
export function pixelToGround(
  model: CameraModel,
  worldFromOptical: Mat34,
  u: number,
  v: number,
  out: Float64Array,
  planeZ = 0,
): number {
  pixelRay(model, u, v, out);
  return intersectGround(worldFromOptical, out[0]!, out[1]!, out[2]!, out, planeZ);
}

const scratchPoint = new Float64Array(3);

/**
 * Projects a world point into the image given `opticalFromWorld` (optical ← world, i.e. the
 * INVERSE of the camera pose; invert once per frame with mat34Invert, not per point).
 */
export function projectWorldPoint(
  model: CameraModel,
  opticalFromWorld: Mat34,
  x: number,
  y: number,
  z: number,
  out: Float64Array,
  allowOutside = false,
): boolean {
  mat34ApplyPoint(opticalFromWorld, x, y, z, scratchPoint);
  return projectPoint(model, scratchPoint[0]!, scratchPoint[1]!, scratchPoint[2]!, out, allowOutside);
}

/** Camera pose in the world from the robot pose and the mount: world ← base ∘ base ← optical. */
export function cameraPoseInWorld(worldFromBase: Mat34, baseFromOptical: Mat34, out: Mat34): Mat34 {
  return mat34Compose(worldFromBase, baseFromOptical, out);
}

/** optical ← world (the inverse camera pose) from the same pieces. */
export function worldToOpticalMat34(worldFromBase: Mat34, baseFromOptical: Mat34, out: Mat34): Mat34 {
  return mat34Invert(mat34Compose(worldFromBase, baseFromOptical, out), out);
}
