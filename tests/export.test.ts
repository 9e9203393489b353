// `export`: a checkpoint from a real replay of a simulator bag (replay --save-checkpoint) as one ONNX
// graph, run with onnxruntime on the bag's frames and compared with what the pipeline predicted on
// the same frames with the same weights; the downscaling paths and the MobileNetV2 backbone on the
// same frames scaled up; and the command's errors.

import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runExport } from "../src/cli/export.ts";
import { parseImageSize } from "../src/cli/export-command.ts";
import { runReplay } from "../src/cli/replay.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Backbone, defaultBackbonePath, readOnnxMetadata } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { type Config, configFromObject } from "../src/runtime/config.ts";
import { headFeatures } from "../src/runtime/features.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "tl-export-"));
const bag = join(dir, "world.mcap");
const ckpt = join(dir, "ckpt");
const quiet = () => {};
// The head's input with the bundled backbone: its channels, their 3×3 means and the image row.
const HEAD_INPUTS = 2 * Number(readOnnxMetadata(defaultBackbonePath()).channels) + 1;

/** Pipeline predictions on the bag's frames with the checkpoint's weights, nothing after the head. */
interface Frame {
  image: ImageFrame;
  roughness: Float32Array;
  confidence: Float32Array;
}
const frames: Frame[] = [];

function predictionConfig(): Config {
  // No learning (the weights stay the checkpoint's), and the head's grid as it is: no pull towards
  // the label prior, no smoothing.
  return configFromObject({ learner: { enabled: false }, outputs: { smoothing: 0, prior_weight: 0 } });
}

async function learnerFrom(checkpoint: string, config: Config, channels: number): Promise<OnlineLearner> {
  const learner = await OnlineLearner.create(config.learner, channels, { warn: quiet });
  expect(await learner.loadLatestCheckpoint(checkpoint)).toBe(true);
  return learner;
}

async function ortRun(model: string, images: ImageFrame[]) {
  const session = await ort.InferenceSession.create(model);
  const out: { roughness: Float32Array; confidence: Float32Array }[] = [];
  for (const img of images) {
    const image = new ort.Tensor("uint8", img.data, [1, img.height, img.width, 3]);
    const r = await session.run({ image });
    out.push({
      roughness: r.roughness!.data as Float32Array,
      confidence: r.confidence!.data as Float32Array,
    });
  }
  await session.release();
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Nearest-neighbour scaling of an rgb8 frame (the bag's frames at other camera sizes). */
function scaled(img: ImageFrame, width: number, height: number): ImageFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x * img.width) / width);
      const sy = Math.floor((y * img.height) / height);
      data.set(
        img.data.subarray(3 * (sy * img.width + sx), 3 * (sy * img.width + sx) + 3),
        3 * (y * width + x),
      );
    }
  return { ...img, width, height, data };
}

beforeAll(async () => {
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 3,
    duration: 20,
    camera: { width: 160, height: 120 },
  });
  const r = await runReplay({ bag, config: configFromObject({}), saveCheckpoint: ckpt, warn: quiet });
  expect(r.checkpoint).toMatch(/ckpt-00000001\.json$/);
  expect(r.trainSteps).toBeGreaterThan(100);

  // The pipeline itself on the bag's frames with the checkpoint's weights (every 5th frame kept).
  const config = predictionConfig();
  const learner = await learnerFrom(ckpt, config, HEAD_INPUTS);
  const pipeline = await createPipeline(config, { mode: "replay", learner, warn: quiet });
  let n = 0;
  const sub = pipeline.events$.subscribe((e) => {
    if (e.type !== "prediction" || n++ % 5 !== 0) return;
    frames.push({
      image: { ...e.image, data: e.image.data.slice() },
      roughness: e.outputs.grid.roughness.slice(),
      confidence: e.outputs.grid.confidence.slice(),
    });
  });
  const source = await openBag(bag);
  // The first 12 s are enough frames (and keep the test short).
  const info = await source.info();
  for await (const event of source.messages()) {
    if (event.type === "message" && event.logTime > info.start + 12) break;
    await pipeline.push(event);
  }
  await pipeline.finish();
  sub.unsubscribe();
  await pipeline.close();
  await source.close();
  learner.dispose();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("export of a replay's checkpoint", () => {
  const model = join(dir, "model.onnx");

  it("reproduces the pipeline's roughness and confidence grids on the bag's frames", async () => {
    const r = await runExport({
      checkpoint: ckpt,
      out: model,
      config: configFromObject({}),
      width: 160,
      height: 120,
      warn: quiet,
    });
    expect(r.grid).toEqual({ rows: 15, cols: 20, cellWidth: 8, cellHeight: 8 });
    expect(frames.length).toBeGreaterThanOrEqual(30);
    const got = await ortRun(
      model,
      frames.map((f) => f.image),
    );
    let dr = 0;
    let dc = 0;
    let spread = 0;
    let unsure = 0;
    let sure = 0;
    for (let i = 0; i < frames.length; i++) {
      dr = Math.max(dr, maxDiff(got[i]!.roughness, frames[i]!.roughness));
      dc = Math.max(dc, maxDiff(got[i]!.confidence, frames[i]!.confidence));
      spread = Math.max(spread, Math.max(...frames[i]!.roughness) - Math.min(...frames[i]!.roughness));
      for (const c of frames[i]!.confidence) {
        if (c < 0.5) unsure++;
        else if (c > 0.9) sure++;
      }
    }
    console.log(`confidence: ${unsure} cells < 0.5, ${sure} cells > 0.9`);
    console.log(
      `export vs pipeline on ${frames.length} frames 160x120 (filterbank): max |Δroughness| ${dr.toExponential(2)}, max |Δconfidence| ${dc.toExponential(2)}`,
    );
    // The grids are not trivially equal: the model predicts a range of roughness on these frames.
    expect(spread).toBeGreaterThan(0.1);
    expect(unsure).toBeGreaterThan(0);
    expect(sure).toBeGreaterThan(0);
    expect(dr).toBeLessThan(1e-4);
    expect(dc).toBeLessThan(1e-4);
  });

  it("records what a user elsewhere needs in metadata_props", () => {
    const m = readOnnxMetadata(model);
    expect(m.input_shape).toBe("1,120,160,3");
    expect(m.input_dtype).toBe("uint8");
    expect(m.output_shape).toBe("15,20");
    expect(m.cell_width_px).toBe("8");
    // The centre to project is the one the node projects (grid-camera.ts, grid-ground-projection.ts):
    // pixel centres at whole coordinates, so cell 0 of 8 px is centred at 3.5.
    expect(m.cell_to_pixels).toContain("u = (c+0.5)*cell_width_px - 0.5, v = (r+0.5)*cell_height_px - 0.5");
    expect(m.stride).toBe("8");
    expect(m.feature_context).toBe("neighbourhood");
    expect(Number(m.calibration_hi)).toBeGreaterThan(Number(m.calibration_lo));
    expect(m.backbone_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(m.learner_settings!).novelty).toBe("knn");
    expect(m.ops!.split(",")).toContain("TopK");
  });

  // The working-resolution downscale (learner.input_width 320) inside the graph: a whole factor
  // (AveragePool), fractional ones (400: 5/4, repeated pixels; 1000: 25/8, MatMul) and a crop to
  // whole cells, against Backbone + features +
  // learner on the same frames scaled to those camera sizes.
  it.each([
    [640, 480],
    [400, 300],
    [170, 131],
    [1000, 750],
    [500, 370],
  ])("takes %ix%i images as the runtime does", async (width, height) => {
    const out = join(dir, `model-${width}.onnx`);
    const r = await runExport({
      checkpoint: ckpt,
      out,
      config: configFromObject({}),
      width,
      height,
      warn: quiet,
    });
    expect(r.ops.includes("Resize")).toBe(width === 400);
    // The crop the metadata names is the whole pixels the graph reads, even where a cell is a
    // fractional number of camera pixels (500 wide: 12.5, 29 rows of them 362.5).
    const crop = /crop to the top-left (\d+)x(\d+) px/.exec(r.metadata.preprocessing_in_graph ?? "");
    expect(crop, r.metadata.preprocessing_in_graph).not.toBeNull();
    expect(Number(crop![1])).toBeLessThanOrEqual(width);
    expect(Number(crop![2])).toBeLessThanOrEqual(height);
    expect(Number(crop![1])).toBeGreaterThan(width - Number(r.metadata.cell_width_px));
    const config = configFromObject({});
    const backbone = await Backbone.fromConfig(config.learner, { warn: quiet });
    const learner = await learnerFrom(ckpt, config, HEAD_INPUTS);
    const images = frames.slice(0, 8).map((f) => scaled(f.image, width, height));
    const got = await ortRun(out, images);
    let dr = 0;
    let dc = 0;
    for (let i = 0; i < images.length; i++) {
      const map = headFeatures(await backbone.extract(images[i]!), "neighbourhood");
      expect([map.rows, map.cols]).toEqual([r.grid.rows, r.grid.cols]);
      const want = learner.predict(map.data, map.rows * map.cols);
      dr = Math.max(dr, maxDiff(got[i]!.roughness, want.roughness));
      dc = Math.max(dc, maxDiff(got[i]!.confidence, want.confidence));
    }
    console.log(
      `export vs runtime at ${width}x${height}: max |Δroughness| ${dr.toExponential(2)}, max |Δconfidence| ${dc.toExponential(2)}`,
    );
    expect(dr).toBeLessThan(1e-4);
    expect(dc).toBeLessThan(1e-4);
    learner.dispose();
    await backbone.close();
  });
});

// Other backbones and heads: a head trained here on the frames' real features (labels from the sign
// of the first feature channel: enough for real training steps), checkpointed, exported, compared.
describe.each([
  ["mobilenetv2", "knn", "local", "invariant"],
  ["", "autoencoder", "standardized", "all"],
  ["", "knn", "standardized", "all"],
])("export with backbone '%s', %s novelty (%s, %s)", (backboneName, novelty, metric, features) => {
  it("reproduces Backbone + learner predictions", async () => {
    const config = configFromObject({
      learner: {
        backbone: backboneName,
        novelty,
        novelty_metric: metric,
        novelty_features: features,
        min_samples: 16,
      },
    });
    const backbone = await Backbone.fromConfig(config.learner, { warn: quiet });
    const C = 2 * backbone.channels + 1;
    const learner = await OnlineLearner.create(config.learner, C, { warn: quiet });
    const images = frames.slice(0, 12).map((f) => scaled(f.image, 320, 240));
    for (const img of images) {
      const map = headFeatures(await backbone.extract(img), "neighbourhood");
      const n = map.rows * map.cols;
      const targets = new Float32Array(n);
      for (let i = 0; i < n; i++) targets[i] = map.data[i * C]! > 0 ? 0.7 : 0.3;
      learner.addSamples(map.data, targets);
    }
    await learner.train(40);
    const ck = join(dir, `ckpt-${backboneName}-${novelty}-${metric}`);
    await learner.saveCheckpoint(ck);
    const out = join(dir, `${backboneName}-${novelty}-${metric}.onnx`);
    const r = await runExport({
      checkpoint: ck,
      out,
      config: configFromObject({}),
      width: 320,
      height: 240,
      warn: quiet,
    });
    expect(r.metadata.novelty).toBe(novelty);
    if (backboneName) expect(r.backbone).toBe(backboneName);
    const got = await ortRun(out, images);
    let dr = 0;
    let dc = 0;
    let unsure = 0;
    for (let i = 0; i < images.length; i++) {
      const map = headFeatures(await backbone.extract(images[i]!), "neighbourhood");
      const want = learner.predict(map.data, map.rows * map.cols);
      dr = Math.max(dr, maxDiff(got[i]!.roughness, want.roughness));
      dc = Math.max(dc, maxDiff(got[i]!.confidence, want.confidence));
      for (const c of want.confidence) if (c < 0.99) unsure++;
    }
    console.log(
      `export vs runtime, ${backboneName || "filterbank"} ${novelty} ${metric}/${features} 320x240: max |Δroughness| ${dr.toExponential(2)}, max |Δconfidence| ${dc.toExponential(2)} (${unsure} cells with confidence < 0.99)`,
    );
    expect(unsure).toBeGreaterThan(0);
    expect(dr).toBeLessThan(1e-4);
    expect(dc).toBeLessThan(1e-4);
    learner.dispose();
    await backbone.close();
  });
});

// A head that learns log10 energy (learner.head_target log_energy): its linear output goes through
// the labels' calibration in the graph, tails included (targets reach beyond the bounds).
describe.each([0.25, 0])("export of a log-energy head, calibration exponent %s", (exponent) => {
  it("reproduces Backbone + learner predictions", async () => {
    const config = configFromObject({ learner: { head_target: "log_energy", min_samples: 16 } });
    const backbone = await Backbone.fromConfig(config.learner, { warn: quiet });
    const C = 2 * backbone.channels + 1;
    const learner = await OnlineLearner.create(config.learner, C, { warn: quiet });
    learner.setLabelCalibration(-1, 0, exponent);
    const images = frames.slice(0, 12).map((f) => scaled(f.image, 320, 240));
    for (const img of images) {
      const map = headFeatures(await backbone.extract(img), "neighbourhood");
      const n = map.rows * map.cols;
      const targets = new Float32Array(n);
      for (let i = 0; i < n; i++) targets[i] = map.data[i * C]! > 0 ? 0.6 : -1.6;
      learner.addSamples(map.data, targets);
    }
    await learner.train(60);
    const ck = join(dir, `ckpt-log-energy-${exponent}`);
    await learner.saveCheckpoint(ck);
    const out = join(dir, `log-energy-${exponent}.onnx`);
    const r = await runExport({
      checkpoint: ck,
      out,
      config: configFromObject({}),
      width: 320,
      height: 240,
      warn: quiet,
    });
    expect(JSON.parse(r.metadata.learner_settings!).head_target).toBe("log_energy");
    expect(r.metadata.calibration_exponent).toBe(String(exponent));
    const got = await ortRun(out, images);
    let dr = 0;
    let below = 0;
    let above = 0;
    for (let i = 0; i < images.length; i++) {
      const map = headFeatures(await backbone.extract(images[i]!), "neighbourhood");
      const want = learner.predict(map.data, map.rows * map.cols);
      dr = Math.max(dr, maxDiff(got[i]!.roughness, want.roughness));
      for (const v of want.roughness) {
        if (v < 0.05) below++;
        else if (v > 0.95) above++;
      }
    }
    console.log(
      `export vs runtime, log-energy head (exponent ${exponent}) 320x240: max |Δroughness| ${dr.toExponential(2)} (${below} cells in the lower tail, ${above} in the upper)`,
    );
    // Both tails and the middle of the calibration are exercised.
    expect(below).toBeGreaterThan(0);
    expect(above).toBeGreaterThan(0);
    expect(dr).toBeLessThan(1e-4);
    learner.dispose();
    await backbone.close();
  });
});

describe("export errors", () => {
  const base = { config: configFromObject({}), width: 160, height: 120, warn: quiet };

  it("refuses a missing, empty or corrupt checkpoint folder, and leaves no file behind", async () => {
    const out = join(dir, "err.onnx");
    await expect(runExport({ ...base, checkpoint: join(dir, "nope"), out })).rejects.toThrow(
      /no such folder/,
    );
    const empty = join(dir, "empty");
    mkdirSync(empty);
    await expect(runExport({ ...base, checkpoint: empty, out })).rejects.toThrow(
      /no checkpoint in this folder/,
    );
    const bad = join(dir, "bad");
    mkdirSync(bad);
    for (const f of readdirSync(ckpt)) writeFileSync(join(bad, f), readFileSync(join(ckpt, f)));
    const bin = readdirSync(bad).find((f) => f.endsWith(".bin"))!;
    const bytes = readFileSync(join(bad, bin));
    bytes[200] = bytes[200]! ^ 0xff;
    writeFileSync(join(bad, bin), bytes);
    const warnings: string[] = [];
    await expect(runExport({ ...base, checkpoint: bad, out, warn: (m) => warnings.push(m) })).rejects.toThrow(
      /no valid checkpoint/,
    );
    expect(warnings.join("\n")).toMatch(/checksum/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("never writes over the checkpoint, and keeps an existing output when it fails", async () => {
    const manifest = join(ckpt, readdirSync(ckpt).find((f) => f.endsWith(".json"))!);
    const before = readFileSync(manifest);
    await expect(runExport({ ...base, checkpoint: ckpt, out: manifest })).rejects.toThrow(
      /refusing to overwrite/,
    );
    expect(readFileSync(manifest)).toEqual(before);
    const out = join(dir, "keep.onnx");
    // An earlier export (a serialised ModelProto starts with byte 0x08).
    writeFileSync(out, "\bprevious");
    await expect(runExport({ ...base, checkpoint: ckpt, out, width: 4, height: 4 })).rejects.toThrow(
      /--image-size 4x4: smaller than one feature cell \(8 px square/,
    );
    expect(readFileSync(out, "utf8")).toBe("\bprevious");
  });

  it("refuses a backbone other than the one the head was trained on; uses the config without a record", async () => {
    const copy = (name: string, edit: (info: Record<string, unknown>) => void) => {
      const to = join(dir, name);
      mkdirSync(to);
      for (const f of readdirSync(ckpt)) writeFileSync(join(to, f), readFileSync(join(ckpt, f)));
      const manifest = join(to, readdirSync(to).find((f) => f.endsWith(".json"))!);
      const m = JSON.parse(readFileSync(manifest, "utf8"));
      edit(m.info);
      writeFileSync(manifest, JSON.stringify(m));
      return to;
    };
    const other = copy("other-backbone", (info) => {
      info.backboneSha256 = "0".repeat(64);
    });
    await expect(runExport({ ...base, checkpoint: other, out: join(dir, "o.onnx") })).rejects.toThrow(
      /trained on backbone sha256 000000000000…/,
    );
    // Moved to another machine, where its backbone lives elsewhere: --config gives the new place,
    // which must hold the same model.
    const moved = copy("moved", (info) => {
      (info.learner as Record<string, unknown>).backbone = join(dir, "gone", "backbone.onnx");
    });
    const place = (backbone: string) => configFromObject({ learner: { backbone } });
    await expect(
      runExport({
        ...base,
        config: place(defaultBackbonePath()),
        checkpoint: moved,
        out: join(dir, "m.onnx"),
      }),
    ).resolves.toBeDefined();
    await expect(
      runExport({ ...base, config: place("mobilenetv2"), checkpoint: moved, out: join(dir, "m2.onnx") }),
    ).rejects.toThrow(/not found, and the configuration's .*mobilenetv2\.onnx is another model/);
    expect(existsSync(join(dir, "m2.onnx"))).toBe(false);
    // Where it is, the checkpoint's own model is used whatever the configuration names; another is said.
    const said: string[] = [];
    await runExport({
      ...base,
      config: place("mobilenetv2"),
      checkpoint: ckpt,
      out: join(dir, "own.onnx"),
      warn: (m) => said.push(m),
    });
    expect(said.join("\n")).toMatch(
      /learner\.backbone .*mobilenetv2\.onnx is not used: the checkpoint exports with the model it was trained on, .*backbone\.onnx/,
    );
    said.length = 0;
    await runExport({
      ...base,
      config: place(defaultBackbonePath()),
      checkpoint: ckpt,
      out: join(dir, "own2.onnx"),
      warn: (m) => said.push(m),
    });
    expect(said.join("\n")).not.toMatch(/is not used/);
    // A checkpoint without its learner settings (older versions): the configuration's, with a warning.
    const old = copy("old-manifest", (info) => {
      delete info.learner;
      delete info.backboneSha256;
    });
    const warnings: string[] = [];
    const cfg = configFromObject({ learner: { confidence_sigma: 3 } });
    const r = await runExport({
      ...base,
      config: cfg,
      checkpoint: old,
      out: join(dir, "old.onnx"),
      warn: (m) => warnings.push(m),
    });
    expect(warnings.join("\n")).toMatch(/does not record its learner settings/);
    expect(r.metadata.confidence_sigma).toBe("3");
  });

  it("the command: --help, a bad --image-size, and one export", async () => {
    const cli = (args: string[]) =>
      run(process.execPath, ["bin/terrain-learner.js", "export", ...args]).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const help = await cli(["--help"]);
    expect(help.stdout).toMatch(/--checkpoint <dir>/);
    expect(help.stdout).toMatch(/--image-size <WxH>/);
    const bad = await cli(["--checkpoint", ckpt, "--out", join(dir, "x.onnx"), "--image-size", "640by480"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--image-size must be WIDTHxHEIGHT/);
    // A well-formed size over the limit says what the limit is.
    expect(() => parseImageSize("9000x10")).toThrow(/each 1\.\.8192 .*got '9000x10'/);
    expect(parseImageSize("640X480")).toEqual({ width: 640, height: 480 });
    // Wider than the backbone's working width, cells are larger than its stride: the error says how large.
    const thin = await cli(["--checkpoint", ckpt, "--out", join(dir, "x.onnx"), "--image-size", "640x8"]);
    expect(thin.code).toBe(1);
    expect(thin.stderr.trim()).toMatch(
      /^terrain-learner: --image-size 640x8: smaller than one feature cell \(\d+(\.\d+)? px square/,
    );
    expect(thin.stderr).not.toMatch(/8px feature cell|DEBUG/);
    const out = join(dir, "cli.onnx");
    const ok = await cli(["--checkpoint", ckpt, "--out", out, "--image-size", "160x120", "--json"]);
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout);
    expect(r.bytes).toBe(readFileSync(out).byteLength);
    expect(r.grid.rows).toBe(15);
  }, 60_000);
});
