// The ROS 2 node over a deployment, run by `runRosNode` (what `terrain-learner ros` runs) on the
// FAKE rclnodejs (tests/helpers/fake-rclnodejs.ts), fed with messages of a real simulator bag:
// checkpoints every learner.checkpoint_every and at shutdown, resumed at the next start, a
// checkpoint folder that stops working, and a sensor topic that never arrives.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { type RosNodeHandle, startRosNode } from "../src/adapters/ros2.ts";
import { runRosNode } from "../src/cli/ros.ts";
import { type BagMessage, openBag } from "../src/io/bag/index.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";
import { UserError } from "../src/runtime/errors.ts";
import { createPipeline, type Pipeline } from "../src/runtime/pipeline.ts";
import { type FakeNode, FakeRclnodejs, recordingLog } from "./helpers/fake-rclnodejs.ts";
import { waitFor as waitForWithin } from "./helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-roslife-"));
const bagPath = join(dir, "sim.mcap");
const messages: BagMessage[] = [];

// A 12-s drive with a 7.5-Hz 160x120 camera: the head trains and checkpoints within it; each
// checkpoint test drives all of it through a node.
beforeAll(async () => {
  await generateWorldBag({
    out: bagPath,
    seed: 5,
    duration: 12,
    camera: { width: 160, height: 120, rate: 7.5 },
  });
  const bag = await openBag(bagPath);
  for await (const e of bag.messages({})) if (e.type === "message") messages.push(e);
  await bag.close();
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Training a real head on two cores can take a while under load: a wider bound than the default.
const waitFor = (what: string, ok: () => boolean) => waitForWithin(what, ok, 60_000);

interface Running {
  node: FakeNode;
  pipeline: Pipeline;
  handle: RosNodeHandle;
  logs: string[];
  stop(): Promise<void>;
}

/** Starts the node as `terrain-learner ros` does; stop() is the first SIGINT. */
async function start(config: Config): Promise<Running> {
  const rcl = new FakeRclnodejs();
  const abort = new AbortController();
  const { logs, log } = recordingLog();
  let started!: (v: { handle: RosNodeHandle; pipeline: Pipeline }) => void;
  const ready = new Promise<{ handle: RosNodeHandle; pipeline: Pipeline }>((r) => {
    started = r;
  });
  const done = runRosNode(config, {
    rcl,
    signal: abort.signal,
    log,
    started: (handle, pipeline) => started({ handle, pipeline }),
  });
  const { handle, pipeline } = await Promise.race([
    ready,
    done.then(() => {
      throw new Error("runRosNode returned before it started");
    }),
  ]);
  return {
    node: rcl.nodes[0]!,
    pipeline,
    handle,
    logs,
    stop: async () => {
      abort.abort();
      await done;
      expect(rcl.shutdownCalled).toBe(true);
    },
  };
}

/** Delivers the bag's messages as the drivers would, giving each frame its time. */
async function drive(r: Running): Promise<void> {
  for (const m of messages) {
    r.node.clock = m.logTime;
    r.node.deliver(m.topic, m.message);
    if (m.schemaName === "sensor_msgs/msg/Image") await r.handle.drain();
  }
  await r.handle.drain();
}

function manifests(ck: string): { seq: number; info: { trainSteps: number } }[] {
  return readdirSync(ck)
    .filter((n) => /^ckpt-\d+\.json$/.test(n))
    .sort()
    .map((n) => JSON.parse(readFileSync(join(ck, n), "utf8")));
}

function liveConfig(ck: string, every: number): Config {
  const config = defaultConfig();
  config.use_sim_time = true;
  config.learner.checkpoint_dir = ck;
  config.learner.checkpoint_every = every;
  return config;
}

describe("checkpoints of the ROS node", () => {
  it("saves every learner.checkpoint_every while it runs", async () => {
    const ck = join(dir, "ck-periodic");
    const r = await start(liveConfig(ck, 0.5));
    await drive(r);
    await waitFor("training", () => r.pipeline.learner.stats().trainSteps > 0);
    await waitFor("a periodic checkpoint", () => existsSync(ck) && manifests(ck).length > 0);
    expect(manifests(ck)[0]!.info.trainSteps).toBeGreaterThan(0);
    await r.stop();
  }, 300_000);

  it("saves at shutdown what it learned, and the next start resumes from it", async () => {
    const ck = join(dir, "ck");
    const first = await start(liveConfig(ck, 3600));
    expect(first.logs).toContain(`INFO no checkpoint in ${ck}: starting from an empty model`);
    await drive(first);
    await waitFor("training", () => first.pipeline.learner.stats().trainSteps > 0);
    expect(existsSync(ck)).toBe(false);
    await first.stop();
    const last = manifests(ck).at(-1)!;
    expect(last.info.trainSteps).toBeGreaterThan(0);
    expect(first.logs.at(-1)).toBe(`INFO checkpoint saved: ${join(ck, "ckpt-00000001.json")}`);

    const second = await start(liveConfig(ck, 0.5));
    expect(second.logs).toContain(
      `INFO resumed from the newest checkpoint in ${ck} (${last.info.trainSteps} train steps)`,
    );
    // Nothing learned since the resume: no new checkpoint (an older one is not pushed out).
    await sleep(1200);
    await second.stop();
    expect(second.logs.at(-1)).toBe("INFO nothing learned since the last checkpoint: none written");
    expect(manifests(ck).map((m) => m.seq)).toEqual([1]);
  }, 300_000);

  it("refuses a checkpoint folder of another model instead of pruning its checkpoints", async () => {
    const ck = join(dir, "ck-other");
    const other = liveConfig(ck, 0.5);
    other.learner.hidden_units = 16;
    const first = await start(other);
    await drive(first);
    await waitFor("training", () => first.pipeline.learner.stats().trainSteps > 0);
    await first.stop();
    const before = readdirSync(ck).sort();
    expect(before.length).toBeGreaterThan(0);
    const err = await start(liveConfig(ck, 0.5)).then(
      async (r) => {
        await r.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      new RegExp(`^learner.checkpoint_dir ${ck}: none of its \\d+ checkpoints can be used by this model`),
    );
    expect(readdirSync(ck).sort()).toEqual(before);
  }, 300_000);

  it("a checkpoint folder that stops working: one error line while running, a one-line error at shutdown", async () => {
    const ck = join(dir, "ck-broken");
    const r = await start(liveConfig(ck, 0.5));
    // The folder is replaced by a file (as a full or unmounted disk, it refuses every write; as root
    // a read-only folder would not).
    writeFileSync(ck, "not a folder");
    await drive(r);
    await waitFor("training", () => r.pipeline.learner.stats().trainSteps > 0);
    await waitFor("the save error", () => r.logs.some((l) => l.startsWith("ERROR")));
    await sleep(1500);
    const errors = r.logs.filter((l) => l.startsWith("ERROR"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(`^ERROR checkpoint save to ${ck} failed: .* \\(learning goes on; retried every 0.5 s\\)$`),
    );
    const err = await r.stop().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      new RegExp(`^the last checkpoint could not be written to ${ck}: `),
    );
  }, 300_000);
});

describe("a sensor topic that never arrives", () => {
  it("is named in the log once, with its parameter, and again when it comes", async () => {
    const config = defaultConfig();
    config.use_sim_time = true;
    const pipeline = await createPipeline(config, { mode: "live", warn: () => undefined });
    const rcl = new FakeRclnodejs();
    let wall = 0;
    const handle = startRosNode(rcl, config, pipeline, { log: () => undefined, wallSeconds: () => wall });
    const node = rcl.nodes[0]!;
    try {
      // Three seconds of the drive without camera_info (as with a misspelt topics.camera_info).
      const t0 = messages[0]!.logTime;
      for (const m of messages) {
        if (m.logTime - t0 > 3) break;
        if (m.topic === "/camera/camera_info") continue;
        wall = m.logTime - t0;
        node.clock = m.logTime;
        node.deliver(m.topic, m.message);
      }
      wall = 5.5;
      handle.checkInputs();
      handle.checkInputs();
      expect(node.logs.filter((l) => l.startsWith("WARN"))).toEqual([
        "WARN no message on /camera/camera_info (sensor_msgs/msg/CameraInfo) in 5 s since start: check topics.camera_info and that its publisher runs; nothing is learned or predicted without it",
      ]);
      node.deliver("/camera/camera_info", messages.find((m) => m.topic === "/camera/camera_info")!.message);
      expect(node.logs.at(-1)).toBe("INFO receiving /camera/camera_info");
      // Later every input stops (the drivers died).
      wall = 20;
      handle.checkInputs();
      expect(node.logs.filter((l) => l.includes("its publisher stopped"))).toEqual(
        ["/camera/image_raw", "/camera/camera_info", "/imu/data", "/odom"].map(
          (t) => `WARN no message on ${t} for 5 s: its publisher stopped?`,
        ),
      );
    } finally {
      await handle.stop();
      await pipeline.close();
    }
  }, 120_000);
});

describe("the node's clock against the sensors' stamps", () => {
  /** Runs 3 s of the drive into a node until it predicts; returns its WARN lines and latency figure. */
  async function drive(useSimTime: boolean, clock: (logTime: number) => number) {
    const config = defaultConfig();
    config.use_sim_time = useSimTime;
    const pipeline = await createPipeline(config, { mode: "live", warn: () => undefined });
    const rcl = new FakeRclnodejs();
    let wall = 0;
    const handle = startRosNode(rcl, config, pipeline, { log: () => undefined, wallSeconds: () => wall });
    const node = rcl.nodes[0]!;
    let predictions = 0;
    const sub = pipeline.events$.subscribe((e) => {
      if (e.type === "prediction") predictions++;
    });
    try {
      const t0 = messages[0]!.logTime;
      for (const m of messages) {
        if (m.logTime - t0 > 3) break;
        wall = m.logTime - t0;
        node.clock = clock(m.logTime);
        node.deliver(m.topic, m.message);
      }
      await waitFor("a prediction", () => predictions > 0);
      await handle.drain();
      wall = 5.5;
      handle.checkInputs();
      handle.checkInputs();
      handle.publishDiagnostics();
      const diag = node.publisher("/diagnostics").messages.at(-1) as {
        status: { values: { key: string; value: string }[] }[];
      };
      const latency = diag.status.flatMap((s) => s.values).find((v) => v.key === "latency mean (ms)")!.value;
      return { warns: node.logs.filter((l) => l.startsWith("WARN")), latency };
    } finally {
      sub.unsubscribe();
      await handle.stop();
      await pipeline.close();
    }
  }

  it("use_sim_time without /clock (node time 0): one WARN naming /clock, no latency from time 0", async () => {
    const { warns, latency } = await drive(true, () => 0);
    expect(warns.filter((l) => l.includes("/clock"))).toEqual([
      "WARN use_sim_time is true but the node's clock is still 0 after 5 s: nothing publishes /clock (play bags with `ros2 bag play --clock`, or set use_sim_time false); latency, /diagnostics and the held speed limit use time 0 until it does",
    ]);
    expect(latency).toBe("nan");
  }, 120_000);

  it("a bag's stamps against a wall clock (use_sim_time false): one WARN that the clocks differ", async () => {
    const { warns } = await drive(false, (t) => t + 86_400);
    const clockWarns = warns.filter((l) => l.includes("from the node's clock"));
    expect(clockWarns).toHaveLength(1);
    // The frame is predicted a moment after it arrived: the clock has moved on by then.
    expect(clockWarns[0]).toMatch(
      /^WARN camera stamps are 864\d\d s from the node's clock \(use_sim_time false\): playing a bag\? set use_sim_time true and play it with --clock; the latency in \/diagnostics is meaningless until they agree$/,
    );
  }, 120_000);

  it("/clock following the bag: no clock warning", async () => {
    const { warns, latency } = await drive(true, (t) => t + 0.05);
    expect(warns.filter((l) => l.includes("clock"))).toEqual([]);
    expect(Number(latency)).toBeGreaterThan(0);
  }, 120_000);
});
