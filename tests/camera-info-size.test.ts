// CameraInfo that does not describe the images' own pixels, as real drivers publish it: a resized
// or smaller compressed stream (intrinsics in the sensor's pixels), a region of interest, binning.
// The model used for the images must project every point where the image shows it.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { cameraForImage, cameraModelFromFov, project } from "../src/core/camera.ts";
import { cameraInfoFromRos } from "../src/io/ros/convert.ts";
import { rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const full = cameraModelFromFov({ width: 640, height: 480, hfovDeg: 90, D: [-0.2, 0.05, 0.001, 0, 0] });
const points = [
  { x: 0, y: 0, z: 2 },
  { x: -0.9, y: 0.6, z: 1.5 },
  { x: 0.7, y: -0.5, z: 3 },
];

describe("cameraForImage", () => {
  it("the same size: the model itself (per-model caches stay valid)", () => {
    expect(cameraForImage(full, 640, 480)).toBe(full);
  });

  it("a half-size image: every point lands at the same place of the picture", () => {
    const half = cameraForImage(full, 320, 240)!;
    expect(half.width).toBe(320);
    for (const p of points) {
      const a = project(full, p)!;
      const b = project(half, p)!;
      // Pixel centres at integer coordinates: u' = (u + ½)/2 − ½.
      expect(b.u).toBeCloseTo((a.u + 0.5) / 2 - 0.5, 9);
      expect(b.v).toBeCloseTo((a.v + 0.5) / 2 - 0.5, 9);
    }
    expect(half.D).toEqual(full.D);
  });

  it("another aspect ratio is not a resize: null", () => {
    expect(cameraForImage(full, 640, 360)).toBeNull();
    expect(cameraForImage(full, 320, 480)).toBeNull();
    // Rounding of an odd size is a resize.
    expect(cameraForImage(full, 213, 160)).not.toBeNull();
  });
});

describe("CameraInfo with a region of interest", () => {
  const header = { stamp: { sec: 1, nanosec: 0 }, frame_id: "cam" };
  const info = (roi: Record<string, number>, binning = 0) => ({
    header,
    width: 640,
    height: 480,
    distortion_model: "plumb_bob",
    d: [0, 0, 0, 0, 0],
    k: full.K,
    p: full.P,
    binning_x: binning,
    binning_y: binning,
    roi: { x_offset: 0, y_offset: 0, width: 0, height: 0, do_rectify: false, ...roi },
  });

  it("the model describes the window: a point projects where the cropped image shows it", () => {
    const m = cameraInfoFromRos(info({ x_offset: 100, y_offset: 40, width: 320, height: 240 }));
    expect([m.width, m.height]).toEqual([320, 240]);
    for (const p of points.slice(0, 1)) {
      const a = project(full, p)!;
      const b = project(m, p)!;
      expect(b.u).toBeCloseTo(a.u - 100, 9);
      expect(b.v).toBeCloseTo(a.v - 40, 9);
    }
    expect(m.P[2]).toBeCloseTo(full.P[2]! - 100, 9);
  });

  it("an empty or whole-sensor ROI changes nothing", () => {
    expect(cameraInfoFromRos(info({}))).toMatchObject({ width: 640, height: 480, K: full.K });
    expect(cameraInfoFromRos(info({ width: 640, height: 480 }))).toMatchObject({ K: full.K });
  });

  it("binned 2×2 with a ROI: the window, then fitted to the half-size images", () => {
    const m = cameraInfoFromRos(info({ x_offset: 64, y_offset: 48, width: 512, height: 384 }, 2));
    const binned = cameraForImage(m, 256, 192)!;
    const a = project(full, points[0]!)!;
    const b = project(binned, points[0]!)!;
    expect(b.u).toBeCloseTo((a.u - 64 + 0.5) / 2 - 0.5, 9);
    expect(b.v).toBeCloseTo((a.v - 48 + 0.5) / 2 - 0.5, 9);
  });
});

describe("replay of images smaller than their CameraInfo", () => {
  const dir = mkdtempSync(join(tmpdir(), "camera-info-size-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli(args, dir);
  beforeAll(async () => {
    const src = join(dir, "t.mcap");
    await generateWorldBag({ out: src, duration: 8, camera: { width: 64, height: 48, rate: 5 } });
    // The same camera described at twice the images' size (pixel centres at integers).
    const twice = (k: number[], i: number, centre: boolean) => (centre ? (k[i]! + 0.5) * 2 - 0.5 : k[i]! * 2);
    await rewriteBag(src, join(dir, "info2x.mcap"), (topic, m) => {
      if (topic !== "/camera/camera_info") return m;
      const k = Array.from(m.k as Float64Array);
      const p = Array.from(m.p as Float64Array);
      return {
        ...m,
        width: 128,
        height: 96,
        k: k.map((_, i) => (i >= 6 ? k[i]! : twice(k, i, i === 2 || i === 5))),
        p: p.map((_, i) => (i >= 8 ? p[i]! : twice(p, i, i === 2 || i === 6))),
      };
    });
    // A CameraInfo of another aspect ratio: not a resize of the images.
    await rewriteBag(src, join(dir, "infowide.mcap"), (topic, m) =>
      topic === "/camera/camera_info" ? { ...m, width: 128 } : m,
    );
  }, 120_000);

  it("learns exactly what it learns from the images' own CameraInfo", async () => {
    const own = await cli("replay", "t.mcap", "--json");
    const scaled = await cli("replay", "info2x.mcap", "--json");
    expect(own.code).toBe(0);
    expect(scaled.code).toBe(0);
    const a = JSON.parse(own.stdout);
    const b = JSON.parse(scaled.stdout);
    expect(a.rows).toBeGreaterThan(0);
    for (const k of ["samples", "rows", "keyframes", "trainSteps"]) expect(b[k], k).toBe(a[k]);
  }, 120_000);

  it("another aspect ratio: nothing learned, the sizes named, exit 1", async () => {
    const r = await cli("replay", "infowide.mcap");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /infowide\.mcap: nothing learned from \d+ frames: no usable camera info on \/camera\/camera_info \(its size is not a resize of the images': 128x48 vs images 64x48\)/,
    );
  }, 120_000);
});

describe("CameraInfo distortion models", () => {
  const info = (distortion_model: string, d: number[]) => ({
    header: { stamp: { sec: 1, nanosec: 0 }, frame_id: "cam" },
    width: 640,
    height: 480,
    distortion_model,
    d,
    k: full.K,
    p: full.P,
  });

  it("takes the ROS models, and the fisheye names of other tools as equidistant", () => {
    expect(cameraInfoFromRos(info("plumb_bob", [0.1, 0, 0, 0, 0])).distortionModel).toBe("plumb_bob");
    expect(cameraInfoFromRos(info("equidistant", [0.1, 0, 0, 0])).distortionModel).toBe("equidistant");
    expect(cameraInfoFromRos(info("fisheye", [0.1, 0.01, 0, 0])).distortionModel).toBe("equidistant");
    expect(cameraInfoFromRos(info("kannala_brandt", [0.1, 0.01, 0, 0])).distortionModel).toBe("equidistant");
    // Any model without distortion is none.
    expect(cameraInfoFromRos(info("kannala_brandt", [0, 0, 0, 0, 0])).distortionModel).toBe("none");
  });

  it("refuses a model it cannot project with, naming it, instead of projecting as plumb_bob", () => {
    expect(() => cameraInfoFromRos(info("double_sphere", [0.5, -0.2]))).toThrow(
      /distortion model 'double_sphere' \(d = \[0\.5, -0\.2\]\) is not supported/,
    );
    expect(() => cameraInfoFromRos(info("fisheye", [0.1, 0, 0, 0, 0]))).toThrow(/'fisheye'/);
  });
});
