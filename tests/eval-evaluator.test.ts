import { describe, expect, it } from "vitest";
import { SIM_EPOCH } from "../sim/generate.ts";
import type { CameraModel, OdomSample, RoughnessGrid, Transform } from "../src/core/types.ts";
import { summarise } from "../src/eval/eval-summary.ts";
import { DEFAULT_EVAL_OPTIONS } from "../src/eval/eval-types.ts";
import { PrequentialEvaluator } from "../src/eval/evaluator.ts";
import { type GridMap, gridIndex, parseSimWorld } from "../src/eval/ground-truth.ts";
import { emptyCells } from "./helpers/eval-cells.ts";

// A camera 2 m above the ground looking straight down (optical z = −world z, optical y = −world y):
// the 40×40 image covers x, y ∈ [−2, 2] m. Ground truth: x < 0 smooth (0.2, terrain 0, driven),
// x ≥ 0 rough (0.8, terrain 1, never driven).
const camera: CameraModel = {
  stamp: 0,
  frameId: "camera_optical_frame",
  width: 40,
  height: 40,
  K: [20, 0, 19.5, 0, 20, 19.5, 0, 0, 1],
  D: [],
  distortionModel: "none",
  P: [20, 0, 19.5, 0, 0, 20, 19.5, 0, 0, 0, 1, 0],
};
const mount: Transform = {
  stamp: 0,
  parent: "base_link",
  child: "camera_optical_frame",
  translation: { x: 0, y: 0, z: 2 },
  rotation: { x: 1, y: 0, z: 0, w: 0 },
  isStatic: true,
};
function map(fn: (x: number) => number): GridMap {
  const values = new Int8Array(100 * 100);
  for (let cy = 0; cy < 100; cy++)
    for (let cx = 0; cx < 100; cx++) values[cy * 100 + cx] = fn(-5 + (cx + 0.5) * 0.1);
  return { originX: -5, originY: -5, yaw: 0, resolution: 0.1, width: 100, height: 100, values };
}
const pose = (stamp: number): OdomSample => ({
  stamp,
  frameId: "odom",
  childFrameId: "base_link",
  pose: { position: { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
  linear: { x: 0, y: 0, z: 0 },
  angular: { x: 0, y: 0, z: 0 },
});

function setup() {
  const ev = new PrequentialEvaluator({ minRange: 1, maxRange: 8, window: 1, finalWindow: 10 });
  ev.onGroundTruth(
    "roughness",
    map((x) => (x < 0 ? 20 : 80)),
  );
  ev.onGroundTruth(
    "terrain",
    map((x) => (x < 0 ? 0 : 1)),
  );
  ev.onTransforms([mount]);
  ev.onCameraInfo(camera);
  ev.setTerrains(
    parseSimWorld({
      world: JSON.stringify({
        terrains: [
          { index: 0, name: "smooth", roughness: 0.2, driven: true },
          { index: 1, name: "rough", roughness: 0.8, driven: false },
        ],
      }),
    }),
  );
  for (let t = 0; t <= 10; t += 0.02) ev.onTruePose(pose(t));
  return ev;
}

function grid(stamp: number, rough: (c: number) => number, conf: (c: number) => number): RoughnessGrid {
  const r = new Float32Array(25);
  const k = new Float32Array(25);
  for (let i = 0; i < 25; i++) {
    r[i] = rough(i % 5);
    k[i] = conf(i % 5);
  }
  return {
    stamp,
    frameId: "camera_optical_frame",
    rows: 5,
    cols: 5,
    strideX: 8,
    strideY: 8,
    roughness: r,
    confidence: k,
  };
}

describe("ground truth lookup", () => {
  it("indexes grid cells, outside is -1", () => {
    const m = map(() => 0);
    expect(gridIndex(m, -5, -5)).toBe(0);
    expect(gridIndex(m, -4.95, -4.85)).toBe(100);
    expect(gridIndex(m, 5.01, 0)).toBe(-1);
  });
});

describe("PrequentialEvaluator", () => {
  it("projects cells with the true pose and flags cells on a terrain boundary", () => {
    const ev = setup();
    const truth = ev.truthFor(1, {
      rows: 5,
      cols: 5,
      strideX: 8,
      strideY: 8,
      frameId: "camera_optical_frame",
    })!;
    expect(truth).not.toBeNull();
    // Columns 0,1 are at x = −1.6, −0.8 m (smooth); column 2 straddles x = 0; 3,4 are rough.
    expect(Array.from(truth.roughness.subarray(0, 5)).map((v) => Math.round(v * 100) / 100)).toEqual([
      0.2, 0.2, 0.8, 0.8, 0.8,
    ]);
    expect(Array.from(truth.boundary.subarray(5, 10))).toEqual([0, 0, 1, 0, 0]);
    expect(Array.from(truth.terrain.subarray(10, 15))).toEqual([0, 0, 1, 1, 1]);
    // Centre cell: straight down, 2 m.
    expect(truth.range[12]).toBeCloseTo(2, 5);
  });

  it("scores a perfect learner against the running-mean baseline", () => {
    const ev = setup();
    ev.onLabel(0.2);
    ev.onLabel(0.4); // baseline predicts 0.3
    for (let f = 0; f < 20; f++) {
      ev.scoreFrame(
        grid(
          0.5 * f,
          (c) => (c < 2 ? 0.2 : 0.8),
          (c) => (c < 2 ? 0.9 : 0.2),
        ),
      );
    }
    const s = ev.summary();
    expect(s.frames).toBe(20);
    // 5 rows × 4 non-boundary columns per frame.
    expect(s.cells).toBe(20 * 20);
    expect(s.spearman).toBeCloseTo(1, 9);
    expect(s.mae).toBeCloseTo(0, 6);
    expect(s.auroc).toBe(1);
    // Baseline 0.3 everywhere: |0.3-0.2| on 2 columns, |0.3-0.8| on 2 → MAE 0.3; constant → no ρ.
    expect(s.baseline.mae).toBeCloseTo(0.3, 6);
    expect(s.baseline.spearman).toBeNaN();
    expect(s.baseline.auroc).toBe(0.5);
    // Never-driven terrain has low confidence: perfectly separated.
    expect(s.confidenceAuroc).toBe(1);
    // Including the boundary column adds 5 cells per frame.
    expect(s.allCells.cells).toBe(20 * 25);
    expect(s.curve.length).toBeGreaterThanOrEqual(9);
    expect(s.terrains.map((t) => [t.name, t.driven])).toEqual([
      ["smooth", true],
      ["rough", false],
    ]);
  });

  it("scores an inverted learner negatively and skips frames without a pose", () => {
    const ev = setup();
    expect(
      ev.scoreFrame(
        grid(
          50,
          () => 0.5,
          () => 1,
        ),
      ),
    ).toBe(0); // outside the true-pose span
    ev.scoreFrame(
      grid(
        1,
        (c) => (c < 2 ? 0.9 : 0.1),
        () => 1,
      ),
    );
    const s = ev.summary();
    expect(s.spearman).toBeCloseTo(-1, 9);
    expect(s.mae).toBeCloseTo(0.7, 6);
    expect(s.framesScored).toBe(1);
  });
});

describe("evaluation windows", () => {
  /** Two scored cells per frame (true 0.2 and 0.8), predicted right except in the frames `wrong`. */
  function run(stamps: number[], wrong: (i: number) => boolean, window: number, finalWindow: number) {
    const n = 2 * stamps.length;
    const cells = emptyCells(n);
    stamps.forEach((t, i) => {
      for (let k = 0; k < 2; k++) {
        const j = 2 * i + k;
        cells.t[j] = t;
        cells.type[j] = k;
        cells.gt[j] = k ? 0.8 : 0.2;
        cells.pred[j] = wrong(i) === (k === 1) ? 0.2 : 0.8;
      }
    });
    const none = { t: new Float64Array(0), value: new Float32Array(0), truth: new Float32Array(0) };
    return summarise({
      cells,
      labels: { ...none, type: new Int16Array(0) },
      options: { ...DEFAULT_EVAL_OPTIONS, window, finalWindow },
      firstStamp: stamps[0]!,
      lastStamp: stamps.at(-1)!,
      worldTerrains: undefined,
      drivenByTrajectory: new Set([0, 1]),
      frames: stamps.length,
      framesScored: stamps.length,
      warnings: [],
    });
  }

  it("puts a frame stamped on a window boundary in one curve window, and the last 60 s hold 60 s", () => {
    // Frames every second, 0..30 s; windows 10 s, final window 20 s.
    const stamps = Array.from({ length: 31 }, (_, i) => i);
    const s = run(stamps, (i) => i === 10, 10, 20);
    // [0, 10] (the first window holds the first frame), (10, 20], (20, 30]: every frame once.
    expect(s.curve.map((c) => c.cells)).toEqual([22, 20, 20]);
    expect(s.curve.reduce((a, c) => a + c.cells, 0)).toBe(2 * stamps.length);
    // The final window (10, 30] leaves out the frame at 10 s, 20 s before the end: 20 frames.
    expect(s.cells).toBe(40);
    expect(s.spearman).toBeCloseTo(1, 12);
    expect(s.curve.at(-1)!.trailingSpearman).toBeCloseTo(1, 12);
    // The frame at 10 s is in the window that ends there, and in the trailing window from 0 s.
    expect(s.curve[0]!.spearman).toBeLessThan(1);
    expect(s.curve[1]!.trailingSpearman).toBeLessThan(1);
    expect(s.overall.cells).toBe(2 * stamps.length);
  });

  it("on simulator stamps (15 Hz from the epoch) every frame is in exactly one 10-s window", () => {
    const stamps = Array.from({ length: 451 }, (_, k) => SIM_EPOCH + (k + 7) / 15);
    const s = run(stamps, () => false, 10, 20);
    expect(s.curve.map((c) => c.cells)).toEqual([302, 300, 300]);
    // The last 20 s: 300 frames.
    expect(s.cells).toBe(600);
  });
});
