// Oracle head: the learner's own head (same features, same network, same training budget) trained on
// the TRUE roughness of every scored cell instead of vibration labels. It separates feature quality
// from label quality: if the oracle ranks terrains well and the self-supervised learner does not, the
// labels (or their association) are the problem; if the oracle cannot either, the backbone's features
// do not tell the terrains apart.
//
// Protocol, on a simulator bag: every `--every`-th camera frame; cells scored as the evaluation scores
// them (1–8 m, footprint on one terrain, true pose). Frames before the last `--test` seconds are
// training data (all terrains in view, driven or not), trained at learner.stepsPerSecond steps per
// second of sensor time; the last `--test` seconds are the test set (Spearman ρ, MAE, AUROC for
// truth ≥ 0.5), like the evaluation's final window.
//
// Run: node --import tsx bench/oracle.ts BAG [--backbone PATH|mobilenetv2] [--every 3] [--test 60] [--json]

import { parseArgs } from "node:util";
import { PrequentialEvaluator } from "../src/eval/evaluator.ts";
import { gridMapFromRos } from "../src/eval/ground-truth.ts";
import { auroc, mae, spearman } from "../src/eval/metrics.ts";
import { openBag } from "../src/io/bag/index.ts";
import { cameraInfoFromRos, imageFromRos, odomFromRos, transformsFromRos } from "../src/io/ros/convert.ts";
import { Backbone, resolveBackbonePath } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { featureChannels, headFeatures } from "../src/runtime/features.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backbone: { type: "string", default: "" },
    every: { type: "string", default: "3" },
    test: { type: "string", default: "60" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help || positionals.length !== 1) {
  console.error("usage: bench/oracle.ts BAG [--backbone PATH|mobilenetv2] [--every 3] [--test 60] [--json]");
  process.exit(values.help ? 0 : 2);
}
const bagPath = positionals[0]!;
const every = Number(values.every);
const testSeconds = Number(values.test);

const cfg = defaultConfig();
const learnerCfg = { ...cfg.learner, backbone: values.backbone ?? "" };
const backbone = await Backbone.load(resolveBackbonePath(learnerCfg.backbone), {
  intraOpThreads: 1,
  inputWidth: learnerCfg.inputWidth,
});
const context = "neighbourhood" as const;
const C = featureChannels(backbone.channels, context);
// The learner's kNN novelty is irrelevant here (no confidence is scored): the autoencoder keeps the
// oracle from reading the backbone's channel names.
const learner = await OnlineLearner.create({ ...learnerCfg, novelty: "autoencoder" }, C);
const evaluator = new PrequentialEvaluator();
const bag = await openBag(bagPath);
const info = await bag.info();
const end = info.end;
const t = cfg.topics;
let frame = 0;
let lastTrain = Number.NaN;
const test: { pred: number[]; truth: number[]; terrain: number[] } = { pred: [], truth: [], terrain: [] };
let trainCells = 0;
let trainFrames = 0;
const started = performance.now();
try {
  for await (const ev of bag.messages()) {
    if (ev.type !== "message") continue;
    const m = ev.message;
    if (ev.topic === t.tfStatic) evaluator.onTransforms(transformsFromRos(m, true));
    else if (ev.topic === "/sim/ground_truth/pose") evaluator.onTruePose(odomFromRos(m));
    else if (ev.topic === "/sim/ground_truth/roughness")
      evaluator.onGroundTruth("roughness", gridMapFromRos(m));
    else if (ev.topic === "/sim/ground_truth/terrain") evaluator.onGroundTruth("terrain", gridMapFromRos(m));
    else if (ev.topic === t.cameraInfo) evaluator.onCameraInfo(cameraInfoFromRos(m));
    else if (ev.topic === t.image) {
      if (frame++ % every !== 0) continue;
      const img = imageFromRos(m);
      const grid = backbone.gridFor(img.width, img.height);
      const truth = evaluator.truthFor(img.stamp, { ...grid, frameId: img.frameId });
      if (!truth) continue;
      const map = headFeatures(await backbone.extract(img), context);
      const cells: number[] = [];
      for (let k = 0; k < grid.rows * grid.cols; k++) {
        const r = truth.range[k]!;
        if (Number.isFinite(truth.roughness[k]!) && r >= 1 && r <= 8 && !truth.boundary[k]) cells.push(k);
      }
      if (cells.length === 0) continue;
      const x = new Float32Array(cells.length * C);
      for (const [i, k] of cells.entries()) x.set(map.data.subarray(k * C, (k + 1) * C), i * C);
      if (img.stamp < end - testSeconds) {
        learner.addSamples(
          x,
          Float32Array.from(cells, (k) => truth.roughness[k]!),
        );
        trainCells += cells.length;
        trainFrames++;
        // learner.stepsPerSecond of sensor time, as replay trains the self-supervised head.
        const dt = Number.isNaN(lastTrain) ? 0 : img.stamp - lastTrain;
        lastTrain = img.stamp;
        const steps = Math.round(dt * learnerCfg.stepsPerSecond);
        if (steps > 0 && learner.bufferSize >= learnerCfg.minSamples) await learner.train(steps);
      } else {
        const p = learner.predict(x, cells.length).roughness;
        cells.forEach((k, i) => {
          test.pred.push(p[i]!);
          test.truth.push(truth.roughness[k]!);
          test.terrain.push(truth.terrain[k]!);
        });
      }
    }
  }
} finally {
  await bag.close();
  await backbone.close();
}
const result = {
  bag: bagPath,
  backbone: backbone.info.name,
  stride: backbone.stride,
  channels: backbone.channels,
  trainFrames,
  trainCells,
  trainSteps: learner.trainSteps,
  testCells: test.truth.length,
  spearman: spearman(test.pred, test.truth),
  mae: mae(test.pred, test.truth),
  auroc: auroc(
    test.pred,
    test.truth.map((v) => v >= 0.5),
  ),
  wallSeconds: (performance.now() - started) / 1000,
};
learner.dispose();
if (values.json) console.log(JSON.stringify(result));
else
  console.log(
    `oracle head on ${bagPath} (${result.backbone}, stride ${result.stride}): ρ ${result.spearman.toFixed(3)}, ` +
      `MAE ${result.mae.toFixed(3)}, AUROC ${result.auroc.toFixed(3)} over ${result.testCells} test cells ` +
      `(${result.trainCells} training cells from ${result.trainFrames} frames, ${result.trainSteps} steps)`,
  );
