import { describe, expect, it } from "vitest";
import {
  cameraModelFromFov,
  intersectGround,
  mountedOpticalMat34,
  OPTICAL_IN_CAMERA_LINK,
  pixelRay,
  pixelToGround,
  project,
  projectPoint,
  projectWorldPoint,
  worldToOpticalMat34,
} from "../src/core/camera.ts";
import {
  composeTransforms,
  invertTransform,
  mat34,
  mat34ApplyPoint,
  mat34Compose,
  mat34FromPose2,
  mat34FromTransform,
  mat34Invert,
  quatFromMat34,
  quatFromRPY,
  quatMultiply,
  quatRotate,
  rpyOf,
  transformPoint,
  wrapAngle,
  yawOf,
} from "../src/core/geometry.ts";
import type { Transform } from "../src/core/types.ts";

const DEG = Math.PI / 180;

function tf(
  parent: string,
  child: string,
  t: [number, number, number],
  rpy: [number, number, number],
): Transform {
  return {
    stamp: 0,
    parent,
    child,
    translation: { x: t[0], y: t[1], z: t[2] },
    rotation: quatFromRPY(...rpy),
    isStatic: true,
  };
}

describe("quaternions", () => {
  it("rotates by yaw 90° about z: x → y", () => {
    const r = quatRotate(quatFromRPY(0, 0, Math.PI / 2), { x: 1, y: 0, z: 0 });
    expect(r.x).toBeCloseTo(0, 12);
    expect(r.y).toBeCloseTo(1, 12);
    expect(r.z).toBeCloseTo(0, 12);
  });

  it("positive pitch tilts x-forward downwards (REP-103)", () => {
    const r = quatRotate(quatFromRPY(0, 30 * DEG, 0), { x: 1, y: 0, z: 0 });
    expect(r.x).toBeCloseTo(Math.cos(30 * DEG), 12);
    expect(r.z).toBeCloseTo(-Math.sin(30 * DEG), 12);
  });

  it("composes roll, pitch, yaw as Rz·Ry·Rx and reads them back", () => {
    const [roll, pitch, yaw] = [0.3, -0.4, 2.5];
    const composed = quatMultiply(
      quatFromRPY(0, 0, yaw),
      quatMultiply(quatFromRPY(0, pitch, 0), quatFromRPY(roll, 0, 0)),
    );
    const direct = quatFromRPY(roll, pitch, yaw);
    for (const k of ["x", "y", "z", "w"] as const) expect(composed[k]).toBeCloseTo(direct[k], 12);
    const back = rpyOf(direct);
    expect(back.roll).toBeCloseTo(roll, 12);
    expect(back.pitch).toBeCloseTo(pitch, 12);
    expect(back.yaw).toBeCloseTo(yaw, 12);
    expect(yawOf(direct)).toBeCloseTo(yaw, 12);
  });

  it("wraps angles into (-π, π]", () => {
    expect(wrapAngle(3 * Math.PI)).toBeCloseTo(Math.PI, 12);
    expect(wrapAngle(-Math.PI)).toBeCloseTo(Math.PI, 12);
    expect(wrapAngle(-0.5 - 4 * Math.PI)).toBeCloseTo(-0.5, 12);
  });

  it("optical-frame rotation maps optical z/x/y to link x/−y/−z", () => {
    const q = OPTICAL_IN_CAMERA_LINK;
    const z = quatRotate(q, { x: 0, y: 0, z: 1 });
    const x = quatRotate(q, { x: 1, y: 0, z: 0 });
    const y = quatRotate(q, { x: 0, y: 1, z: 0 });
    expect([z.x, z.y, z.z].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([1, 0, 0]);
    expect([x.x, x.y, x.z].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([0, -1, 0]);
    expect([y.x, y.y, y.z].map((v) => Math.round(v * 1e12) / 1e12)).toEqual([0, 0, -1]);
    const rpy = quatFromRPY(-Math.PI / 2, 0, -Math.PI / 2);
    for (const k of ["x", "y", "z", "w"] as const) expect(rpy[k]).toBeCloseTo(q[k], 12);
  });
});

describe("transforms", () => {
  const odomBase = tf("odom", "base_link", [2, 1, 0], [0, 0, Math.PI / 2]);
  const baseCam = tf("base_link", "camera_link", [0.3, 0, 1], [0, 20 * DEG, 0]);

  it("applies a planar pose to a point by hand", () => {
    // yaw 90°: base x is odom y. A point 1 m ahead of a robot at (2, 1) is at (2, 2).
    const p = transformPoint(odomBase, { x: 1, y: 0, z: 0 });
    expect(p.x).toBeCloseTo(2, 12);
    expect(p.y).toBeCloseTo(2, 12);
  });

  it("composes A←B with B←C and inverts", () => {
    const odomCam = composeTransforms(odomBase, baseCam);
    expect(odomCam.parent).toBe("odom");
    expect(odomCam.child).toBe("camera_link");
    // camera at 0.3 m ahead of the robot, 1 m up: (2, 1.3, 1) in odom.
    expect(odomCam.translation.x).toBeCloseTo(2, 12);
    expect(odomCam.translation.y).toBeCloseTo(1.3, 12);
    expect(odomCam.translation.z).toBeCloseTo(1, 12);
    const p = { x: 0.7, y: -2, z: 3 };
    const there = transformPoint(odomCam, p);
    const back = transformPoint(invertTransform(odomCam), there);
    expect(back.x).toBeCloseTo(p.x, 12);
    expect(back.y).toBeCloseTo(p.y, 12);
    expect(back.z).toBeCloseTo(p.z, 12);
    expect(() => composeTransforms(baseCam, odomBase)).toThrow(/camera_link.*odom/);
  });

  it("Mat34 agrees with the object form", () => {
    const a = mat34FromTransform(odomBase, mat34());
    const b = mat34FromTransform(baseCam, mat34());
    const ab = mat34Compose(a, b, mat34());
    const expected = composeTransforms(odomBase, baseCam);
    const p = new Float64Array(3);
    mat34ApplyPoint(ab, 0.5, 0.25, -1, p);
    const q = transformPoint(expected, { x: 0.5, y: 0.25, z: -1 });
    expect(p[0]).toBeCloseTo(q.x, 12);
    expect(p[1]).toBeCloseTo(q.y, 12);
    expect(p[2]).toBeCloseTo(q.z, 12);
    const inv = mat34Invert(ab, mat34());
    mat34ApplyPoint(inv, p[0]!, p[1]!, p[2]!, p);
    expect([...p].map((v) => Math.round(v * 1e10) / 1e10)).toEqual([0.5, 0.25, -1]);
    const qBack = quatFromMat34(ab);
    const sign = Math.sign(qBack.w * expected.rotation.w) || 1;
    for (const k of ["x", "y", "z", "w"] as const)
      expect(sign * qBack[k]).toBeCloseTo(expected.rotation[k], 12);
    const planar = mat34FromPose2(2, 1, Math.PI / 2, mat34());
    for (let i = 0; i < 12; i++) expect(planar[i]).toBeCloseTo(a[i]!, 12);
  });
});

describe("pinhole camera", () => {
  // 90° HFOV at 320 px: f = 160 / tan 45° = 160; principal point at the centre (159.5, 119.5).
  const ideal = cameraModelFromFov({ width: 320, height: 240, hfovDeg: 90 });

  it("projects a known point to the hand-computed pixel", () => {
    expect(ideal.K[0]).toBeCloseTo(160, 9);
    const out = new Float64Array(2);
    expect(projectPoint(ideal, 1, 0.5, 2, out)).toBe(true);
    expect(out[0]).toBeCloseTo(160 * 0.5 + 159.5, 9);
    expect(out[1]).toBeCloseTo(160 * 0.25 + 119.5, 9);
    expect(project(ideal, { x: 0, y: 0, z: -1 })).toBeNull(); // behind
    expect(project(ideal, { x: 3, y: 0, z: 1 })).toBeNull(); // outside: u = 639.5
    expect(projectPoint(ideal, 3, 0, 1, out, true)).toBe(true);
    expect(out[0]).toBeCloseTo(639.5, 9);
  });

  it("applies plumb_bob distortion as the formula says", () => {
    const k1 = -0.1;
    const m = cameraModelFromFov({ width: 320, height: 240, hfovDeg: 90, D: [k1, 0, 0, 0, 0] });
    const out = new Float64Array(2);
    // x = 0.5, y = 0 → r² = 0.25, x_d = 0.5 (1 + k1 · 0.25) = 0.4875.
    projectPoint(m, 0.5, 0, 1, out);
    expect(out[0]).toBeCloseTo(160 * 0.4875 + 159.5, 9);
    expect(out[1]).toBeCloseTo(119.5, 9);
  });

  it("round-trips pixel → ray → pixel with distortion", () => {
    const m = cameraModelFromFov({
      width: 640,
      height: 480,
      hfovDeg: 80,
      D: [-0.08, 0.02, 0.001, -0.0008, 0.002],
    });
    const ray = new Float64Array(3);
    const px = new Float64Array(2);
    let worst = 0;
    for (let v = 0; v < 480; v += 37) {
      for (let u = 0; u < 640; u += 41) {
        pixelRay(m, u, v, ray);
        expect(Math.hypot(ray[0]!, ray[1]!, ray[2]!)).toBeCloseTo(1, 12);
        expect(projectPoint(m, ray[0]! * 5, ray[1]! * 5, ray[2]! * 5, px)).toBe(true);
        worst = Math.max(worst, Math.abs(px[0]! - u), Math.abs(px[1]! - v));
      }
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it("places a ground point at the expected pixel for a camera at height h pitched down", () => {
    const h = 1.0;
    const pitch = 20 * DEG;
    const baseFromOptical = mountedOpticalMat34({ z: h, pitchDown: pitch }, mat34());
    const worldFromBase = mat34FromPose2(0, 0, 0, mat34());
    const opticalFromWorld = worldToOpticalMat34(worldFromBase, baseFromOptical, mat34());
    const out = new Float64Array(3);

    // The optical axis meets the ground h / tan(pitch) ahead: the principal point's row.
    const d0 = h / Math.tan(pitch);
    expect(projectWorldPoint(ideal, opticalFromWorld, d0, 0, 0, out)).toBe(true);
    expect(out[0]).toBeCloseTo(159.5, 9);
    expect(out[1]).toBeCloseTo(119.5, 9);

    // A point 2 m ahead and 0.5 m to the left, by hand in the pitched camera's axes:
    // forward = (cos p, 0, −sin p), down = −(sin p, 0, cos p), right = (0, −1, 0); relative point (2, 0.5, −1).
    const Z = 2 * Math.cos(pitch) + Math.sin(pitch);
    const Y = Math.cos(pitch) - 2 * Math.sin(pitch);
    const X = -0.5;
    expect(projectWorldPoint(ideal, opticalFromWorld, 2, 0.5, 0, out)).toBe(true);
    expect(out[0]).toBeCloseTo(159.5 + (160 * X) / Z, 9);
    expect(out[1]).toBeCloseTo(119.5 + (160 * Y) / Z, 9);
    expect(out[1]).toBeGreaterThan(119.5); // nearer than the axis point → lower in the image

    // And back: that pixel's ray hits the ground at (2, 0.5, 0).
    const worldFromOptical = mat34Invert(opticalFromWorld, mat34());
    const u = out[0]!;
    const v = out[1]!;
    const range = pixelToGround(ideal, worldFromOptical, u, v, out);
    expect(range).toBeGreaterThan(0);
    expect(out[0]).toBeCloseTo(2, 9);
    expect(out[1]).toBeCloseTo(0.5, 9);
    expect(out[2]).toBe(0);
  });

  it("returns no ground hit above the horizon", () => {
    const worldFromOptical = mountedOpticalMat34({ z: 1, pitchDown: 10 * DEG }, mat34());
    const ray = new Float64Array(3);
    pixelRay(ideal, 160, 0, ray); // top row: 45° up from the axis, 35° above the horizon
    expect(intersectGround(worldFromOptical, ray[0]!, ray[1]!, ray[2]!, new Float64Array(3))).toBe(-1);
    pixelRay(ideal, 160, 239, ray);
    expect(intersectGround(worldFromOptical, ray[0]!, ray[1]!, ray[2]!, new Float64Array(3))).toBeGreaterThan(
      0,
    );
  });
});
