// Fleet learning, measured: robots replaying simulator bags side by side (one process, inputs
// interleaved by sensor time) with a real Mosquitto on 127.0.0.1, each scored prequentially on the
// cells of three groups of terrains: those it drove itself, those only a peer drove, those nobody
// drove. Scenarios:
//   fleet   A and B (fleet-a/fleet-b worlds: complementary driven terrains) share; C (fleet-c) joins
//           at 120 s
//   imu     A and B with another IMU mounting (fleet-b-imu) share
//   solo    A, B, B-imu and C each alone (no broker): the baseline
// Bags: node bin/terrain-learner.js sim --world sim/worlds/fleet-<x>.yaml --duration 240 --seed S
//   --out .cache/fleet/<x>.mcap (a: seed 1, b: seed 1, b-imu: seed 1, c: seed 2).
// Run: node --import tsx bench/fleet-proof.ts --scenario fleet|imu|solo [--duration 180] [--out FILE]
//   [--record-traffic FILE.jsonl]: every fleet message on the broker (topic, wall s, base64), the
//   traffic bench/fleet-load.ts replays.

import { writeFileSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import mqtt from "mqtt";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { spearman } from "../src/eval/metrics.ts";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { openBag } from "../src/io/bag/index.ts";
import type { BagEvent } from "../src/io/bag/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type Pipeline, readAhead } from "../src/runtime/pipeline.ts";
import { Mosquitto } from "../tests/helpers/mosquitto.ts";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const scenario = arg("--scenario", "fleet");
const duration = Number(arg("--duration", "180"));
const out = arg("--out", `bench/fleet-proof-${scenario}.json`);
const dir = arg("--bags", ".cache/fleet");

interface RobotSpec {
  id: string;
  bag: string;
  /** Sensor seconds after the others' start when this robot starts. */
  joinAt: number;
  fleet: boolean;
}

const specs: RobotSpec[] =
  scenario === "fleet"
    ? [
        { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
        { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: true },
        { id: "c", bag: `${dir}/c.mcap`, joinAt: 120, fleet: true },
      ]
    : scenario === "imu"
      ? [
          { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
          { id: "b-imu", bag: `${dir}/b-imu.mcap`, joinAt: 0, fleet: true },
        ]
      : [
          { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: false },
          { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: false },
          { id: "b-imu", bag: `${dir}/b-imu.mcap`, joinAt: 0, fleet: false },
          { id: "c", bag: `${dir}/c.mcap`, joinAt: 120, fleet: false },
        ];

interface Cells {
  t: number[];
  terrain: number[];
  pred: number[];
  truth: number[];
}

interface Robot {
  spec: RobotSpec;
  pipeline: Pipeline;
  fleet: FleetLink | undefined;
  it: AsyncIterator<BagEvent>;
  next: BagEvent | undefined;
  t0: number;
  cells: Cells;
  terrains: { index: number; name: string; roughness: number; driven: boolean }[];
  close: () => Promise<void>;
}

const broker = specs.some((s) => s.fleet) ? await Mosquitto.create() : undefined;
const recordPath = args.includes("--record-traffic") ? arg("--record-traffic", "") : undefined;
const recorder = recordPath && broker ? await mqtt.connectAsync(broker.url) : undefined;
const recorded: string[] = [];
if (recorder) {
  await recorder.subscribeAsync("terrain-learner/fleet/#", { qos: 1 });
  recorder.on("message", (topic, payload) =>
    recorded.push(JSON.stringify({ topic, t: Date.now() / 1000, data: payload.toString("base64") })),
  );
}
const wall0 = performance.now();

async function startRobot(spec: RobotSpec): Promise<Robot> {
  const config = defaultConfig();
  config.mqtt.robot_id = spec.id;
  if (spec.fleet && broker) config.fleet.url = broker.url;
  const source = await openBag(spec.bag);
  const info = await source.info();
  const simMetadata = await readMcapMetadata(spec.bag);
  const fleet = spec.fleet
    ? new FleetLink(config, { log: (l) => console.error(`[${spec.id}] ${l}`) })
    : undefined;
  const pipeline = await createPipeline(config, {
    mode: "replay",
    evaluate: true,
    simMetadata,
    overlay: false,
    costmap: false,
    sampleSources: fleet ? [fleet] : [],
    warn: (m) => console.error(`[${spec.id}] ${m}`),
  });
  fleet?.attach(pipeline);
  const cells: Cells = { t: [], terrain: [], pred: [], truth: [] };
  const t0 = info.start;
  pipeline.taps.frames$.subscribe((f) => {
    const truth = pipeline.truthFor(f.stamp, f.grid) as
      | { roughness: Float32Array; terrain: Int16Array; boundary: Uint8Array; range: Float32Array }
      | undefined;
    if (!truth) return;
    for (let k = 0; k < f.grid.roughness.length; k++) {
      const gt = truth.roughness[k]!;
      const p = f.grid.roughness[k]!;
      const r = truth.range[k]!;
      if (!Number.isFinite(gt) || !Number.isFinite(p) || truth.boundary[k] || !(r >= 1 && r <= 8)) continue;
      cells.t.push(f.stamp - t0);
      cells.terrain.push(truth.terrain[k]!);
      cells.pred.push(p);
      cells.truth.push(gt);
    }
  });
  const it = readAhead(pipeline, source.messages())[Symbol.asyncIterator]();
  const first = await it.next();
  return {
    spec,
    pipeline,
    fleet,
    it,
    next: first.done ? undefined : first.value,
    t0,
    cells,
    terrains: [],
    close: async () => {
      await fleet?.close();
      await pipeline.close();
      await source.close();
    },
  };
}

const robots = await Promise.all(specs.map(startRobot));
const schedule = (r: Robot, e: BagEvent) => (e.type === "message" ? e.logTime : r.t0) - r.t0 + r.spec.joinAt;
// Interleave by sensor time; let the broker's messages in every 50 ms of sensor time.
let lastTick = 0;
for (;;) {
  let best: Robot | undefined;
  for (const r of robots) if (r.next && (!best || schedule(r, r.next) < schedule(best, best.next!))) best = r;
  if (!best) break;
  const t = schedule(best, best.next!);
  if (t > duration) break;
  await best.pipeline.push(best.next!);
  const n = await best.it.next();
  best.next = n.done ? undefined : n.value;
  if (t - lastTick > 0.05) {
    lastTick = t;
    await tick();
    if (Math.floor(t) % 20 === 0 && t - Math.floor(t) < 0.05)
      console.error(`t=${t.toFixed(0)} s, wall ${((performance.now() - wall0) / 1000).toFixed(0)} s`);
  }
}

function rho(c: Cells, set: Set<number>, from: number, to: number): { rho: number; cells: number } {
  const p: number[] = [];
  const g: number[] = [];
  for (let i = 0; i < c.t.length; i++) {
    if (c.t[i]! < from || c.t[i]! > to || !set.has(c.terrain[i]!)) continue;
    p.push(c.pred[i]!);
    g.push(c.truth[i]!);
  }
  return { rho: p.length > 20 ? spearman(p, g) : Number.NaN, cells: p.length };
}

const results: Record<string, unknown>[] = [];
const summaries = new Map<string, Awaited<ReturnType<Pipeline["finish"]>>>();
for (const r of robots) summaries.set(r.spec.id, await r.pipeline.finish());
const drivenBy = new Map<string, Set<string>>();
for (const r of robots) {
  const terr = summaries.get(r.spec.id)!.eval?.terrains ?? [];
  r.terrains = terr;
  drivenBy.set(r.spec.id, new Set(terr.filter((x) => x.driven).map((x) => x.name)));
}
for (const r of robots) {
  const own = drivenBy.get(r.spec.id)!;
  // "Peers" are the other robots of the scenario that share (or would share) with it.
  const peers = robots.filter((p) => p !== r && p.spec.joinAt === 0);
  const peerDriven = new Set(peers.flatMap((p) => [...drivenBy.get(p.spec.id)!]));
  const idx = (pred: (name: string) => boolean) =>
    new Set(r.terrains.filter((x) => pred(x.name)).map((x) => x.index));
  const groups = {
    own: idx((n) => own.has(n)),
    peerOnly: idx((n) => !own.has(n) && peerDriven.has(n)),
    nobody: idx((n) => !own.has(n) && !peerDriven.has(n)),
    all: idx(() => true),
  };
  const end = r.cells.t.reduce((a, b) => Math.max(a, b), 0);
  const start = r.spec.joinAt > 0 ? 0 : Math.max(0, end - 60);
  const finalWindow: Record<string, unknown> = {};
  for (const [g, set] of Object.entries(groups)) finalWindow[g] = rho(r.cells, set, start, end);
  const curve: Record<string, unknown>[] = [];
  for (let w = 0; w < end; w += 10) {
    const row: Record<string, unknown> = { t: w + 10 };
    for (const [g, set] of Object.entries(groups)) row[g] = rho(r.cells, set, w, w + 10).rho;
    curve.push(row);
  }
  const s = summaries.get(r.spec.id)!;
  results.push({
    robot: r.spec.id,
    bag: r.spec.bag,
    joinAt: r.spec.joinAt,
    fleet: r.spec.fleet,
    terrains: {
      own: [...own],
      peerOnly: r.terrains.filter((x) => groups.peerOnly.has(x.index)).map((x) => x.name),
      nobody: r.terrains.filter((x) => groups.nobody.has(x.index)).map((x) => x.name),
    },
    window: { start, end },
    rho: finalWindow,
    curve,
    evalSpearman: s.eval?.spearman,
    evalBaselineSpearman: s.eval?.baseline.spearman,
    sensorSeconds: s.sensorSeconds,
    labels: s.labels,
    fleetStats: s.fleet,
  });
}
for (const r of robots) await r.close();
if (recorder && recordPath) {
  await recorder.endAsync();
  writeFileSync(`${recordPath}.tmp`, `${recorded.join("\n")}\n`);
  (await import("node:fs")).renameSync(`${recordPath}.tmp`, recordPath);
}
await broker?.close();
const doc = {
  scenario,
  duration,
  wallSeconds: (performance.now() - wall0) / 1000,
  note: "rho: Spearman of predicted vs true roughness over scored cells (1..8 m, no terrain boundaries), prequential",
  results,
};
writeFileSync(`${out}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
(await import("node:fs")).renameSync(`${out}.tmp`, out);
for (const r of results)
  console.log(JSON.stringify({ robot: r.robot, rho: r.rho, fleet: r.fleetStats ? "on" : "off" }));
