// MQTT telemetry against a REAL Mosquitto broker on 127.0.0.1 (started per test on a free port).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { Subject } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import {
  attachMqtt,
  type MqttSinkEvent,
  MqttTelemetry,
  parseCommand,
  redactUrl,
  summarizeOutputs,
} from "../src/adapters/mqtt.ts";
import type { RoughnessLabel } from "../src/core/types.ts";
import type { FrameOutputs } from "../src/outputs/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { Mosquitto, mosquittoMissing, mqtt311Proxy } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = mosquittoMissing();
if (missing) console.warn(`SKIPPING MQTT broker tests: ${missing}`);

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

function options(url: string, extra: Partial<ReturnType<typeof defaultConfig>["mqtt"]> = {}) {
  return { ...defaultConfig().mqtt, url, robot_id: "rover7", reconnect_period: 0.1, ...extra };
}

function outputs(stamp: number, values: number[], confidence = 0.8): FrameOutputs {
  const roughness = Float32Array.from(values);
  return {
    stamp,
    frameId: "camera_optical_frame",
    grid: {
      stamp,
      frameId: "camera_optical_frame",
      rows: 1,
      cols: values.length,
      strideX: 16,
      strideY: 16,
      roughness,
      confidence: new Float32Array(values.length).fill(confidence),
    },
    overlay: undefined,
    costmap: undefined,
    ahead: 0.4,
    aheadConfidence: 0.7,
    speedLimit: 1.2,
  };
}

/** The persistent broker has written the dashboard's subscription to disk (so it survives SIGKILL). */
function savedSubscription(b: Mosquitto): boolean {
  return existsSync(b.dbPath) && readFileSync(b.dbPath).includes("terrain-learner/rover7/#");
}

function label(i: number): RoughnessLabel {
  return {
    stamp: 100 + i,
    t0: 99.9 + i,
    t1: 100.1 + i,
    x: i * 0.25,
    y: 0,
    footprint: {
      frameId: "odom",
      xs: Float64Array.from([0, 0.25, 0.25, 0]),
      ys: Float64Array.from([-0.3, -0.3, 0.3, 0.3]),
    },
    speed: 1,
    energy: 0.5,
    features: { verticalBandPower: 1, angularRateEnergy: 0.1, sampleCount: 50 },
    roughness: i / 100,
  };
}

describe("MQTT helpers (pure)", () => {
  it("redacts passwords in URLs", () => {
    expect(redactUrl("mqtts://robot:s3cret@broker.example:8883")).toBe(
      "mqtts://robot:***@broker.example:8883",
    );
    expect(redactUrl("mqtt://127.0.0.1:1883")).toBe("mqtt://127.0.0.1:1883");
  });
  it("parses plain and JSON commands", () => {
    expect(parseCommand(" RESET\n")).toEqual({ command: "reset", id: null });
    expect(parseCommand('{"command":"pause_learning","id":"a1"}')).toEqual({
      command: "pause_learning",
      id: "a1",
    });
    expect(parseCommand('{"command":"pause_learning","data":false}')).toEqual({
      command: "pause_learning",
      id: null,
      data: false,
    });
    expect(parseCommand('{"cmd":"reset","id":3}')).toEqual({ command: "reset", id: 3 });
    expect(() => parseCommand("{nope")).toThrow(/not valid JSON/);
  });
  it("summarises a frame: mean, percentiles, confidence over finite cells", () => {
    const s = summarizeOutputs(
      "r",
      outputs(5, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, Number.NaN]),
    );
    expect(s).toEqual({
      robotId: "r",
      stamp: 5,
      ahead: 0.4,
      aheadConfidence: 0.7,
      speedLimit: 1.2,
      mean: 0.5,
      p10: 0.1,
      p50: 0.5,
      p90: 0.9,
      confidence: 0.8,
      cells: 11,
    });
  });
});

describe.skipIf(missing !== undefined)("MqttTelemetry with a real Mosquitto broker", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function broker(opts: { started?: boolean; persistent?: boolean } = {}) {
    const b = await Mosquitto.create(opts);
    cleanups.push(() => b.close());
    return b;
  }

  /** An independent client (the fleet dashboard) that records everything under the robot's topics. */
  async function observer(url: string, opts: { clientId?: string; clean?: boolean } = {}) {
    const received: Received[] = [];
    const client: MqttClient = mqtt.connect(url, {
      reconnectPeriod: 50,
      clientId: opts.clientId ?? `observer-${Math.random().toString(16).slice(2)}`,
      clean: opts.clean ?? true,
    });
    client.on("error", () => undefined);
    client.on("message", (topic, payload, packet) =>
      received.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    await client.subscribeAsync("terrain-learner/rover7/#", { qos: 1 });
    cleanups.push(() => client.endAsync(true));
    const on = (topic: string) => received.filter((r) => r.topic === `terrain-learner/rover7/${topic}`);
    return { client, received, on };
  }

  function telemetry(url: string, extra: Parameters<typeof options>[1] = {}, handlers = {}) {
    const log: string[] = [];
    const t = new MqttTelemetry(options(url, extra), handlers, { log: (l) => log.push(l) });
    cleanups.push(() => t.close());
    return { t, log };
  }

  it("retains `online`, and the broker publishes the retained Last Will `offline` when the process is SIGKILLed", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "helpers/mqtt-child.ts"), b.url, "rover7"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(`the child to connect (output: ${out})`, () => out.includes("connected"), 30_000);
    await waitFor("retained online", () => obs.on("status").some((r) => r.payload === "online"));
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    await waitFor("the Last Will", () => obs.on("status").some((r) => r.payload === "offline"));
    // A dashboard that connects later still sees the robot as offline: the will was retained.
    const late = await observer(b.url);
    await waitFor("retained status for a late subscriber", () => late.on("status").length > 0);
    expect(late.on("status")).toEqual([
      { topic: "terrain-learner/rover7/status", payload: "offline", retain: true },
    ]);
  });

  it("publishes retained `offline` on a clean shutdown", async () => {
    const b = await broker();
    const { t } = telemetry(b.url);
    await t.waitConnected();
    await t.close();
    const late = await observer(b.url);
    await waitFor("retained status", () => late.on("status").length > 0);
    expect(late.on("status")[0]).toMatchObject({ payload: "offline", retain: true });
  });

  it("publishes roughness summaries (rate-bounded, latest wins), learner stats and labels with their schema", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const { t } = telemetry(b.url, { roughness_rate: 2, learner_rate: 2, publish_labels: true });
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    // 50 frames 0.1 s apart offered at once: one per 0.5 s of their sensor time goes out at once.
    for (let i = 0; i < 50; i++) t.publishRoughness(outputs(1000 + i / 10, [0.2, 0.4, 0.6]));
    await waitFor("ten roughness summaries", () => obs.on("roughness").length >= 10);
    t.publishLearner({
      backend: "wasm",
      bufferSize: 1234,
      trainSteps: 77,
      lastLoss: Number.NaN,
      weights: new Float32Array([1, 2]),
    });
    t.publishLabel(label(3));
    await waitFor("learner stats", () => obs.on("learner").length === 1);
    await waitFor("a label", () => obs.on("labels").length === 1);

    const summaries = obs.on("roughness").map((r) => JSON.parse(r.payload));
    expect(summaries.map((s) => s.stamp)).toEqual(Array.from({ length: 10 }, (_, i) => 1000 + i * 0.5));
    expect(summaries[1]).toEqual({
      robotId: "rover7",
      stamp: 1000.5,
      ahead: 0.4,
      aheadConfidence: 0.7,
      speedLimit: 1.2,
      mean: 0.4,
      p10: 0.24,
      p50: 0.4,
      p90: 0.56,
      confidence: 0.8,
      cells: 3,
    });
    const learner = JSON.parse(obs.on("learner")[0]!.payload);
    expect(learner).toMatchObject({
      robotId: "rover7",
      backend: "wasm",
      bufferSize: 1234,
      trainSteps: 77,
      lastLoss: null,
      weights: [1, 2],
    });
    expect(learner.mqtt).toMatchObject({ connected: true, dropped: 0 });
    expect(typeof learner.time).toBe("number");
    const l = JSON.parse(obs.on("labels")[0]!.payload);
    expect(l).toMatchObject({ robotId: "rover7", stamp: 103, frameId: "odom", roughness: 0.03, x: 0.75 });
    expect(l.footprint).toEqual([
      [0, -0.3],
      [0.25, -0.3],
      [0.25, 0.3],
      [0, 0.3],
    ]);
    expect(t.stats()).toMatchObject({ superseded: 39, dropped: 0 });
    // The newest frame, not due yet, goes out at shutdown.
    await t.close();
    await waitFor("the last summary", () => obs.on("roughness").length === 11);
    expect(JSON.parse(obs.on("roughness")[10]!.payload).stamp).toBe(1004.9);
  });

  it("paces roughness on sensor time: the same summaries at any publishing speed, jitter kept to the rate", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const { t } = telemetry(b.url, { roughness_rate: 2 });
    await t.waitConnected();
    // 10 s of a 15 Hz camera with ±20 ms of stamp jitter, offered at once (a fast replay), then a
    // 30 s gap, then the clock going back (the bag played again).
    const jitter = [0.02, -0.02, 0.01, -0.01, 0];
    const stamps = Array.from({ length: 150 }, (_, i) => 100 + i / 15 + (i % 15 ? jitter[i % 5]! : 0));
    stamps.push(140, 140.2, 140.6, 50, 50.1, 50.5);
    for (const s of stamps) t.publishRoughness(outputs(s, [0.5]));
    await t.close();
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
    const got = obs.on("roughness").map((r) => JSON.parse(r.payload).stamp as number);
    // One per 0.5 s slot of the first 10 s (the first frame at or after each slot), then each restart.
    const firsts = got.slice(0, 20);
    expect(firsts.map((s, i) => s - (100 + i * 0.5))).toSatisfy((d: number[]) =>
      d.every((x) => x >= -1e-6 && x < 1 / 15 + 0.03),
    );
    expect(got.slice(20)).toEqual([140, 140.6, 50, 50.5]);
    expect(t.stats()).toMatchObject({ dropped: 0 });
  });

  it("runs commands and replies on cmd/response with the request id", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const calls: string[] = [];
    const { t } = telemetry(
      b.url,
      {},
      {
        save_checkpoint: async () => {
          calls.push("save");
          return { path: "/tmp/ckpt-3.bin" };
        },
        pause_learning: (args: { data?: unknown }) => calls.push(`pause ${String(args.data)}`),
        reset: () => {
          throw new Error("reset refused while driving");
        },
      },
    );
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    const cmd = "terrain-learner/rover7/cmd";
    await obs.client.publishAsync(cmd, '{"command":"save_checkpoint","id":"req-1"}', { qos: 1 });
    await obs.client.publishAsync(cmd, "pause_learning", { qos: 1 });
    await obs.client.publishAsync(cmd, '{"cmd":"pause_learning","id":7,"data":false}', { qos: 1 });
    await obs.client.publishAsync(cmd, '{"command":"reset","id":"r"}', { qos: 1 });
    await obs.client.publishAsync(cmd, '{"command":"fly","id":"x"}', { qos: 1 });
    await obs.client.publishAsync(cmd, "{broken", { qos: 1 });
    await waitFor("six responses", () => obs.on("cmd/response").length === 6);
    const responses = obs.on("cmd/response").map((r) => JSON.parse(r.payload));
    expect(responses).toEqual([
      {
        robotId: "rover7",
        id: "req-1",
        command: "save_checkpoint",
        ok: true,
        result: { path: "/tmp/ckpt-3.bin" },
      },
      // The handlers' return values (Array.push → new length) come back as `result`.
      { robotId: "rover7", id: null, command: "pause_learning", ok: true, result: 2 },
      { robotId: "rover7", id: 7, command: "pause_learning", ok: true, result: 3 },
      { robotId: "rover7", id: "r", command: "reset", ok: false, error: "reset refused while driving" },
      {
        robotId: "rover7",
        id: "x",
        command: "fly",
        ok: false,
        error: "unknown command 'fly' (expected save_checkpoint, reset, pause_learning)",
      },
      { robotId: "rover7", id: null, command: null, ok: false, error: "command payload is not valid JSON" },
    ]);
    expect(calls).toEqual(["save", "pause undefined", "pause false"]);
  });

  it("ignores a retained command: a stale `reset` left on the broker is not run on every (re)connect", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const cmd = "terrain-learner/rover7/cmd";
    // Someone published with -r by mistake; the broker keeps it and hands it to every new subscriber.
    await obs.client.publishAsync(cmd, '{"command":"reset","id":"stale"}', { qos: 1, retain: true });
    const calls: string[] = [];
    const { t, log } = telemetry(b.url, {}, { reset: () => calls.push("reset") });
    await t.waitConnected();
    await waitFor("the response to the retained command", () => obs.on("cmd/response").length === 1);
    expect(JSON.parse(obs.on("cmd/response")[0]!.payload)).toMatchObject({
      id: "stale",
      command: "reset",
      ok: false,
      error: expect.stringContaining("retained command ignored"),
    });
    expect(calls).toEqual([]);
    expect(log.some((l) => l.includes("retained command ignored"))).toBe(true);
    // A command sent while connected still runs, retained flag or not (the broker clears the flag
    // for an established subscription).
    await obs.client.publishAsync(cmd, '{"command":"reset","id":"live"}', { qos: 1, retain: true });
    await waitFor("the live response", () => obs.on("cmd/response").length === 2);
    expect(JSON.parse(obs.on("cmd/response")[1]!.payload)).toMatchObject({ id: "live", ok: true });
    expect(calls).toEqual(["reset"]);
    // Cleared as the refusal says (`mosquitto_pub -r -n`): the broker forwards the empty message to
    // the robot, which is no command and gets no error answer.
    await obs.client.publishAsync(cmd, "", { qos: 1, retain: true });
    await obs.client.publishAsync(cmd, "  \n", { qos: 1 });
    await obs.client.publishAsync(cmd, '{"command":"reset","id":"next"}', { qos: 1 });
    await waitFor("the next response", () => obs.on("cmd/response").length >= 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(obs.on("cmd/response").map((r) => JSON.parse(r.payload))).toMatchObject([
      { id: "stale" },
      { id: "live" },
      // Blank but not empty: a mistake, said as such.
      { id: null, ok: false, error: "empty command (expected save_checkpoint, reset, pause_learning)" },
      { id: "next", ok: true },
    ]);
    expect(log.some((l) => l.includes("empty message on terrain-learner/rover7/cmd ignored"))).toBe(true);
    expect(t.stats().commands).toBe(4);
  });

  it("at shutdown: a command still running is answered before `offline`; one arriving meanwhile is refused, not run", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const calls: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => {
      release = r;
    });
    const { t, log } = telemetry(
      b.url,
      {},
      {
        // A checkpoint save waiting on a busy training worker.
        save_checkpoint: async () => {
          calls.push("save");
          await slow;
          return { path: "/tmp/ckpt-9.json" };
        },
        reset: () => calls.push("reset"),
      },
    );
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    const cmd = "terrain-learner/rover7/cmd";
    await obs.client.publishAsync(cmd, '{"command":"save_checkpoint","id":"s"}', { qos: 1 });
    await waitFor("the save started", () => calls.length === 1);
    // Ctrl-C: the CLI closes the client, then the pipeline (which ends the save's worker).
    const closed = t.close();
    await obs.client.publishAsync(cmd, '{"command":"reset","id":"late"}', { qos: 1 });
    await waitFor("the late command reached the robot", () => t.stats().commands === 2);
    release();
    await closed;
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
    const after = (topic: string) => obs.received.findIndex((r) => r.topic.endsWith(topic));
    const responses = obs.on("cmd/response").map((r) => JSON.parse(r.payload));
    expect(responses).toEqual([
      {
        robotId: "rover7",
        id: "s",
        command: "save_checkpoint",
        ok: true,
        result: { path: "/tmp/ckpt-9.json" },
      },
      {
        robotId: "rover7",
        id: "late",
        command: "reset",
        ok: false,
        error: "shutting down: command not run",
      },
    ]);
    expect(calls).toEqual(["save"]);
    // Both answers went out before the goodbye.
    const offline = obs.received.findIndex((r) => r.topic.endsWith("/status") && r.payload === "offline");
    expect(after("cmd/response")).toBeLessThan(offline);
    expect(t.stats().droppedByKind.responses).toBe(0);
    expect(log.some((l) => l.includes("command reset (id late) → shutting down"))).toBe(true);
  });

  it("at shutdown: a command that outlasts mqtt.close_timeout is said in the log, and close does not wait for it", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const { t, log } = telemetry(
      b.url,
      { close_timeout: 1 },
      { save_checkpoint: () => new Promise(() => undefined) },
    );
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    await obs.client.publishAsync("terrain-learner/rover7/cmd", "save_checkpoint", { qos: 1 });
    await waitFor("the command arrived", () => t.stats().commands === 1);
    const started = Date.now();
    await t.close();
    expect(Date.now() - started).toBeLessThan(4000);
    expect(log.some((l) => l.includes("save_checkpoint still running at shutdown"))).toBe(true);
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
  });

  it("a `cmd` payload over 64 KiB is never sent to the robot (MQTT 5 Maximum Packet Size); one just over is refused unread", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const { t, log } = telemetry(b.url, {}, { pause_learning: () => "paused" });
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    const cmd = "terrain-learner/rover7/cmd";
    // A 20 MB mistake: the broker drops it ("Dropping too large outgoing PUBLISH"), the robot never reads it.
    await obs.client.publishAsync(cmd, Buffer.alloc(20 * 1024 * 1024, 0x61), { qos: 1 });
    // Just over the limit still fits the packet size (topic, headers): refused without being parsed.
    await obs.client.publishAsync(cmd, Buffer.alloc(64 * 1024 + 1, 0x61), { qos: 1 });
    // A long garbage name is cut where it is echoed.
    await obs.client.publishAsync(cmd, "b".repeat(1000), { qos: 1 });
    await obs.client.publishAsync(cmd, '{"command":"pause_learning","id":"after"}', { qos: 1 });
    await waitFor("the last response", () =>
      obs.on("cmd/response").some((r) => r.payload.includes('"after"')),
    );
    const responses = obs.on("cmd/response").map((r) => JSON.parse(r.payload));
    expect(responses).toEqual([
      {
        robotId: "rover7",
        id: null,
        command: null,
        ok: false,
        error: "command payload of 65537 bytes refused (at most 65536)",
      },
      {
        robotId: "rover7",
        id: null,
        command: `${"b".repeat(40)}...`,
        ok: false,
        error: `unknown command '${"b".repeat(40)}...' (expected save_checkpoint, reset, pause_learning)`,
      },
      { robotId: "rover7", id: "after", command: "pause_learning", ok: true, result: "paused" },
    ]);
    expect(t.stats().commands).toBe(3);
    expect(t.stats().lastError).toBe("");
    expect(Math.max(...log.map((l) => l.length))).toBeLessThan(300);
  });

  it("with a broker that speaks only MQTT 3.1.1: goes on with 3.1.1, says so once, publishes online and offline, refuses a large command unread", async () => {
    const b = await broker();
    const proxy = await mqtt311Proxy(b.port);
    cleanups.push(() => proxy.close());
    const obs = await observer(b.url);
    const { t, log } = telemetry(`mqtt://127.0.0.1:${proxy.port}`);
    await t.waitConnected();
    await waitFor("online", () => obs.on("status").some((r) => r.payload === "online"));
    await obs.client.publishAsync("terrain-learner/rover7/cmd", Buffer.alloc(1024 * 1024, 0x61), { qos: 1 });
    await waitFor("the response", () => obs.on("cmd/response").length === 1);
    expect(JSON.parse(obs.on("cmd/response")[0]!.payload)).toMatchObject({
      ok: false,
      error: "command payload of 1048576 bytes refused (at most 65536)",
    });
    expect(log.filter((l) => l.includes("MQTT 5"))).toEqual([
      "mqtt: the broker does not speak MQTT 5; using MQTT 3.1.1, which cannot ask it to hold back terrain-learner/rover7/cmd payloads over 65536 bytes (set its own message_size_limit)",
    ]);
    expect(t.stats().lastError).toBe("");
    await t.close();
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
  });

  it("survives a broker killed and restarted mid-run: reconnects, resumes publishing, the offline queue stays bounded", async () => {
    const b = await broker({ persistent: true });
    // A dashboard with a persistent session: the broker keeps its subscription across the restart.
    const obs = await observer(b.url, { clientId: "dashboard", clean: false });
    await waitFor("the broker to save the subscription", () => savedSubscription(b));
    const { t, log } = telemetry(b.url, { publish_labels: true, queue_limit: 10 });
    await t.waitConnected();
    t.publishLabel(label(0));
    await waitFor("label 0", () => obs.on("labels").length === 1);

    await b.stop("SIGKILL");
    await waitFor("the client to notice", () => !t.connected);
    for (let i = 1; i <= 25; i++) t.publishLabel(label(i));
    expect(t.stats()).toMatchObject({ queued: 10, dropped: 15 });
    // Nothing grows while the broker stays down and the client keeps retrying.
    await waitFor("retries against the dead broker", () => log.some((l) => /ECONNREFUSED/.test(l)));
    expect(t.stats().queued).toBe(10);

    await b.start();
    await t.waitConnected();
    // QoS 1 is at-least-once: the restarted broker may deliver label 0 again, so compare stamps as a set.
    const stamps = () => [...new Set(obs.on("labels").map((r) => JSON.parse(r.payload).stamp as number))];
    await waitFor(
      () => `the 10 queued labels (got ${stamps()}; ${JSON.stringify(t.stats())})`,
      () => stamps().length === 11,
    );
    // The oldest 15 were dropped, the newest 10 kept, in order.
    expect(stamps()).toEqual([100, ...Array.from({ length: 10 }, (_, i) => 116 + i)]);
    t.publishLabel(label(30));
    await waitFor("a label after the restart", () => stamps().length === 12);
    expect(t.stats()).toMatchObject({ connected: true, reconnects: 1, queued: 0, dropped: 15 });
    expect(log.some((l) => l.includes("connection to mqtt://127.0.0.1") && l.includes("lost"))).toBe(true);
  });

  it("offline queue full: superseded telemetry goes first, labels only after it, each kind counted", async () => {
    const b = await broker({ persistent: true });
    const obs = await observer(b.url, { clientId: "dashboard3", clean: false });
    await waitFor("the broker to save the subscription", () => savedSubscription(b));
    await b.stop("SIGKILL");
    // Rates high enough that every summary and stats message is handed to the queue.
    const { t, log } = telemetry(b.url, {
      publish_labels: true,
      queue_limit: 8,
      roughness_rate: 1000,
      learner_rate: 1000,
    });
    const tick = () => new Promise((r) => setTimeout(r, 3));
    for (let i = 0; i < 5; i++) t.publishLabel(label(i));
    for (let i = 0; i < 20; i++) {
      t.publishRoughness(outputs(i, [i / 20]));
      t.publishLearner({ trainSteps: i });
      await tick();
    }
    t.publishLabel(label(5));
    // 5 labels + the newest roughness and learner; 19 older of each replaced.
    expect(t.stats()).toMatchObject({
      queued: 8,
      dropped: 38,
      droppedByKind: { labels: 0, telemetry: 38, responses: 0 },
    });
    // Past the telemetry, the oldest label goes (the newest of each telemetry topic stays).
    t.publishLabel(label(6));
    t.publishLabel(label(7));
    expect(t.stats()).toMatchObject({
      queued: 8,
      dropped: 40,
      droppedByKind: { labels: 2, telemetry: 38, responses: 0 },
    });
    expect(log.filter((l) => /queue full/.test(l))).toEqual([
      "mqtt: offline queue full (mqtt.queue_limit 8): dropping the oldest labels (older roughness and learner messages went first)",
    ]);

    await b.start();
    await t.waitConnected();
    const stamps = () => [...new Set(obs.on("labels").map((r) => JSON.parse(r.payload).stamp as number))];
    await waitFor(
      () => `the queued messages (got ${stamps()}; ${JSON.stringify(t.stats())})`,
      () => stamps().length === 6 && obs.on("learner").length === 1 && obs.on("roughness").length === 1,
    );
    expect(stamps()).toEqual([102, 103, 104, 105, 106, 107]);
    expect(JSON.parse(obs.on("roughness")[0]!.payload).stamp).toBe(19);
    expect(JSON.parse(obs.on("learner")[0]!.payload).trainSteps).toBe(19);
  });

  it("keeps retrying when the broker is down at start and connects when it comes up", async () => {
    const b = await broker({ persistent: true });
    const obs = await observer(b.url, { clientId: "dashboard2", clean: false });
    await waitFor("the broker to save the subscription", () => savedSubscription(b));
    await b.stop("SIGKILL");

    const { t, log } = telemetry(b.url, { publish_labels: true });
    t.publishLabel(label(1)); // made before the network is up: queued
    await waitFor("several refused attempts", () => log.some((l) => /ECONNREFUSED/.test(l)));
    await new Promise((r) => setTimeout(r, 300));
    expect(t.stats()).toMatchObject({ connected: false, queued: 1 });

    await b.start();
    await t.waitConnected();
    await waitFor(
      () =>
        `the queued label (${JSON.stringify(obs.received)} ${JSON.stringify(t.stats())} ${log.join("; ")})`,
      () => obs.on("labels").length === 1,
    );
    await waitFor("retained online", () => obs.on("status").some((r) => r.payload === "online"));
    expect(t.stats()).toMatchObject({ reconnects: 0, queued: 0, dropped: 0 });
  });

  it("attachMqtt publishes a pipeline's result stream", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const results = new Subject<MqttSinkEvent>();
    const { telemetry: t, close } = attachMqtt(results, options(b.url, { publish_labels: true }));
    cleanups.push(close);
    await t.waitConnected();
    results.next({ type: "prediction", outputs: outputs(7, [0.5]) });
    results.next({ type: "label", label: label(1) });
    results.next({ type: "label", label: label(2) });
    results.next({ type: "stats", stats: { trainSteps: 5 } });
    results.next({ type: "done" });
    await waitFor(
      "all three kinds",
      () =>
        obs.on("roughness").length === 1 && obs.on("labels").length === 2 && obs.on("learner").length === 1,
    );
    await close();
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
  });

  it("paces the pipeline's stats on their sensor time, as roughness: a fast replay publishes what the robot would", async () => {
    const b = await broker();
    const obs = await observer(b.url);
    const results = new Subject<MqttSinkEvent>();
    const { telemetry: t, close } = attachMqtt(results, options(b.url, { learner_rate: 0.2 }));
    cleanups.push(close);
    await t.waitConnected();
    // A minute of stats every 2.5 sensor seconds, at once; the last one not due (goes out at close).
    for (let s = 100; s <= 157.5; s += 2.5) results.next({ type: "stats", stamp: s, stats: { stamp: s } });
    await close();
    await waitFor("offline", () => obs.on("status").some((r) => r.payload === "offline"));
    const stamps = obs.on("learner").map((r) => JSON.parse(r.payload).stamp);
    expect(stamps).toEqual([...Array.from({ length: 12 }, (_, i) => 100 + i * 5), 157.5]);
  });

  it("does not log the password", async () => {
    const b = await broker();
    const log: string[] = [];
    const t = new MqttTelemetry(
      options(b.url, { username: "robot", password: "hunter2-secret" }),
      {},
      { log: (l) => log.push(l) },
    );
    cleanups.push(() => t.close());
    await t.waitConnected();
    await t.close();
    expect(log.length).toBeGreaterThan(1);
    expect(log.join("\n")).not.toContain("hunter2");
    const t2 = new MqttTelemetry(
      options(`mqtt://robot:hunter2-secret@127.0.0.1:${b.port}`),
      {},
      { log: (l) => log.push(l) },
    );
    cleanups.push(() => t2.close());
    await t2.waitConnected();
    expect(log.join("\n")).not.toContain("hunter2");
    expect(log.join("\n")).toContain("robot:***@127.0.0.1");
  });
});
