// Oracle head: the learner's own head (same features, same network, same training budget) trained on
// the TRUE roughness of every scored cell instead of vibration labels. It separates feature quality
// from label quality: if the oracle ranks terrains well and the self-supervised learner does not, the
// labels (or their association) are the problem; if the oracle cannot either, the backbone's features
// do not tell the terrains apart.
//
// Protocol, on a raw-frame simulator bag (sim --out; the demo's JPEG bags are refused), prequential like the evaluation: every `--every`-th camera frame is
// first scored, then learnt from. Cells are chosen as the evaluation chooses them (1–8 m, footprint on
// one terrain, true pose). The oracle learns the TRUE roughness of every such cell of every frame it
// has seen (driven or not, the moment it is seen), trained at learner.steps_per_second steps per second
// of sensor time. Scores: Spearman ρ, MAE and AUROC (truth ≥ 0.5) over the last `--test` seconds, as
// the evaluation's final window. It is an upper bound on what labels could teach with these features,
// not a copy of the learner's situation (which must drive over ground before it has labels for it).
//
// Next to it, a linear probe: ridge regression (λ = 1 on standardised features) re-fitted in closed
// form before each test frame on every cell seen so far; no training budget, no online effects.
//
// By distance: ρ over the test cells 1–3, 3–5 and 5–8 m from the camera, and each terrain's mean
// prediction per metre of distance. `--train-within M` teaches only cells nearer than M m (tested at
// every distance): whether what the head learns from near views carries to far ones.
//
// Run: node --import tsx bench/oracle.ts BAG [--backbone PATH|mobilenetv2] [--input-width PX]
//      [--every 3] [--test 60] [--train-within M] [--driven-only] [--row-normalise full|shift]
//      [--score head|probe] [--json]
// --driven-only: teaches only cells of terrain types the robot has been on so far (true pose): every
// view of driven ground labelled right, none of the ground not yet driven.
// --test 180: the whole run is scored, and the trailing 60-s ρ from 90 s on (the evaluation's
// stability figure, over the oracle's raw predictions of every third frame) is reported.
// --input-width: the width frames are resized to before the backbone (default learner.input_width).
// --row-normalise: features standardised per image row before the head (see normaliseRows).
// --score probe: the trailing ρ, the bands and the per-terrain means are the linear probe's, not the
// head's (how a low-capacity model extrapolates to ground it was not taught).

import { existsSync } from "node:fs";
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
import { usage } from "./usage.ts";

const SCRIPT = "bench/oracle.ts";

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  usage(SCRIPT, (err as Error).message);
}
const { values, positionals } = parsed;
function parseOptions() {
  return parseArgs({
    allowPositionals: true,
    options: {
      backbone: { type: "string", default: "" },
      "input-width": { type: "string", default: "" },
      every: { type: "string", default: "3" },
      "train-within": { type: "string", default: "8" },
      "row-normalise": { type: "string", default: "" },
      "driven-only": { type: "boolean", default: false },
      score: { type: "string", default: "head" },
      test: { type: "string", default: "60" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
}
if (values.help || positionals.length !== 1) {
  console.error(
    "usage: bench/oracle.ts BAG [--backbone PATH|mobilenetv2] [--input-width PX] [--every 3] [--test 60] [--train-within M] [--driven-only] [--row-normalise full|shift] [--score head|probe] [--json]",
  );
  process.exit(values.help ? 0 : 2);
}
const bagPath = positionals[0]!;
const every = Number(values.every);
const testSeconds = Number(values.test);
const trainWithin = Number(values["train-within"]);
const drivenOnly = values["driven-only"] === true;
const inputWidth = values["input-width"] ? Number(values["input-width"]) : null;
if (!(Number.isInteger(every) && every > 0))
  usage(SCRIPT, `--every must be a positive whole number of frames, got ${values.every}`);
if (!(testSeconds > 0)) usage(SCRIPT, `--test must be a positive number of seconds, got ${values.test}`);
if (!(trainWithin > 0))
  usage(SCRIPT, `--train-within must be a positive distance, got ${values["train-within"]}`);
const rowNormalise = values["row-normalise"];
if (rowNormalise && rowNormalise !== "full" && rowNormalise !== "shift")
  usage(SCRIPT, `--row-normalise must be full or shift, got ${rowNormalise}`);
const scoreProbe = values.score === "probe";
if (values.score !== "head" && !scoreProbe)
  usage(SCRIPT, `--score must be head or probe, got ${values.score}`);
if (inputWidth !== null && !(Number.isInteger(inputWidth) && inputWidth > 0))
  usage(SCRIPT, `--input-width must be a positive whole number of pixels, got ${values["input-width"]}`);
if (!existsSync(bagPath)) usage(SCRIPT, `no bag ${bagPath}`);

const cfg = defaultConfig();
const learnerCfg = {
  ...cfg.learner,
  backbone: values.backbone ?? "",
  input_width: inputWidth ?? cfg.learner.input_width,
};
const backbone = await Backbone.load(resolveBackbonePath(learnerCfg.backbone), {
  intraOpThreads: 1,
  inputWidth: learnerCfg.input_width,
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
const start = info.start;
const t = cfg.topics;
let frame = 0;
let lastTrain = Number.NaN;
const test: {
  pred: number[];
  truth: number[];
  terrain: number[];
  range: number[];
  probe: number[];
  t: number[];
} = {
  t: [],
  pred: [],
  truth: [],
  terrain: [],
  range: [],
  probe: [],
};
// Linear probe: running sums for the normal equations on [x, 1] (standardised at solve time).
const D = C + 1;
const xtx = new Float64Array(D * D);
const xty = new Float64Array(D);

function accumulate(x: Float32Array, y: Float32Array): void {
  const row = new Float64Array(D);
  for (let i = 0; i < y.length; i++) {
    for (let a = 0; a < C; a++) row[a] = x[i * C + a]!;
    row[C] = 1;
    for (let a = 0; a < D; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      xty[a]! += ra * y[i]!;
      for (let b = a; b < D; b++) xtx[a * D + b]! += ra * row[b]!;
    }
  }
}

/** Ridge on standardised features, (Z'Z + λI) w = Z'y from the running sums, applied to x. */
function ridgePredict(x: Float32Array, count: number): Float64Array {
  const n = xtx[C * D + C]!;
  const mean = Float64Array.from({ length: C }, (_, a) => xtx[a * D + C]! / n);
  const sd = Float64Array.from({ length: C }, (_, a) =>
    Math.sqrt(Math.max(1e-12, xtx[a * D + a]! / n - mean[a]! ** 2)),
  );
  const ymean = xty[C]! / n;
  const A = new Float64Array(C * C);
  const w = new Float64Array(C);
  for (let a = 0; a < C; a++) {
    w[a] = (xty[a]! - n * mean[a]! * ymean) / sd[a]!;
    for (let b = a; b < C; b++) {
      const v = (xtx[a * D + b]! - n * mean[a]! * mean[b]!) / (sd[a]! * sd[b]!);
      A[a * C + b] = v;
      A[b * C + a] = v;
    }
    A[a * C + a]! += 1;
  }
  // Cholesky, then forward and back substitution.
  for (let j = 0; j < C; j++) {
    let d = A[j * C + j]!;
    for (let k = 0; k < j; k++) d -= A[j * C + k]! ** 2;
    const l = Math.sqrt(Math.max(d, 1e-12));
    A[j * C + j] = l;
    for (let i = j + 1; i < C; i++) {
      let v = A[i * C + j]!;
      for (let k = 0; k < j; k++) v -= A[i * C + k]! * A[j * C + k]!;
      A[i * C + j] = v / l;
    }
  }
  for (let i = 0; i < C; i++) {
    let v = w[i]!;
    for (let k = 0; k < i; k++) v -= A[i * C + k]! * w[k]!;
    w[i] = v / A[i * C + i]!;
  }
  for (let i = C - 1; i >= 0; i--) {
    let v = w[i]!;
    for (let k = i + 1; k < C; k++) v -= A[k * C + i]! * w[k]!;
    w[i] = v / A[i * C + i]!;
  }
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let y = ymean;
    for (let a = 0; a < C; a++) y += (w[a]! * (x[i * C + a]! - mean[a]!)) / sd[a]!;
    out[i] = y;
  }
  return out;
}
// --row-normalise: each feature row's channels standardised by that image row's running mean and
// standard deviation over every 1–8 m cell of the frames seen so far (labels not needed); "shift"
// subtracts the row mean only. A row is left as it is until it has 50 cells.
const rowStats = new Map<number, { n: number; mean: Float64Array; variance: Float64Array }>();
function normaliseRows(x: Float32Array, rows: number, cols: number, range: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const st = rowStats.get(r) ?? { n: 0, mean: new Float64Array(C), variance: new Float64Array(C) };
    rowStats.set(r, st);
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      if (!(range[k]! >= 1 && range[k]! <= 8)) continue;
      st.n++;
      const inv = 1 / st.n;
      for (let a = 0; a < C; a++) {
        const d = x[k * C + a]! - st.mean[a]!;
        st.mean[a]! += d * inv;
        // Running population variance (Welford's recursion, divided through by n).
        st.variance[a] = (1 - inv) * (st.variance[a]! + inv * d * d);
      }
    }
    if (st.n < 50) continue;
    for (let k = r * cols; k < (r + 1) * cols; k++)
      for (let a = 0; a < C; a++) {
        const sd = rowNormalise === "shift" ? 1 : Math.sqrt(st.variance[a]!) + 1e-6;
        x[k * C + a] = (x[k * C + a]! - st.mean[a]!) / sd;
      }
  }
}
let trainCells = 0;
let trainFrames = 0;
let compressedFrames = 0;
const started = performance.now();
try {
  for await (const ev of bag.messages()) {
    if (ev.type !== "message") continue;
    const m = ev.message;
    if (ev.topic === t.tf_static) evaluator.onTransforms(transformsFromRos(m, true));
    else if (ev.topic === "/sim/ground_truth/pose") evaluator.onTruePose(odomFromRos(m));
    else if (ev.topic === "/sim/ground_truth/roughness")
      evaluator.onGroundTruth("roughness", gridMapFromRos(m));
    else if (ev.topic === "/sim/ground_truth/terrain") evaluator.onGroundTruth("terrain", gridMapFromRos(m));
    else if (ev.topic === t.camera_info) evaluator.onCameraInfo(cameraInfoFromRos(m));
    else if (ev.topic === t.compressed_image) compressedFrames++;
    else if (ev.topic === t.image) {
      if (frame++ % every !== 0) continue;
      const img = imageFromRos(m);
      const grid = backbone.gridFor(img.width, img.height);
      const truth = evaluator.truthFor(img.stamp, { ...grid, frameId: img.frameId });
      if (!truth) continue;
      const map = headFeatures(await backbone.extract(img), context);
      if (rowNormalise) normaliseRows(map.data, grid.rows, grid.cols, truth.range);
      const cells: number[] = [];
      for (let k = 0; k < grid.rows * grid.cols; k++) {
        const r = truth.range[k]!;
        if (Number.isFinite(truth.roughness[k]!) && r >= 1 && r <= 8 && !truth.boundary[k]) cells.push(k);
      }
      if (cells.length === 0) continue;
      const x = new Float32Array(cells.length * C);
      for (const [i, k] of cells.entries()) x.set(map.data.subarray(k * C, (k + 1) * C), i * C);
      const targets = Float32Array.from(cells, (k) => truth.roughness[k]!);
      if (img.stamp >= end - testSeconds && learner.trainSteps > 0) {
        // Scored before this frame's truth is learnt.
        const p = learner.predict(x, cells.length).roughness;
        const probe = ridgePredict(x, cells.length);
        for (const [i, k] of cells.entries()) {
          test.pred.push(p[i]!);
          test.probe.push(probe[i]!);
          test.truth.push(truth.roughness[k]!);
          test.terrain.push(truth.terrain[k]!);
          test.range.push(truth.range[k]!);
          test.t.push(img.stamp - start);
        }
      }
      const driven = evaluator.drivenByTrajectory;
      const taught = cells.flatMap((k, i) =>
        truth.range[k]! < trainWithin && (!drivenOnly || driven.has(truth.terrain[k]!)) ? [i] : [],
      );
      const tx = new Float32Array(taught.length * C);
      for (const [j, i] of taught.entries()) tx.set(x.subarray(i * C, (i + 1) * C), j * C);
      const ty = Float32Array.from(taught, (i) => targets[i]!);
      if (taught.length) {
        learner.addSamples(tx, ty);
        accumulate(tx, ty);
      }
      trainCells += taught.length;
      trainFrames++;
      // learner.steps_per_second of sensor time, as replay trains the self-supervised head.
      const dt = Number.isNaN(lastTrain) ? 0 : img.stamp - lastTrain;
      lastTrain = img.stamp;
      const steps = Math.round(dt * learnerCfg.steps_per_second);
      if (steps > 0 && learner.bufferSize >= learnerCfg.min_samples) await learner.train(steps);
    }
  }
} finally {
  await bag.close();
  await backbone.close();
}
// A run that scored nothing has no figures to give: say why rather than print nulls.
const nothing =
  frame === 0
    ? `no camera frames on ${t.image}${compressedFrames ? ` (the bag's ${compressedFrames} frames are compressed, on ${t.compressed_image}; the oracle reads raw frames: use a raw-frame bag from sim --out, as npm run bench:worlds -- --raw makes them in .cache/<world>-world-seed<N>.mcap)` : ""}`
    : trainFrames === 0
      ? `none of ${frame} camera frames had ground truth (a simulator bag, with /sim/ground_truth/* and ${t.camera_info}, is needed)`
      : test.truth.length === 0
        ? `nothing scored: no frame in the last ${testSeconds} s (--test) came after the first training step`
        : undefined;
if (nothing) {
  process.stderr.write(`bench/oracle.ts: ${bagPath}: ${nothing}\n`);
  process.exit(1);
}
// Everything below reads test.pred: with --score probe, the probe's predictions stand in for the head's.
if (scoreProbe) test.pred = test.probe;
const result = {
  bag: bagPath,
  score: scoreProbe ? "probe" : "head",
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
  probeSpearman: spearman(test.probe, test.truth),
  trainWithin,
  rowNormalise: rowNormalise || null,
  drivenOnly,
  byDistance: byDistance(),
  trailing: trailing(),
  probeMae: mae(test.probe, test.truth),
  wallSeconds: (performance.now() - started) / 1000,
};
learner.dispose();

/**
 * As the evaluation's stability figure: Spearman ρ of the cells scored in the 60 s ending at each
 * 10 s of sensor time, and the lowest from 90 s on (null unless the test window covers 90 s).
 */
function trailing() {
  let last = 0;
  for (const s of test.t) if (s > last) last = s;
  const curve: { t: number; rho: number | null }[] = [];
  for (let t = 10; t < last + 10; t += 10) {
    const idx = test.t.flatMap((s, i) => (s > t - 60 && s <= t ? [i] : []));
    curve.push({ t, rho: rhoOf(idx) });
  }
  const after = curve.flatMap((p) => (p.t >= 90 && p.rho !== null && Number.isFinite(p.rho) ? [p.rho] : []));
  return { curve, minFrom90: testSeconds >= 90 && after.length ? Math.min(...after) : null };
}

/** Spearman ρ of the test predictions against the truth over the cells `idx`; null under two cells. */
function rhoOf(idx: number[]): number | null {
  return idx.length > 1
    ? spearman(
        idx.map((i) => test.pred[i]!),
        idx.map((i) => test.truth[i]!),
      )
    : null;
}

/** ρ per distance band, and each terrain's mean prediction per whole metre of distance. */
function byDistance() {
  const bands = (
    [
      [1, 3],
      [3, 5],
      [5, 8],
    ] as const
  ).map(([lo, hi]) => {
    const idx = test.range.flatMap((r, i) => (r >= lo && r < hi ? [i] : []));
    return {
      from: lo,
      to: hi,
      cells: idx.length,
      spearman: rhoOf(idx),
    };
  });
  const sums = new Map<number, { truth: number; sum: number[]; n: number[] }>();
  for (let i = 0; i < test.pred.length; i++) {
    const m = Math.floor(test.range[i]!);
    const e = sums.get(test.terrain[i]!) ?? {
      truth: test.truth[i]!,
      sum: Array(8).fill(0),
      n: Array(8).fill(0),
    };
    e.sum[m]! += test.pred[i]!;
    e.n[m]!++;
    sums.set(test.terrain[i]!, e);
  }
  const terrains = [...sums.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([terrain, e]) => ({
      terrain,
      truth: e.truth,
      // meanByMetre[m]: cells m..m+1 m away (null: none).
      meanByMetre: e.sum.map((v, m) => (e.n[m]! > 0 ? v / e.n[m]! : null)),
      cellsByMetre: e.n,
    }));
  return { bands, terrains };
}

if (values.json) console.log(JSON.stringify(result));
else
  console.log(
    `oracle head on ${bagPath}${scoreProbe ? " (figures below: the linear probe's)" : ""} (${result.backbone}, stride ${result.stride}): ρ ${result.spearman.toFixed(3)}, ` +
      `MAE ${result.mae.toFixed(3)}, AUROC ${result.auroc.toFixed(3)}; linear probe ρ ${result.probeSpearman.toFixed(3)}, ` +
      `MAE ${result.probeMae.toFixed(3)}; over ${result.testCells} test cells ` +
      `(${result.trainCells} training cells from ${result.trainFrames} frames, ${result.trainSteps} steps)`,
  );
if (!values.json) {
  const f = (v: number | null) => (v === null ? "   - " : v.toFixed(2).padStart(5));
  console.log(
    `taught cells nearer than ${trainWithin} m${drivenOnly ? ", of terrain types the robot has been on" : ""}; by distance:`,
  );
  for (const b of result.byDistance.bands)
    console.log(
      `  ${b.from}-${b.to} m: ρ ${b.spearman === null ? "n/a" : b.spearman.toFixed(3)} (${b.cells} cells)`,
    );
  const tr = result.trailing;
  console.log(
    `trailing 60-s ρ: ${tr.curve.map((p) => `${p.t}s ${p.rho === null ? "-" : p.rho.toFixed(2)}`).join(", ")}; lowest from 90 s ${tr.minFrom90 === null ? "n/a (--test under 90)" : tr.minFrom90.toFixed(3)}`,
  );
  console.log("  terrain (truth): mean prediction at 1, 2, ... 7 m");
  for (const t of result.byDistance.terrains)
    console.log(`  ${t.terrain} (${t.truth.toFixed(2)}): ${t.meanByMetre.slice(1).map(f).join(" ")}`);
}
