// One benchmark measurement in its own process (bench/run.ts starts one per measurement, so JIT
// state, heap and tfjs memory of one do not leak into the next). Prints one JSON line on stdout.
//
//   node --import tsx bench/replay-bench.ts replay BAG [--seconds S]   replay with learning on, per-stage times
//   node --import tsx bench/replay-bench.ts bare BAG [--frames N]      bare backbone on the same frames
//   node --import tsx bench/replay-bench.ts live BAG [--seconds S]     live mode at the bag's real rate,
//                                                                       the pipeline's LiveTrainer worker training; latency
//   node --expose-gc --import tsx bench/replay-bench.ts soak BAG [--every S]   RSS + tensors over a long replay
//
// All modes use the default config (learning on) with the bag's own topics (simulator layout).

import { existsSync } from "node:fs";
import { openBag } from "../src/io/bag/index.ts";
import type { BagEvent } from "../src/io/bag/types.ts";
import { imageFromRos } from "../src/io/ros/convert.ts";
import { Backbone } from "../src/learning/backbone.ts";
import { tf } from "../src/learning/tf-backend.ts";
import { type Config, loadConfig } from "../src/runtime/config.ts";
import { tuneHeap } from "../src/runtime/heap-tuning.ts";
import { createPipeline, readAhead } from "../src/runtime/pipeline.ts";
import { installStageTimers, STAGES, stageMs, timed } from "./stages.ts";
import { usage } from "./usage.ts";

const SCRIPT = "bench/replay-bench.ts";
const [mode, bag, ...rest] = process.argv.slice(2);
const stringArg = (name: string) => {
  const i = rest.indexOf(name);
  if (i < 0) return undefined;
  const v = rest[i + 1];
  if (v === undefined) usage(SCRIPT, `${name} needs a value`);
  return v;
};
// --seconds, --frames, --every, --warmup: numbers, 0 or more (NaN would pass every comparison).
const arg = (name: string, dflt: number) => {
  const v = stringArg(name);
  if (v === undefined) return dflt;
  if (!(Number(v) >= 0) || v.trim() === "") usage(SCRIPT, `${name} must be a number, 0 or more, got '${v}'`);
  return Number(v);
};
if (!mode || !bag)
  usage(
    SCRIPT,
    "needs a mode and a bag: replay|bare|live|soak BAG [-c CONFIG] [--seconds S|--frames N|--every S]",
  );
const modes: Record<string, () => Promise<void>> = { replay, bare, live, soak };
const run = modes[mode];
if (!run) usage(SCRIPT, `unknown mode ${mode}: replay, bare, live or soak`);
if (!existsSync(bag)) usage(SCRIPT, `no bag ${bag}`);

// -c FILE: a config file (YAML/JSON) instead of the defaults, to measure other settings.
let config: Config;
try {
  config = loadConfig(stringArg("-c"));
} catch (err) {
  usage(SCRIPT, (err as Error).message);
}
// As the CLI does (src/cli/main.ts): the measurement is of what a user runs.
const heapGrowingPercent = tuneHeap();
const warn = (m: string) => process.stderr.write(`${m}\n`);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : Number.NaN;
};

async function replay(): Promise<void> {
  const limit = arg("--seconds", Number.POSITIVE_INFINITY);
  installStageTimers();
  const source = await openBag(bag!);
  const pipeline = await createPipeline(config, { mode: "replay", overlay: false, costmap: true, warn });
  // Warm-up outside the clock: onnxruntime and tfjs compile on first use.
  // As `terrain-learner replay` reads a bag: the next frames' features start while this one is processed.
  const it = readAhead(pipeline, source.messages());
  let first = Number.NaN;
  const t0 = performance.now();
  // CPU of every thread of the process (main, backbone worker, training worker, V8's helpers).
  const cpu0 = process.cpuUsage();
  let n = 0;
  for (;;) {
    const r = await timed("decode", () => it.next());
    if (r.done) break;
    const e = r.value as BagEvent;
    if (e.type === "message") {
      if (Number.isNaN(first)) first = e.logTime;
      if (e.logTime - first > limit) break;
    }
    await pipeline.push(e);
    n++;
  }
  await it.return(undefined);
  const summary = await pipeline.finish();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await pipeline.close();
  await source.close();
  const frames = summary.framesProcessed;
  const perFrameMs: Record<string, number> = {};
  let staged = 0;
  // With the backbone worker (learner.backbone_worker, the default) the backbone runs on another
  // thread: the main thread's share is its wait for a frame's features (what read-ahead did not hide).
  if (config.learner.backbone_worker) stageMs.backbone = summary.featureWaitMs * frames;
  for (const s of STAGES) {
    perFrameMs[s] = stageMs[s] / frames;
    staged += stageMs[s];
  }
  perFrameMs.other = (wallMs - staged) / frames;
  out({
    mode: "replay",
    bag,
    messages: n,
    frames,
    sensorSeconds: summary.sensorSeconds,
    wallSeconds: wallMs / 1000,
    realtimeFactor: summary.sensorSeconds / (wallMs / 1000),
    perFrameMs,
    totalPerFrameMs: wallMs / frames,
    cpuMsPerFrame: cpuMs / frames,
    trainSteps: summary.trainSteps,
    labels: summary.labels,
    keyframes: summary.keyframes,
    rows: summary.rows,
    backend: summary.backend,
    heapGrowingPercent,
    problems: summary.problems,
  });
}

async function bare(): Promise<void> {
  const maxFrames = arg("--frames", 300);
  const source = await openBag(bag!);
  // As the pipeline loads it: same model, threads and working resolution (learner.input_width).
  const backbone = await Backbone.fromConfig(config.learner, { warn });
  const times: number[] = [];
  let outBuf: Float32Array | undefined;
  for await (const e of source.messages({ topics: [config.topics.image] })) {
    if (e.type !== "message") continue;
    const img = imageFromRos(e.message);
    if (!outBuf) {
      const g = backbone.gridFor(img.width, img.height);
      outBuf = new Float32Array(g.rows * g.cols * backbone.channels);
      for (let k = 0; k < 3; k++) await backbone.extract(img, outBuf); // warm-up
    }
    const t = performance.now();
    await backbone.extract(img, outBuf);
    times.push(performance.now() - t);
    if (times.length >= maxFrames) break;
  }
  await source.close();
  await backbone.close();
  out({
    mode: "bare",
    bag,
    frames: times.length,
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    p50Ms: quantile(times, 0.5),
  });
}

async function live(): Promise<void> {
  const limit = arg("--seconds", 30);
  const warmup = arg("--warmup", 3);
  // As the pipeline loads it: same model, threads and working resolution (learner.input_width).
  const backbone = await Backbone.fromConfig(config.learner, { warn });
  // Live mode without an injected learner: the pipeline starts its LiveTrainer (worker thread under
  // learner.cpu_budget) and predicts on the main thread with the weights it hands over.
  const pipeline = await createPipeline(config, {
    mode: "live",
    overlay: false,
    costmap: true,
    backbone,
    warn,
  });
  const pushedAt = new Map<number, number>();
  const latencies: number[] = [];
  let firstStamp = Number.NaN;
  pipeline.events$.subscribe((e) => {
    if (e.type !== "prediction") return;
    const t = pushedAt.get(e.stamp);
    pushedAt.delete(e.stamp);
    if (t !== undefined && e.stamp - firstStamp >= warmup) latencies.push(performance.now() - t);
  });
  // The drive is read and decoded into memory first: a robot's camera driver hands over decoded
  // frames, and decompressing ~1 MB zstd frames 30 times a second on this thread would put the bag
  // reader, not the pipeline, on the latency path.
  const source = await openBag(bag!);
  const inputs: { t: number; event: Parameters<typeof pipeline.push>[0]; stamp?: number }[] = [];
  let t0 = Number.NaN;
  for await (const e of source.messages()) {
    if (e.type !== "message") continue;
    if (Number.isNaN(t0)) t0 = e.logTime;
    if (e.logTime - t0 > limit) break;
    if (e.topic === config.topics.image) {
      const frame = imageFromRos(e.message);
      inputs.push({ t: e.logTime - t0, stamp: frame.stamp, event: { kind: "image", frame } });
    } else inputs.push({ t: e.logTime - t0, event: e });
  }
  await source.close();
  const wall0 = performance.now();
  let late = 0;
  let images = 0;
  for (const { t, event, stamp } of inputs) {
    // Real rate: wait until the message is due.
    const wait = wall0 + t * 1000 - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -50) late++;
    if (stamp !== undefined) {
      if (Number.isNaN(firstStamp)) firstStamp = stamp;
      images++;
      pushedAt.set(stamp, performance.now());
    }
    await pipeline.push(event);
  }
  const summary = await pipeline.finish();
  const ts = pipeline.learner.stats() as {
    trainSteps: number;
    bufferSize: number;
    weightsReceived?: number;
    busyFraction?: number;
  };
  await pipeline.close();
  await backbone.close();
  out({
    mode: "live",
    bag,
    images,
    framesProcessed: summary.framesProcessed,
    framesDropped: summary.framesDropped,
    processMsPerFrame: summary.frameMs,
    measured: latencies.length,
    lateMessages: late,
    p50Ms: quantile(latencies, 0.5),
    p90Ms: quantile(latencies, 0.9),
    p99Ms: quantile(latencies, 0.99),
    maxMs: Math.max(...latencies),
    trainer: {
      steps: ts.trainSteps,
      weightsReceived: ts.weightsReceived,
      busyFraction: ts.busyFraction,
      bufferSize: ts.bufferSize,
    },
  });
}

async function soak(): Promise<void> {
  const every = arg("--every", 15);
  const gc = (globalThis as { gc?: () => void }).gc;
  const source = await openBag(bag!);
  const pipeline = await createPipeline(config, { mode: "replay", overlay: false, costmap: true, warn });
  const samples: {
    t: number;
    wall: number;
    rssMB: number;
    heapMB: number;
    externalMB: number;
    numTensors: number;
  }[] = [];
  let first = Number.NaN;
  let next = Number.NaN;
  const w0 = performance.now();
  for await (const e of source.messages()) {
    await pipeline.push(e);
    if (e.type !== "message") continue;
    if (Number.isNaN(first)) {
      first = e.logTime;
      next = first;
    }
    if (e.logTime >= next) {
      next += every;
      // A full GC first, so the sample is what is retained, not what is waiting for collection.
      gc?.();
      const m = process.memoryUsage();
      samples.push({
        t: e.logTime - first,
        wall: (performance.now() - w0) / 1000,
        rssMB: m.rss / 2 ** 20,
        heapMB: m.heapUsed / 2 ** 20,
        externalMB: (m.external + m.arrayBuffers) / 2 ** 20,
        numTensors: tf.memory().numTensors,
      });
      // The full soak runs for minutes: a line every 5 sensor minutes says it is moving.
      const t = e.logTime - first;
      if (t > 0 && Math.floor(t / 300) > Math.floor((t - every) / 300))
        warn(`soak: ${(t / 60).toFixed(0)} sensor minutes, RSS ${(m.rss / 2 ** 20).toFixed(0)} MB`);
    }
  }
  const summary = await pipeline.finish();
  await pipeline.close();
  await source.close();
  // Growth: after a warm-up (first 20% of the run: buffers and keyframe stores fill up), the mean of
  // the second half of the samples against the mean of the first half.
  const steady = samples.slice(Math.floor(samples.length * 0.2));
  const half = Math.floor(steady.length / 2);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const a = steady.slice(0, half);
  const b = steady.slice(half);
  const growth = (k: "rssMB" | "heapMB") =>
    (100 * (mean(b.map((s) => s[k])) - mean(a.map((s) => s[k])))) / mean(a.map((s) => s[k]));
  out({
    mode: "soak",
    bag,
    simMinutes: summary.sensorSeconds / 60,
    wallSeconds: (performance.now() - w0) / 1000,
    frames: summary.framesProcessed,
    trainSteps: summary.trainSteps,
    gcBeforeSample: gc !== undefined,
    rssGrowthPct: growth("rssMB"),
    heapGrowthPct: growth("heapMB"),
    tensorGrowth: (steady.at(-1)?.numTensors ?? 0) - (steady[0]?.numTensors ?? 0),
    rssMB: {
      first: steady[0]?.rssMB,
      last: steady.at(-1)?.rssMB,
      max: Math.max(...samples.map((s) => s.rssMB)),
    },
    samples,
  });
}

await run();
// onnxruntime / the tfjs worker can keep handles open; the measurement is done.
process.exit(0);
