// Footprint projection against hand-computed cases. The camera (tests/core-synthetic.ts) sits
// 0.6 m above the ground, 0.2 m ahead of base_link, pitched down θ = 0.35 rad; 320×240 pinhole
// with a 90° horizontal field of view: f = 160 px, cx = 159.5, cy = 119.5.
//
// A ground line across the robot at horizontal distance D ahead of the camera is seen at an angle
// φ = atan(h / D) below the horizon, i.e. φ − θ below the optical axis, so it projects to the
// image row v = cy + f · tan(φ − θ) — a horizontal image line (no roll, no yaw, no distortion).
// Its depth along the optical axis is z = D cos θ + h sin θ, so a lateral offset y lands at
// u = cx − f · y / z.

import { describe, expect, it } from "vitest";
import { FootprintProjector } from "../src/core/association.ts";
import { cameraModelFromFov } from "../src/core/camera.ts";
import {
  mat34,
  mat34Compose,
  mat34FromPose2,
  mat34FromTransform,
  mat34Invert,
  quatFromRPY,
} from "../src/core/geometry.ts";
import { SelfSupervisor } from "../src/core/self-supervisor.ts";
import { TfBuffer } from "../src/core/tf-buffer.ts";
import type { CameraModel } from "../src/core/types.ts";
import { CAMERA, drive, interleave, staticTransforms, testConfig } from "./core-synthetic.ts";

const H = 0.6;
const CAM_X = 0.2;
const THETA = 0.35;
const F = 160;
const CX = 159.5;
const CY = 119.5;
const GRID = { rows: 15, cols: 20, strideX: 16, strideY: 16 };

function rowAt(D: number): number {
  return CY + F * Math.tan(Math.atan(H / D) - THETA);
}
function colAt(D: number, y: number): number {
  return CX - (F * y) / (D * Math.cos(THETA) + H * Math.sin(THETA));
}

function opticalFromOdom(x = 0, y = 0, yaw = 0): Float64Array {
  const tf = new TfBuffer();
  tf.add(staticTransforms());
  const baseFromOptical = mat34FromTransform(tf.lookup("base_link", "camera_optical_frame")!, mat34());
  return mat34Invert(mat34Compose(mat34FromPose2(x, y, yaw, mat34()), baseFromOptical, mat34()), mat34());
}

function rect(x0: number, x1: number, y0: number, y1: number) {
  return { xs: new Float64Array([x0, x1, x1, x0]), ys: new Float64Array([y0, y0, y1, y1]) };
}

function bbox(pixels: Float64Array) {
  let u0 = Infinity,
    u1 = -Infinity,
    v0 = Infinity,
    v1 = -Infinity;
  for (let i = 0; i < pixels.length; i += 2) {
    u0 = Math.min(u0, pixels[i]!);
    u1 = Math.max(u1, pixels[i]!);
    v0 = Math.min(v0, pixels[i + 1]!);
    v1 = Math.max(v1, pixels[i + 1]!);
  }
  return { u0, u1, v0, v1 };
}

describe("footprint projection", () => {
  it("a 0.25 m × 0.6 m footprint 2 m ahead lands on the hand-computed rows, columns and cells", () => {
    const p = new FootprintProjector({ minCellCoverage: 0.1 });
    const { xs, ys } = rect(1.875, 2.125, -0.3, 0.3);
    const r = p.project(CAMERA, opticalFromOdom(), xs, ys, GRID)!;
    expect(r).not.toBeNull();
    const b = bbox(r.pixels);
    const Dnear = 1.875 - CAM_X;
    const Dfar = 2.125 - CAM_X;
    expect(b.v1).toBeCloseTo(rowAt(Dnear), 6); // near edge is lower in the image
    expect(b.v0).toBeCloseTo(rowAt(Dfar), 6);
    // Hand numbers, for the reader: rows 118.535 (near) and 111.837 (far); columns 132.52..186.48
    // at the near edge, 135.67..183.33 at the far edge.
    expect(rowAt(Dnear)).toBeCloseTo(118.535, 3);
    expect(rowAt(Dfar)).toBeCloseTo(111.837, 3);
    expect(b.u0).toBeCloseTo(colAt(Dnear, 0.3), 6); // widest at the near edge
    expect(b.u1).toBeCloseTo(colAt(Dnear, -0.3), 6);
    expect(b.u0).toBeCloseTo(132.521, 3);
    expect(r.visibleFraction).toBeCloseTo(1, 9);
    // Rows 111.84..118.54 are all inside grid row 7 (pixels 111.5..127.5); columns 132.5..186.5
    // span grid columns 8 (127.5..143.5) to 11 (175.5..191.5).
    expect([...r.cells]).toEqual([7 * 20 + 8, 7 * 20 + 9, 7 * 20 + 10, 7 * 20 + 11]);
    // Interior columns are covered over the full band height: (118.535 − 111.837) / 16 = 0.4186.
    const full = (rowAt(Dnear) - rowAt(Dfar)) / 16;
    expect(full).toBeCloseTo(0.4186, 4);
    expect(r.weights[1]).toBeCloseTo(full, 6);
    expect(r.weights[2]).toBeCloseTo(full, 6);
    // Column 8 holds a trapezoid: u from 132.52 (near) / 135.67 (far) to 143.5, height 6.698 px.
    const trapezoid =
      ((143.5 - colAt(Dnear, 0.3) + (143.5 - colAt(Dfar, 0.3))) / 2) * (rowAt(Dnear) - rowAt(Dfar));
    expect(r.weights[0]).toBeCloseTo(trapezoid / 256, 4);
  });

  it("moves with the keyframe pose: the same footprint seen from 1 m further back is higher in the image", () => {
    const p = new FootprintProjector();
    const { xs, ys } = rect(4.875, 5.125, -0.3, 0.3);
    const near = bbox(p.project(CAMERA, opticalFromOdom(3, 0, 0), xs, ys, GRID)!.pixels);
    const far = bbox(p.project(CAMERA, opticalFromOdom(2, 0, 0), xs, ys, GRID)!.pixels);
    expect(near.v1).toBeCloseTo(rowAt(1.875 - CAM_X), 6);
    expect(far.v1).toBeCloseTo(rowAt(2.875 - CAM_X), 6);
    // A robot at (5, 3) facing −y (yaw −π/2) sees the ground 2 m further along −y.
    const turned = p.project(
      CAMERA,
      opticalFromOdom(5, 3, -Math.PI / 2),
      ...(Object.values(rect(4.7, 5.3, 0.875, 1.125)) as [Float64Array, Float64Array]),
      GRID,
    )!;
    expect(bbox(turned.pixels).v1).toBeCloseTo(rowAt(1.875 - CAM_X), 6);
  });

  it("plumb_bob distortion moves the corners where the Brown–Conrady formula says", () => {
    const k1 = -0.25,
      k2 = 0.07,
      p1 = 0.001,
      p2 = -0.002;
    const model: CameraModel = cameraModelFromFov({
      width: 320,
      height: 240,
      hfovDeg: 90,
      D: [k1, k2, p1, p2, 0],
    });
    const p = new FootprintProjector();
    const { xs, ys } = rect(1.875, 2.125, -0.3, 0.3);
    const r = p.project(model, opticalFromOdom(), xs, ys, GRID)!;
    // The near-left corner (x = 1.875, y = +0.3) in the optical frame, by hand:
    const D = 1.875 - CAM_X;
    const X = -0.3; // optical x is −y
    const Y = -D * Math.sin(THETA) + H * Math.cos(THETA); // optical y is down
    const Z = D * Math.cos(THETA) + H * Math.sin(THETA);
    const x = X / Z,
      y = Y / Z,
      r2 = x * x + y * y;
    const radial = 1 + k1 * r2 + k2 * r2 * r2;
    const xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
    const yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
    const u = F * xd + CX,
      v = F * yd + CY;
    let best = Infinity;
    for (let i = 0; i < r.pixels.length; i += 2)
      best = Math.min(best, Math.hypot(r.pixels[i]! - u, r.pixels[i + 1]! - v));
    expect(best).toBeLessThan(1e-6);
  });

  it("clips footprints behind the camera, straddling it, or partly outside the image", () => {
    const p = new FootprintProjector();
    const o = opticalFromOdom();
    // Entirely behind.
    expect(
      p.project(CAMERA, o, ...(Object.values(rect(-3, -2, -0.3, 0.3)) as [Float64Array, Float64Array]), GRID),
    ).toBeNull();
    // Far off to the side (beyond the 90° field of view).
    expect(
      p.project(CAMERA, o, ...(Object.values(rect(1.8, 2.1, 5, 6)) as [Float64Array, Float64Array]), GRID),
    ).toBeNull();
    // From under the robot to 3 m ahead: the part under/behind the camera is clipped away.
    const straddle = p.project(
      CAMERA,
      o,
      ...(Object.values(rect(-1, 3, -0.3, 0.3)) as [Float64Array, Float64Array]),
      GRID,
    )!;
    expect(straddle.visibleFraction).toBeGreaterThan(0.2);
    expect(straddle.visibleFraction).toBeLessThan(0.8);
    const sb = bbox(straddle.pixels);
    expect(sb.v1).toBeCloseTo(239.5, 6); // clipped at the bottom edge
    expect(sb.v0).toBeCloseTo(rowAt(3 - CAM_X), 6);
    // Half outside on the left: u = 0 is at lateral y where the image edge ray meets the ground.
    const half = p.project(
      CAMERA,
      o,
      ...(Object.values(rect(1.875, 2.125, -0.5, 3)) as [Float64Array, Float64Array]),
      GRID,
    )!;
    expect(bbox(half.pixels).u0).toBeCloseTo(-0.5, 6);
    expect(half.visibleFraction).toBeGreaterThan(0.1);
    expect(half.visibleFraction).toBeLessThan(0.9);
    for (const c of half.cells) expect(c).toBeGreaterThanOrEqual(0);
  });
});

describe("SelfSupervisor association", () => {
  it("cell centres projected to the ground and back land in their own cell", () => {
    const sup = new SelfSupervisor<null>(testConfig());
    sup.onTransforms(staticTransforms());
    sup.onCameraInfo(CAMERA);
    const n = GRID.rows * GRID.cols;
    const gx = new Float64Array(n),
      gy = new Float64Array(n);
    expect(sup.projectGridToGround(0, GRID, gx, gy, { x: 1, y: 2, yaw: 0.3 })).toBe(true);
    // Top rows look above the horizon (optical axis is 0.35 rad down, half vfov 0.64 rad).
    expect(gx[0]).toBeNaN();
    const p = new FootprintProjector({ minCellCoverage: 0.5 });
    const o = opticalFromOdom(1, 2, 0.3);
    for (const cell of [7 * 20 + 10, 10 * 20 + 3, 14 * 20 + 19]) {
      const x = gx[cell]!,
        y = gy[cell]!;
      expect(Number.isFinite(x)).toBe(true);
      const s = 0.005;
      const r = p.project(
        CAMERA,
        o,
        new Float64Array([x - s, x + s, x + s, x - s]),
        new Float64Array([y - s, y - s, y + s, y + s]),
        GRID,
      )!;
      expect([...r.cells]).toEqual([cell]);
    }
  });

  it("turns labels into training samples on earlier keyframes, and none once the keyframes expired", () => {
    const run = (horizonSeconds: number) => {
      const cfg = testConfig();
      cfg.keyframes.horizon_seconds = horizonSeconds;
      const sup = new SelfSupervisor<string>(cfg);
      sup.onTransforms(staticTransforms());
      const d = drive({ duration: 30, speed: 0.5, roughnessAt: (x) => (Math.floor(x / 2) % 2 ? 1.0 : 0.2) });
      let nextCam = 100;
      const samples = [];
      const labels = [];
      for (const m of interleave(d.imu, d.odom)) {
        if ("linearAcceleration" in m) sup.onImu(m);
        else sup.onOdom(m);
        if (m.stamp >= nextCam) {
          sup.onCameraInfo({ ...CAMERA, stamp: m.stamp });
          if (sup.wantsKeyframe(m.stamp)) sup.addKeyframe(m.stamp, GRID, `kf@${m.stamp.toFixed(2)}`);
          nextCam += 1 / 15;
        }
        const r = sup.drain();
        samples.push(...r.samples);
        labels.push(...r.labels);
      }
      return { sup, samples, labels };
    };
    const { sup, samples, labels } = run(60);
    expect(labels.length).toBeGreaterThan(50);
    expect(samples.length).toBeGreaterThan(labels.length * 5);
    for (const s of samples) {
      expect(s.distance).toBeGreaterThan(1);
      expect(s.distance).toBeLessThan(8.2);
      expect(s.cells.length).toBeGreaterThan(0);
      expect(s.cells.length).toBe(s.cellWeights.length);
      for (const c of s.cells) expect(c >= 0 && c < GRID.rows * GRID.cols).toBe(true);
      expect(s.roughness).toBe(s.label.roughness);
    }
    const st = sup.stats();
    expect(st.association.samples).toBe(samples.length);
    expect(st.keyframes.alive).toBeGreaterThan(0);
    // A sample's keyframe was taken before the robot reached the footprint, and its row moves
    // down the image as the footprint gets closer.
    const one = labels[40]!;
    const mine = samples.filter((s) => s.label === one).sort((a, b) => b.distance - a.distance);
    expect(mine.length).toBeGreaterThan(5);
    const rowOf = (s: (typeof mine)[number]) => Math.floor(s.cells[0]! / GRID.cols);
    expect(rowOf(mine[mine.length - 1]!)).toBeGreaterThan(rowOf(mine[0]!));
    // With a 1 s horizon every keyframe that saw a footprint ≥ 1 m ahead (2 s at 0.5 m/s) has
    // expired by the time the label is made.
    const short = run(1);
    expect(short.samples.length).toBe(0);
    expect(short.sup.stats().association.noKeyframe).toBe(short.labels.length);
    expect(short.sup.stats().keyframes.expired.age).toBeGreaterThan(0);
  });

  it("a camera mount re-published on /tf_static mid-run leaves the samples of earlier keyframes as they were taken", () => {
    const CHANGE = 112;
    // The camera is re-mounted pitched far down at CHANGE: later keyframes see only the ground at
    // its feet, but what the earlier ones saw is where it was.
    const steep = staticTransforms().map((t) =>
      t.child === "camera_link" ? { ...t, rotation: quatFromRPY(0, 1.2, 0) } : t,
    );
    const run = (remount: boolean) => {
      const sup = new SelfSupervisor<number>(testConfig());
      sup.onTransforms(staticTransforms());
      const d = drive({ duration: 20, speed: 0.5, roughnessAt: (x) => (Math.floor(x / 2) % 2 ? 1.0 : 0.2) });
      let nextCam = 100;
      let changed = false;
      const cells = new Map<number, string[]>();
      for (const m of interleave(d.imu, d.odom)) {
        if ("linearAcceleration" in m) sup.onImu(m);
        else sup.onOdom(m);
        if (remount && !changed && m.stamp >= CHANGE) {
          sup.onTransforms(steep);
          changed = true;
        }
        if (m.stamp >= nextCam) {
          sup.onCameraInfo({ ...CAMERA, stamp: m.stamp });
          if (sup.wantsKeyframe(m.stamp)) sup.addKeyframe(m.stamp, GRID, m.stamp);
          nextCam += 1 / 15;
        }
        for (const smp of sup.drain().samples) {
          const stamp = sup.keyframeData(smp.keyframeId)!;
          if (stamp < CHANGE) cells.set(stamp, [...(cells.get(stamp) ?? []), smp.cells.join(",")]);
        }
      }
      return cells;
    };
    const before = run(false);
    expect([...before.values()].flat().length).toBeGreaterThan(50);
    expect(run(true)).toEqual(before);
  });

  it("a camera and IMU mount sent on /tf after CameraInfo and the IMU (ROS 1 static_transform_publisher) links them", () => {
    const sup = new SelfSupervisor<number>(testConfig());
    sup.onCameraInfo({ ...CAMERA, stamp: 100 });
    const d = drive({ duration: 1, speed: 0.5, roughnessAt: () => 0.5 });
    sup.onImu(d.imu[0]!);
    expect(sup.stats().extrinsicsKnown).toBe(false);
    // The mount arrives on /tf, re-sent with each TF message's stamp.
    for (const stamp of [100.1, 100.2])
      sup.onTransforms(staticTransforms().map((t) => ({ ...t, stamp, isStatic: false })));
    const st = sup.stats();
    expect(st.extrinsicsKnown).toBe(true);
    expect(st.vertical.source).toBe("tf");
  });
});
