// `replay --fleet`: the whole pipeline shares through a real Mosquitto. A peer's retained snapshot
// (with this backbone and feature layout) is on the broker before the replay starts, next to a
// retained garbage payload; the replay takes the snapshot, refuses the garbage, publishes its own
// samples and reports the counters in --json and in the learner's MQTT status.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { fleetModel } from "../src/adapters/fleet-model.ts";
import { encodeBatch } from "../src/fleet/codec.ts";
import { Backbone, defaultBackbonePath } from "../src/learning/backbone.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { featureChannels } from "../src/runtime/features.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/wait.ts";

/** A peer ("peer") that has left a retained snapshot of `n` random samples for the bundled bank. */
async function retainPeerSnapshot(url: string, n: number, seed: number) {
  const backbone = await Backbone.load(defaultBackbonePath());
  const model = fleetModel(
    defaultConfig(),
    backbone.channels,
    featureChannels(backbone.channels, "neighbourhood"),
  );
  await backbone.close();
  const rand = seededRandom(seed);
  const snapshot = encodeBatch({
    kind: "snapshot",
    robotId: "peer",
    model,
    targetKind: "logEnergy",
    n,
    seq: 0,
    stamp: 1,
    sent: Date.now() / 1000,
    lo: -1,
    hi: 1,
    targets: Float32Array.from({ length: n }, () => rand() * 2 - 1),
    weights: new Float32Array(n).fill(1),
    features: Float32Array.from({ length: n * model.channels }, () => rand()),
  });
  const peer = await mqtt.connectAsync(url);
  await peer.publishAsync("terrain-learner/fleet/peer/snapshot", Buffer.from(snapshot), {
    qos: 1,
    retain: true,
  });
  return peer;
}

describe.skipIf(mosquittoMissing() !== undefined)("replay --fleet", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-replay-fleet-"));
  const bag = join(dir, "sim.mcap");
  beforeAll(async () => {
    await generateWorldBag({ out: bag, seed: 5, duration: 10, camera: { width: 160, height: 120 } });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes a peer's snapshot, refuses garbage, shares its own samples and counts it all", async () => {
    const broker = await Mosquitto.create();
    try {
      const n = 50;
      const peer = await retainPeerSnapshot(broker.url, n, 4);
      await peer.publishAsync("terrain-learner/fleet/junk/snapshot", Buffer.from("junk"), {
        qos: 1,
        retain: true,
      });
      const seen: string[] = [];
      await peer.subscribeAsync([
        "terrain-learner/fleet/sim1/samples",
        "terrain-learner/fleet/sim1/snapshot",
        "terrain-learner/sim1/learner",
      ]);
      const learnerStats: Record<string, unknown>[] = [];
      let samplesSeen = 0;
      peer.on("message", (topic, payload) => {
        seen.push(topic);
        if (topic.endsWith("/samples")) samplesSeen += payload.readUInt32LE(16);
        if (topic.endsWith("/learner")) learnerStats.push(JSON.parse(payload.toString()));
      });
      const args = [
        "bin/terrain-learner.js",
        "replay",
        bag,
        "--json",
        "--fleet",
        broker.url,
        "--mqtt",
        broker.url,
        "--robot-id",
        "sim1",
      ];
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, args, { maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
      const fleet = JSON.parse(out).fleet;
      expect(fleet.peers).toBe(1);
      expect(fleet.received).toBe(n);
      expect(fleet.used).toBeGreaterThan(0);
      expect(fleet.rejected).toEqual({ schema: 1 });
      expect(fleet.sent).toBeGreaterThan(0);
      expect(fleet.bytesOut).toBeGreaterThan(0);
      expect(seen).toContain("terrain-learner/fleet/sim1/samples");
      // The replay (10 s, under snapshot_period) ends with its last batch and a snapshot, and
      // --json counts every sample that went out.
      await waitFor(
        () => `the last batch and the snapshot (${samplesSeen} of ${fleet.sent} samples)`,
        () => samplesSeen >= fleet.sent && seen.includes("terrain-learner/fleet/sim1/snapshot"),
      );
      expect(samplesSeen).toBe(fleet.sent);
      expect(learnerStats.at(-1)?.fleet).toMatchObject({ peers: 1, received: n });
      await peer.endAsync();
    } finally {
      await broker.close();
    }
  }, 120_000);

  it("a bag that labels nothing but trains on a peer's samples: --save-checkpoint keeps that model", async () => {
    const broker = await Mosquitto.create();
    try {
      const peer = await retainPeerSnapshot(broker.url, 400, 7);
      await peer.endAsync();
      // No label of its own: every step is below this speed.
      const cfg = join(dir, "no-labels.yaml");
      writeFileSync(cfg, "labeler:\n  min_speed: 100\n");
      const ckpt = join(dir, "fleet-ckpt");
      const args = ["bin/terrain-learner.js", "replay", bag, "--json", "-c", cfg, "--fleet", broker.url];
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [...args, "--save-checkpoint", ckpt],
          { maxBuffer: 1 << 26 },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        ),
      );
      // The bag taught nothing (said so, with why), but the run trained: exit 0, the model saved.
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /^warning: .*: this bag taught nothing from its \d+ frames: no vibration labels .*; the model trained on the fleet's samples only\n$/m,
      );
      expect(r.stderr).not.toContain("nothing saved");
      const out = JSON.parse(r.stdout);
      expect(out.samples).toBe(0);
      expect(out.trainSteps).toBeGreaterThan(0);
      expect(readdirSync(ckpt).some((f) => /^ckpt-\d+\.json$/.test(f))).toBe(true);
    } finally {
      await broker.close();
    }
  }, 120_000);
});

/**
 * `replay` of a bag without a camera (reading it would end in a topics error), so an option that
 * is refused before the bag is read says so alone.
 */
function replayTalker(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["bin/terrain-learner.js", "replay", "tests/fixtures/bags/rosbag2_talker_mcap", ...args],
      { timeout: 30_000 },
      (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
    );
  });
}

describe("--fleet with a TLS file that is not there", () => {
  // No broker needed: the file is read before anything connects or the pipeline is built.
  it("replay stops with the file named, before reading the bag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tl-fleet-ca-"));
    try {
      const cfg = join(dir, "fleet.yaml");
      writeFileSync(cfg, `fleet:\n  ca: ${join(dir, "no-such-ca.crt")}\n`);
      const r = await replayTalker("-c", cfg, "--fleet", "mqtts://127.0.0.1:1");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^terrain-learner: fleet: cannot read CA file .*no-such-ca\.crt/m);
      expect(r.stderr).not.toMatch(/TERRAIN_LEARNER_DEBUG|topic/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("--fleet with TLS files and a URL without TLS", () => {
  // No broker needed: a CA with mqtt:// would be ignored, the password sent in clear.
  it("replay stops in one line naming the setting, before reading the bag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tl-fleet-plain-"));
    try {
      const cfg = join(dir, "fleet.yaml");
      writeFileSync(join(dir, "ca.crt"), "not read\n");
      writeFileSync(cfg, `fleet:\n  ca: ${join(dir, "ca.crt")}\n  password: secret\n`);
      const r = await replayTalker("-c", cfg, "--fleet", "mqtt://u:pw@127.0.0.1:1");
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        "terrain-learner: fleet: fleet.ca set, but 'mqtt://u:***@127.0.0.1:1' does not use TLS: use mqtts:// (or wss://)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("--mqtt with a broker URL that names no usable broker, or TLS files without TLS", () => {
  // The telemetry client shares the fleet's URL check: the same URLs hung or went to localhost:1883.
  it.each([
    [
      [],
      "mqtt://127.0.0.1:99999",
      "'mqtt://127.0.0.1:99999' is not a valid URL (a port is a number up to 65535)",
    ],
    [[], "mqtt://", "the broker URL names no host (mqtt://HOST:PORT)"],
    [
      ["-c", "tests/fixtures/mqtt-ca-plain.yaml"],
      "mqtt://127.0.0.1:1",
      "mqtt.ca set, but 'mqtt://127.0.0.1:1' does not use TLS: use mqtts:// (or wss://)",
    ],
  ])(
    "replay %j --mqtt %s stops in one line",
    async (extra, url, line) => {
      const r = await replayTalker(...extra, "--mqtt", url);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`terrain-learner: mqtt: ${line}`);
    },
    60_000,
  );
});

describe("--fleet with a broker URL that names no usable broker", () => {
  // No broker needed. A port over 65535 was thrown from inside mqtt.js and the replay never ended;
  // no host or a port that is not a number went to localhost:1883.
  it.each([
    [
      "mqtt://127.0.0.1:99999",
      "fleet: 'mqtt://127.0.0.1:99999' is not a valid URL (a port is a number up to 65535)",
    ],
    [
      "mqtt://127.0.0.1:abc",
      "fleet: 'mqtt://127.0.0.1:abc' is not a valid URL (a port is a number up to 65535)",
    ],
    ["mqtt://", "fleet: the broker URL names no host (mqtt://HOST:PORT)"],
  ])(
    "replay --fleet %s stops in one line before reading the bag",
    async (url, line) => {
      const r = await replayTalker("--fleet", url);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`terrain-learner: ${line}`);
    },
    60_000,
  );
});

describe("--fleet with a robot id longer than a payload holds", () => {
  // No broker needed: refused before anything connects, not at the first batch a second in.
  it("replay stops in one line before reading the bag", async () => {
    const id = "r".repeat(65);
    const r = await replayTalker("--fleet", "mqtt://127.0.0.1:1", "--robot-id", id);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `terrain-learner: fleet: robot id '${id}' is 65 bytes; a fleet payload holds at most 64`,
    );
  }, 60_000);
});
