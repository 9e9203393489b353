// Fleet learning, measured: robots replaying simulator bags side by side (one process, inputs
// interleaved by sensor time) with a real Mosquitto on 127.0.0.1. Scoring is prequential and crossed:
// on every 3rd frame of every robot X, each robot Y's head (as it is at that moment) predicts X's
// cells, scored against the ground truth. A robot rarely looks at ground its route avoids, so "does
// A know the terrains only B drove" is asked on B's frames: ρ of A's predictions on the cells of
// B-only terrains, next to ρ of B's own predictions there. Scenarios:
//   fleet   A and B (fleet-a/fleet-b worlds: complementary driven terrains) share; C (fleet-c) joins
//           at 120 s
//   imu     A and B with another IMU mounting (fleet-b-imu) share
//   solo    A, B, B-imu and C each alone (no broker): the baseline
//   faults  A and B share through a broker with per-robot accounts and the fleet ACL, which is
//           killed at 60 s and restarted at 80 s; a peer publishes garbage and samples of another
//           backbone every second; a robot without credentials tries to join
// Bags: node bin/terrain-learner.js sim --world sim/worlds/fleet-<x>.yaml --duration 240 --seed S
//   --out .cache/fleet/<x>.mcap (a: seed 1, b: seed 1, b-imu: seed 1, c: seed 2).
// Run: node --import tsx bench/fleet-proof.ts --scenario fleet|imu|solo [--duration 180] [--out FILE]
//   [--record-traffic FILE.jsonl]: every fleet message on the broker (topic, wall s, base64), the
//   traffic bench/fleet-load.ts replays.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { FleetLink, fleetModel } from "../src/adapters/mqtt-fleet.ts";
import { spearman } from "../src/eval/metrics.ts";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { encodeBatch } from "../src/fleet/codec.ts";
import { openBag } from "../src/io/bag/index.ts";
import type { BagEvent } from "../src/io/bag/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type Pipeline, readAhead } from "../src/runtime/pipeline.ts";
import { Mosquitto } from "../tests/helpers/mosquitto.ts";

const USAGE = `usage: node --import tsx bench/fleet-proof.ts [options]

  --scenario NAME         fleet (A, B share; C joins at 120 s) | imu | solo | faults (default fleet)
  --duration S            sensor seconds to replay (default 180)
  --out FILE              results JSON (default bench/fleet-proof-<scenario>.json)
  --bags DIR              where a.mcap, b.mcap, b-imu.mcap, c.mcap are (default .cache/fleet)
  --record-traffic FILE   also write every fleet message on the broker as JSON lines
  -h, --help              this text`;
let opts: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      scenario: { type: "string", default: "fleet" },
      duration: { type: "string", default: "180" },
      out: { type: "string" },
      bags: { type: "string", default: ".cache/fleet" },
      "record-traffic": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }).values;
}
try {
  opts = parseOptions();
} catch (err) {
  process.stderr.write(`fleet-proof: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const scenario = opts.scenario;
if (!["fleet", "imu", "solo", "faults"].includes(scenario)) {
  process.stderr.write(`fleet-proof: unknown scenario ${scenario}\n${USAGE}\n`);
  process.exit(2);
}
const duration = Number(opts.duration);
if (!(duration > 0)) {
  process.stderr.write(`fleet-proof: --duration must be a positive number of seconds\n`);
  process.exit(2);
}
const out = opts.out ?? `bench/fleet-proof-${scenario}.json`;
const dir = opts.bags;

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
    : scenario === "faults"
      ? [
          { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
          { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: true },
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
  truth: number[];
  /** Predictions of each robot's head (by robot index); NaN before it started. */
  pred: number[][];
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
  /** Its first input is in: it predicts, and (a late joiner) only now connects to the fleet. */
  started: boolean;
  close: () => Promise<void>;
}

const faults = scenario === "faults";
const password = (id: string) => `${id}-fleet-pw`;
async function authBroker(): Promise<Mosquitto> {
  const bdir = mkdtempSync(join(tmpdir(), "tl-fleet-proof-"));
  const passwords = join(bdir, "passwd");
  writeFileSync(passwords, "");
  for (const u of ["a", "b", "junk"])
    spawnSync("mosquitto_passwd", ["-b", passwords, u, password(u)], { stdio: "ignore" });
  chmodSync(passwords, 0o644);
  copyFileSync("launch/fleet-acl.conf", join(bdir, "acl"));
  return Mosquitto.create({ dir: bdir, auth: { passwordFile: passwords, aclFile: join(bdir, "acl") } });
}
const broker = faults
  ? await authBroker()
  : specs.some((s) => s.fleet)
    ? await Mosquitto.create()
    : undefined;
const recordPath = opts["record-traffic"];
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
  if (faults) {
    config.fleet.username = spec.id;
    config.fleet.password = password(spec.id);
  }
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
  const cells: Cells = { t: [], terrain: [], truth: [], pred: specs.map(() => []) };
  const t0 = info.start;
  let frameNo = 0;
  pipeline.taps.frames$.subscribe((f) => {
    if (frameNo++ % 3) return;
    const truth = pipeline.truthFor(f.stamp, f.grid) as
      | { roughness: Float32Array; terrain: Int16Array; boundary: Uint8Array; range: Float32Array }
      | undefined;
    if (!truth) return;
    const n = f.features.rows * f.features.cols;
    const preds = robots.map((y) =>
      y.started ? y.pipeline.learner.predict(f.features.data, n).roughness : undefined,
    );
    for (let k = 0; k < n; k++) {
      const gt = truth.roughness[k]!;
      const r = truth.range[k]!;
      if (!Number.isFinite(gt) || truth.boundary[k] || !(r >= 1 && r <= 8)) continue;
      cells.t.push(f.stamp - t0);
      cells.terrain.push(truth.terrain[k]!);
      cells.truth.push(gt);
      preds.forEach((p, y) => {
        cells.pred[y]!.push(p ? p[k]! : Number.NaN);
      });
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
    started: false,
    close: async () => {
      await fleet?.close();
      await pipeline.close();
      await source.close();
    },
  };
}

const robots: Robot[] = [];
for (const spec of specs) robots.push(await startRobot(spec));
const schedule = (r: Robot, e: BagEvent) => (e.type === "message" ? e.logTime : r.t0) - r.t0 + r.spec.joinAt;
// Faults: a junk peer, a robot without credentials, the broker down from 60 to 80 s.
const junk =
  faults && broker
    ? await mqtt.connectAsync(broker.url, {
        username: "junk",
        password: password("junk"),
        reconnectPeriod: 500,
      })
    : undefined;
let stranger: FleetLink | undefined;
let junkPayloads: Buffer[] = [];
const faultLog: string[] = [];
if (faults && broker) {
  const config = defaultConfig();
  config.mqtt.robot_id = "stranger";
  config.fleet.url = broker.url;
  stranger = new FleetLink(config);
  const p0 = robots[0]!.pipeline;
  const m = fleetModel(config, p0.backbone.channels, p0.learner.channels);
  stranger.start(m);
  const n = 20;
  const wrong = encodeBatch({
    kind: "samples",
    robotId: "junk",
    model: { ...m, backboneHash: new Uint8Array(16).fill(0xee) },
    targetKind: "logEnergy",
    n,
    seq: 0,
    stamp: 0,
    sent: 0,
    lo: -1,
    hi: 1,
    targets: new Float32Array(n).fill(0.5),
    weights: new Float32Array(n).fill(1),
    features: new Float32Array(n * m.channels).fill(1),
  });
  junkPayloads = [Buffer.from("garbage, not a batch"), Buffer.from(wrong), Buffer.alloc(64, 0xff)];
}
let nextFault = 1;
// Interleave by sensor time; let the broker's messages in every 50 ms of sensor time.
let lastTick = 0;
for (;;) {
  let best: Robot | undefined;
  for (const r of robots) if (r.next && (!best || schedule(r, r.next) < schedule(best, best.next!))) best = r;
  if (!best) break;
  const t = schedule(best, best.next!);
  if (t > duration) break;
  if (!best.started) {
    best.started = true;
    best.fleet?.attach(best.pipeline);
    if (best.fleet) await best.fleet.waitConnected();
    // The retained snapshots arrive with the subscription.
    await new Promise((r) => setTimeout(r, 300));
  }
  await best.pipeline.push(best.next!);
  const n = await best.it.next();
  best.next = n.done ? undefined : n.value;
  if (faults && broker && t >= nextFault) {
    nextFault = Math.floor(t) + 1;
    if (junk?.connected) for (const p of junkPayloads) junk.publish("terrain-learner/fleet/junk/samples", p);
    if (t >= 60 && t < 80 && broker.running) {
      await broker.stop();
      faultLog.push(`broker killed at ${t.toFixed(1)} s`);
    }
    if (t >= 80 && !broker.running) {
      await broker.start();
      faultLog.push(`broker restarted at ${t.toFixed(1)} s`);
    }
  }
  if (t - lastTick > 0.05) {
    lastTick = t;
    await tick();
    if (Math.floor(t) % 20 === 0 && t - Math.floor(t) < 0.05)
      console.error(`t=${t.toFixed(0)} s, wall ${((performance.now() - wall0) / 1000).toFixed(0)} s`);
  }
}

function rho(
  c: Cells,
  y: number,
  set: Set<number>,
  from: number,
  to: number,
): { rho: number; cells: number } {
  const p: number[] = [];
  const g: number[] = [];
  const pred = c.pred[y]!;
  for (let i = 0; i < c.t.length; i++) {
    if (c.t[i]! < from || c.t[i]! > to || !set.has(c.terrain[i]!) || !Number.isFinite(pred[i]!)) continue;
    p.push(pred[i]!);
    g.push(c.truth[i]!);
  }
  return { rho: p.length > 20 ? spearman(p, g) : Number.NaN, cells: p.length };
}

const summaries = new Map<string, Awaited<ReturnType<Pipeline["finish"]>>>();
for (const r of robots) summaries.set(r.spec.id, await r.pipeline.finish());
const drivenBy = new Map<string, Set<string>>();
for (const r of robots) {
  const terr = summaries.get(r.spec.id)!.eval?.terrains ?? [];
  r.terrains = terr;
  drivenBy.set(r.spec.id, new Set(terr.filter((x) => x.driven).map((x) => x.name)));
}
const round3 = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null);
// On observer X's frames, for each other robot Y: the terrains X drove and Y did not; ρ of X's own
// head there and of Y's head there, over the final minute and in 20 s windows.
const pairs: Record<string, unknown>[] = [];
for (const [xi, x] of robots.entries()) {
  const end = x.cells.t.reduce((a, b) => Math.max(a, b), 0);
  for (const [yi, y] of robots.entries()) {
    if (yi === xi) continue;
    const only = new Set(
      x.terrains
        .filter((t) => drivenBy.get(x.spec.id)!.has(t.name) && !drivenBy.get(y.spec.id)!.has(t.name))
        .map((t) => t.index),
    );
    // After the first minute (a robot starts knowing nothing), and the last minute alone.
    const windows =
      x.spec.joinAt > 0 ? { all: [0, end] } : { afterFirstMinute: [60, end], lastMinute: [end - 60, end] };
    const scored: Record<string, unknown> = {};
    for (const [name, [from, to]] of Object.entries(windows) as [string, [number, number]][]) {
      const own = rho(x.cells, xi, only, from, to);
      const peer = rho(x.cells, yi, only, from, to);
      scored[name] = {
        from: round3(from),
        to: round3(to),
        rhoOwner: round3(own.rho),
        rhoKnower: round3(peer.rho),
        ratio: round3(peer.rho / own.rho),
        cells: own.cells,
      };
    }
    const curve: Record<string, unknown>[] = [];
    for (let w = 0; w < end; w += 20)
      curve.push({
        t: w + 20,
        own: round3(rho(x.cells, xi, only, w, w + 20).rho),
        peer: round3(rho(x.cells, yi, only, w, w + 20).rho),
      });
    pairs.push({
      on: x.spec.id,
      knower: y.spec.id,
      question: `${y.spec.id}'s head on ${x.spec.id}'s frames, terrains ${x.spec.id} drove and ${y.spec.id} did not`,
      terrains: x.terrains.filter((t) => only.has(t.index)).map((t) => t.name),
      ...scored,
      curve,
    });
  }
}
// A late joiner J: within its first 10 / 20 / 60 s, its head on the frames of the robots already
// there, over the terrains J never drove, next to each frame owner's own head.
for (const [ji, j] of robots.entries()) {
  if (!(j.spec.joinAt > 0)) continue;
  const never = new Set(j.terrains.filter((t) => !drivenBy.get(j.spec.id)!.has(t.name)).map((t) => t.index));
  for (const w of [10, 20, 60])
    for (const [xi, x] of robots.entries()) {
      if (x.spec.joinAt > 0) continue;
      const from = j.spec.joinAt;
      const own = rho(x.cells, xi, never, from, from + w);
      const joiner = rho(x.cells, ji, never, from, from + w);
      pairs.push({
        on: x.spec.id,
        knower: j.spec.id,
        question: `late joiner ${j.spec.id}, its first ${w} s: its head on ${x.spec.id}'s frames, terrains ${j.spec.id} never drove`,
        window: { from, to: from + w },
        rhoOwner: round3(own.rho),
        rhoKnower: round3(joiner.rho),
        ratio: round3(joiner.rho / own.rho),
        cells: own.cells,
      });
    }
}
const results = robots.map((r) => {
  const s = summaries.get(r.spec.id)!;
  return {
    robot: r.spec.id,
    bag: r.spec.bag,
    joinAt: r.spec.joinAt,
    fleet: r.spec.fleet,
    driven: [...drivenBy.get(r.spec.id)!],
    evalSpearman: s.eval?.spearman,
    evalBaselineSpearman: s.eval?.baseline.spearman,
    sensorSeconds: s.sensorSeconds,
    labels: s.labels,
    fleetStats: s.fleet,
  };
});
const strangerState = stranger
  ? { connected: stranger.connected, lastError: stranger.stats().lastError }
  : undefined;
await stranger?.close();
await junk?.endAsync(true);
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
  pairs,
  results,
  ...(faults ? { faults: { log: faultLog, stranger: strangerState } } : {}),
};
writeFileSync(`${out}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
(await import("node:fs")).renameSync(`${out}.tmp`, out);
for (const p of pairs) console.log(JSON.stringify(p, (k, v) => (k === "curve" ? undefined : v)));
