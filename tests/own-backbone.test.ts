// docs/own-backbone.md followed with a user's own ONNX model: what works, and the mistakes users make
// refused when the model loads, with one line naming the fix.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { runExport } from "../src/cli/export.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { Backbone, modelSha256 } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { configFromObject, defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";
import { headFeatures } from "../src/runtime/features.ts";
import { createLearner } from "../src/runtime/learners.ts";
import { runCli } from "./helpers/cli.ts";
import { FLOAT16, type OwnBackbone, UINT8, writeOwnBackbone } from "./helpers/own-backbones.ts";

const tmp = mkdtempSync(join(tmpdir(), "tl-own-backbone-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function image(width: number, height: number, seed = 0): ImageFrame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * (37 + seed) + (i >> 7)) & 255;
  return { stamp: 0, frameId: "camera", width, height, encoding: "rgb8", data } as ImageFrame;
}

let n = 0;
async function load(o: OwnBackbone, inputWidth = 320): Promise<Backbone> {
  return Backbone.load(writeOwnBackbone(tmp, `m${n++}.onnx`, o), { inputWidth, warn: () => {} });
}
/** The one error loading `o` gives: a single line. */
async function loadError(o: OwnBackbone): Promise<string> {
  const err = await load(o).then(
    async (b) => {
      await b.close();
      return null;
    },
    (e: Error) => e,
  );
  expect(err, "the model loaded").not.toBeNull();
  expect(err!.message).not.toContain("\n");
  return err!.message;
}

describe("a user's own backbone", () => {
  it("runs: stride and channels from metadata, the output read as NCHW or, with layout=NHWC, NHWC", async () => {
    const nchw = await load({ stride: 8, channels: 16 });
    const nhwc = await load({
      stride: 8,
      channels: 16,
      nhwcOutput: true,
      metadata: { stride: "8", layout: "NHWC" },
    });
    expect([nchw.stride, nchw.channels, nhwc.channels]).toEqual([8, 16, 16]);
    const a = await nchw.extract(image(320, 240));
    const b = await nhwc.extract(image(320, 240));
    expect([a.rows, a.cols, a.channels]).toEqual([30, 40, 16]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(new Set(a.data).size).toBeGreaterThan(100);
    await Promise.all([nchw.close(), nhwc.close()]);
  });

  it("an empty file, or one without a graph, is one line (onnxruntime's message ends in blank lines)", async () => {
    const empty = join(tmp, "empty.onnx");
    writeFileSync(empty, "");
    // A ModelProto holding only its ir_version (field 1 = 8).
    const graphless = join(tmp, "graphless.onnx");
    writeFileSync(graphless, Uint8Array.of(0x08, 0x08));
    for (const [path, why] of [
      [empty, /is an empty file: copy or export the model again$/],
      [graphless, /cannot load backbone .*graphless\.onnx: .*graph/],
    ] as const) {
      const err = await Backbone.load(path, { warn: () => {} }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(why);
      expect(err?.message).not.toContain("\n");
    }
  });

  it("refuses a float16 or uint8 output (its bits were read as float32 features) and a float16 input", async () => {
    expect(await loadError({ outputType: FLOAT16 })).toMatch(
      /output 'features' is float16; terrain-learner reads float32 features: end the model with a Cast to float32/,
    );
    expect(await loadError({ outputType: UINT8 })).toMatch(/output 'features' is uint8; .*DequantizeLinear/);
    expect(await loadError({ inputType: FLOAT16 })).toMatch(
      /input 'image' is float16; terrain-learner feeds float32 images/,
    );
  });

  it("refuses a channels-last input at load, naming the Transpose, instead of failing every frame", async () => {
    const msg = await loadError({
      nhwcInput: true,
      nhwcOutput: true,
      metadata: { stride: "8", layout: "NHWC" },
    });
    expect(msg).toMatch(
      /input 'image' is \[1,height,width,3\] \(channels last, NHWC\); .*Transpose\(perm=\[0,3,1,2\]\)/,
    );
    // Without a stride in the metadata the probe run used to throw onnxruntime's multi-line shape error.
    expect(await loadError({ nhwcInput: true, metadata: {} })).toMatch(/channels last/);
    expect(await loadError({ input: [1, 1, "h", "w"] })).toMatch(
      /\[1,1,h,w\]; terrain-learner feeds 3 channels/,
    );
  });

  it("a second output declared first: names the feature map to select with metadata output=", async () => {
    expect(await loadError({ logitsFirst: true, outputName: "feat" })).toMatch(
      /output 'logits' is \[1,16\], not a feature map \[1,C,H\/s,W\/s\]; select one with metadata output=<name> \(4-D outputs: feat\)/,
    );
    const chosen = await load({
      logitsFirst: true,
      outputName: "feat",
      metadata: { stride: "8", output: "feat" },
    });
    expect((await chosen.extract(image(64, 48))).channels).toBe(16);
    await chosen.close();
  });

  it("without a stride in the metadata, a dynamic model's stride is measured, also where 224 px is no whole number of cells", async () => {
    // One 224×224 probe read 24 as 25 (9 cells) and 48 as 56 (4 cells): a 320×240 image then ran
    // with every cell placed pixels off, without a word.
    for (const stride of [7, 8, 24, 48]) {
      const b = await load({ stride, metadata: {} });
      expect(b.stride).toBe(stride);
      const f = await b.extract(image(320, 240));
      expect([f.rows, f.cols, f.strideX]).toEqual([
        Math.floor(240 / stride),
        Math.floor(320 / stride),
        stride,
      ]);
      await b.close();
    }
  });

  it("a fixed input size: the probe runs at that size, and another size is one line naming the fix", async () => {
    // A DINOv2-style export at a fixed size without a stride in its metadata.
    const vit = await load({ stride: 14, input: [1, 3, 238, 308], metadata: {} });
    expect(vit.stride).toBe(14);
    expect((await vit.extract(image(320, 240))).cols).toBe(22);
    // 640×480 at the default input_width 320 is the same model input.
    expect((await vit.extract(image(640, 480))).rows).toBe(17);
    await expect(vit.extract(image(320, 256))).rejects.toThrow(
      /^backbone m\d+\.onnx takes a fixed 308×238 input, but a 320×256 camera image gives 308×252 \(cropped to whole 14px cells\): export the model with dynamic height and width, or at 308×252$/,
    );
    await vit.close();
    const native = await load({ stride: 14, input: [1, 3, 476, 630] }, 320);
    const err = await native.extract(image(640, 480)).catch((e: Error) => e.message);
    expect(err).toBe(
      `backbone ${native.name} takes a fixed 630×476 input, but a 640×480 camera image gives 308×238 (cropped to whole 14px cells after the downscale to learner.input_width 320): export the model with dynamic height and width, or at 308×238, or set learner.input_width (0 = the camera's own size)`,
    );
    await native.close();
    const native0 = await load({ stride: 14, input: [1, 3, 476, 630] }, 0);
    expect((await native0.extract(image(640, 480))).rows).toBe(34);
    await native0.close();
  });

  it("a mean in 0..255 units without input_scale=255 is refused (the model saw a near-constant image)", async () => {
    const mean = "123.675,116.28,103.53";
    const std = "58.395,57.12,57.375";
    expect(await loadError({ metadata: { stride: "8", mean, std } })).toMatch(
      /metadata mean="123\.675,116\.28,103\.53" lies above the pixel range 0\.\.input_scale \(1\); .*set input_scale=255/,
    );
    const ok = await load({ metadata: { stride: "8", mean, std, input_scale: "255" } });
    const imagenet = await load({
      metadata: { stride: "8", mean: "0.485,0.456,0.406", std: "0.229,0.224,0.225" },
    });
    // The same normalisation in either unit: the same model input.
    for (const k of ["gain", "offset"] as const)
      for (let c = 0; c < 3; c++) expect(ok.inputAffine[k][c]).toBeCloseTo(imagenet.inputAffine[k][c]!, 5);
    await Promise.all([ok.close(), imagenet.close()]);
  });

  it("a layout that contradicts the output's shape is refused; a wrong stride names the model's own", async () => {
    expect(await loadError({ nhwcOutput: true, metadata: { stride: "8" } })).toMatch(
      /output 'features' is \[1,rows,cols,16\], channels last: set metadata layout=NHWC$/,
    );
    expect(await loadError({ metadata: { stride: "8", layout: "NHWC" } })).toMatch(
      /output 'features' is \[1,16,rows,cols\], channels first: set metadata layout=NCHW$/,
    );
    const wrong = await load({ stride: 16, metadata: { stride: "8" } });
    await expect(wrong.extract(image(320, 240))).rejects.toThrow(
      /output \[1,16,15,20\] for input 320×240; expected 30×40 cells of 16 channels \(stride 8\): the model's stride is 16, set metadata stride=16$/,
    );
    await wrong.close();
    // A model stride that does not divide the input cropped to the configured one: the grid is
    // floor(w/s) cells (the padding-free convolution here; ceil with padding), still named.
    for (const [stride, grid] of [
      [7, "34,45"],
      [32, "7,10"],
    ] as const) {
      const other = await load({ stride, metadata: { stride: "16" } });
      await expect(other.extract(image(320, 240))).rejects.toThrow(
        new RegExp(
          `output \\[1,16,${grid}\\] .*: the model's stride is ${stride}, set metadata stride=${stride}$`,
        ),
      );
      await other.close();
    }
    // A grid that many strides give names none (it named 51 here, mixing floor and ceil per axis).
    const unsure = await load({ stride: 48, metadata: { stride: "56" } }, 0);
    await expect(unsure.extract(image(640, 480))).rejects.toThrow(
      /output \[1,16,9,12\] for input 616×448; expected 8×11 cells of 16 channels \(stride 56\)$/,
    );
    await unsure.close();
  });

  it("a stride that is not a whole number of pixels is refused, not silently re-probed", async () => {
    expect(await loadError({ metadata: { stride: "8px" } })).toMatch(
      /metadata stride="8px" must be a whole number of pixels/,
    );
  });
});

describe("a GPU execution provider that cannot be created", () => {
  it("is one line naming it, without onnxruntime's own multi-line log before it", () => {
    const code = `import { Backbone } from "./src/learning/backbone.ts";
      const b = await Backbone.load("models/mobilenetv2.onnx", { executionProviders: ["cuda", "cpu"] });
      await b.close();`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    // Where the CUDA provider is installed and a GPU present, nothing is said.
    const lines = r.stderr.trim() ? r.stderr.trim().split("\n") : [];
    expect(lines.length).toBeLessThanOrEqual(1);
    if (lines.length)
      expect(lines[0]).toMatch(/^backbone: execution provider\(s\) cuda unavailable .*falling back to cpu/);
  }, 30_000);
});

describe("a backbone with many channels", () => {
  it("warns at start that the local novelty metric will slow the learner down, naming the setting", async () => {
    const path = writeOwnBackbone(tmp, "wide.onnx", { channels: 4 });
    const warned = async (channels: number, learner: object) => {
      const warnings: string[] = [];
      const config = configFromObject({ learner: { backbone: path, ...learner } });
      const l = await createLearner(config, "replay", channels, undefined, (m) => warnings.push(m));
      await l.close();
      return warnings;
    };
    // 512 channels, their 3×3 means and the image row.
    expect(await warned(1025, {})).toEqual([
      expect.stringMatching(
        /^learner: novelty_metric local over 1025 features per cell .*set learner\.novelty_metric: standardized/,
      ),
    ]);
    expect(await warned(1025, { novelty_metric: "standardized" })).toEqual([]);
    expect(await warned(769, {})).toEqual([]);
  });
});

describe("a checkpoint moved to another backbone", () => {
  const C = 16;
  const learner = async (backbone: string, warn: (m: string) => void = () => {}) =>
    OnlineLearner.create({ ...defaultConfig().learner, backbone, min_samples: 8 } as LearnerConfig, C, {
      warn,
    });

  it("is refused when the model differs, even with as many channels, naming both; loads on its own", async () => {
    const a = writeOwnBackbone(tmp, "ckpt-a.onnx", { channels: C, seed: 1 });
    const b = writeOwnBackbone(tmp, "ckpt-b.onnx", { channels: C, seed: 2 });
    const dir = join(tmp, "ckpt");
    const trained = await learner(a);
    const rand = seededRandom(3);
    const x = new Float32Array(100 * C).map(() => rand() * 2 - 1);
    trained.addSamples(
      x,
      new Float32Array(100).map((_, i) => ((x[i * C] as number) > 0 ? 0.8 : 0.2)),
    );
    await trained.train(3);
    const manifest = await trained.saveCheckpoint(dir);
    trained.dispose();

    const warnings: string[] = [];
    const other = await learner(b, (m) => warnings.push(m));
    expect(await other.loadLatestCheckpoint(dir)).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `skipped: trained on backbone ${a} \\(sha256 [0-9a-f]{12}…\\), but learner\\.backbone is ${b} \\(sha256 [0-9a-f]{12}…\\): set learner\\.backbone to the model it was trained on`,
      ),
    );
    const bundled = await learner("", (m) => warnings.push(m));
    expect(await bundled.loadLatestCheckpoint(dir)).toBe(false);
    expect(warnings[1]).toMatch(
      /but learner\.backbone is filterbank \(bundled\) \(\/.*models\/backbone\.onnx\)/,
    );
    const same = await learner(a);
    expect(await same.loadLatestCheckpoint(dir)).toBe(true);
    expect(same.stats().trainSteps).toBe(3);

    // A checkpoint that does not record its backbone's hash is taken as it is.
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    delete m.info.backboneSha256;
    writeFileSync(manifest, JSON.stringify(m));
    expect(await other.loadLatestCheckpoint(dir)).toBe(true);
    for (const l of [other, bundled, same]) l.dispose();
  });

  it("a model with external data: new weights in its side file make another model; older records still load, warned", async () => {
    const a = writeOwnBackbone(tmp, "ext-a.onnx", { channels: C, seed: 1, externalWeights: true });
    // Another model whose .onnx is byte-identical: only the weights in the side file differ.
    writeOwnBackbone(tmp, "ext-b.onnx", { channels: C, seed: 2, externalWeights: true });
    const onnxOnly = createHash("sha256").update(readFileSync(a)).digest("hex");
    const dir = join(tmp, "ckpt-ext");
    const trained = await learner(a);
    const rand = seededRandom(3);
    const x = new Float32Array(100 * C).map(() => rand() * 2 - 1);
    trained.addSamples(
      x,
      new Float32Array(100).map((_, i) => ((x[i * C] as number) > 0 ? 0.8 : 0.2)),
    );
    await trained.train(3);
    const manifest = await trained.saveCheckpoint(dir);
    trained.dispose();
    const recorded = JSON.parse(readFileSync(manifest, "utf8")).info.backboneSha256;
    expect(recorded).toMatch(/^[0-9a-f]{64}$/);
    expect(recorded).not.toBe(onnxOnly);

    const warnings: string[] = [];
    const resume = async () => {
      const l = await learner(a, (m) => warnings.push(m));
      const ok = await l.loadLatestCheckpoint(dir);
      l.dispose();
      return ok;
    };
    expect(await resume()).toBe(true);
    expect(warnings).toEqual([]);
    const data = readFileSync(`${a}.data`);
    copyFileSync(join(tmp, "ext-b.onnx.data"), `${a}.data`);
    expect(await resume()).toBe(false);
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `skipped: trained on backbone ${a} \\(sha256 ${recorded.slice(0, 12)}…\\), but learner\\.backbone is ${a} \\(sha256 [0-9a-f]{12}…\\)`,
        ),
      ),
    ]);
    const out = join(tmp, "exports", "ext.onnx");
    mkdirSync(join(tmp, "exports"), { recursive: true });
    const exp = (to = out) =>
      runExport({
        checkpoint: dir,
        out: to,
        config: configFromObject({}),
        width: 320,
        height: 240,
        warn: (m) => warnings.push(m),
      });
    await expect(exp()).rejects.toThrow(
      /was trained on backbone sha256 .*: the head does not fit these features/,
    );
    writeFileSync(`${a}.data`, data);
    expect(await resume()).toBe(true);
    // The side file is the backbone's too: export may not write over it.
    await expect(exp(`${a}.data`)).rejects.toThrow(/ext-a\.onnx\.data/);
    expect(readFileSync(`${a}.data`).equals(data)).toBe(true);

    // A checkpoint written before the hash covered external data recorded the .onnx alone.
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    m.info.backboneSha256 = onnxOnly;
    writeFileSync(manifest, JSON.stringify(m));
    warnings.length = 0;
    expect(await resume()).toBe(true);
    expect(warnings).toEqual([
      expect.stringMatching(
        /records the sha256 of .*ext-a\.onnx alone .*external data \(ext-a\.onnx\.data\) cannot be checked/,
      ),
    ]);
    await exp();
    expect(warnings.join("\n")).toMatch(/export: .*records the sha256 of .*ext-a\.onnx alone/);
  });

  it("a model without external data keeps the plain sha256 of its file (checkpoints of the bundled models stay valid)", () => {
    for (const name of ["backbone.onnx", "mobilenetv2.onnx"]) {
      const path = join(import.meta.dirname, "..", "models", name);
      expect(modelSha256(path)).toBe(createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  });

  it("run refuses a checkpoint_dir holding only another model's checkpoints (a save would prune them)", async () => {
    const a = writeOwnBackbone(tmp, "run-a.onnx", { channels: C, seed: 1 });
    const b = writeOwnBackbone(tmp, "run-b.onnx", { channels: C, seed: 2 });
    const dir = join(tmp, "run-ckpt");
    const trained = await learner(a);
    await trained.saveCheckpoint(dir);
    trained.dispose();
    writeFileSync(join(tmp, "run.yaml"), `learner:\n  backbone: ${b}\n  checkpoint_dir: ${dir}\n`);
    const r = await runCli(
      ["run", "--serial", join(tmp, "no-such-tty"), "--duration", "2", "-c", join(tmp, "run.yaml")],
      tmp,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ckpt-00000001\.json skipped: trained on backbone .*run-a\.onnx/);
    expect(r.stderr).toMatch(
      /terrain-learner: learner\.checkpoint_dir .*run-ckpt: none of its 1 checkpoints can be used by this model/,
    );
    expect(r.stderr).not.toMatch(/serial/);
  }, 60_000);
});

describe("a backbone the runtime refuses, from the command line", () => {
  // A refusal names the fix in one line: it is the user's to fix, not a bug with a stack trace to
  // ask for. Worker thread (the default) and inline take different paths to the same line.
  it.each([
    ["in the feature worker", true],
    ["inline", false],
  ])(
    "%s: one line, exit 1, no stack-trace hint",
    async (_name, worker) => {
      const model = writeOwnBackbone(tmp, `classifier-${worker}.onnx`, {
        logitsFirst: true,
        outputName: "feat",
      });
      const missing = join(tmp, "no-such-model.onnx");
      for (const [i, backbone] of [model, missing].entries()) {
        const cfg = join(tmp, `refused-${worker}-${i}.yaml`);
        writeFileSync(cfg, `learner:\n  backbone: ${backbone}\n  backbone_worker: ${worker}\n`);
        const r = await runCli(
          ["run", "--serial", join(tmp, "no-such-tty"), "--duration", "2", "-c", cfg],
          tmp,
        );
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(i === 0 ? /not a feature map/ : /backbone model not found/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).not.toMatch(/TERRAIN_LEARNER_DEBUG|stack/);
      }
    },
    60_000,
  );
});

describe("export of a checkpoint trained on a user's own backbone", () => {
  /** A head trained on the model's features of `images` (labels from the first channel's sign). */
  async function trained(o: OwnBackbone, inputWidth: number, images: ImageFrame[], name: string) {
    const path = writeOwnBackbone(tmp, `${name}.onnx`, o);
    const config = configFromObject({
      learner: { backbone: path, input_width: inputWidth, min_samples: 16 },
    });
    const backbone = await Backbone.fromConfig(config.learner, { warn: () => {} });
    const C = 2 * backbone.channels + 1;
    const learner = await OnlineLearner.create(config.learner, C, { warn: () => {} });
    for (const img of images) {
      const map = headFeatures(await backbone.extract(img), "neighbourhood");
      const t = new Float32Array(map.rows * map.cols).map((_, i) => (map.data[i * C]! > 0 ? 0.7 : 0.3));
      learner.addSamples(map.data, t);
    }
    await learner.train(20);
    const dir = join(tmp, `ckpt-${name}`);
    await learner.saveCheckpoint(dir);
    return { backbone, learner, dir };
  }

  it.each([
    ["stride 14 (a ViT's patches), 640x480 downscaled", { stride: 14, channels: 12 }, 320, 640, 480],
    [
      "channels-last output, ImageNet normalisation, 500x370 (fractional downscale)",
      {
        stride: 16,
        channels: 12,
        nhwcOutput: true,
        metadata: { stride: "16", layout: "NHWC", mean: "0.485,0.456,0.406", std: "0.229,0.224,0.225" },
      },
      320,
      500,
      370,
    ],
    ["a fixed-size model at its size", { stride: 14, channels: 12, input: [1, 3, 238, 308] }, 320, 640, 480],
    ["weights in an external data file", { stride: 8, channels: 12, externalWeights: true }, 0, 320, 240],
  ] as const)("%s: onnxruntime runs it and matches the runtime", async (_, o, inputWidth, width, height) => {
    const images = [1, 2, 3].map((k) => image(width, height, k));
    const name = `bb-${width}-${o.stride}${"input" in o ? "-fixed" : ""}`;
    const { backbone, learner, dir } = await trained(o as OwnBackbone, inputWidth, images, name);
    // Another folder than the backbone's: the export must not depend on files beside the backbone.
    mkdirSync(join(tmp, "exports"), { recursive: true });
    const out = join(tmp, "exports", `${name}.onnx`);
    const r = await runExport({
      checkpoint: dir,
      out,
      config: configFromObject({}),
      width,
      height,
      warn: () => {},
    });
    expect(r.metadata.backbone_channels).toBe("12");
    const session = await ort.InferenceSession.create(out);
    let diff = 0;
    for (const img of images) {
      const got = await session.run({ image: new ort.Tensor("uint8", img.data, [1, height, width, 3]) });
      const map = headFeatures(await backbone.extract(img), "neighbourhood");
      const want = learner.predict(map.data, map.rows * map.cols);
      expect(got.roughness!.dims).toEqual([map.rows, map.cols]);
      const r = got.roughness!.data as Float32Array;
      const c = got.confidence!.data as Float32Array;
      for (let i = 0; i < r.length; i++)
        diff = Math.max(diff, Math.abs(r[i]! - want.roughness[i]!), Math.abs(c[i]! - want.confidence[i]!));
    }
    expect(diff).toBeLessThan(1e-4);
    await session.release();
    learner.dispose();
    await backbone.close();
  });

  it("a checkpoint moved to a machine where its backbone lives elsewhere exports with --config naming the place", async () => {
    const images = [image(320, 240, 1)];
    const { backbone, learner, dir } = await trained({ stride: 8, channels: 12 }, 320, images, "moved");
    await backbone.close();
    learner.dispose();
    mkdirSync(join(tmp, "elsewhere"), { recursive: true });
    const moved = join(tmp, "elsewhere", "same-model.onnx");
    renameSync(join(tmp, "moved.onnx"), moved);
    const out = join(tmp, "exports", "moved.onnx");
    const exp = (learnerCfg: object) =>
      runExport({
        checkpoint: dir,
        out,
        config: configFromObject({ learner: learnerCfg }),
        width: 320,
        height: 240,
        warn: () => {},
      });
    await expect(exp({})).rejects.toThrow(
      /^the checkpoint's backbone .*moved\.onnx \(learner\.backbone '.*moved\.onnx'\) not found: give the model's place here with --config \(learner\.backbone: PATH\)$/,
    );
    // Another model at the given place is not taken for it.
    const other = writeOwnBackbone(tmp, "elsewhere/other.onnx", { stride: 8, channels: 12, seed: 9 });
    await expect(exp({ backbone: other })).rejects.toThrow(/not found/);
    const r = await exp({ backbone: moved });
    expect(r.metadata.backbone_setting).toBe(moved);
    expect(existsSync(out)).toBe(true);
  });

  it("a fixed-size model at another --image-size is one line, and nothing is written", async () => {
    const dir = join(tmp, "ckpt-bb-640-14-fixed");
    expect(existsSync(dir)).toBe(true);
    const out = join(tmp, "fixed-500.onnx");
    const before = readdirSync(tmp).length;
    await expect(
      runExport({
        checkpoint: dir,
        out,
        config: configFromObject({}),
        width: 500,
        height: 370,
        warn: () => {},
      }),
    ).rejects.toThrow(
      /^--image-size 500x370: backbone bb-640-14-fixed\.onnx takes a fixed 308×238 input, but a 500×370 camera image gives 308×224 .*or set learner\.input_width/,
    );
    expect(readdirSync(tmp).length).toBe(before);
  });
});
