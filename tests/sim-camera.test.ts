// Camera geometry end to end: markers painted at known ground points appear in the rendered image
// where the pinhole + plumb_bob model predicts, using only what the bag says (CameraInfo, /tf_static,
// the ground-truth pose) — so the renderer, the TF it publishes and src/core/camera.ts agree.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildWorld,
  cameraSetup,
  GroundRenderer,
  generateWorldBag,
  parseWorld,
  TOPICS,
} from "../sim/index.ts";
import { projectPoint } from "../src/core/camera.ts";
import { composeTransforms, invertTransform, transformPoint } from "../src/core/geometry.ts";
import type { Transform } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { cameraInfoFromRos, imageFromRos, odomFromRos, transformsFromRos } from "../src/io/ros/convert.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-camera-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MARKERS = [
  { x: 3.5, y: 0.8, color: [255, 0, 255] as [number, number, number] },
  { x: 6.0, y: -1.6, color: [0, 255, 255] as [number, number, number] },
  { x: 2.4, y: -0.7, color: [255, 255, 0] as [number, number, number] },
];

function world(pitchDeg: number) {
  return {
    name: "markers",
    bounds: { xMin: -12, xMax: 12, yMin: -12, yMax: 12 },
    layout: { kind: "stripes", seed: 1, cellSize: 50, margin: 10 },
    terrains: [{ type: "asphalt" }],
    markers: MARKERS.map((m) => ({ ...m, radius: 0.1 })),
    route: { kind: "random", start: { x: 0.5, y: -0.3, yaw: 0.12 } },
    camera: { mount: { x: 0.25, y: 0.05, z: 0.9, pitchDeg } },
  };
}

async function firstFrame(path: string) {
  const bag = await openBag(path);
  const statics: Transform[] = [];
  let image: ReturnType<typeof imageFromRos> | undefined;
  let info: ReturnType<typeof cameraInfoFromRos> | undefined;
  let pose: ReturnType<typeof odomFromRos> | undefined;
  try {
    for await (const ev of bag.messages()) {
      if (ev.type === "problem") throw new Error(ev.message);
      if (ev.topic === TOPICS.tfStatic) statics.push(...transformsFromRos(ev.message, true));
      else if (ev.topic === TOPICS.pose && !pose) pose = odomFromRos(ev.message);
      else if (ev.topic === TOPICS.image && !image) image = imageFromRos(ev.message);
      else if (ev.topic === TOPICS.cameraInfo && !info) info = cameraInfoFromRos(ev.message);
      if (image && info && pose && statics.length > 0) break;
    }
  } finally {
    await bag.close();
  }
  if (!image || !info || !pose) throw new Error("bag lacks an image, camera info or pose");
  return { image, info, pose, statics };
}

describe("rendered markers land where the pinhole model predicts", () => {
  for (const [camera, pitch] of [
    [{ width: 320, height: 240 }, 20],
    [{ width: 640, height: 480 }, 28],
  ] as const) {
    it(`${camera.width}x${camera.height}, camera pitched ${pitch}° down`, async () => {
      const path = join(dir, `markers-${camera.width}.mcap`);
      await generateWorldBag({ out: path, world: world(pitch), seed: 2, duration: 0.2, camera });
      const { image, info, pose, statics } = await firstFrame(path);
      expect(info.distortionModel).toBe("plumb_bob");
      const odomBase: Transform = {
        stamp: pose.stamp,
        parent: "odom",
        child: "base_link",
        translation: pose.pose.position,
        rotation: pose.pose.orientation,
        isStatic: false,
      };
      const find = (child: string) => statics.find((t) => t.child === child)!;
      const odomOptical = composeTransforms(
        composeTransforms(odomBase, find("camera_link")),
        find("camera_optical_frame"),
      );
      const opticalOdom = invertTransform(odomOptical);
      const px = new Float64Array(2);
      for (const m of MARKERS) {
        const p = transformPoint(opticalOdom, { x: m.x, y: m.y, z: 0 });
        expect(projectPoint(info, p.x, p.y, p.z, px)).toBe(true);
        // Centroid of the pixels of this marker's colour.
        let su = 0;
        let sv = 0;
        let n = 0;
        for (let v = 0; v < image.height; v++) {
          for (let u = 0; u < image.width; u++) {
            const o = 3 * (v * image.width + u);
            const ok = [0, 1, 2].every((c) =>
              m.color[c] === 255 ? image.data[o + c]! > 190 : image.data[o + c]! < 70,
            );
            if (ok) {
              su += u;
              sv += v;
              n++;
            }
          }
        }
        expect(n, `marker at (${m.x}, ${m.y}) not found`).toBeGreaterThan(4);
        expect(Math.abs(su / n - px[0]!), `u of marker (${m.x}, ${m.y})`).toBeLessThan(1);
        expect(Math.abs(sv / n - px[1]!), `v of marker (${m.x}, ${m.y})`).toBeLessThan(1);
      }
    });
  }
});

describe("camera shake", () => {
  // A marker 3 m ahead, the robot "driving" in place: the marker jitters on rough ground at speed,
  // not at rest, and not with shakeDeg 0.
  function centroidSpread(speed: number, shakeDeg: number): number {
    const world = buildWorld(
      parseWorld({
        bounds: { xMin: -10, xMax: 10, yMin: -10, yMax: 10 },
        layout: { kind: "stripes", cellSize: 50, margin: 5, seed: 1 },
        terrains: [{ type: "gravel" }],
        markers: [{ x: 3, y: 0, radius: 0.1, color: [255, 0, 255] }],
        camera: { shakeDeg },
      }),
      1,
    );
    const r = new GroundRenderer(world, cameraSetup(world, 320, 240), 1);
    const vs: number[] = [];
    for (let k = 0; k < 12; k++) {
      const img = r.render(0, 0, 0, k / 15, undefined, speed);
      let sv = 0;
      let n = 0;
      for (let i = 0; i < 320 * 240; i++) {
        if (img[3 * i]! > 190 && img[3 * i + 1]! < 70 && img[3 * i + 2]! > 190) {
          sv += Math.floor(i / 320);
          n++;
        }
      }
      expect(n).toBeGreaterThan(10);
      vs.push(sv / n);
    }
    const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
    return Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length);
  }

  it("moves the image on rough ground at speed only", () => {
    expect(centroidSpread(1.5, 0.4)).toBeGreaterThan(0.3);
    expect(centroidSpread(0, 0.4)).toBeLessThan(0.05);
    expect(centroidSpread(1.5, 0)).toBeLessThan(0.05);
  });
});
