// Rigid-body geometry shared by the simulator, the association step and the outputs.
//
// Two forms of the same thing:
//  - object form (`Quat`, `Vec3`, `Transform` of ./types.ts) for configuration, TF and tests;
//  - `Mat34`, a row-major 3×4 [R | t] in a Float64Array(12), for hot paths: every function that
//    takes one writes into a caller-provided output and allocates nothing.
//
// Conventions (REP-103): right-handed frames, angles in radians, quaternions in ROS order
// (x, y, z, w). A transform "parent ← child" maps a point expressed in `child` into `parent`
// (as TF's parent/child). Roll/pitch/yaw are tf2's `setRPY`: R = Rz(yaw) · Ry(pitch) · Rx(roll),
// i.e. fixed-axis X then Y then Z.

import type { Quat, Transform, Vec3 } from "./types.ts";

/** Row-major 3×4 rigid transform [R | t]: p_parent = R · p_child + t. */
export type Mat34 = Float64Array;

export const IDENTITY_QUAT: Readonly<Quat> = Object.freeze({ x: 0, y: 0, z: 0, w: 1 });

// ---------------------------------------------------------------------------------------------
// Quaternions

/** Hamilton product a ⊗ b: rotating by b first, then by a. */
export function quatMultiply(a: Quat, b: Quat): Quat {
  return {
    x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
    y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
    z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
    w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z,
  };
}

/** Inverse rotation of a unit quaternion. */
export function quatConjugate(q: Quat): Quat {
  return { x: -q.x, y: -q.y, z: -q.z, w: q.w };
}

/** Unit quaternion; throws on a zero or non-finite quaternion, which no rotation can come from. */
export function quatNormalize(q: Quat): Quat {
  const n = Math.hypot(q.x, q.y, q.z, q.w);
  if (!(n > 1e-12) || !Number.isFinite(n)) {
    throw new Error(`cannot normalise quaternion (${q.x}, ${q.y}, ${q.z}, ${q.w}): norm ${n}`);
  }
  return { x: q.x / n, y: q.y / n, z: q.z / n, w: q.w / n };
}

/** Rotates v by the unit quaternion q (q · v · q*). */
export function quatRotate(q: Quat, v: Vec3): Vec3 {
  // t = 2 (q_vec × v); v' = v + w t + q_vec × t  — fewer operations than two products.
  const tx = 2 * (q.y * v.z - q.z * v.y);
  const ty = 2 * (q.z * v.x - q.x * v.z);
  const tz = 2 * (q.x * v.y - q.y * v.x);
  return {
    x: v.x + q.w * tx + (q.y * tz - q.z * ty),
    y: v.y + q.w * ty + (q.z * tx - q.x * tz),
    z: v.z + q.w * tz + (q.x * ty - q.y * tx),
  };
}

/** tf2 `setRPY`: R = Rz(yaw) · Ry(pitch) · Rx(roll). */
export function quatFromRPY(roll: number, pitch: number, yaw: number): Quat {
  const cr = Math.cos(roll / 2);
  const sr = Math.sin(roll / 2);
  const cp = Math.cos(pitch / 2);
  const sp = Math.sin(pitch / 2);
  const cy = Math.cos(yaw / 2);
  const sy = Math.sin(yaw / 2);
  return {
    x: sr * cp * cy - cr * sp * sy,
    y: cr * sp * cy + sr * cp * sy,
    z: cr * cp * sy - sr * sp * cy,
    w: cr * cp * cy + sr * sp * sy,
  };
}

/** Rotation of `angle` rad about `axis` (need not be unit length). */
export function quatFromAxisAngle(axis: Vec3, angle: number): Quat {
  const n = Math.hypot(axis.x, axis.y, axis.z);
  if (!(n > 1e-12)) throw new Error(`rotation axis (${axis.x}, ${axis.y}, ${axis.z}) has zero length`);
  const s = Math.sin(angle / 2) / n;
  return { x: axis.x * s, y: axis.y * s, z: axis.z * s, w: Math.cos(angle / 2) };
}

/** Roll, pitch, yaw (inverse of `quatFromRPY`); pitch in [-π/2, π/2]. */
export function rpyOf(q: Quat): { roll: number; pitch: number; yaw: number } {
  const sinp = 2 * (q.w * q.y - q.z * q.x);
  return {
    roll: Math.atan2(2 * (q.w * q.x + q.y * q.z), 1 - 2 * (q.x * q.x + q.y * q.y)),
    pitch: Math.abs(sinp) >= 1 ? (Math.sign(sinp) * Math.PI) / 2 : Math.asin(sinp),
    yaw: yawOf(q),
  };
}

/** Heading (rad, CCW from +x) of the rotated x axis projected on the horizontal plane. */
export function yawOf(q: Quat): number {
  return Math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z));
}

/** Quaternion of a pure yaw rotation (planar robots). */
export function quatFromYaw(yaw: number): Quat {
  return { x: 0, y: 0, z: Math.sin(yaw / 2), w: Math.cos(yaw / 2) };
}

/** Wraps an angle to (-π, π]. */
export function wrapAngle(a: number): number {
  const t = a - 2 * Math.PI * Math.floor((a + Math.PI) / (2 * Math.PI));
  return t === -Math.PI ? Math.PI : t;
}

// ---------------------------------------------------------------------------------------------
// Transforms (object form)

/** parent ← child applied to a point. */
export function transformPoint(t: Pick<Transform, "translation" | "rotation">, p: Vec3): Vec3 {
  const r = quatRotate(t.rotation, p);
  return { x: r.x + t.translation.x, y: r.y + t.translation.y, z: r.z + t.translation.z };
}

/**
 * (a: A ← B) ∘ (b: B ← C) = A ← C. Throws when the frames do not chain (a.child ≠ b.parent), the
 * most common TF mistake; the result takes the later of the two stamps.
 */
export function composeTransforms(a: Transform, b: Transform): Transform {
  if (a.child !== b.parent) {
    throw new Error(
      `cannot compose ${a.parent}←${a.child} with ${b.parent}←${b.child}: '${a.child}' ≠ '${b.parent}'`,
    );
  }
  return {
    stamp: Math.max(a.stamp, b.stamp),
    parent: a.parent,
    child: b.child,
    translation: transformPoint(a, b.translation),
    rotation: quatNormalize(quatMultiply(a.rotation, b.rotation)),
    isStatic: a.isStatic && b.isStatic,
  };
}

/** (A ← B)⁻¹ = B ← A. */
export function invertTransform(t: Transform): Transform {
  const qi = quatConjugate(t.rotation);
  const ti = quatRotate(qi, t.translation);
  return {
    stamp: t.stamp,
    parent: t.child,
    child: t.parent,
    translation: { x: -ti.x, y: -ti.y, z: -ti.z },
    rotation: qi,
    isStatic: t.isStatic,
  };
}

// ---------------------------------------------------------------------------------------------
// Mat34 (allocation-free)

export function mat34(): Mat34 {
  return mat34Identity(new Float64Array(12));
}

export function mat34Identity(out: Mat34): Mat34 {
  out.fill(0);
  out[0] = 1;
  out[5] = 1;
  out[10] = 1;
  return out;
}

/** [R(q) | t]. q must be unit length (not re-normalised here: hot path). */
export function mat34FromQuat(q: Quat, t: Vec3, out: Mat34): Mat34 {
  const { x, y, z, w } = q;
  out[0] = 1 - 2 * (y * y + z * z);
  out[1] = 2 * (x * y - z * w);
  out[2] = 2 * (x * z + y * w);
  out[3] = t.x;
  out[4] = 2 * (x * y + z * w);
  out[5] = 1 - 2 * (x * x + z * z);
  out[6] = 2 * (y * z - x * w);
  out[7] = t.y;
  out[8] = 2 * (x * z - y * w);
  out[9] = 2 * (y * z + x * w);
  out[10] = 1 - 2 * (x * x + y * y);
  out[11] = t.z;
  return out;
}

export function mat34FromTransform(t: Pick<Transform, "translation" | "rotation">, out: Mat34): Mat34 {
  return mat34FromQuat(t.rotation, t.translation, out);
}

/** Planar pose (x, y, yaw) at height z: the usual odom ← base_link of a ground robot. */
export function mat34FromPose2(x: number, y: number, yaw: number, out: Mat34, z = 0): Mat34 {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  out[0] = c;
  out[1] = -s;
  out[2] = 0;
  out[3] = x;
  out[4] = s;
  out[5] = c;
  out[6] = 0;
  out[7] = y;
  out[8] = 0;
  out[9] = 0;
  out[10] = 1;
  out[11] = z;
  return out;
}

/** Rotation part back to a quaternion (Shepperd's method, robust for every rotation). */
export function quatFromMat34(m: Mat34): Quat {
  const m00 = m[0]!;
  const m11 = m[5]!;
  const m22 = m[10]!;
  const tr = m00 + m11 + m22;
  let q: Quat;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    q = { w: s / 4, x: (m[9]! - m[6]!) / s, y: (m[2]! - m[8]!) / s, z: (m[4]! - m[1]!) / s };
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = { w: (m[9]! - m[6]!) / s, x: s / 4, y: (m[1]! + m[4]!) / s, z: (m[2]! + m[8]!) / s };
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = { w: (m[2]! - m[8]!) / s, x: (m[1]! + m[4]!) / s, y: s / 4, z: (m[6]! + m[9]!) / s };
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = { w: (m[4]! - m[1]!) / s, x: (m[2]! + m[8]!) / s, y: (m[6]! + m[9]!) / s, z: s / 4 };
  }
  return quatNormalize(q);
}

/** out = a · b ((A ← B) ∘ (B ← C) = A ← C). `out` may alias `a` or `b`. */
export function mat34Compose(a: Mat34, b: Mat34, out: Mat34): Mat34 {
  const a0 = a[0]!,
    a1 = a[1]!,
    a2 = a[2]!,
    a3 = a[3]!;
  const a4 = a[4]!,
    a5 = a[5]!,
    a6 = a[6]!,
    a7 = a[7]!;
  const a8 = a[8]!,
    a9 = a[9]!,
    a10 = a[10]!,
    a11 = a[11]!;
  const b0 = b[0]!,
    b1 = b[1]!,
    b2 = b[2]!,
    b3 = b[3]!;
  const b4 = b[4]!,
    b5 = b[5]!,
    b6 = b[6]!,
    b7 = b[7]!;
  const b8 = b[8]!,
    b9 = b[9]!,
    b10 = b[10]!,
    b11 = b[11]!;
  out[0] = a0 * b0 + a1 * b4 + a2 * b8;
  out[1] = a0 * b1 + a1 * b5 + a2 * b9;
  out[2] = a0 * b2 + a1 * b6 + a2 * b10;
  out[3] = a0 * b3 + a1 * b7 + a2 * b11 + a3;
  out[4] = a4 * b0 + a5 * b4 + a6 * b8;
  out[5] = a4 * b1 + a5 * b5 + a6 * b9;
  out[6] = a4 * b2 + a5 * b6 + a6 * b10;
  out[7] = a4 * b3 + a5 * b7 + a6 * b11 + a7;
  out[8] = a8 * b0 + a9 * b4 + a10 * b8;
  out[9] = a8 * b1 + a9 * b5 + a10 * b9;
  out[10] = a8 * b2 + a9 * b6 + a10 * b10;
  out[11] = a8 * b3 + a9 * b7 + a10 * b11 + a11;
  return out;
}

/** Inverse of a rigid transform: [Rᵀ | −Rᵀt]. `out` may alias `m`. */
export function mat34Invert(m: Mat34, out: Mat34): Mat34 {
  const r0 = m[0]!,
    r1 = m[1]!,
    r2 = m[2]!,
    tx = m[3]!;
  const r4 = m[4]!,
    r5 = m[5]!,
    r6 = m[6]!,
    ty = m[7]!;
  const r8 = m[8]!,
    r9 = m[9]!,
    r10 = m[10]!,
    tz = m[11]!;
  out[0] = r0;
  out[1] = r4;
  out[2] = r8;
  out[3] = -(r0 * tx + r4 * ty + r8 * tz);
  out[4] = r1;
  out[5] = r5;
  out[6] = r9;
  out[7] = -(r1 * tx + r5 * ty + r9 * tz);
  out[8] = r2;
  out[9] = r6;
  out[10] = r10;
  out[11] = -(r2 * tx + r6 * ty + r10 * tz);
  return out;
}

/** Writes m · (x, y, z, 1) into out[offset..offset+2]. */
export function mat34ApplyPoint(
  m: Mat34,
  x: number,
  y: number,
  z: number,
  out: Float64Array,
  offset = 0,
): void {
  out[offset] = m[0]! * x + m[1]! * y + m[2]! * z + m[3]!;
  out[offset + 1] = m[4]! * x + m[5]! * y + m[6]! * z + m[7]!;
  out[offset + 2] = m[8]! * x + m[9]! * y + m[10]! * z + m[11]!;
}

/** Writes R · (x, y, z) (rotation only: directions, velocities) into out[offset..offset+2]. */
export function mat34ApplyVector(
  m: Mat34,
  x: number,
  y: number,
  z: number,
  out: Float64Array,
  offset = 0,
): void {
  out[offset] = m[0]! * x + m[1]! * y + m[2]! * z;
  out[offset + 1] = m[4]! * x + m[5]! * y + m[6]! * z;
  out[offset + 2] = m[8]! * x + m[9]! * y + m[10]! * z;
}

/** One number per ground cell (ix, iy): cells ±2^20 each way, which covers any run at any cell size. */
export function groundCellKey(ix: number, iy: number): number {
  return (ix + 1048576) * 2097152 + (iy + 1048576);
}
