// A frame's ground truth with the cell rays kept from frame to frame must be what projecting every
// cell through the camera model gives, for each camera and grid in turn (the kept rays follow them).

import { describe, expect, it } from "vitest";
import { pixelToGround } from "../src/core/camera.ts";
import type { CameraModel } from "../src/core/types.ts";
import { projectFrameTruth } from "../src/eval/frame-truth.ts";
import { type GridMap, gridIndex } from "../src/eval/ground-truth.ts";

const camera = (distortionModel: CameraModel["distortionModel"], D: number[]): CameraModel => ({
  stamp: 0,
  frameId: "camera_optical_frame",
  width: 320,
  height: 240,
  K: [260, 0, 161, 0, 258, 119, 0, 0, 1],
  D,
  distortionModel,
  P: [260, 0, 161, 0, 0, 258, 119, 0, 0, 0, 1, 0],
});

// Optical frame pitched 30° down at 1 m, looking along +x (x right, y down, z forward).
const s = Math.sin(Math.PI / 6);
const c = Math.cos(Math.PI / 6);
const POSE = Float64Array.from([0, -s, c, 0, -1, 0, 0, 0.2, 0, -c, -s, 1]);

function map(seed: number, levels: number): GridMap {
  const m: GridMap = {
    originX: -2,
    originY: -10,
    yaw: 0,
    resolution: 0.25,
    width: 120,
    height: 80,
    values: new Int8Array(9600),
  };
  for (let i = 0; i < m.values.length; i++) m.values[i] = ((i * 7919 + seed) >> 3) % levels;
  return m;
}

/** Every cell centre and corner projected on its own (the plain way). */
function reference(
  cam: CameraModel,
  grid: { rows: number; cols: number; strideX: number; strideY: number },
  rough: GridMap,
  tmap: GridMap,
) {
  const { rows, cols, strideX, strideY } = grid;
  const p = new Float64Array(3);
  const corner = new Int16Array((rows + 1) * (cols + 1)).fill(-1);
  for (let r = 0; r <= rows; r++)
    for (let k = 0; k <= cols; k++) {
      if (pixelToGround(cam, POSE, k * strideX - 0.5, r * strideY - 0.5, p) < 0) continue;
      const i = gridIndex(tmap, p[0]!, p[1]!);
      if (i >= 0) corner[r * (cols + 1) + k] = tmap.values[i]!;
    }
  const roughness = new Float32Array(rows * cols).fill(Number.NaN);
  const range = new Float32Array(rows * cols).fill(Number.NaN);
  const terrain = new Int16Array(rows * cols).fill(-1);
  const boundary = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) {
      const n = r * cols + k;
      const t = pixelToGround(cam, POSE, (k + 0.5) * strideX - 0.5, (r + 0.5) * strideY - 0.5, p);
      if (t < 0) continue;
      range[n] = t;
      const i = gridIndex(rough, p[0]!, p[1]!);
      if (i < 0 || rough.values[i]! < 0) continue;
      roughness[n] = rough.values[i]! / 100;
      const j = gridIndex(tmap, p[0]!, p[1]!);
      terrain[n] = j >= 0 ? tmap.values[j]! : -1;
      const w = cols + 1;
      const around = [
        corner[r * w + k],
        corner[r * w + k + 1],
        corner[(r + 1) * w + k],
        corner[(r + 1) * w + k + 1],
      ];
      if (around.some((x) => x !== terrain[n])) boundary[n] = 1;
    }
  return { roughness, terrain, boundary, range };
}

describe("a frame's ground truth", () => {
  it("equals projecting every cell, camera after camera and grid after grid", () => {
    const rough = map(3, 100);
    const tmap = map(11, 4);
    const plumb = camera("plumb_bob", [-0.28, 0.09, 0.001, -0.002, 0]);
    const fisheye = camera("equidistant", [0.05, -0.01, 0.002, 0]);
    const fine = { rows: 30, cols: 40, strideX: 8, strideY: 8 };
    const coarse = { rows: 15, cols: 20, strideX: 16, strideY: 16 };
    const p = new Float64Array(3);
    let boundaries = 0;
    for (const [cam, grid] of [
      [plumb, fine],
      [{ ...plumb }, fine], // a new CameraInfo with the same values
      [fisheye, fine],
      [fisheye, coarse],
      [plumb, fine],
    ] as const) {
      const got = projectFrameTruth(cam, POSE, grid, rough, tmap, p);
      const want = reference(cam, grid, rough, tmap);
      expect(got).toEqual(want);
      expect(want.range.some(Number.isFinite)).toBe(true);
      boundaries += want.boundary.reduce((a, b) => a + b, 0);
    }
    expect(boundaries).toBeGreaterThan(0);
  });
});
