// The adapter commands end to end through the real CLI: `serial-dump` and `run` reading a real pty
// pair (socat), `run` and `replay --mqtt` publishing to a real Mosquitto broker.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { spawnCli } from "./helpers/cli.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";
import { cleanupsFor } from "./helpers/test-cleanups.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = [socatMissing(), mosquittoMissing()].filter(Boolean).join("; ") || undefined;
if (missing) console.warn(`SKIPPING adapter CLI tests: ${missing}`);

const cli = (args: string[]) => spawnCli(args);

async function observer(url: string, topic: string) {
  const got: { topic: string; payload: string; retain: boolean }[] = [];
  const client: MqttClient = mqtt.connect(url, { reconnectPeriod: 100 });
  client.on("error", () => undefined);
  client.on("message", (t, p, packet) =>
    got.push({ topic: t, payload: p.toString(), retain: packet.retain }),
  );
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, got, on: (suffix: string) => got.filter((g) => g.topic.endsWith(`/${suffix}`)) };
}

/** A robot driving straight at 1 m/s over rough ground: 200 Hz IMU, 50 Hz odometry, device µs clock. */
function robotLines(t0Us: number, seconds: number, seed = 1): string[] {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const lines: string[] = [];
  const n = Math.round(seconds * 200);
  for (let i = 0; i < n; i++) {
    const t = t0Us + i * 5000;
    const az = 9.81 + 3 * rand();
    lines.push(
      nmeaSentence(
        `TLIMU,${t},${(0.5 * rand()).toFixed(4)},${(0.5 * rand()).toFixed(4)},${az.toFixed(4)},${(0.2 * rand()).toFixed(4)},${(0.2 * rand()).toFixed(4)},${(0.02 * rand()).toFixed(4)}`,
      ),
    );
    if (i % 4 === 0) lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
  }
  return lines;
}

// Every test has its own pty, broker and outputs: they run at once, with the test's own `expect`
// (the real-time serial drive and --rate 1 replay wait more than they compute).
describe.skipIf(missing !== undefined).concurrent("adapter commands through the CLI", () => {
  it("serial-dump --json prints one JSON object per sample and the counters at exit", async ({
    expect,
    onTestFinished,
  }) => {
    const cleanups = cleanupsFor(onTestFinished);
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const c = cli(["serial-dump", pty.a, "--json", "--count", "20"]);
    cleanups.push(() => {
      if (c.child.exitCode === null) c.child.kill("SIGKILL");
    });
    await waitFor(
      () => `serial-dump to open the port (${c.stderr()})`,
      () => c.stderr().includes(" open"),
      30_000,
    );
    pty.write(`garbage\n${robotLines(1_000_000, 0.1).join("\r\n")}\r\n`);
    expect(await c.exit).toBe(0);
    const lines = c
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(20);
    expect(lines[0]).toMatchObject({ type: "imu", frameId: "imu_link" });
    expect(Object.keys(lines[0])).toEqual(["type", "stamp", "frameId", "ax", "ay", "az", "gx", "gy", "gz"]);
    expect(lines.find((l) => l.type === "odom")).toMatchObject({ type: "odom", v: 1, w: 0 });
    const counters = JSON.parse(c.stderr().trim().split("\n").at(-1)!);
    expect(counters).toMatchObject({ type: "counters", garbageBytes: 7, checksumErrors: 0 });
  });

  it("run --serial --mqtt: labels from serial IMU/odometry reach the broker; commands the camera-less run cannot honour refused; offline at the end", async ({
    expect,
    onTestFinished,
  }) => {
    const cleanups = cleanupsFor(onTestFinished);
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const broker = await Mosquitto.create();
    cleanups.push(() => broker.close());
    const obs = await observer(broker.url, "terrain-learner/rover7/#");
    cleanups.push(() => obs.client.endAsync(true));
    const c = cli(["run", "--serial", pty.a, "--mqtt", broker.url, "--robot-id", "rover7", "--json"]);
    cleanups.push(() => {
      if (c.child.exitCode === null) c.child.kill("SIGKILL");
    });
    await waitFor(
      () => `run to open the port (${c.stderr()})`,
      () => c.stderr().includes(" open"),
      60_000,
    );
    await waitFor("online", () => obs.on("status").some((m) => m.payload === "online"), 30_000);
    // Stream 6 s of driving in real time (device clock and arrival agree, as with a real device):
    // 1200 IMU samples, over the 1000 the last learner message must count.
    const lines = robotLines(5_000_000, 6);
    const perChunk = 10; // 50 ms of IMU
    let sentPause = false;
    for (let i = 0; i < lines.length; i += perChunk + 3) {
      pty.write(`${lines.slice(i, i + perChunk + 3).join("\n")}\n`);
      await new Promise((r) => setTimeout(r, 50));
      if (!sentPause && i > lines.length / 2) {
        sentPause = true;
        // run has no camera, so it trains nothing: both are refused on the reply path, not
        // answered ok for doing nothing (or, for reset, wiping a resumed checkpoint's model).
        const cmd = "terrain-learner/rover7/cmd";
        await obs.client.publishAsync(cmd, '{"command":"pause_learning","id":"p1","data":true}', { qos: 1 });
        await obs.client.publishAsync(cmd, "reset", { qos: 1 });
      }
    }
    await waitFor(
      () => `labels on MQTT (stderr: ${c.stderr()})`,
      () => obs.on("labels").length >= 5,
      30_000,
    );
    await waitFor("the two responses", () => obs.on("response").length === 2, 30_000);
    expect(obs.on("response").map((r) => JSON.parse(r.payload))).toEqual([
      {
        robotId: "rover7",
        id: "p1",
        command: "pause_learning",
        ok: false,
        error: "run has no camera and trains no model (labels only): there is no learning to pause or resume",
      },
      {
        robotId: "rover7",
        id: null,
        command: "reset",
        ok: false,
        error: "run has no camera and trains no model (labels only): there is no learned model to reset",
      },
    ]);
    expect(c.stderr()).toContain("mqtt: command pause_learning (id p1) → run has no camera");
    expect(c.stderr()).toContain("mqtt: command reset → run has no camera");
    c.child.kill("SIGTERM");
    expect(await c.exit).toBe(0);
    await waitFor("offline", () => obs.on("status").some((m) => m.payload === "offline"), 30_000);

    const label = JSON.parse(obs.on("labels")[0]!.payload);
    expect(label).toMatchObject({ robotId: "rover7", frameId: "odom" });
    expect(label.roughness).toBeGreaterThanOrEqual(0);
    expect(label.roughness).toBeLessThanOrEqual(1);
    expect(label.footprint).toHaveLength(4);
    // Stdout: the same labels as JSON lines.
    const stdoutLabels = c
      .stdout()
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(stdoutLabels.length).toBe(obs.on("labels").length);
    const learner = obs.on("learner").map((m) => JSON.parse(m.payload));
    expect(learner.length).toBeGreaterThan(0);
    expect(learner.at(-1)).toMatchObject({ robotId: "rover7", serial: { checksumErrors: 0 } });
    expect(learner.at(-1).serial.imu).toBeGreaterThan(1000);
  }, 120_000);
});

describe.skipIf(mosquittoMissing() !== undefined).concurrent("replay --mqtt", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-replay-mqtt-"));
  const bag = join(dir, "sim.mcap");
  beforeAll(async () => {
    await generateWorldBag({ out: bag, seed: 5, duration: 10, camera: { width: 160, height: 120 } });
    writeFileSync(join(dir, "cfg.yaml"), "mqtt:\n  topic_prefix: fleet\n");
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("publishes roughness summaries, stats and status while replaying a bag", async ({ expect }) => {
    const broker = await Mosquitto.create();
    try {
      const obs = await observer(broker.url, "fleet/+/#");
      const c = cli([
        "replay",
        bag,
        "--json",
        "--mqtt",
        broker.url,
        "--robot-id",
        "sim1",
        "-c",
        join(dir, "cfg.yaml"),
      ]);
      expect(await c.exit, c.stderr()).toBe(0);
      await waitFor("offline", () => obs.on("status").some((m) => m.payload === "offline"), 30_000);
      expect(obs.got[0]!.topic).toBe("fleet/sim1/status");
      const summaries = obs.on("roughness").map((m) => JSON.parse(m.payload));
      // mqtt.roughness_rate (2) per second of the bag's time however fast it replays: one per 0.5 s
      // slot of the 10 s (the first 15 Hz frame at or after it), and the last frame at shutdown.
      const stamps = summaries.map((s) => s.stamp - summaries[0].stamp);
      const late = stamps.slice(0, 20).map((s, i) => s - i * 0.5);
      expect(late.every((d) => d > -1e-6 && d < 1 / 15)).toBe(true);
      expect(stamps.length).toBe(21);
      for (const s of summaries) {
        expect(Object.keys(s)).toEqual([
          "robotId",
          "stamp",
          "ahead",
          "aheadConfidence",
          "speedLimit",
          "mean",
          "p10",
          "p50",
          "p90",
          "confidence",
          "cells",
        ]);
        expect(s.cells).toBeGreaterThan(0);
      }
      const stats = obs.on("learner").map((m) => JSON.parse(m.payload));
      expect(stats.at(-1).framesProcessed).toBe(JSON.parse(c.stdout()).frames);
      await obs.client.endAsync(true);
    } finally {
      await broker.close();
    }
  }, 120_000);

  it("Ctrl-C after a save_checkpoint command: the last line names that checkpoint, not 'nothing written'", async ({
    expect,
  }) => {
    const broker = await Mosquitto.create();
    try {
      const ck = join(dir, "ck-mqtt");
      writeFileSync(
        join(dir, "cfg-ck.yaml"),
        `mqtt:\n  topic_prefix: fleet\nlearner:\n  checkpoint_dir: ${ck}\n`,
      );
      const obs = await observer(broker.url, "fleet/+/#");
      const c = cli([
        "replay",
        bag,
        "--rate",
        "1",
        "--mqtt",
        broker.url,
        "--robot-id",
        "sim1",
        "-c",
        join(dir, "cfg-ck.yaml"),
      ]);
      // Three seconds into the ten (roughness summaries at 2 per second): time to answer before the end.
      await waitFor(
        () => `the replay to be under way (stderr: ${c.stderr()})`,
        () => obs.on("roughness").length >= 6,
        60_000,
      );
      await obs.client.publishAsync("fleet/sim1/cmd", '{"command":"save_checkpoint","id":"s1"}', { qos: 1 });
      await waitFor(
        () => `the save's answer (stderr: ${c.stderr()})`,
        () => obs.on("cmd/response").length === 1,
        30_000,
      );
      const answer = JSON.parse(obs.on("cmd/response")[0]!.payload);
      expect(answer, c.stderr()).toMatchObject({ id: "s1", ok: true });
      c.child.kill("SIGINT");
      expect(await c.exit, c.stderr()).toBe(130);
      const last = c.stderr().trim().split("\n").at(-1)!;
      expect(last).toMatch(
        /^terrain-learner: interrupted by SIGINT: [\d.]+ of 10\.0 s of data read; checkpoint /,
      );
      expect(last).toContain(`checkpoint ${answer.result.path} saved by the MQTT save_checkpoint command`);
      expect(last).not.toContain("nothing written");
      await obs.client.endAsync(true);
    } finally {
      await broker.close();
    }
  }, 120_000);
});
