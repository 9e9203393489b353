// Command start-up: how long `terrain-learner CMD --help`, and a run refused for a bad flag, take from
// process start to exit. Each command registers its options from light modules and loads its heavy
// ones (onnxruntime, tfjs, the pipeline, the simulator) only once its flags have been checked; this
// measures what that leaves. Run: node --import tsx bench/cli-startup.ts [--json] [--runs N]
//
// Wall time of the whole child process, and its CPU time (user + system of every thread, from the
// reaped child's times in /proc/self/stat, 10 ms ticks). Median over the runs, after one warm-up run
// (tsx caches its transforms on the first).

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
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
};

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU of reaped children so far, ms (cutime + cstime of /proc/self/stat). */
function childrenCpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command name start at field 3 (state); cutime and cstime are fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

function once(args: string[]): { wallMs: number; cpuMs: number; status: number | null } {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: "ignore" });
  return { wallMs: performance.now() - t0, cpuMs: childrenCpuMs() - cpu0, status: r.status };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const loadBefore = loadavg()[0]!;
const results: Record<string, { wallMs: number; cpuMs: number; exit: number | null }> = {};
for (const [name, args] of Object.entries(CASES)) {
  once(args);
  const samples = Array.from({ length: runs }, () => once(args));
  results[name] = {
    wallMs: Math.round(median(samples.map((s) => s.wallMs))),
    cpuMs: Math.round(median(samples.map((s) => s.cpuMs))),
    exit: samples[0]!.status,
  };
  if (!values.json) {
    const r = results[name]!;
    process.stdout.write(
      `${name.padEnd(24)} ${String(r.wallMs).padStart(5)} ms wall ${String(r.cpuMs).padStart(5)} ms CPU (exit ${r.exit})\n`,
    );
  }
}
const summary = { runs, loadBefore, loadAfter: loadavg()[0]!, commands: results };
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else
  process.stdout.write(
    `load average ${loadBefore.toFixed(2)} → ${summary.loadAfter.toFixed(2)}, median of ${runs}\n`,
  );
