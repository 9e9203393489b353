// Command start-up: how long `terrain-learner CMD --help`, a run refused for a bad flag, and a replay
// of a 4 s bag take from process start to exit, run from dist/ (`npm run build`) and from the
// TypeScript sources through tsx (TERRAIN_LEARNER_SOURCES=1). Each command registers its options
// from light modules and loads its heavy ones (onnxruntime, tfjs, the pipeline, the simulator) only
// once its flags have been checked; this measures what that leaves.
// Run: node --import tsx bench/cli-startup.ts [--json] [--runs N]
//
// Wall time of the whole child process, and its CPU time (user + system of every thread, from the
// reaped child's times in /proc/self/stat, 10 ms ticks). Median over the runs, after one warm-up run
// (tsx caches its transforms on the first).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "terrain-learner.js");

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    runs: { type: "string", default: process.env.BENCH_RUNS ?? "5" },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`cli-startup: --runs must be a whole number ≥ 1, got '${values.runs}'\n`);
  process.exit(2);
}

const { compiledEntry } = (await import(join(ROOT, "bin", "compiled.cjs"))) as {
  compiledEntry: (root: string, rel: string) => string | null;
};
if (!compiledEntry(ROOT, "src/cli/main.ts")) {
  process.stderr.write(
    "cli-startup: dist/ is missing or older than the sources: run `npm run build` first\n",
  );
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), "tl-startup-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const BAG = join(tmp, "drive.mcap");
const made = spawnSync(
  process.execPath,
  [BIN, "sim", "--duration", "4", "--camera", "64x48@5", "--out", BAG],
  { cwd: ROOT, stdio: "ignore" },
);
if (made.status !== 0) {
  process.stderr.write("cli-startup: could not simulate the 4 s bag\n");
  process.exit(1);
}

// A bad flag value, so each command stops at its own checks (exit 1).
const CASES: Record<string, string[]> = {
  "--help": ["--help"],
  "bag --help": ["bag", "--help"],
  "replay --help": ["replay", "--help"],
  "replay, refused flag": ["replay", "x.mcap", "--rate", "2abc"],
  "demo --help": ["demo", "--help"],
  "demo, refused flag": ["demo", "--seed", "1.5"],
  "sim --help": ["sim", "--help"],
  "label --help": ["label", "--help"],
  "run --help": ["run", "--help"],
  "run, refused flag": ["run", "--mode", "x"],
  "ros --help": ["ros", "--help"],
  "serial-dump --help": ["serial-dump", "--help"],
  "export --help": ["export", "--help"],
  "replay, a 4 s bag": ["replay", BAG],
};
const WAYS = { compiled: {}, sources: { TERRAIN_LEARNER_SOURCES: "1" } } as const;

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU of reaped children so far, ms (cutime + cstime of /proc/self/stat). */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command name start at field 3 (state); cutime and cstime are fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

function once(
  args: string[],
  env: NodeJS.ProcessEnv,
): { wallMs: number; cpuMs: number; status: number | null } {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, ...env },
  });
  return { wallMs: performance.now() - t0, cpuMs: childrenCpuMs() - cpu0, status: r.status };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Figures = { wallMs: number; cpuMs: number; exit: number | null };
const loadBefore = loadavg()[0]!;
const results: Record<string, Record<keyof typeof WAYS, Figures>> = {};
for (const [name, args] of Object.entries(CASES)) {
  const row = {} as Record<keyof typeof WAYS, Figures>;
  for (const [way, env] of Object.entries(WAYS) as [keyof typeof WAYS, NodeJS.ProcessEnv][]) {
    once(args, env);
    const samples = Array.from({ length: runs }, () => once(args, env));
    row[way] = {
      wallMs: Math.round(median(samples.map((s) => s.wallMs))),
      cpuMs: Math.round(median(samples.map((s) => s.cpuMs))),
      exit: samples[0]!.status,
    };
  }
  results[name] = row;
  if (!values.json) {
    const f = (r: Figures) => `${String(r.wallMs).padStart(5)} / ${String(r.cpuMs).padStart(5)}`;
    process.stdout.write(
      `${name.padEnd(24)} compiled ${f(row.compiled)}  sources ${f(row.sources)} ms wall / CPU (exit ${row.compiled.exit})\n`,
    );
  }
}
const summary = { runs, loadBefore, loadAfter: loadavg()[0]!, commands: results };
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else
  process.stdout.write(
    `load average ${loadBefore.toFixed(2)} → ${summary.loadAfter.toFixed(2)}, median of ${runs}\n`,
  );
