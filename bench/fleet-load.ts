// Fleet load: N lightweight robots on one Mosquitto, each replaying recorded fleet traffic (the
// sample batches two learners published in bench/fleet-proof.ts --record-traffic) through the real
// fleet path: its own rows into a FleetLink at one batch per wall second, snapshots every
// snapshot_period, every peer's batches received, validated, pooled and fed (take) once a second.
// Reports bytes/s per robot out and in, delivery latency (publisher's wall clock to receiver's,
// one host; all robots share this process's event loop, so it includes their queueing), broker CPU
// (/proc of the mosquitto process) and this process's CPU per robot.
//
// --faults: the broker is killed at 1/3 of the run and restarted 10 s later; a peer publishes
// garbage and one with another backbone every second; the broker runs with per-robot accounts and
// the fleet ACL, and one robot has no credentials. Every rejection must be counted, nothing crash.
//
// Run: node --import tsx bench/fleet-load.ts --traffic .cache/fleet/traffic.jsonl [--robots 20]
//   [--seconds 60] [--faults] [--out bench/fleet-load.json]

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { decodeBatch, encodeBatch, type FleetModel, readModel } from "../src/fleet/codec.ts";
import type { FleetRows } from "../src/fleet/exchange.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { Mosquitto } from "../tests/helpers/mosquitto.ts";

const USAGE = `usage: node --import tsx bench/fleet-load.ts [options]

  --traffic FILE   recorded fleet traffic (bench/fleet-proof.ts --record-traffic; default .cache/fleet/traffic.jsonl)
  --robots N       lightweight robots on the broker (default 20)
  --seconds S      how long they publish (default 60)
  --faults         kill and restart the broker, add a junk peer and a peer of another backbone
  --out FILE       results JSON (default bench/fleet-load.json, or bench/fleet-load-faults.json)
  -h, --help       this text`;
const { values: opts } = (() => {
  try {
    return parseArgs({
      options: {
        traffic: { type: "string", default: ".cache/fleet/traffic.jsonl" },
        robots: { type: "string", default: "20" },
        seconds: { type: "string", default: "60" },
        faults: { type: "boolean", default: false },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`fleet-load: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const N = Number(opts.robots);
const seconds = Number(opts.seconds);
if (!(Number.isInteger(N) && N > 0 && seconds > 0)) {
  process.stderr.write("fleet-load: --robots must be a positive integer and --seconds positive\n");
  process.exit(2);
}
const faults = opts.faults;
const out = opts.out ?? (faults ? "bench/fleet-load-faults.json" : "bench/fleet-load.json");

// Recorded batches by source robot.
const lines = readFileSync(opts.traffic, "utf8").split("\n").filter(Boolean);
let model: FleetModel | undefined;
const sources = new Map<string, FleetRows[]>();
for (const line of lines) {
  const m = JSON.parse(line) as { topic: string; data: string };
  if (!m.topic.endsWith("/samples")) continue;
  const bytes = new Uint8Array(Buffer.from(m.data, "base64"));
  model ??= readModel(bytes);
  if (!model) continue;
  const r = decodeBatch(bytes, model, { maxBytes: 1 << 22 });
  if (!r.ok) continue;
  const b = r.batch;
  const list = sources.get(b.robotId) ?? [];
  list.push({ ...b, channels: b.model.channels, stamp: b.stamp });
  sources.set(b.robotId, list);
}
if (!model || sources.size === 0) throw new Error("no recorded sample batches in the traffic file");
const seqs = [...sources.values()];

// Broker, with accounts and the ACL under --faults.
let broker: Mosquitto;
const password = (id: string) => `${id}-pw`;
if (faults) {
  const dir = mkdtempSync(join(tmpdir(), "tl-fleet-load-"));
  const passwords = join(dir, "passwd");
  writeFileSync(passwords, "");
  for (let i = 0; i < N; i++)
    spawnSync("mosquitto_passwd", ["-b", passwords, `r${i}`, password(`r${i}`)], { stdio: "ignore" });
  spawnSync("mosquitto_passwd", ["-b", passwords, "junk", password("junk")], { stdio: "ignore" });
  chmodSync(passwords, 0o644);
  copyFileSync("launch/fleet-acl.conf", join(dir, "acl"));
  broker = await Mosquitto.create({ dir, auth: { passwordFile: passwords, aclFile: join(dir, "acl") } });
} else {
  broker = await Mosquitto.create();
}
const brokerPid = () =>
  Number(
    execFileSync("pgrep", ["-f", `mosquitto -c ${broker.dir}/mosquitto.conf`])
      .toString()
      .trim()
      .split("\n")[0],
  );
const tck = Number(execFileSync("getconf", ["CLK_TCK"]).toString());
let brokerTicks = 0;
const brokerCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / tck;
};

const links: FleetLink[] = [];
for (let i = 0; i < N; i++) {
  const config = defaultConfig();
  config.mqtt.robot_id = `r${i}`;
  config.mqtt.reconnect_period = 1;
  config.fleet.url = broker.url;
  if (faults) {
    config.fleet.username = `r${i}`;
    config.fleet.password = password(`r${i}`);
  }
  const link = new FleetLink(config);
  link.start(model);
  links.push(link);
}
let stranger: FleetLink | undefined;
if (faults) {
  const config = defaultConfig();
  config.mqtt.robot_id = "stranger";
  config.fleet.url = broker.url;
  stranger = new FleetLink(config);
  stranger.start(model);
}
await Promise.all(links.map((l) => l.waitConnected(30_000)));
const junk = faults
  ? await mqtt.connectAsync(broker.url, { username: "junk", password: password("junk") })
  : undefined;
// The junk account may write nowhere under the ACL: give it its own id's topics.
const junkPayloads = [
  Buffer.from("garbage, not a batch"),
  Buffer.from(
    encodeBatch({
      ...seqs[0]![0]!,
      kind: "samples",
      robotId: "junk",
      model: { ...model, backboneHash: new Uint8Array(16) },
      seq: 0,
      sent: 0,
    }),
  ),
];

let pid = brokerPid();
const cpu0 = process.cpuUsage();
const wall0 = Date.now();
let killed = false;
let restarted = false;
for (let t = 1; t <= seconds; t++) {
  const due = wall0 + t * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  if (faults && !killed && t >= seconds / 3) {
    brokerTicks += brokerCpu(pid);
    await broker.stop();
    killed = true;
    console.error(`t=${t}: broker killed`);
  }
  if (faults && killed && !restarted && t >= seconds / 3 + 10) {
    await broker.start();
    pid = brokerPid();
    restarted = true;
    console.error(`t=${t}: broker restarted`);
  }
  if (junk?.connected)
    for (const p of junkPayloads) junk.publish("terrain-learner/fleet/junk/samples", p, { qos: 0 });
  for (const [i, link] of links.entries()) {
    const seq = seqs[i % seqs.length]!;
    const rows = seq[(t + i * 7) % seq.length]!;
    link.exchange!.offerOwn(rows);
    link.take(t);
  }
}
const wall = (Date.now() - wall0) / 1000;
brokerTicks += brokerCpu(pid);
const cpu = process.cpuUsage(cpu0);
await new Promise((r) => setTimeout(r, 1500));
const stats = links.map((l) => l.stats());
for (const l of links) await l.close();
await stranger?.close();
await junk?.endAsync();
await broker.close();

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const p99s = stats.map((s) => s.latencyP99Ms ?? Number.NaN).filter(Number.isFinite);
const rejected: Record<string, number> = {};
for (const s of stats) for (const [k, v] of Object.entries(s.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
const doc = {
  robots: N,
  seconds,
  faults,
  wallSeconds: wall,
  sampleChannels: model.channels,
  recordedBatches: seqs.reduce((a, s) => a + s.length, 0),
  bytesOutPerRobotPerSec: {
    mean: mean(stats.map((s) => s.bytesOutPerSec)),
    max: Math.max(...stats.map((s) => s.bytesOutPerSec)),
  },
  bytesInPerRobotPerSec: {
    mean: mean(stats.map((s) => s.bytesInPerSec)),
    max: Math.max(...stats.map((s) => s.bytesInPerSec)),
  },
  samplesSentPerRobot: mean(stats.map((s) => s.sent)),
  samplesReceivedPerRobot: mean(stats.map((s) => s.received)),
  samplesUsedPerRobot: mean(stats.map((s) => s.used)),
  latencyP99Ms: { median: p99s.sort((a, b) => a - b)[p99s.length >> 1], max: Math.max(...p99s) },
  latencyP50MsMedian: stats.map((s) => s.latencyP50Ms ?? Number.NaN).sort((a, b) => a - b)[N >> 1],
  brokerCpuPercent: (100 * brokerTicks) / wall,
  clientProcessCpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / wall,
  reconnects: stats.map((s) => s.reconnects),
  backlogDropped: stats.reduce((a, s) => a + s.backlogDropped, 0),
  rejected,
  stranger: stranger ? { connected: stranger.connected, lastError: stranger.stats().lastError } : undefined,
  loadavg: (await import("node:os")).loadavg(),
};
writeFileSync(`${out}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
renameSync(`${out}.tmp`, out);
console.log(JSON.stringify(doc));
