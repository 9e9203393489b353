// Does the label order come from the vibration or from the calibration? Per true terrain (under the
// true pose, /sim/ground_truth/pose), the speed-normalised log10 energy of the labels and their
// roughness as labelled, and Spearman ρ of each against the true roughness over all labels.
//
//   node bin/terrain-learner.js label BAG --json > labels.jsonl
//   node --import tsx bench/label-order.ts sim/worlds/default.yaml labels.jsonl BAG
//
// Also the within-terrain slope of log energy on log speed: 0 when the speed normalisation fits.

import { readFileSync } from "node:fs";
import { buildWorld, terrainAt } from "../sim/world.ts";
import { loadWorldFile } from "../sim/world-schema.ts";
import { spearman } from "../src/eval/metrics.ts";
import { openBag } from "../src/io/bag/index.ts";

const [worldPath, labelsPath, bagPath] = process.argv.slice(2);
if (!worldPath || !labelsPath || !bagPath) {
  console.error("usage: bench/label-order.ts WORLD.yaml LABELS.jsonl BAG");
  process.exit(2);
}
const world = buildWorld(loadWorldFile(worldPath), 1);

// True pose track (stamp → x, y).
const tp: number[] = [];
const xp: number[] = [];
const yp: number[] = [];
const bag = await openBag(bagPath);
for await (const e of bag.messages({ topics: ["/sim/ground_truth/pose"] })) {
  if (e.type !== "message") continue;
  const m = e.message as {
    header: { stamp: { sec: number; nanosec: number } };
    pose: { pose: { position: { x: number; y: number } } };
  };
  tp.push(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9);
  xp.push(m.pose.pose.position.x);
  yp.push(m.pose.pose.position.y);
}
await bag.close();
if (tp.length === 0) throw new Error(`${bagPath}: no /sim/ground_truth/pose`);
const poseAt = (t: number): [number, number] => {
  let lo = 0;
  let hi = tp.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (tp[mid]! <= t) lo = mid;
    else hi = mid;
  }
  return [xp[lo]!, yp[lo]!];
};

type Label = { t: number; energy: number; roughness: number; speed: number };
const labels = readFileSync(labelsPath, "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as Partial<Label>)
  .filter((l): l is Label => typeof l.t === "number" && l.energy! > 0 && l.speed! > 0);

const by = new Map<number, { e: number[]; v: number[]; r: number[] }>();
for (const l of labels) {
  const t = terrainAt(world, ...poseAt(l.t));
  if (t < 0) continue;
  const b = by.get(t) ?? { e: [], v: [], r: [] };
  by.set(t, b);
  b.e.push(Math.log10(l.energy));
  b.v.push(Math.log10(l.speed));
  b.r.push(l.roughness);
}
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
let sxy = 0;
let sxx = 0;
const truth: number[] = [];
const energy: number[] = [];
const rough: number[] = [];
for (const [t, b] of by) {
  const me = mean(b.e);
  const mv = mean(b.v);
  b.e.forEach((e, i) => {
    sxy += (b.v[i]! - mv) * (e - me);
    sxx += (b.v[i]! - mv) ** 2;
    truth.push(world.roughnessOf[t]!);
    energy.push(e);
    rough.push(b.r[i]!);
  });
}
const rows = [...by.entries()].sort((a, b) => world.roughnessOf[a[0]]! - world.roughnessOf[b[0]]!);
for (const [t, b] of rows) {
  const name = world.terrains[t]!.name.padEnd(10);
  console.log(
    `${name} true ${world.roughnessOf[t]!.toFixed(2)}  labels ${String(b.e.length).padStart(4)}  log10 energy ${mean(b.e).toFixed(2)}  roughness as labelled ${mean(b.r).toFixed(2)}`,
  );
}
const f = (a: number[]) => Float64Array.from(a);
console.log(`within-terrain slope of log10 energy on log10 speed: ${(sxy / sxx).toFixed(2)}`);
console.log(
  `Spearman vs truth over ${truth.length} labels: log10 energy ${spearman(f(energy), f(truth)).toFixed(3)}, roughness as labelled ${spearman(f(rough), f(truth)).toFixed(3)}`,
);
