// Where the costmap flicker comes from (docs/learning.md, "Stability"). Three replays of each world's
// raw-frame simulator bag, all scored the same way:
//
//   learning  the pipeline as it runs: the head learns while the costmap is built;
//   frozen    the final model of the learning run (its checkpoint), learning off: what is left is
//             the same ground predicted differently from other distances and angles;
//   truth     outputs built from the ground truth where it is known (EvalOptions.truthOutputs),
//             the final model elsewhere: what the projection, rasterising and decay add themselves.
//
// learning − frozen is what training while the ground is in view adds; frozen − truth is the
// model's view dependence. Each also gives the costmap's ρ against the truth where the flicker
// looks (eval.stability.costmapRho). Deterministic in sensor time.
//
//   node --import tsx bench/flicker-sources.ts [--worlds default:1,campus:1] [--out FILE] [-c CONFIG]
//     [--truth-cells all|driven]
//
// --truth-cells: the learning run is taught the truth (replay --truth-labels --truth-cells), so the
// split is of a model taught every view (all) or every view of driven ground (driven).
//
// Bags: .cache/<world>-world-seed<N>.mcap, as `npm run bench:worlds -- --raw` makes them.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runReplay } from "../src/cli/replay.ts";
import { toJson } from "../src/eval/report.ts";
import { checkOutputs, writeFileAtomic } from "../src/io/safe-output.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { usage } from "./usage.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORLDS = "default:1,default:2,default:3,default:4,default:5,patchwork:1,stripes:1,campus:1";
const USAGE = `usage: node --import tsx bench/flicker-sources.ts [options]

  --worlds LIST       world:seed,... (default ${WORLDS})
  --out FILE          JSON results (default bench/flicker-sources.json)
  -c, --config FILE   config file(s) for every run
  --truth-cells WHICH the learning run taught the truth of every view (all) or of driven ground
                      (driven): replay --truth-labels --truth-cells WHICH
  -h, --help          this text

Needs the raw-frame bags .cache/<world>-world-seed<N>.mcap (npm run bench:worlds -- --raw makes them).
While it runs, the finished worlds are kept in FILE.partial; FILE is written once every world has
finished, so a failed or interrupted run leaves it as it was.`;

interface Row {
  world: string;
  seed: number;
  learning: number | null;
  frozen: number | null;
  truth: number | null;
  rho: { learning: number; frozen: number };
  /** The costmap's ρ against the truth where the flicker looks (eval.stability.costmapRho). */
  costmapRho: { learning: number | null; frozen: number | null; truth: number | null };
}

/** A flicker figure, or n/a where the run had none. */
const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(2));

const SCRIPT = "bench/flicker-sources.ts";
let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  usage(SCRIPT, (err as Error).message);
}
const { values } = parsed;
function parseOptions() {
  return parseArgs({
    options: {
      worlds: { type: "string", default: WORLDS },
      out: { type: "string", default: "bench/flicker-sources.json" },
      config: { type: "string", short: "c", multiple: true },
      "truth-cells": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const truthCells = values["truth-cells"];
if (truthCells !== undefined && truthCells !== "all" && truthCells !== "driven") {
  process.stderr.write(`--truth-cells must be all or driven, got '${truthCells}'\n${USAGE}\n`);
  process.exit(2);
}
const worlds = values.worlds.split(",").map((w) => {
  const [name, seed] = w.split(":");
  if (!name || !Number.isInteger(Number(seed ?? 1))) usage(SCRIPT, `--worlds: '${w}' is not world:seed`);
  return { name, seed: Number(seed ?? 1), bag: join(ROOT, ".cache", `${name}-world-seed${seed ?? 1}.mcap`) };
});
const missing = worlds.filter((w) => !existsSync(w.bag));
if (missing.length) {
  process.stderr.write(
    `missing bags: ${missing.map((w) => w.bag).join(", ")}\nmake them with: npm run bench:worlds -- --raw --worlds ${missing.map((w) => `${w.name}:${w.seed}`).join(",")}\n`,
  );
  process.exit(2);
}

const out = resolve(ROOT, values.out);
const partial = `${out}.partial`;
try {
  await checkOutputs(
    [
      { path: out, kind: "file", what: "--out" },
      { path: partial, kind: "file", what: "--out's progress file" },
    ],
    [...(values.config ?? []), ...worlds.map((w) => w.bag)],
  );
} catch (err) {
  // A missing folder is made below; every other problem (an input as --out) stops here.
  if (!/does not exist|no part of the path/.test((err as Error).message))
    usage(SCRIPT, (err as Error).message);
}
const loadBefore = loadavg();
const rows: Row[] = [];
mkdirSync(dirname(out), { recursive: true });
// An earlier run's progress would read as this one's.
rmSync(partial, { force: true });
const save = async (path: string, extra: Record<string, unknown> = {}) => {
  const doc = {
    camera: "320x240 @ 15 Hz, raw-frame bags",
    learning: truthCells
      ? `taught the truth (replay --truth-labels --truth-cells ${truthCells})`
      : "vibration labels",
    ...extra,
    loadBefore,
    loadAfter: loadavg(),
    rows,
  };
  await writeFileAtomic(path, `${toJson(doc, 2)}\n`);
};

const tmp = mkdtempSync(join(tmpdir(), "tl-flicker-"));
let step = "";
try {
  for (const [i, w] of worlds.entries()) {
    const label = `${w.name} s${w.seed}`;
    const reportDir = (kind: string) =>
      join(
        ROOT,
        "out/flicker-sources",
        `${w.name}-s${w.seed}${truthCells ? `-truth-${truthCells}` : ""}`,
        kind,
      );
    const ck = join(tmp, `${w.name}-s${w.seed}`);
    const quiet = { warn: () => {}, inputs: values.config ?? [] };
    step = `${label}: learning`;
    process.stderr.write(`${label}: learning ...\n`);
    const learning = await runReplay({
      bag: w.bag,
      config: loadConfig(values.config),
      evaluate: true,
      reportDir: reportDir("learning"),
      saveCheckpoint: ck,
      ...(truthCells ? { truthLabels: true, truthCells } : {}),
      ...quiet,
    });
    const frozenConfig = () => {
      const c = loadConfig(values.config);
      c.learner.enabled = false;
      return c;
    };
    step = `${label}: frozen final model`;
    process.stderr.write(`${label}: frozen final model ...\n`);
    const frozen = await runReplay({
      bag: w.bag,
      config: frozenConfig(),
      evaluate: true,
      reportDir: reportDir("frozen"),
      checkpoint: ck,
      ...quiet,
    });
    step = `${label}: ground-truth outputs`;
    process.stderr.write(`${label}: ground-truth outputs ...\n`);
    const truth = await runReplay({
      bag: w.bag,
      config: frozenConfig(),
      evaluate: true,
      truthOutputs: true,
      reportDir: reportDir("truth"),
      checkpoint: ck,
      ...quiet,
    });
    const flicker = (r: typeof learning) => r.eval?.stability?.costmapFlicker ?? null;
    const agreement = (r: typeof learning) => r.eval?.stability?.costmapRho ?? null;
    rows.push({
      world: w.name,
      seed: w.seed,
      learning: flicker(learning),
      frozen: flicker(frozen),
      truth: flicker(truth),
      rho: { learning: learning.eval?.spearman ?? Number.NaN, frozen: frozen.eval?.spearman ?? Number.NaN },
      costmapRho: { learning: agreement(learning), frozen: agreement(frozen), truth: agreement(truth) },
    });
    const r = rows.at(-1)!;
    process.stderr.write(
      `${label}: flicker learning ${f(r.learning)}, frozen ${f(r.frozen)}, truth ${f(r.truth)} (cost points/s)\n`,
    );
    await save(partial, { unfinished: worlds.slice(i + 1).map((x) => `${x.name}:${x.seed}`) });
  }
} catch (err) {
  const kept = rows.length ? `; the ${rows.length} world(s) finished are in ${partial}` : "";
  process.stderr.write(
    `bench/flicker-sources.ts: ${step} failed: ${(err as Error).message}${kept}; ${out} unchanged\n`,
  );
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (process.exitCode === 1) process.exit(1);
await save(out);
rmSync(partial, { force: true });

const g = (v: number | null) => (v === null ? "n/a" : v.toFixed(3));
const lines = [
  "| world / seed | learning | frozen final model | ground-truth outputs | frozen / learning | costmap ρ: learning / frozen / ground-truth outputs |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows.map(
    (r) =>
      `| ${r.world} s${r.seed} | ${f(r.learning)} | ${f(r.frozen)} | ${f(r.truth)} | ${
        r.learning && r.frozen !== null ? `${Math.round((100 * r.frozen) / r.learning)} %` : "n/a"
      } | ${g(r.costmapRho.learning)} / ${g(r.costmapRho.frozen)} / ${g(r.costmapRho.truth)} |`,
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
process.stderr.write(`results: ${out}\n`);
