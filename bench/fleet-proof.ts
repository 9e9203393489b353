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
//   fleet2, imu2, solo2  the same with B's second route (fleet-b2, fleet-b2-imu: B starts where
//           its own terrains join the grass, so "does A know B's ground" is asked on B's frames)
//   faults  A and B share through a broker with per-robot accounts and the fleet ACL, which is
//           killed at 60 s and restarted at 80 s; a peer publishes garbage and samples of another
//           backbone every second; a robot without credentials tries to join
// Bags: node bin/terrain-learner.js sim --world sim/worlds/fleet-<x>.yaml --duration 240 --seed S
//   --out .cache/fleet/<x>.mcap (a, b, b-imu, b2, b2-imu: seed 1; c: seed 2).
// Run: node --import tsx bench/fleet-proof.ts --scenario fleet|imu|solo [--duration 180] [--out FILE]
//   [--record-traffic FILE.jsonl]: every fleet message on the broker (topic, wall s, base64), the
//   traffic bench/fleet-load.ts replays.

import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { fleetModel } from "../src/adapters/fleet-model.ts";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { pairAccuracy, type TerrainScore, terrainRho } from "../src/eval/knowledge-metrics.ts";
import { spearman } from "../src/eval/metrics.ts";
import type { ProbeSet } from "../src/eval/probe-set.ts";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { encodeBatch } from "../src/fleet/codec.ts";
import { openBag } from "../src/io/bag/index.ts";
import type { BagEvent } from "../src/io/bag/types.ts";
import { defaultConfig, loadConfig } from "../src/runtime/config.ts";
import { createPipeline, type Pipeline, readAhead } from "../src/runtime/pipeline.ts";
import { chooseProbeSet } from "../src/runtime/probe-prepass.ts";
import { Mosquitto } from "../tests/helpers/mosquitto.ts";

const USAGE = `usage: node --import tsx bench/fleet-proof.ts [options]

  --scenario NAME         fleet (A, B share; C joins at 120 s) | imu | solo | faults, or fleet2 |
                          imu2 | solo2 with B's second route (default fleet)
  --duration S            sensor seconds to replay (default 180)
  --out FILE              results JSON (default bench/fleet-proof-<scenario>.json)
  --bags DIR              where a, b, b-imu, b2, b2-imu, c .mcap are (default .cache/fleet)
  -c, --config FILE       config YAML for every robot (repeatable; later files win)
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
      config: { type: "string", short: "c", multiple: true },
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
if (!["fleet", "imu", "solo", "faults", "fleet2", "imu2", "solo2"].includes(scenario)) {
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

// B's second route: the same scenarios with b2 in place of b.
const second = scenario.endsWith("2");
const kind = second ? scenario.slice(0, -1) : scenario;
const bOf = (x: string) => (second ? x.replace(/^b/, "b2") : x);
const specs: RobotSpec[] = (
  kind === "fleet"
    ? [
        { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
        { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: true },
        { id: "c", bag: `${dir}/c.mcap`, joinAt: 120, fleet: true },
      ]
    : kind === "faults"
      ? [
          { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
          { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: true },
        ]
      : kind === "imu"
        ? [
            { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: true },
            { id: "b-imu", bag: `${dir}/b-imu.mcap`, joinAt: 0, fleet: true },
          ]
        : [
            { id: "a", bag: `${dir}/a.mcap`, joinAt: 0, fleet: false },
            { id: "b", bag: `${dir}/b.mcap`, joinAt: 0, fleet: false },
            { id: "b-imu", bag: `${dir}/b-imu.mcap`, joinAt: 0, fleet: false },
            { id: "c", bag: `${dir}/c.mcap`, joinAt: 120, fleet: false },
          ]
).map((r) => ({
  ...r,
  id: bOf(r.id),
  bag: r.bag.replace(/\/(b[^/]*)\.mcap$/, (_, b: string) => `/${bOf(b)}.mcap`),
}));

const missing = specs.filter((s) => !existsSync(s.bag));
if (missing.length) {
  const make = (bag: string) => {
    const x = bag.replace(/^.*\//, "").replace(/\.mcap$/, "");
    return `  node bin/terrain-learner.js sim --world sim/worlds/fleet-${x}.yaml --duration 240 --seed ${x === "c" ? 2 : 1} --out ${bag}`;
  };
  process.stderr.write(
    `fleet-proof: missing bags; make them with\n${missing.map((s) => make(s.bag)).join("\n")}\n`,
  );
  process.exit(2);
}

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
  /** Its bag's knowledge probe (held out of its training); every robot's head scores the union. */
  probe: ProbeSet | undefined;
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

const configFiles = opts.config ?? [];
async function startRobot(spec: RobotSpec): Promise<Robot> {
  const config = configFiles.length ? loadConfig(configFiles) : defaultConfig();
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
  // The learning issue's probe set, chosen from the whole bag before replay (probe-prepass.ts): its
  // frames never train this robot, so no robot ever receives a sample of them.
  const probe = await chooseProbeSet(
    source,
    info,
    config,
    simMetadata,
    (f) => pipeline.frameFeatures(f),
    (m) => console.error(`[${spec.id}] ${m}`),
    { frames: 48 },
  );
  if (probe) pipeline.useProbeSet(probe, { score: false });
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
    probe,
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
// The fleet's probe: every robot's probe cells together, scored by every started head every
// PROBE_EVERY s of schedule time.
const PROBE_EVERY = 5;
const probeSets = robots.flatMap((r) => (r.probe ? [r.probe] : []));
const probeChannels = probeSets[0]?.channels ?? 0;
const probeTypes = probeSets.flatMap((p) => p.cells.map((c) => c.type));
const probeTruth = probeSets.flatMap((p) => p.cells.map((c) => c.truth));
const probeFeatures = new Float32Array(probeTypes.length * probeChannels);
{
  let o = 0;
  for (const p of probeSets) {
    probeFeatures.set(p.features.subarray(0, p.cells.length * probeChannels), o);
    o += p.cells.length * probeChannels;
  }
}
const probeNames = new Map<number, string>();
for (const p of probeSets) for (const t of p.terrains) probeNames.set(t.index, t.name);
/** Per probe point: time, and per robot the mean prediction per terrain index. */
const probeCurve: { t: number; means: Record<string, Record<number, number>> }[] = [];
let nextProbe = 0;
function scoreProbe(t: number): void {
  if (probeTypes.length === 0) return;
  const means: Record<string, Record<number, number>> = {};
  for (const r of robots) {
    if (!r.started) continue;
    const pred = r.pipeline.learner.predict(probeFeatures, probeTypes.length).roughness;
    const acc = new Map<number, [number, number]>();
    for (let i = 0; i < probeTypes.length; i++) {
      const a = acc.get(probeTypes[i]!) ?? [0, 0];
      a[0] += pred[i]!;
      a[1]++;
      acc.set(probeTypes[i]!, a);
    }
    means[r.spec.id] = Object.fromEntries([...acc].map(([k, [sum, n]]) => [k, sum / n]));
  }
  probeCurve.push({ t, means });
}
const probeTypeTruth = new Map<number, number>();
for (let i = 0; i < probeTypes.length; i++) probeTypeTruth.set(probeTypes[i]!, probeTruth[i]!);
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
  while (t >= nextProbe) {
    scoreProbe(nextProbe);
    nextProbe += PROBE_EVERY;
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

/**
 * The learning issue's terrain ranking on the cells of several robots' frames: Spearman of each
 * terrain's mean prediction by robot y against its true roughness, over the terrains in `set` with
 * at least 50 scored cells in [from, to].
 */
function ranking(
  observers: Robot[],
  y: number,
  set: Set<number>,
  from: number,
  to: number,
): { rho: number | null; terrains: { index: number; cells: number; mean: number; truth: number }[] } {
  const acc = new Map<number, { n: number; p: number; g: number }>();
  for (const x of observers) {
    const c = x.cells;
    const pred = c.pred[y]!;
    for (let i = 0; i < c.t.length; i++) {
      if (c.t[i]! < from || c.t[i]! > to || !set.has(c.terrain[i]!) || !Number.isFinite(pred[i]!)) continue;
      const a = acc.get(c.terrain[i]!) ?? { n: 0, p: 0, g: 0 };
      a.n++;
      a.p += pred[i]!;
      a.g += c.truth[i]!;
      acc.set(c.terrain[i]!, a);
    }
  }
  const terrains = [...acc.entries()]
    .filter(([, a]) => a.n >= 50)
    .map(([index, a]) => ({ index, cells: a.n, mean: a.p / a.n, truth: a.g / a.n }))
    .sort((a, b) => a.truth - b.truth);
  const scores: TerrainScore[] = terrains.map((t) => ({ ...t, confidence: 1 }));
  return { rho: terrainRho(scores), terrains };
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
        terrainRhoOwner: round3(ranking([x], xi, only, from, to).rho ?? Number.NaN),
        terrainRhoKnower: round3(ranking([x], yi, only, from, to).rho ?? Number.NaN),
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
// A late joiner J, terrain ranking: over every robot's frames (J's own included), the terrains a
// peer drove and J never did; J's per-terrain means against the truth next to each peer's, in
// windows from J's start.
const terrainName = (r: Robot, index: number) =>
  r.terrains.find((t) => t.index === index)?.name ?? String(index);
for (const [ji, j] of robots.entries()) {
  if (!(j.spec.joinAt > 0)) continue;
  const byPeers = new Set(robots.filter((r) => r !== j).flatMap((r) => [...drivenBy.get(r.spec.id)!]));
  const set = new Set(
    j.terrains
      .filter((t) => byPeers.has(t.name) && !drivenBy.get(j.spec.id)!.has(t.name))
      .map((t) => t.index),
  );
  const row = (from: number, to: number) => {
    const mine = ranking(robots, ji, set, from, to);
    const peers: Record<string, number | null> = {};
    for (const [yi, y] of robots.entries())
      if (yi !== ji) peers[y.spec.id] = round3(ranking(robots, yi, set, from, to).rho ?? Number.NaN);
    return {
      window: { from, to },
      terrainRhoJoiner: round3(mine.rho ?? Number.NaN),
      terrainRhoPeers: peers,
      terrains: mine.terrains.map((t) => ({
        name: terrainName(j, t.index),
        truth: round3(t.truth),
        mean: round3(t.mean),
        cells: t.cells,
      })),
    };
  };
  const from = j.spec.joinAt;
  const end = Math.min(
    duration,
    Math.max(...robots.map((r) => r.cells.t.reduce((a, b) => Math.max(a, b), 0))),
  );
  const windows = [5, 10, 20, 60].map((w) => row(from, from + w));
  const curve: ReturnType<typeof row>[] = [];
  for (let t = from; t + 10 <= end + 1e-9; t += 10) curve.push(row(t, t + 10));
  pairs.push({
    knower: j.spec.id,
    question: `late joiner ${j.spec.id}: terrain ranking (per-terrain mean prediction vs truth) on every robot's frames, terrains a peer drove and ${j.spec.id} never did, from its start`,
    terrains: [...set].map((i) => terrainName(j, i)),
    windows,
    curve,
  });
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
// The probe (the learning issue's terrain ranking): per point, each head's per-terrain means over
// a terrain set, Spearman against the truth and the fraction of pairs ordered right.
const probeScore = (id: string, point: (typeof probeCurve)[number], set: Set<string>) => {
  const m = point.means[id];
  if (!m) return { terrainRho: null, pairAccuracy: null };
  const scores: TerrainScore[] = [...probeTypeTruth]
    .filter(([k]) => set.has(probeNames.get(k) ?? "") && m[k] !== undefined)
    .map(([index, truth]) => ({ index, truth, mean: m[index]!, confidence: 1 }));
  return {
    terrainRho: round3(terrainRho(scores) ?? Number.NaN),
    pairAccuracy: round3(pairAccuracy(scores) ?? Number.NaN),
  };
};
const drivenByAny = new Set(robots.flatMap((r) => [...drivenBy.get(r.spec.id)!]));
const probeQuestions: Record<string, unknown>[] = [
  {
    question: "each head's ranking of every terrain any robot of the run drove",
    terrains: [...drivenByAny],
    curve: probeCurve.map((p) => ({
      t: p.t,
      ...Object.fromEntries(robots.map((r) => [r.spec.id, probeScore(r.spec.id, p, drivenByAny)])),
    })),
  },
];
for (const x of robots)
  for (const y of robots) {
    if (x === y) continue;
    const only = new Set([...drivenBy.get(x.spec.id)!].filter((n) => !drivenBy.get(y.spec.id)!.has(n)));
    if (only.size < 3) continue;
    probeQuestions.push({
      question: `${y.spec.id}'s ranking of the terrains ${x.spec.id} drove and ${y.spec.id} did not, next to ${x.spec.id}'s`,
      owner: x.spec.id,
      knower: y.spec.id,
      terrains: [...only],
      curve: probeCurve.map((p) => ({
        t: p.t,
        owner: probeScore(x.spec.id, p, only),
        knower: probeScore(y.spec.id, p, only),
      })),
    });
  }
for (const j of robots) {
  if (!(j.spec.joinAt > 0)) continue;
  const byPeers = new Set(robots.filter((r) => r !== j).flatMap((r) => [...drivenBy.get(r.spec.id)!]));
  const never = new Set([...byPeers].filter((n) => !drivenBy.get(j.spec.id)!.has(n)));
  const at = (t: number) => probeCurve.find((p) => Math.abs(p.t - t) < 1e-6);
  // What the fleet knows of that ground at the moment: each terrain's mean by the peers that drove
  // it (averaged when several did), ranked like a head's.
  const drivers = (point: (typeof probeCurve)[number]) => {
    const scores: TerrainScore[] = [];
    for (const [index, truth] of probeTypeTruth) {
      const name = probeNames.get(index) ?? "";
      if (!never.has(name)) continue;
      const ms = robots
        .filter((r) => r !== j && drivenBy.get(r.spec.id)!.has(name))
        .map((r) => point.means[r.spec.id]?.[index])
        .filter((v): v is number => v !== undefined);
      if (ms.length)
        scores.push({ index, truth, mean: ms.reduce((a, b) => a + b, 0) / ms.length, confidence: 1 });
    }
    return {
      terrainRho: round3(terrainRho(scores) ?? Number.NaN),
      pairAccuracy: round3(pairAccuracy(scores) ?? Number.NaN),
    };
  };
  probeQuestions.push({
    question: `late joiner ${j.spec.id}: its ranking of the terrains a peer drove and it never did, at times after it joined, next to every robot's`,
    joiner: j.spec.id,
    terrains: [...never],
    points: [0, 5, 10, 20, 30, 60]
      .map((w) => ({ w, p: at(j.spec.joinAt + w) }))
      .filter((q) => q.p)
      .map(({ w, p }) => ({
        afterJoin: w,
        t: p!.t,
        ...Object.fromEntries(robots.map((r) => [r.spec.id, probeScore(r.spec.id, p!, never)])),
        drivers: drivers(p!),
        means: Object.fromEntries(
          [...never].map((n) => {
            const k = [...probeNames].find(([, v]) => v === n)?.[0];
            return [
              n,
              {
                truth: round3(probeTypeTruth.get(k ?? -1) ?? Number.NaN),
                ...Object.fromEntries(
                  robots.map((r) => [r.spec.id, round3(p!.means[r.spec.id]?.[k ?? -1] ?? Number.NaN)]),
                ),
              },
            ];
          }),
        ),
      })),
  });
}
const probeDoc = {
  note: "each robot's bag's knowledge probe (chosen before replay, frames held out of that robot's training), pooled; scored by every started head every 5 s",
  terrains: [...probeTypeTruth].map(([k, truth]) => ({
    name: probeNames.get(k),
    truth: round3(truth),
    cells: probeTypes.filter((x) => x === k).length,
  })),
  questions: probeQuestions,
};
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
  config: configFiles,
  wallSeconds: (performance.now() - wall0) / 1000,
  note: "rho: Spearman of predicted vs true roughness over scored cells (1..8 m, no terrain boundaries), prequential",
  pairs,
  probe: probeDoc,
  results,
  ...(faults ? { faults: { log: faultLog, stranger: strangerState } } : {}),
};
writeFileSync(`${out}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
(await import("node:fs")).renameSync(`${out}.tmp`, out);
for (const p of pairs) console.log(JSON.stringify(p, (k, v) => (k === "curve" ? undefined : v)));
for (const q of probeQuestions) console.log(JSON.stringify(q, (k, v) => (k === "curve" ? undefined : v)));
