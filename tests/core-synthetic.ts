// Synthetic streams for core tests: a robot driving straight along +x of `odom` with an IMU that
// vibrates with a roughness that depends on x, and a forward camera.

import { cameraModelFromFov, OPTICAL_IN_CAMERA_LINK } from "../src/core/camera.ts";
import { quatFromRPY, quatFromYaw, quatMultiply } from "../src/core/geometry.ts";
import { seededRandom as rng } from "../src/core/random.ts";
import type { CameraModel, ImuSample, OdomSample, Quat, Transform } from "../src/core/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";

/** Deterministic PRNG (mulberry32) and a standard normal from it. */
export { rng };

export function gaussian(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

export function testConfig() {
  return defaultConfig();
}

export const CAMERA: CameraModel = cameraModelFromFov({ width: 320, height: 240, hfovDeg: 90 });

/** Camera 0.6 m up, 0.2 m forward, pitched down 0.35 rad; optical frame through camera_link. */
export function staticTransforms(imuRotation: Quat = { x: 0, y: 0, z: 0, w: 1 }): Transform[] {
  const base = { stamp: 0, isStatic: true } as const;
  return [
    {
      ...base,
      parent: "base_link",
      child: "camera_link",
      translation: { x: 0.2, y: 0, z: 0.6 },
      rotation: quatFromRPY(0, 0.35, 0),
    },
    {
      ...base,
      parent: "camera_link",
      child: "camera_optical_frame",
      translation: { x: 0, y: 0, z: 0 },
      rotation: OPTICAL_IN_CAMERA_LINK,
    },
    {
      ...base,
      parent: "base_link",
      child: "imu_link",
      translation: { x: 0, y: 0, z: 0.2 },
      rotation: imuRotation,
    },
  ];
}

export interface DriveOptions {
  duration: number;
  speed: number | ((t: number) => number);
  imuRate?: number;
  odomRate?: number;
  /** Roughness (vertical vibration std, m/s²) as a function of x. */
  roughnessAt: (x: number) => number;
  /** IMU orientation in base_link (samples are expressed in the rotated IMU frame). */
  imuRotation?: Quat;
  seed?: number;
  yaw?: number;
}

export interface Drive {
  imu: ImuSample[];
  odom: OdomSample[];
}

/** Vibration amplitude grows with speed as v^(alpha/2) so power grows as v^alpha. */
export function drive(o: DriveOptions, alpha = 2.7): Drive {
  const imuRate = o.imuRate ?? 200;
  const odomRate = o.odomRate ?? 50;
  const g = gaussian(rng(o.seed ?? 1));
  const speedAt = typeof o.speed === "number" ? () => o.speed as number : o.speed;
  const q = o.imuRotation ?? { x: 0, y: 0, z: 0, w: 1 };
  const yaw = o.yaw ?? 0;
  // Rotating a base-frame vector into the IMU frame: v_imu = q* v_base q.
  const rot = (v: [number, number, number]): { x: number; y: number; z: number } => {
    const c = { x: -q.x, y: -q.y, z: -q.z, w: q.w };
    const p = quatMultiply(quatMultiply(c, { x: v[0], y: v[1], z: v[2], w: 0 }), q);
    return { x: p.x, y: p.y, z: p.z };
  };
  const imu: ImuSample[] = [];
  const odom: OdomSample[] = [];
  // Integrate x on a fine clock shared by both streams.
  const dt = 1 / 2000;
  let x = 0;
  let nextImu = 0;
  let nextOdom = 0;
  let prev = 0;
  for (let i = 0; i * dt <= o.duration; i++) {
    const t = i * dt;
    const v = speedAt(t);
    if (i > 0) x += v * dt;
    if (t >= nextImu - 1e-9) {
      const amp = o.roughnessAt(x) * Math.max(v, 0) ** (alpha / 2);
      // Band-limited-ish vertical vibration: white noise averaged with the previous value.
      const n = g();
      const az = 9.81 + amp * (n + prev) * 0.7;
      prev = n;
      const pitchRate = 0.05 * amp * g();
      imu.push({
        stamp: 100 + t,
        frameId: "imu_link",
        orientation: undefined,
        angularVelocity: rot([0.01 * g(), pitchRate, 0]),
        linearAcceleration: rot([0.05 * g(), 0.05 * g(), az]),
      });
      nextImu += 1 / imuRate;
    }
    if (t >= nextOdom - 1e-9) {
      odom.push({
        stamp: 100 + t,
        frameId: "odom",
        childFrameId: "base_link",
        pose: {
          position: { x: x * Math.cos(yaw), y: x * Math.sin(yaw), z: 0 },
          orientation: quatFromYaw(yaw),
        },
        linear: { x: v, y: 0, z: 0 },
        angular: { x: 0, y: 0, z: 0 },
      });
      nextOdom += 1 / odomRate;
    }
  }
  return { imu, odom };
}

/** Interleaves two stamp-sorted streams. */
export function interleave<A extends { stamp: number }, B extends { stamp: number }>(
  a: A[],
  b: B[],
): (A | B)[] {
  const out: (A | B)[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.stamp <= b[j]!.stamp)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}
