// `npm run bench` — every benchmark of the edge runtime, results to bench/results.json.
//
//   npm run bench                 full run (worlds generated into .cache/bench on first use; ~3 min on a quiet 2-core machine once they exist)
//   npm run bench -- --quick      smoke version: short worlds and runs, 3-minute soak (about a minute); writes bench/results-quick.json
//   npm run bench -- --only replay,live,labeller,learning,fleet,startup,soak     a subset, merged into the existing results file
//   npm run bench -- --seconds320 S --seconds640 S --live-seconds S  how much of each world to replay
//
// Each measurement runs in its own Node process (bench/replay-bench.ts), so heaps, JIT state and
// tfjs memory do not carry from one to the next. Worlds come from the simulator (default world, seed 1):
//   320×240 @ 15 Hz camera, 200 Hz IMU, 120 s     replay with learning on: real-time factor, per-stage ms/frame,
//                                                 bare backbone on the same frames
//   640×480 @ 30 Hz camera, 200 Hz IMU, 60 s      the same, and live-mode latency at the real frame rate (30 s)
//   160×120 @ 5 Hz camera, 200 Hz IMU, 30 min     soak: RSS and tfjs tensor count over the whole replay
// The 640×480 world is 60 s (1.3 GB of raw frames) and the soak world has a small camera so that the
// 30 simulated minutes replay in minutes: the soak is about memory over time, and the pipeline's
// per-sample, per-label and per-training-step costs do not depend on the image size.
//
// The machine's load average is recorded before and after: on a shared machine numbers are noisy,
// compare runs only at similar load.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { constants, cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkOutputs, writeFileAtomic } from "../src/io/safe-output.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PARTS = ["replay", "live", "labeller", "learning", "fleet", "startup", "soak"];
const USAGE = `usage: npm run bench -- [options]

  (no options)            every measurement; results to bench/results.json (~3 min on a quiet
                          2-core machine once the worlds exist in .cache/bench)
  --quick                 smoke version: short worlds and runs, 3-minute soak; bench/results-quick.json
  --only LIST             a subset, merged into the existing results file: ${PARTS.join(",")}
  --seconds320 S          seconds of the 320x240 @ 15 Hz world to replay (default 120)
  --seconds640 S          seconds of the 640x480 @ 30 Hz world to replay (default 60)
  --live-seconds S        seconds of live mode at 640x480 (default 30)
                          (a run longer than its world gets a longer world, generated once)
  --out FILE              the results file (default bench/results.json, with --quick bench/results-quick.json)
  -h, --help              this text

The results file is written once every part has finished (under a temporary name, then renamed):
a part that fails exits 1 naming it, and the file stays as it was. An interrupt (Ctrl-C, SIGTERM)
names the parts not measured, stops the running measurement and also leaves the file as it was.

One measurement alone: node --import tsx bench/replay-bench.ts replay|bare|live|soak BAG [-c CONFIG]
`;
let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      seconds320: { type: "string" },
      seconds640: { type: "string" },
      "live-seconds": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message} (npm run bench -- --help for the options)\n`);
  process.exit(2);
}
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const quick = parsed.values.quick === true;
const only = parsed.values.only === undefined ? undefined : new Set(parsed.values.only.split(","));
for (const part of only ?? []) {
  if (!PARTS.includes(part)) {
    process.stderr.write(`bench: --only ${part}: expected some of ${PARTS.join(",")}\n`);
    process.exit(2);
  }
}
const want = (k: string) => !only || only.has(k);
const num = (name: "seconds320" | "seconds640" | "live-seconds", dflt: number) => {
  const raw = parsed.values[name];
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!(v > 0)) {
    process.stderr.write(`bench: --${name} ${raw}: expected a positive number of seconds\n`);
    process.exit(2);
  }
  return v;
};
// Checked before anything runs: a bad --live-seconds must not surface after minutes of replay.
const seconds320 = num("seconds320", quick ? 10 : 120);
const seconds640 = num("seconds640", quick ? 3 : 60);
const liveSeconds = num("live-seconds", quick ? 5 : 30);
// A world at least as long as what is asked of it (the defaults fit the default worlds); the
// 640x480 world serves both the replay and live mode.
const world320Seconds = Math.max(quick ? 20 : 120, seconds320);
const world640Seconds = Math.max(quick ? 10 : 60, seconds640, liveSeconds);
const resultsPath =
  parsed.values.out === undefined
    ? join(ROOT, "bench", quick ? "results-quick.json" : "results.json")
    : resolve(parsed.values.out);
// Hand-kept before/after of the fixes made from these benchmarks; read into every results file.
const historyPath = join(ROOT, "bench", "history.json");
if (resultsPath === historyPath) {
  process.stderr.write("bench: --out bench/history.json is the bench's input; refusing to overwrite it\n");
  process.exit(2);
}
const shown = (path: string) => (path.startsWith(`${ROOT}/`) ? relative(ROOT, path) : path);
// Checked before measuring: an --out that cannot be written used to fail with a stack trace after
// every part had run, losing their results.
try {
  try {
    mkdirSync(dirname(resultsPath), { recursive: true });
  } catch (err) {
    throw new Error(`--out ${parsed.values.out}: cannot create its folder (${(err as Error).message})`);
  }
  await checkOutputs([{ path: resultsPath, kind: "file", what: "--out" }], [historyPath]);
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
}
const cacheDir = join(ROOT, ".cache", "bench");
mkdirSync(cacheDir, { recursive: true });

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

// The part running now and the parts done, for what an interrupt reports as not measured.
let running: string | undefined;
const done: string[] = [];
let child: ChildProcess | undefined;
const STOPS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Stop = (typeof STOPS)[number];
let stopping = false;
/** Says what an interrupt left unmeasured, stops the measurement's process and exits. */
function interrupted(signal: Stop): void {
  if (stopping) return;
  stopping = true;
  const missing = PARTS.filter((p) => want(p) && !done.includes(p));
  log(
    running
      ? `interrupted (${signal}) during ${running}; not measured: ${missing.join(", ")}`
      : `interrupted (${signal}) before the results were written`,
  );
  log(`${shown(resultsPath)} unchanged; nothing of this run was written`);
  const code = 128 + constants.signals[signal];
  const c = child;
  if (!c) process.exit(code);
  // The measurement runs in its own process: stop it too, or it keeps loading the CPU. A terminal's
  // Ctrl-C reaches it as well (same process group), so it gets a moment to stop on its own first:
  // a second interrupt makes the simulator drop its clean-up.
  c.once("close", () => process.exit(code));
  setTimeout(() => c.kill(signal), 1000);
}
for (const signal of STOPS) process.on(signal, () => interrupted(signal));
/** A measurement's process that ended by the terminal's interrupt (it shares the process group). */
class ChildInterrupted extends Error {
  constructor(readonly signal: Stop) {
    super(signal);
  }
}

/** Runs node with args (stderr to ours), collecting stdout; async so that an interrupt is handled at once. */
function node(
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ status: number | null; signal: string | null; stdout: string }> {
  return new Promise((resolveRun, reject) => {
    const c = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: env ?? process.env,
    });
    child = c;
    let stdout = "";
    c.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    c.once("error", reject);
    c.once("close", (status, signal) => {
      child = undefined;
      resolveRun({ status, signal, stdout });
    });
  });
}
function ended(r: { status: number | null; signal: string | null }): string {
  if (STOPS.includes(r.signal as Stop)) throw new ChildInterrupted(r.signal as Stop);
  if (r.status === 130) throw new ChildInterrupted("SIGINT"); // the simulator's own interrupt exit
  return r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
}

/** The simulator world for a camera spec, generated once into .cache/bench. */
async function world(camera: string, seconds: number): Promise<string> {
  const name = `w${camera
    .replace("x", "-")
    .replace("@", "-")
    .split("-")
    .filter((_, i) => i !== 1)
    .join("-")}-${seconds}s.mcap`;
  const path = join(cacheDir, name);
  if (existsSync(path)) return path;
  log(`generating ${name} (${camera}, ${seconds} s) ...`);
  const r = await node([
    join(ROOT, "bin", "terrain-learner.js"),
    "sim",
    "--duration",
    String(seconds),
    "--camera",
    camera,
    "--out",
    `${path}.tmp.mcap`,
    "--json",
  ]);
  if (r.status !== 0) throw new Error(`sim failed for ${camera} (${seconds} s), ${ended(r)}`);
  renameSync(`${path}.tmp.mcap`, path);
  return path;
}

/** Runs one bench/replay-bench.ts measurement in a fresh process; its last stdout line is JSON. */
async function measure(
  mode: string,
  bag: string,
  extra: string[] = [],
  nodeArgs: string[] = [],
): Promise<Record<string, unknown>> {
  log(`${mode} ${bag.split("/").pop()} ${extra.join(" ")}`);
  const t0 = Date.now();
  const r = await node([
    ...nodeArgs,
    "--import",
    "tsx",
    join(ROOT, "bench", "replay-bench.ts"),
    mode,
    bag,
    ...extra,
  ]);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`bench ${mode} ${bag}: ${ended(r)}\n${r.stdout.slice(-2000)}`);
  log(`  done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return JSON.parse(line) as Record<string, unknown>;
}

async function script(file: string, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  log(file);
  const r = await node(["--import", "tsx", join(ROOT, "bench", file), "--json"], { ...process.env, ...env });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(`bench/${file}: ${ended(r)}\n${r.stdout.slice(-2000)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const round = (x: unknown, d = 2) => (typeof x === "number" && Number.isFinite(x) ? Number(x.toFixed(d)) : x);
const roundAll = (o: Record<string, unknown>, d = 2) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v, d)]));

let previous: Record<string, unknown> = {};
if (existsSync(resultsPath)) {
  try {
    previous = JSON.parse(readFileSync(resultsPath, "utf8"));
  } catch (err) {
    process.stderr.write(`bench: ${shown(resultsPath)} is not readable JSON (${(err as Error).message})\n`);
    process.exit(2);
  }
}
const results: Record<string, unknown> = only ? { ...previous } : {};
// A short trail of earlier full runs (date, load, the goal figures), to see how noisy they are.
if (!only && previous.goals) {
  const trail = (previous.previousRuns as unknown[] | undefined) ?? [];
  const load = (previous.machine as { loadAvgBefore?: number[] } | undefined)?.loadAvgBefore;
  results.previousRuns = [
    ...trail,
    { date: previous.date, commit: previous.commit, loadAvgBefore: load, goals: previous.goals },
  ].slice(-5);
}
// Before/after of the fixes made from these benchmarks (hand-kept: each entry says what was run).
results.history = existsSync(historyPath) ? JSON.parse(readFileSync(historyPath, "utf8")) : [];
const load0 = loadavg();
const started = Date.now();
// Timings need the cores: say so up front rather than leave a slow result unexplained.
if ((load0[0] ?? 0) > cpus().length / 2)
  log(
    `load average ${load0[0]?.toFixed(1)} on ${cpus().length} cores before starting: other work is running, so times may read slow (the results record the load average before and after)`,
  );

/** Runs one part; a failure ends the bench (exit 1) before the results file is touched. */
async function part(name: string, fn: () => Promise<void>): Promise<void> {
  if (!want(name)) return;
  running = name;
  try {
    await fn();
    done.push(name);
    running = undefined;
  } catch (err) {
    if (err instanceof ChildInterrupted) interrupted(err.signal);
    if (stopping) await new Promise(() => {}); // the interrupt's exit comes
    log(`${name} failed: ${(err as Error).message.trim()}`);
    log(`${shown(resultsPath)} unchanged; nothing of this run was written`);
    process.exit(1);
  }
}

await part("replay", async () => {
  const runs: Record<string, unknown>[] = [];
  for (const [name, camera, seconds, limit, bareFrames] of [
    ["320x240@15", "320x240@15", world320Seconds, seconds320, quick ? 30 : 150],
    ["640x480@30", "640x480@30", world640Seconds, seconds640, quick ? 20 : 100],
  ] as const) {
    const bag = await world(camera, seconds);
    const r = await measure("replay", bag, ["--seconds", String(limit)]);
    const bare = await measure("bare", bag, ["--frames", String(bareFrames)]);
    const perFrame = r.perFrameMs as Record<string, number>;
    const total = r.totalPerFrameMs as number;
    runs.push({
      name,
      bag: bag.slice(ROOT.length + 1),
      realtimeFactor: round(r.realtimeFactor),
      perFrameMs: roundAll(perFrame),
      totalPerFrameMs: round(total),
      bareBackboneMs: round(bare.meanMs),
      overheadVsBackbone: round(total / (bare.meanMs as number)),
      // All threads' CPU per frame (the wall-clock figures above overlap threads on two cores).
      cpuMsPerFrame: round(r.cpuMsPerFrame),
      cpuVsBackbone: round((r.cpuMsPerFrame as number) / (bare.meanMs as number)),
      frames: r.frames,
      sensorSeconds: r.sensorSeconds,
      wallSeconds: round(r.wallSeconds, 1),
      trainSteps: r.trainSteps,
      labels: r.labels,
      backend: r.backend,
    });
  }
  results.runs = runs;
});

await part("live", async () => {
  const bag = await world("640x480@30", world640Seconds);
  const r = await measure("live", bag, ["--seconds", String(liveSeconds)]);
  results.latencyMs = { p50: round(r.p50Ms), p90: round(r.p90Ms), p99: round(r.p99Ms), max: round(r.maxMs) };
  results.live = {
    resolution: "640x480@30",
    images: r.images,
    framesProcessed: r.framesProcessed,
    framesDropped: r.framesDropped,
    processMsPerFrame: round(r.processMsPerFrame),
    measured: r.measured,
    lateMessages: r.lateMessages,
    trainer: r.trainer,
  };
});

await part("labeller", async () => {
  const r = await script("labeller.ts", quick ? { BENCH_SECONDS: "300" } : {});
  results.labellerSamplesPerSec = r.labellerSamplesPerSecond;
  results.labeller = r;
});

await part("learning", async () => {
  results.learning = roundAll(await script("learning.ts"));
});

// Fleet sharing's own work per frame (bench/fleet-cost.ts), against backbone + head in the same loop.
await part("fleet", async () => {
  results.fleet = roundAll(await script("fleet-cost.ts"));
});

// Each command's start-up, from dist/ and from the sources: --help, a refused flag, a 4 s replay (bench/cli-startup.ts).
await part("startup", async () => {
  results.startup = await script("cli-startup.ts", { BENCH_RUNS: quick ? "1" : "5" });
});

await part("soak", async () => {
  const minutes = quick ? 3 : 30;
  const bag = await world("160x120@5", minutes * 60);
  const r = await measure("soak", bag, ["--every", quick ? "5" : "15"], ["--expose-gc"]);
  results.soak = {
    simMinutes: round(r.simMinutes, 1),
    wallSeconds: round(r.wallSeconds, 0),
    camera: "160x120@5",
    rssGrowthPct: round(r.rssGrowthPct),
    heapGrowthPct: round(r.heapGrowthPct),
    tensorGrowth: r.tensorGrowth,
    rssMB: roundAll(r.rssMB as Record<string, unknown>, 1),
    method: `RSS and tf.memory().numTensors sampled every ${quick ? 5 : 15} sensor-seconds after a forced GC; first 20% dropped as warm-up; growth = mean of the second half of the rest vs the first half`,
    samples: (r.samples as Record<string, number>[]).map((s) => [
      round(s.t, 0),
      round(s.rssMB, 1),
      round(s.heapMB, 1),
      s.numTensors,
    ]),
    sampleColumns: ["sensorSeconds", "rssMB", "heapMB", "numTensors"],
  };
});

const goals = {
  realtime320: {
    goal: ">= 10",
    measured: (results.runs as { realtimeFactor: number }[] | undefined)?.[0]?.realtimeFactor,
  },
  realtime640: {
    goal: ">= 2",
    measured: (results.runs as { realtimeFactor: number }[] | undefined)?.[1]?.realtimeFactor,
  },
  latencyP99Ms: { goal: "<= 30", measured: (results.latencyMs as { p99: number } | undefined)?.p99 },
  overheadVsBackbone320: {
    goal: "<= 1.3",
    measured: (results.runs as { overheadVsBackbone: number }[] | undefined)?.[0]?.overheadVsBackbone,
  },
  overheadVsBackbone640: {
    goal: "<= 1.3",
    measured: (results.runs as { overheadVsBackbone: number }[] | undefined)?.[1]?.overheadVsBackbone,
  },
  fleetShareOfFrame: {
    goal: "<= 0.05",
    measured: (results.fleet as { shareOfPipelineFloor: number } | undefined)?.shareOfPipelineFloor,
  },
  rssGrowthPct: {
    goal: "< 5",
    measured: (results.soak as { rssGrowthPct: number } | undefined)?.rssGrowthPct,
  },
};
results.goals = goals;
results.quick = quick;
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memGB: round(totalmem() / 2 ** 30, 1),
  node: process.version,
  loadAvgBefore: load0.map((x) => round(x)),
  loadAvgAfter: loadavg().map((x) => round(x)),
  // What the load averages mean for these figures, rather than a fixed claim about the machine.
  note:
    Math.max(load0[0] ?? 0, loadavg()[0] ?? 0) > 1.5 * cpus().length
      ? "the machine was busy while measuring (load average above 1.5 per core): absolute times are inflated; ratios (overheadVsBackbone) are steadier"
      : "load average at most 1.5 per core while measuring; the bench's own threads are part of it",
};
const git = (a: string[]) => spawnSync("git", a, { cwd: ROOT, encoding: "utf8" }).stdout.trim();
const run = {
  commit: git(["rev-parse", "--short", "HEAD"]),
  dirtyFiles: git(["status", "--porcelain", "--untracked-files=no"]).split("\n").filter(Boolean).length,
  date: new Date().toISOString(),
  benchWallSeconds: Math.round((Date.now() - started) / 1000),
};
if (only && previous.machine) {
  // The full run's machine, commit and date stay; a subset says where and when it was measured.
  const partial = (previous.partialRuns as unknown[] | undefined) ?? [];
  results.partialRuns = [...partial, { parts: [...only], machine, ...run }];
} else {
  results.machine = machine;
  Object.assign(results, run);
  delete results.partialRuns;
}
try {
  await writeFileAtomic(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
} catch (err) {
  log(`could not write the results: ${(err as Error).message}`);
  process.exit(1);
}
log(`wrote ${shown(resultsPath)}`);
for (const [k, v] of Object.entries(goals))
  log(`  ${k.padEnd(22)} goal ${v.goal.padEnd(6)} measured ${v.measured ?? "not measured"}`);
