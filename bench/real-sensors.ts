// The real-sensor measurement (docs/real-sensors.md) in one command: the learning demo on the photo
// worlds and the procedural ones, at 180 s and 300 s, with the bundled filter bank and with
// MobileNetV2, plus the oracle head (bench/oracle.ts) on the 180 s bags. Every run's summary goes to
// a JSON file (all of the evaluation's scalar metrics, so metrics added to the evaluation later are
// picked up by re-running this), and the tables are printed as Markdown.
//
// Run: node --import tsx bench/real-sensors.ts [--worlds default,photo,photo-recorded,campus]
//        [--durations 180,300] [--backbones filterbank,mobilenetv2] [--no-oracle] [--no-demo]
//        [--regenerate] [--out bench/real-sensors-results.json] [--tables-only]
// Results are deterministic in sensor time (the same numbers at any load); the timings are not:
// each run records the load average it started under.

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { DEMO_JPEG_QUALITY } from "../src/cli/demo.ts";

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    worlds: { type: "string", default: "default,photo,photo-recorded,campus" },
    durations: { type: "string", default: "180,300" },
    backbones: { type: "string", default: "filterbank,mobilenetv2" },
    "no-oracle": { type: "boolean", default: false },
    "no-demo": { type: "boolean", default: false },
    regenerate: { type: "boolean", default: false },
    "tables-only": { type: "boolean", default: false },
    out: { type: "string", default: "bench/real-sensors-results.json" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: bench/real-sensors.ts [--worlds LIST] [--durations 180,300] [--backbones filterbank,mobilenetv2] [--no-oracle] [--no-demo] [--regenerate] [--out FILE] [--tables-only]",
  );
  process.exit(0);
}
const ROOT = resolve(import.meta.dirname, "..");
const OUT_DIR = join(ROOT, "out", "real-sensors");
const CACHE = join(ROOT, ".cache", "real-sensors");
const resultsPath = resolve(values.out!);
mkdirSync(OUT_DIR, { recursive: true });

type Row = Record<string, unknown> & { key: string };
const results: Record<string, Row> = existsSync(resultsPath)
  ? JSON.parse(readFileSync(resultsPath, "utf8"))
  : {};
const save = () => {
  const tmp = `${resultsPath}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(results, null, 1)}\n`);
  renameSync(tmp, resultsPath);
};

function scalars(obj: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (obj && typeof obj === "object")
    for (const [k, v] of Object.entries(obj)) if (typeof v === "number" || v === null) out[k] = v as number;
  return out;
}

async function demo(world: string, duration: number, backbone: string): Promise<Row> {
  const key = `demo ${world} ${duration}s ${backbone}`;
  const dir = join(OUT_DIR, `${world}-${duration}-${backbone}`);
  const args = [
    "bin/terrain-learner.js",
    "demo",
    "--world",
    `sim/worlds/${world}.yaml`,
    "--duration",
    String(duration),
    "--cache",
    CACHE,
    "--out",
    dir,
    "--json",
  ];
  if (values.regenerate) args.push("--regenerate");
  if (backbone !== "filterbank") {
    const cfg = join(OUT_DIR, `${backbone}.yaml`);
    writeFileSync(cfg, `learner:\n  backbone: ${backbone}\n`);
    args.push("-c", cfg);
  }
  const load = loadavg()[0];
  const { stdout } = await run("node", args, { cwd: ROOT, maxBuffer: 1 << 28 });
  const r = JSON.parse(stdout);
  const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
  const d = report.evalDetails ?? {};
  return {
    key,
    kind: "demo",
    world,
    duration,
    backbone,
    eval: scalars(r.eval),
    baseline: scalars(r.eval?.baseline),
    overall: scalars(d.overall),
    labels: { ...scalars(d.labels), byTerrain: d.labels?.byTerrain },
    byTerrain: d.byTerrain,
    run: {
      frames: r.frames,
      labels: r.labels,
      trainSteps: r.trainSteps,
      realtimeFactor: r.realtimeFactor,
      frameMs: r.frameMs,
      wallSeconds: r.wallSeconds,
      loadAverage: load,
    },
  };
}

async function oracle(world: string, backbone: string): Promise<Row> {
  const key = `oracle ${world} 180s ${backbone}`;
  const bag = join(CACHE, `${world}-world-seed1-jpeg${DEMO_JPEG_QUALITY}.mcap`);
  const args = ["--import", "tsx", "bench/oracle.ts", bag, "--json"];
  if (backbone !== "filterbank") args.push("--backbone", backbone);
  const load = loadavg()[0];
  const { stdout } = await run("node", args, { cwd: ROOT, maxBuffer: 1 << 24 });
  return {
    key,
    kind: "oracle",
    world,
    backbone,
    ...JSON.parse(stdout.trim().split("\n").pop()!),
    bag: basename(bag),
    loadAverage: load,
  };
}

const worlds = values.worlds!.split(",");
const durations = values.durations!.split(",").map(Number);
const backbones = values.backbones!.split(",");
if (!values["tables-only"]) {
  const jobs: { key: string; go: () => Promise<Row> }[] = [];
  if (!values["no-demo"])
    for (const b of backbones)
      for (const w of worlds)
        for (const d of durations) jobs.push({ key: `demo ${w} ${d}s ${b}`, go: () => demo(w, d, b) });
  if (!values["no-oracle"])
    for (const b of backbones)
      for (const w of worlds) jobs.push({ key: `oracle ${w} 180s ${b}`, go: () => oracle(w, b) });
  for (const job of jobs) {
    const t0 = performance.now();
    process.stderr.write(`${job.key} …`);
    try {
      results[job.key] = await job.go();
      save();
      process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    } catch (err) {
      process.stderr.write(` FAILED: ${(err as Error).message.split("\n").slice(0, 3).join(" ")}\n`);
      process.exitCode = 1;
    }
  }
}

// --- tables -----------------------------------------------------------------------------------
const f = (v: unknown, d = 3) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(d) : "—");
const rows = Object.values(results);
const known = new Set(["spearman", "mae", "auroc", "confidenceAuroc", "cells"]);
const extra = [...new Set(rows.flatMap((r) => Object.keys((r.eval as object) ?? {})))].filter(
  (k) => !known.has(k),
);
/** Spearman ρ of per-terrain mean predictions against truth (terrains with ≥ 100 cells in the final window). */
function terrainMeansRho(byTerrain: unknown): number {
  const t = ((byTerrain as { cells: number; mean: number; truth: number }[] | undefined) ?? []).filter(
    (x) => x.cells >= 100,
  );
  if (t.length < 3) return Number.NaN;
  const rank = (v: number[]) => {
    const order = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) r[order[k]![1]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const a = rank(t.map((x) => x.mean));
  const b = rank(t.map((x) => x.truth));
  const m = (a.length - 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - m) * (b[i]! - m);
    da += (a[i]! - m) ** 2;
    db += (b[i]! - m) ** 2;
  }
  return num / Math.sqrt(da * db);
}

console.log(
  `| world | s | backbone | ρ (last min) | baseline ρ | ρ whole run | ρ of terrain means (n) | MAE | AUROC rough | conf. AUROC | label ρ vs truth | labels |${extra.map((k) => ` ${k} |`).join("")} ms/frame | × real time | load |`,
);
console.log(`|${" --- |".repeat(15 + extra.length)}`);
for (const r of rows.filter((r) => r.kind === "demo")) {
  const e = r.eval as Record<string, number>;
  const b = r.baseline as Record<string, number>;
  const l = r.labels as Record<string, number>;
  const x = r.run as Record<string, number>;
  const o = r.overall as Record<string, number>;
  const nT = ((r.byTerrain as { cells: number }[] | undefined) ?? []).filter((t) => t.cells >= 100).length;
  console.log(
    `| ${r.world} | ${r.duration} | ${r.backbone} | ${f(e.spearman)} | ${f(b.spearman)} | ${f(o.spearman)} | ${f(terrainMeansRho(r.byTerrain), 2)} (${nT}) | ${f(e.mae)} | ${f(e.auroc)} | ${f(e.confidenceAuroc)} | ${f(l.spearman)} | ${l.count} |${extra.map((k) => ` ${f(e[k])} |`).join("")} ${f(x.frameMs, 1)} | ${f(x.realtimeFactor, 2)} | ${f(x.loadAverage, 1)} |`,
  );
}
console.log(
  "\n| world (180 s bag) | backbone | oracle head ρ | oracle MAE | oracle AUROC | linear probe ρ | probe MAE | test cells |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows.filter((r) => r.kind === "oracle")) {
  console.log(
    `| ${r.world} | ${r.backbone} | ${f(r.spearman)} | ${f(r.mae)} | ${f(r.auroc)} | ${f(r.probeSpearman)} | ${f(r.probeMae)} | ${r.testCells} |`,
  );
}
// Labels against the truth per terrain (the supervision itself), and what the learner predicts per
// terrain over the final window, for every demo run.
for (const r of rows.filter((r) => r.kind === "demo")) {
  const lt = ((r.labels as { byTerrain?: Record<string, number | string>[] }).byTerrain ?? []).slice();
  const pt = (r.byTerrain as Record<string, number | string>[] | undefined) ?? [];
  console.log(
    `\n${r.key}: labels vs truth (ρ ${f((r.labels as Record<string, number>).spearman)}), predictions in the final window`,
  );
  console.log("| terrain | truth | labels | label mean ± std | predicted cells | predicted mean ± std |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  const names = [...new Set([...lt.map((t) => String(t.name)), ...pt.map((t) => String(t.name))])];
  const truthOf = (n: string) =>
    Number((lt.find((t) => t.name === n) ?? pt.find((t) => t.name === n))?.truth);
  names.sort((a, b) => truthOf(a) - truthOf(b));
  for (const n of names) {
    const l = lt.find((t) => t.name === n);
    const p = pt.find((t) => t.name === n);
    console.log(
      `| ${n}${p && (p.driven as unknown) === false ? " (never driven)" : ""} | ${f(truthOf(n), 2)} | ${l?.count ?? 0} | ${l ? `${f(l.mean, 2)} ± ${f(l.std, 2)}` : "—"} | ${p?.cells ?? 0} | ${p ? `${f(p.mean, 2)} ± ${f(p.std, 2)}` : "—"} |`,
    );
  }
}
