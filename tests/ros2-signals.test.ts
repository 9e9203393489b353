// `terrain-learner ros` stopped by SIGINT (Ctrl-C, `ros2 launch` shutting down) with rclnodejs
// loaded. rclnodejs installs a SIGINT listener when it is imported (index.js: `process.on('SIGINT',
// _sigHandler)`, which shuts every context down and so destroys the node; `removeSignalHandlers()`
// is its documented way out for applications with their own handling). The FAKE rclnodejs
// (tests/helpers/fake-rclnodejs.ts) installs the same listener, and its destroyed node behaves as
// rclnodejs's does: now() throws (its clock is null), publishers refuse to publish.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRclnodejs, type RosNodeHandle } from "../src/adapters/ros2.ts";
import { trapInterrupts } from "../src/cli/interrupt.ts";
import { type RosRunOptions, runRosNode, type StopProgress } from "../src/cli/ros.ts";
import type { BagMessage } from "../src/io/bag/index.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";
import type { Pipeline } from "../src/runtime/pipeline.ts";
import { FakeRclnodejs, recordingLog } from "./helpers/fake-rclnodejs.ts";
import { simDriveMessages } from "./helpers/sim-messages.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-rossig-"));
const messages: BagMessage[] = [];

beforeAll(async () => {
  for (const m of await simDriveMessages(join(dir, "sim.mcap"), 5, 12)) messages.push(m);
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** runRosNode on the fake, with a promise of its handle and pipeline once it runs. */
function startNode(config: Config, opts: Omit<RosRunOptions, "started">) {
  let started!: (v: { handle: RosNodeHandle; pipeline: Pipeline }) => void;
  const ready = new Promise<{ handle: RosNodeHandle; pipeline: Pipeline }>((r) => {
    started = r;
  });
  const done = runRosNode(config, { ...opts, started: (handle, pipeline) => started({ handle, pipeline }) });
  return { ready, done };
}

/** Delivers the drive to the fake node (each camera frame processed before the next), then waits for training. */
async function driveUntilTrained(
  node: FakeRclnodejs["nodes"][number],
  handle: RosNodeHandle,
  pipeline: Pipeline,
): Promise<void> {
  for (const m of messages) {
    node.clock = m.logTime;
    node.deliver(m.topic, m.message);
    if (m.schemaName === "sensor_msgs/msg/Image") await handle.drain();
  }
  const deadline = Date.now() + 60_000;
  while (pipeline.learner.stats().trainSteps === 0 && Date.now() < deadline) await sleep(20);
}

describe("SIGINT with rclnodejs loaded", () => {
  it("loading rclnodejs takes its SIGINT listener off: the node's own stop handles the signal", async () => {
    const rcl = new FakeRclnodejs({ sigintHandler: true });
    expect(rcl.sigintHandlerInstalled).toBe(true);
    const loaded = await loadRclnodejs(async () => ({ default: rcl }));
    expect(loaded).toBe(rcl);
    expect(rcl.sigintHandlerInstalled).toBe(false);
  });

  it("stops orderly: frames in flight are published, the last checkpoint is saved, nothing throws", async () => {
    const before = new Set(process.listeners("SIGINT"));
    const rcl = new FakeRclnodejs({ sigintHandler: true });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("uncaughtException", onUnhandled);
    const interrupt = trapInterrupts();
    try {
      const loaded = await loadRclnodejs(async () => ({ default: rcl }));
      const config = defaultConfig();
      config.use_sim_time = true;
      const ck = join(dir, "ck");
      config.learner.checkpoint_dir = ck;
      config.learner.checkpoint_every = 3600;
      const { logs, log } = recordingLog();
      const { ready, done } = startNode(config, {
        rcl: loaded,
        signal: interrupt.signal,
        log,
      });
      const { handle, pipeline } = await ready;
      const node = rcl.nodes[0]!;
      const images = messages.filter((m) => m.schemaName === "sensor_msgs/msg/Image");
      const last = images.at(-1)!;
      for (const m of messages) {
        if (m === last) break;
        node.clock = m.logTime;
        node.deliver(m.topic, m.message);
        if (m.schemaName === "sensor_msgs/msg/Image") await handle.drain();
      }
      await handle.drain();
      const deadline = Date.now() + 60_000;
      while (pipeline.learner.stats().trainSteps === 0 && Date.now() < deadline) await sleep(20);
      expect(pipeline.learner.stats().trainSteps).toBeGreaterThan(0);
      const roughness = node.publisher("/terrain_learner/roughness/image");
      const published = roughness.messages.length;
      // A frame arrives, and the signal comes while it is processed: every SIGINT listener added
      // since the test began runs, in order, as the process would run them.
      node.clock = last.logTime;
      node.deliver(last.topic, last.message);
      for (const l of process.listeners("SIGINT")) if (!before.has(l)) (l as (s: string) => void)("SIGINT");
      await done;
      await sleep(50); // an error thrown in a subscriber surfaces on a later tick
      expect(unhandled).toEqual([]);
      expect(node.logs.filter((l) => l.startsWith("ERROR"))).toEqual([]);
      expect(roughness.messages.length).toBe(published + 1);
      expect(existsSync(ck) && readdirSync(ck).some((n) => /^ckpt-\d+\.json$/.test(n))).toBe(true);
      expect(logs.at(-1)).toMatch(/^INFO checkpoint saved: /);
      expect(node.destroyed).toBe(true);
      expect(rcl.shutdownCalled).toBe(true);
    } finally {
      interrupt.dispose();
      rcl.removeSignalHandlers();
      process.off("uncaughtException", onUnhandled);
    }
  }, 300_000);
});

describe("a service call the stop overtakes", () => {
  it("~/save_checkpoint answered after the node was destroyed: a log line, not an unhandled rejection", async () => {
    const rcl = new FakeRclnodejs();
    const config = defaultConfig();
    config.use_sim_time = true;
    config.learner.checkpoint_dir = join(dir, "ck-service");
    config.learner.checkpoint_every = 3600;
    const { logs, log } = recordingLog();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const { ready, done } = startNode(config, {
        rcl,
        signal: controller.signal,
        log,
      });
      const { handle, pipeline } = await ready;
      const node = rcl.nodes[0]!;
      await driveUntilTrained(node, handle, pipeline);
      // The save starts; the signal comes before it is written.
      void node.call("/terrain_learner/save_checkpoint", {});
      controller.abort();
      await done;
      await sleep(200); // a rejection nobody handles is reported on a later tick
      expect(unhandled).toEqual([]);
      expect(node.destroyed).toBe(true);
      expect(node.logs.concat(logs).join("\n")).toMatch(
        /\/terrain_learner\/save_checkpoint: the node stopped before its response was sent \(checkpoint saved: /,
      );
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  }, 300_000);
});

/** A port on 127.0.0.1 nothing listens on (a broker that is down: connections are refused). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The node on the fake rclnodejs in a child process (tests/helpers/ros-node-child.ts), for real signals. */
function startChild(bag: string, configFile: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "helpers/ros-node-child.ts"), bag, configFile],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d) => {
    out.stderr += d;
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, sig) => resolve(sig ?? code)),
  );
  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 120_000;
    while (!ok()) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what}:\n${out.stderr}`);
      await sleep(20);
    }
  };
  return { child, out, exited, until };
}

describe("a second signal while the node stops (ros2 launch's SIGTERM after sigterm_timeout)", () => {
  it("says what that stop left undone: the checkpoint it saved, the MQTT messages it did not deliver", async () => {
    const ck = join(dir, "ck-second");
    const cfg = join(dir, "second.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        learner: { checkpoint_dir: ck, checkpoint_every: 3600 },
        mqtt: { url: `mqtt://127.0.0.1:${await closedPort()}`, close_timeout: 30 },
      }),
    );
    const { child, out, exited, until } = startChild(join(dir, "sim.mcap"), cfg);
    try {
      await until("training", () => out.stdout.includes("trained"));
      child.kill("SIGINT");
      // The orderly stop saved the checkpoint and now waits for the broker (mqtt.close_timeout).
      await until("wait for the broker", () => /waiting up to 30 s to deliver/.test(out.stderr));
      child.kill("SIGTERM");
      expect(await exited).toBe("SIGTERM");
    } finally {
      child.kill("SIGKILL");
    }
    const lines = out.stderr.trim().split("\n");
    const saved = join(ck, "ckpt-00000001.json");
    expect(lines).toContain(`INFO checkpoint saved: ${saved}`);
    const last = lines.at(-1)!;
    expect(last).toContain(`terrain-learner: second SIGTERM: stopping now; checkpoint saved: ${saved}; `);
    expect(last).toMatch(/; \d+ MQTT messages? queued for the broker not delivered$/);
    expect(readdirSync(ck).sort()).toEqual(["ckpt-00000001.bin", "ckpt-00000001.json"]);
  }, 300_000);

  it("before the stop: a checkpoint is said lost only once the model has learned something", async () => {
    const rcl = new FakeRclnodejs();
    const config = defaultConfig();
    config.use_sim_time = true;
    const ck = join(dir, "ck-progress");
    config.learner.checkpoint_dir = ck;
    config.learner.checkpoint_every = 3600;
    const progress: StopProgress = {};
    const controller = new AbortController();
    const { ready, done } = startNode(config, {
      rcl,
      signal: controller.signal,
      log: recordingLog().log,
      progress,
    });
    const { handle, pipeline } = await ready;
    // Before any frame: a forced stop loses nothing.
    expect(progress.unfinished?.()).toBeUndefined();
    const node = rcl.nodes[0]!;
    await driveUntilTrained(node, handle, pipeline);
    expect(progress.unfinished?.()).toBe(
      `no checkpoint saved at this stop (${ck} keeps the ones saved before)`,
    );
    controller.abort();
    await done;
    expect(progress.unfinished?.()).toBe(`checkpoint saved: ${join(ck, "ckpt-00000001.json")}`);
  }, 300_000);
});
