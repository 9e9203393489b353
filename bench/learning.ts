// Learning throughput: backbone ms/frame (onnxruntime, bundled filter bank) at 320×240 and 640×480,
// head predict ms/frame (one batched call over every cell of a 320×240 frame: 40×30 = 1200 cells;
// with the default kNN novelty and with the autoencoder one), the same on the pipeline's head input
// (2C + 1 channels, see src/runtime/features.ts) at 1200 and 4800 cells (320×240 and 640×480 frames)
// for the onnxruntime predictor and the tfjs + JS kNN fallback, the live predictor's setWeights,
// train steps/s (batch learner.batch_size, MLP + autoencoder, Adam), and the tfjs backend in use.
// Run: node --import tsx bench/learning.ts [--json] [--backend auto|wasm|cpu] [--ep cpu,cuda]
//
// Images are synthetic textures (fixed seed); timings exclude image generation and warm-up runs.

import { Backbone, defaultBackbonePath } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";
import { headFeatures } from "../src/runtime/features.ts";
import { textureImage } from "../tests/learning-textures.ts";

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const json = args.includes("--json");
const backendPref = (arg("--backend") ?? "auto") as LearnerConfig["backend"];
const eps = (arg("--ep") ?? "cpu").split(",");

const time = async (runs: number, fn: () => unknown | Promise<unknown>) => {
  for (let i = 0; i < Math.min(3, runs); i++) await fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - t0) / runs;
};

const backbone = await Backbone.load(defaultBackbonePath(), { executionProviders: eps });
const results: Record<string, number | string> = {
  executionProviders: backbone.info.executionProviders.join(","),
  channels: backbone.channels,
  stride: backbone.stride,
};
for (const [w, h] of [
  [320, 240],
  [640, 480],
] as const) {
  const img = textureImage({ rgb: [120, 110, 90], grain: 3, contrast: 40 }, w, h, 1);
  const out = new Float32Array(backbone.gridFor(w, h).rows * backbone.gridFor(w, h).cols * backbone.channels);
  results[`backboneMs_${w}x${h}`] = await time(w > 400 ? 20 : 40, () => backbone.extract(img, out));
}
{
  // What the pipeline runs for a 640×480 camera: downscaled to learner.input_width first.
  const working = await Backbone.load(defaultBackbonePath(), {
    executionProviders: eps,
    inputWidth: defaultConfig().learner.input_width,
  });
  const img = textureImage({ rgb: [120, 110, 90], grain: 3, contrast: 40 }, 640, 480, 1);
  const g = working.gridFor(640, 480);
  const out = new Float32Array(g.rows * g.cols * working.channels);
  results.inputWidth = defaultConfig().learner.input_width;
  results.backboneMs_640x480_atInputWidth = await time(20, () => working.extract(img, out));
  await working.close();
}

const cfg: LearnerConfig = { ...defaultConfig().learner, backend: backendPref };
const learner = await OnlineLearner.create(cfg, backbone.channels);
results.backend = learner.backend;
const frame = await backbone.extract(
  textureImage({ rgb: [120, 110, 90], grain: 3, contrast: 40 }, 320, 240, 2),
);
const cells = frame.rows * frame.cols;
const targets = new Float32Array(cells).map((_, i) => (i % 7) / 7);
for (let k = 0; k < 5; k++) learner.addSamples(frame.data, targets);
await learner.train(5);
results.predictCells = cells;
results.predictMs = await time(200, () => learner.predict(frame.data, cells));
const steps = 400;
const trainMs = await time(1, () => learner.train(steps));
results.trainStepsPerSec = (1000 * steps) / trainMs;
results.batchSize = cfg.batch_size;
results.numTensors = learner.stats().numTensors;
learner.dispose();
// The same predict with the autoencoder novelty instead of kNN (no n×M distance pass).
const ae = await OnlineLearner.create({ ...cfg, novelty: "autoencoder" }, backbone.channels);
for (let k = 0; k < 5; k++) ae.addSamples(frame.data, targets);
await ae.train(25);
results.predictMsAutoencoder = await time(200, () => ae.predict(frame.data, cells));
ae.dispose();

// What the pipeline predicts on: 2C + 1 channels per cell, whole 320×240 and 640×480 frames, both the
// onnxruntime predictor (predict) and the tfjs head + JS kNN it replaced (predictTf, the fallback).
const wide = new Map<number, { data: Float32Array; n: number }>();
let wideChannels = 0;
for (const [w, h] of [
  [320, 240],
  [640, 480],
] as const) {
  const map = headFeatures(
    await backbone.extract(textureImage({ rgb: [120, 110, 90], grain: 3, contrast: 40 }, w, h, 3)),
    "neighbourhood",
  );
  wide.set(w, { data: map.data, n: map.rows * map.cols });
  wideChannels = map.channels;
}
results.headChannels = wideChannels;
for (const novelty of ["knn", "autoencoder"] as const) {
  const l = await OnlineLearner.create({ ...cfg, novelty, buffer_size: 5000 }, wideChannels);
  for (const [w, { data, n }] of wide) {
    l.addSamples(
      data,
      new Float32Array(n).map((_, i) => (i % 7) / 7),
    );
    if (w === 320) await l.train(40);
  }
  const tag = novelty === "knn" ? "" : "Autoencoder";
  for (const { data, n } of wide.values()) {
    results[`predictMs${tag}_${n}x${wideChannels}`] = await time(100, () => l.predict(data, n));
    results[`predictMsTfjs${tag}_${n}x${wideChannels}`] = await time(n > 2000 ? 10 : 30, () =>
      l.predictTf(data, n),
    );
  }
  if (novelty === "knn") {
    // A live hand-over on the main thread: weights + normaliser + 128 kNN references.
    const live = await OnlineLearner.create({ ...cfg, novelty }, wideChannels);
    const weights = await l.getWeights();
    results.setWeightsMs = await time(50, () => live.setWeights(weights));
    live.dispose();
  }
  l.dispose();
}
await backbone.close();

if (json) {
  console.log(JSON.stringify(results));
} else {
  const f = (v: number | string | undefined, d = 2) => (typeof v === "number" ? v.toFixed(d) : String(v));
  console.log(
    `backbone (${results.channels} ch, stride ${results.stride}, EP ${results.executionProviders})`,
  );
  console.log(`  320×240: ${f(results.backboneMs_320x240)} ms/frame`);
  console.log(`  640×480: ${f(results.backboneMs_640x480)} ms/frame`);
  console.log(`head (tfjs backend: ${results.backend})`);
  console.log(`  predict ${results.predictCells} cells: ${f(results.predictMs)} ms/frame (kNN novelty)`);
  console.log(
    `  predict ${results.predictCells} cells: ${f(results.predictMsAutoencoder)} ms/frame (autoencoder novelty)`,
  );
  console.log(`  train: ${f(results.trainStepsPerSec, 0)} steps/s (batch ${results.batchSize})`);
  const D = results.headChannels;
  for (const [tag, name] of [
    ["", "kNN"],
    ["Autoencoder", "autoencoder"],
  ] as const) {
    for (const n of [1200, 4800]) {
      console.log(
        `  predict ${n} cells × ${D} ch (${name}): ${f(results[`predictMs${tag}_${n}x${D}`], 3)} ms onnxruntime, ${f(results[`predictMsTfjs${tag}_${n}x${D}`])} ms tfjs + JS (fallback)`,
      );
    }
  }
  console.log(`  live predictor setWeights: ${f(results.setWeightsMs, 3)} ms`);
}
