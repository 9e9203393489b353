// The ground plane the camera's cells are projected onto (frames.ground, frames.base_height).
//
// The camera of tests/core-synthetic.ts sits 0.6 m above base_link and 0.2 m ahead of it, pitched
// down θ = 0.35 rad; a 1×1 grid over the 320×240 image has its one cell centre at the principal
// point, so its ray is the optical axis. With the camera Hc above the ground it meets the ground
// Hc / tan θ ahead of the camera: 0.2 + Hc / tan θ ahead of base_link.
//
// Here base_link sits 0.15 m above the ground (REP-105: base_footprint under it), so Hc = 0.75 m;
// projecting onto z = 0 of base_link instead (Hc = 0.6 m) lands 20 % short.

import { describe, expect, it } from "vitest";
import { formatSummary, jsonResult } from "../src/cli/replay-result.ts";
import { type Mat34, mat34, quatFromRPY, quatFromYaw } from "../src/core/geometry.ts";
import { describeGround, groundLevelFromBase, groundTilt } from "../src/core/grid-ground-projection.ts";
import type { LabelAssociator, TrainingSample } from "../src/core/label-association.ts";
import { SelfSupervisor } from "../src/core/self-supervisor.ts";
import type { Transform } from "../src/core/types.ts";
import { validateParameters } from "../src/runtime/config.ts";
import { SupervisionStage } from "../src/runtime/stages/supervision.ts";
import { CAMERA, staticTransforms, testConfig } from "./core-synthetic.ts";

const THETA = 0.35;
const CAM_X = 0.2;
const CAM_Z = 0.6;
const H = 0.15;
const ONE_CELL = { rows: 1, cols: 1, strideX: 320, strideY: 240 };

function footprint(over: Partial<Transform> = {}): Transform {
  return {
    stamp: 0,
    isStatic: true,
    parent: "base_footprint",
    child: "base_link",
    translation: { x: 0, y: 0, z: H },
    rotation: { x: 0, y: 0, z: 0, w: 1 },
    ...over,
  };
}

/** Ground point (odom) of the optical axis, the robot at the odom origin. */
function axisHit(sup: SelfSupervisor<null>, pose = { x: 0, y: 0, yaw: 0 }): [number, number] {
  const gx = new Float64Array(1);
  const gy = new Float64Array(1);
  expect(sup.projectGridToGround(0, ONE_CELL, gx, gy, pose)).toBe(true);
  return [gx[0]!, gy[0]!];
}

function supervisor(frames: { ground?: string; base_height?: number | null }, transforms: Transform[]) {
  const cfg = testConfig();
  Object.assign(cfg.frames, frames);
  const sup = new SelfSupervisor<null>(cfg);
  sup.onTransforms(transforms);
  sup.onCameraInfo(CAMERA);
  return sup;
}

const onBase = CAM_X + CAM_Z / Math.tan(THETA);
const onGround = CAM_X + (CAM_Z + H) / Math.tan(THETA);

describe("ground plane", () => {
  it("defaults: base_footprint -> base_link in TF puts the ground h below base_link", () => {
    const sup = supervisor({}, [...staticTransforms(), footprint()]);
    const [x, y] = axisHit(sup);
    expect(x).toBeCloseTo(onGround, 9);
    expect(y).toBeCloseTo(0, 9);
    expect(onGround / onBase).toBeGreaterThan(1.2);
    expect(sup.groundPlane).toEqual({ source: "tf", frame: "base_footprint", height: H, tilt: 0 });
    expect(sup.stats().ground.source).toBe("tf");
    // The planar pose still applies: 2 m along +y, facing +y.
    const [x2, y2] = axisHit(sup, { x: 1, y: 2, yaw: Math.PI / 2 });
    expect(x2).toBeCloseTo(1, 9);
    expect(y2).toBeCloseTo(2 + onGround, 9);
  });

  it("the TF tree may hang base_footprint under base_link too", () => {
    const inverse = footprint({
      parent: "base_link",
      child: "base_footprint",
      translation: { x: 0, y: 0, z: -H },
    });
    const sup = supervisor({}, [...staticTransforms(), inverse]);
    expect(axisHit(sup)[0]).toBeCloseTo(onGround, 9);
  });

  it("frames.base_height does the same without base_footprint, and wins over TF", () => {
    const sup = supervisor({ base_height: H }, staticTransforms());
    expect(axisHit(sup)[0]).toBeCloseTo(onGround, 9);
    expect(sup.groundPlane).toEqual({ source: "config", frame: "base_link", height: H, tilt: 0 });
    const over = supervisor({ base_height: 0.3 }, [...staticTransforms(), footprint()]);
    expect(axisHit(over)[0]).toBeCloseTo(CAM_X + (CAM_Z + 0.3) / Math.tan(THETA), 9);
  });

  it("without either, the ground is z = 0 of base_link, as before", () => {
    const sup = supervisor({}, staticTransforms());
    expect(axisHit(sup)[0]).toBeCloseTo(onBase, 9);
    expect(sup.groundPlane).toEqual({ source: "base", frame: "base_link", height: 0, tilt: 0 });
    // frames.ground set to the base frame (or empty) ignores base_footprint.
    for (const ground of ["base_link", ""]) {
      const s = supervisor({ ground }, [...staticTransforms(), footprint()]);
      expect(axisHit(s)[0]).toBeCloseTo(onBase, 9);
      expect(s.groundPlane.source).toBe("base");
    }
  });

  it("a renamed ground frame is looked up by its name", () => {
    const other = footprint({ parent: "ground_link" });
    expect(axisHit(supervisor({ ground: "ground_link" }, [...staticTransforms(), other]))[0]).toBeCloseTo(
      onGround,
      9,
    );
    // ... and base_footprint then is not the ground.
    expect(
      axisHit(supervisor({ ground: "ground_link" }, [...staticTransforms(), footprint()]))[0],
    ).toBeCloseTo(onBase, 9);
  });

  it("a base tilted on the ground: the height along the normal and the pitch both count", () => {
    const alpha = 0.1; // base_link pitched nose-down relative to the ground
    // The ground frame's own yaw and horizontal offset do not move the plane or the heading.
    const tilted = footprint({
      translation: { x: 0.3, y: -0.2, z: H },
      rotation: quatFromRPY(0, alpha, 0.7),
    });
    const sup = supervisor({}, [...staticTransforms(), tilted]);
    const camX = CAM_X * Math.cos(alpha) + CAM_Z * Math.sin(alpha);
    const camZ = -CAM_X * Math.sin(alpha) + CAM_Z * Math.cos(alpha) + H;
    const [x, y] = axisHit(sup);
    expect(x).toBeCloseTo(camX + camZ / Math.tan(THETA + alpha), 9);
    expect(y).toBeCloseTo(0, 9);
    expect(sup.groundPlane.source).toBe("tf");
    expect(sup.groundPlane.tilt).toBeCloseTo(alpha, 9);
    expect(sup.groundPlane.height).toBeCloseTo(H, 9);
  });

  it("picks up base_footprint from /tf (dynamic) when it comes after the camera", () => {
    const sup = supervisor({}, staticTransforms());
    expect(axisHit(sup)[0]).toBeCloseTo(onBase, 9);
    sup.onTransforms([footprint({ isStatic: false, stamp: 1 })]);
    expect(axisHit(sup)[0]).toBeCloseTo(onGround, 9);
    expect(sup.groundPlane.source).toBe("tf");
  });

  it("the label association uses the same ground: a label at a projected cell centre lands in that cell", () => {
    const sup = supervisor({}, [...staticTransforms(), footprint()]);
    const grid = { rows: 15, cols: 20, strideX: 16, strideY: 16 };
    const n = grid.rows * grid.cols;
    const gx = new Float64Array(n);
    const gy = new Float64Array(n);
    expect(sup.projectGridToGround(0, grid, gx, gy, { x: 0, y: 0, yaw: 0 })).toBe(true);
    const cell = 11 * 20 + 10;
    const cx = gx[cell]!;
    const cy = gy[cell]!;
    // The supervisor's own associator and camera pose (private: the real path, not a copy of it).
    const inner = sup as unknown as { associator: LabelAssociator; mount: { groundFromOptical: Mat34 } };
    const d = 0.005;
    const label = {
      stamp: 0,
      t0: 0,
      t1: 0,
      x: cx,
      y: cy,
      footprint: {
        frameId: "odom",
        xs: new Float64Array([cx - d, cx + d, cx + d, cx - d]),
        ys: new Float64Array([cy - d, cy - d, cy + d, cy + d]),
      },
      speed: 1,
      energy: 1,
      features: { verticalBandPower: 0, angularRateEnergy: 0, sampleCount: 0 },
      roughness: 0.5,
    };
    const samples: TrainingSample[] = [];
    const rec = { pose: { x: 0, y: 0, yaw: 0 }, grid };
    inner.associator.associate(label, 1, rec, CAMERA, inner.mount.groundFromOptical, samples);
    expect(samples.length).toBe(1);
    expect([...samples[0]!.cells]).toEqual([cell]);
    // The sample's range is from the camera, 0.75 m above the ground.
    expect(samples[0]!.distance).toBeCloseTo(Math.hypot(cx - CAM_X, cy, CAM_Z + H), 9);
  });

  it("groundLevelFromBase: identity rotation is a pure height; yaw is dropped", () => {
    const m = groundLevelFromBase(footprint({ rotation: quatFromYaw(1.2) }), mat34())!;
    for (const [i, v] of [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, H].entries()) expect(m[i]).toBeCloseTo(v, 12);
    expect(groundTilt(m)).toBeCloseTo(0, 12);
    // The base's x axis perpendicular to the ground has no heading on it.
    expect(groundLevelFromBase(footprint({ rotation: quatFromRPY(0, Math.PI / 2, 0) }), mat34())).toBeNull();
  });
});

describe("frames.ground / frames.base_height config", () => {
  it("defaults and overrides", () => {
    const d = validateParameters({}, "test");
    expect(d.frames.ground).toBe("base_footprint");
    expect(d.frames.base_height).toBeNull();
    expect(validateParameters({ frames: { base_height: 0.15 } }, "test").frames.base_height).toBe(0.15);
    expect(() => validateParameters({ frames: { base_height: -0.1 } }, "test")).toThrow(/base_height/);
  });

  it("says once which ground is used", () => {
    const lines: string[] = [];
    const cfg = validateParameters({}, "test");
    const stage = new SupervisionStage(cfg, 4, false, undefined, (m) => lines.push(m));
    stage.onInput({ kind: "transforms", stamp: 0, transforms: staticTransforms(), isStatic: true });
    expect(lines).toEqual([]); // no camera yet
    stage.onInput({ kind: "cameraInfo", stamp: 0, model: CAMERA });
    stage.onInput({ kind: "cameraInfo", stamp: 0.1, model: CAMERA });
    stage.onInput({ kind: "transforms", stamp: 0.2, transforms: staticTransforms(), isStatic: true });
    expect(lines).toEqual([
      "terrain-learner: ground plane: z = 0 of base_link (no base_footprint in TF; set frames.base_height if base_link is not on the ground)",
    ]);
    stage.onInput({ kind: "transforms", stamp: 0.3, transforms: [footprint()], isStatic: true });
    expect(lines[1]).toBe(
      "terrain-learner: ground plane: z = 0 of base_footprint (TF), base_link 0.150 m above it",
    );
    expect(lines.length).toBe(2);
  });

  it("describeGround", () => {
    const frames = validateParameters({}, "test").frames;
    expect(describeGround({ source: "config", frame: "base_link", height: 0.2, tilt: 0 }, frames)).toBe(
      "ground plane: 0.200 m below base_link (frames.base_height)",
    );
    expect(describeGround({ source: "tf", frame: "base_footprint", height: 0.2, tilt: 0.1 }, frames)).toBe(
      "ground plane: z = 0 of base_footprint (TF), base_link 0.200 m above it, tilted 5.7°",
    );
    expect(
      describeGround({ source: "base", frame: "base_link", height: 0, tilt: 0 }, { ...frames, ground: "" }),
    ).toBe("ground plane: z = 0 of base_link");
  });
});

describe("replay result", () => {
  it("the human summary names the ground plane; the JSON keeps it as supervisor.ground", () => {
    const plane = { source: "base", frame: "base_link", height: 0, tilt: 0 } as const;
    const r = {
      frames: 1,
      labels: 0,
      samples: 0,
      trainSteps: 0,
      backend: "cpu",
      realtimeFactor: 1,
      sensorSeconds: 1,
      wallSeconds: 1,
      framesDropped: 0,
      keyframes: 0,
      rows: 0,
      frameMs: 1,
      problems: {},
      bag: "/x.mcap",
      supervisor: { ground: plane },
      ground: describeGround(plane, { base: "base_link", ground: "base_footprint" }),
    };
    expect(formatSummary(r).split("\n")).toContain(
      "ground plane: z = 0 of base_link (no base_footprint in TF; set frames.base_height if base_link is not on the ground)",
    );
    const json = JSON.parse(jsonResult(r));
    expect(json.ground).toBeUndefined();
    expect(json.supervisor.ground).toEqual(plane);
  });
});
