// A fingerprint of one replay: every value of every frame's outputs (roughness, confidence, overlay,
// costmap, ahead, speed limit), every label and the evaluation figures, as SHA-256 digests plus a
// sample, on one JSON line. Two builds (or two ways of feeding the same bag) that print the same
// digests gave bit-identical results.
//
//   node --import tsx bench/golden.ts BAG [--eval] [--live-like SEED] [-c CONFIG] > fingerprint.json
//
// It only uses the pipeline's public API (createPipeline, readAhead, push, finish), so the same file
// runs against an older commit to prove a refactoring changed nothing:
//   git worktree add /tmp/before <commit> && cp bench/golden.ts /tmp/before/bench/ && (cd /tmp/before && ...)

import { createHash } from "node:crypto";
import { extname } from "node:path";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { openBag } from "../src/io/bag/index.ts";
import { loadConfig } from "../src/runtime/config.ts";
import * as runtime from "../src/runtime/pipeline.ts";

const args = process.argv.slice(2);
const bag = args.find((a, i) => !a.startsWith("-") && !/^(-c|--live-like)$/.test(args[i - 1] ?? ""));
if (!bag) throw new Error("usage: golden.ts BAG [--eval] [--live-like SEED] [-c CONFIG]");
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const evaluate = args.includes("--eval");
const liveLike = opt("--live-like");
const config = loadConfig(opt("-c"));

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f64 = (...xs: number[]) => bytes(Float64Array.from(xs));
const all = createHash("sha256");
const labelsHash = createHash("sha256");
const sample: { stamp: number; sha256: string }[] = [];
let frames = 0;
let labels = 0;
const labelSample: unknown[] = [];

const source = await openBag(bag);
const simMetadata = extname(bag) === ".mcap" ? await readMcapMetadata(bag) : undefined;
const pipeline = await runtime.createPipeline(config, {
  mode: "replay",
  evaluate,
  simMetadata,
  overlay: true,
  costmap: true,
  warn: (m) => process.stderr.write(`${m}\n`),
});
pipeline.events$.subscribe((e) => {
  if (e.type === "prediction") {
    const o = e.outputs;
    const h = createHash("sha256");
    h.update(f64(o.stamp, o.ahead, o.aheadConfidence, o.speedLimit, e.keyframe ? 1 : 0));
    h.update(bytes(o.grid.roughness));
    h.update(bytes(o.grid.confidence));
    if (o.overlay) h.update(bytes(o.overlay.data));
    if (o.costmap) {
      h.update(f64(o.costmap.originX, o.costmap.originY, o.costmap.width, o.costmap.height));
      h.update(bytes(o.costmap.data));
    }
    const d = h.digest("hex");
    all.update(d);
    if (frames % 100 === 0) sample.push({ stamp: o.stamp, sha256: d });
    frames++;
  } else if (e.type === "label") {
    const l = e.label;
    labelsHash.update(
      JSON.stringify(l, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)),
    );
    if (labels % 50 === 0) labelSample.push({ stamp: l.stamp, roughness: l.roughness, energy: l.energy });
    labels++;
  }
});

// Arrival order (src/io/bag/live-like.ts; not in builds before it existed).
const events =
  liveLike !== undefined
    ? (await import("../src/io/bag/live-like.ts")).liveLike(source.messages(), {
        seed: Number(liveLike),
        topics: config.topics,
      })
    : source.messages();
for await (const e of runtime.readAhead(
  pipeline,
  events as AsyncIterable<Parameters<typeof pipeline.push>[0]>,
))
  await pipeline.push(e);
const summary = await pipeline.finish();
await pipeline.close();
await source.close();

const { wallSeconds, realtimeFactor, frameMs, featureWaitMs, eval: ev, ...counts } = summary;
process.stdout.write(
  `${JSON.stringify({
    bag,
    evaluate,
    liveLike: liveLike ?? null,
    frames,
    predictionsSha256: all.digest("hex"),
    predictionSample: sample,
    labels,
    labelsSha256: labelsHash.digest("hex"),
    labelSample,
    eval: ev
      ? {
          spearman: ev.spearman,
          mae: ev.mae,
          auroc: ev.auroc,
          confidenceAuroc: ev.confidenceAuroc,
          cells: ev.cells,
        }
      : null,
    evalSha256: ev ? createHash("sha256").update(JSON.stringify(ev)).digest("hex") : null,
    counts,
    lateMessages: counts.problems.late ?? 0,
  })}\n`,
);
process.exit(0);
