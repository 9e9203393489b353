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
// model's view dependence. Deterministic in sensor time.
//
//   node --import tsx bench/flicker-sources.ts [--worlds default:1,campus:1] [--out FILE] [-c CONFIG]
//     [--truth-cells all|driven]
//
// --truth-cells: the learning run is taught the truth (replay --truth-labels --truth-cells), so the
// split is of a model taught every view (all) or every view of driven ground (driven).
//
// Bags: .cache/<world>-world-seed<N>.mcap, as `npm run bench:worlds -- --raw` makes them.

import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runReplay } from "../src/cli/replay.ts";
import { loadConfig } from "../src/runtime/config.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WORLDS = "default:1,default:2,default:3,default:4,default:5,patchwork:1,stripes:1,campus:1";
const USAGE = `usage: node --import tsx bench/flicker-sources.ts [options]

  --worlds LIST       world:seed,... (default ${WORLDS})
  --out FILE          JSON results (default bench/flicker-sources.json)
  -c, --config FILE   config file(s) for every run
  --truth-cells WHICH the learning run taught the truth of every view (all) or of driven ground
                      (driven): replay --truth-labels --truth-cells WHICH
  -h, --help          this text

Needs the raw-frame bags .cache/<world>-world-seed<N>.mcap (npm run bench:worlds -- --raw makes them).`;

interface Row {
  world: string;
  seed: number;
  learning: number | null;
  frozen: number | null;
  truth: number | null;
  rho: { learning: number; frozen: number };
}

const { values } = parseArgs({
  options: {
    worlds: { type: "string", default: WORLDS },
    out: { type: "string", default: "bench/flicker-sources.json" },
    config: { type: "string", short: "c", multiple: true },
    "truth-cells": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
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
  if (!name || !Number.isInteger(Number(seed ?? 1))) throw new Error(`--worlds: '${w}' is not world:seed`);
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
const loadBefore = loadavg();
const rows: Row[] = [];
const save = () => {
  mkdirSync(dirname(out), { recursive: true });
  const doc = {
    camera: "320x240 @ 15 Hz, raw-frame bags",
    learning: truthCells
      ? `taught the truth (replay --truth-labels --truth-cells ${truthCells})`
      : "vibration labels",
    loadBefore,
    loadAfter: loadavg(),
    rows,
  };
  writeFileSync(`${out}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
};

const tmp = mkdtempSync(join(tmpdir(), "tl-flicker-"));
try {
  for (const w of worlds) {
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
    process.stderr.write(`${label}: frozen final model ...\n`);
    const frozen = await runReplay({
      bag: w.bag,
      config: frozenConfig(),
      evaluate: true,
      reportDir: reportDir("frozen"),
      checkpoint: ck,
      ...quiet,
    });
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
    rows.push({
      world: w.name,
      seed: w.seed,
      learning: flicker(learning),
      frozen: flicker(frozen),
      truth: flicker(truth),
      rho: { learning: learning.eval?.spearman ?? Number.NaN, frozen: frozen.eval?.spearman ?? Number.NaN },
    });
    const r = rows.at(-1)!;
    process.stderr.write(
      `${label}: flicker learning ${r.learning?.toFixed(2)}, frozen ${r.frozen?.toFixed(2)}, truth ${r.truth?.toFixed(2)} (cost points/s)\n`,
    );
    save();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(2));
const lines = [
  "| world / seed | learning | frozen final model | ground-truth outputs | frozen / learning |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map(
    (r) =>
      `| ${r.world} s${r.seed} | ${f(r.learning)} | ${f(r.frozen)} | ${f(r.truth)} | ${
        r.learning && r.frozen !== null ? `${Math.round((100 * r.frozen) / r.learning)} %` : "n/a"
      } |`,
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
process.stderr.write(`results: ${out}\n`);
