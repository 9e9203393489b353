// The bundled MobileNetV2 backbone (models/mobilenetv2.onnx): selectable by name, stride and channels
// from its metadata, ImageNet normalisation, features that tell real ground photos apart, and (where
// the source model is at hand) rebuilt byte for byte by its script.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMobileNetV2, DEFAULT_SOURCE } from "../models/build-mobilenetv2.ts";
import { WORLDS_DIR } from "../sim/index.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { Backbone, readOnnxMetadata, resolveBackbonePath } from "../src/learning/backbone.ts";

let bb: Backbone;
beforeAll(async () => {
  bb = await Backbone.fromConfig({
    backbone: "mobilenetv2",
    execution_providers: ["cpu"],
    backbone_threads: 1,
  });
});
afterAll(async () => bb?.close());

async function photoFrame(rel: string): Promise<ImageFrame> {
  const { data, info } = await sharp(join(WORLDS_DIR, "photos", rel))
    .resize(320, 240, { fit: "cover" })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    stamp: 0,
    frameId: "cam",
    width: info.width,
    height: info.height,
    encoding: "rgb8",
    data: new Uint8Array(data),
  };
}

describe("MobileNetV2 backbone", () => {
  it("is selected by name and reads stride, channels and normalisation from its metadata", () => {
    expect(resolveBackbonePath("mobilenetv2")).toMatch(/models[\\/]mobilenetv2\.onnx$/);
    expect(resolveBackbonePath("filterbank")).toMatch(/models[\\/]backbone\.onnx$/);
    expect(resolveBackbonePath("/x/y.onnx")).toBe("/x/y.onnx");
    expect(bb.stride).toBe(16);
    expect(bb.channels).toBe(96);
    const meta = readOnnxMetadata(resolveBackbonePath("mobilenetv2"));
    expect(meta.mean).toBe("0.485,0.456,0.406");
    expect(meta.std).toBe("0.229,0.224,0.225");
    expect(meta.licence).toMatch(/Apache-2\.0/);
    expect(existsSync(join(resolveBackbonePath("mobilenetv2"), "..", "MOBILENETV2-LICENSE.md"))).toBe(true);
  });

  it("gives a 20×15 grid for 320×240 and features that separate grass from gravel photos", async () => {
    const mean = async (rel: string) => {
      const m = await bb.extract(await photoFrame(rel));
      expect([m.rows, m.cols, m.channels]).toEqual([15, 20, 96]);
      expect(m.data.every(Number.isFinite)).toBe(true);
      const v = new Float64Array(96);
      for (let i = 0; i < m.rows * m.cols; i++)
        for (let k = 0; k < 96; k++) v[k]! += m.data[i * 96 + k]! / (m.rows * m.cols);
      return v;
    };
    const dist = (a: Float64Array, b: Float64Array) => Math.hypot(...a.map((x, k) => x - b[k]!));
    const grassA = await mean("grass/grass_albedo.jpg");
    const grassB = await mean("grass/grass_dry.jpg");
    const gravel = await mean("gravel/Rocks002_2K_Color.jpg");
    expect(dist(grassA, gravel)).toBeGreaterThan(1.2 * dist(grassA, grassB));
  });

  it.skipIf(!existsSync(DEFAULT_SOURCE))(
    "is rebuilt byte for byte from the Model Zoo file by its script",
    () => {
      const built = buildMobileNetV2(readFileSync(DEFAULT_SOURCE));
      expect(Buffer.compare(Buffer.from(built), readFileSync(resolveBackbonePath("mobilenetv2")))).toBe(0);
    },
  );
});
