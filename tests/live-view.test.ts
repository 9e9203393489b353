// The Foxglove live view end to end: a real replay of a simulator bag serves its outputs over the
// Foxglove WebSocket protocol, and the protocol library's own client (tests/helpers) subscribes and
// decodes the CDR with the real deserializer from the advertised ros2msg schemas. A viewer that
// stops reading loses old messages (counted) and the replay completes the same; viewers that come
// and go leave nothing behind.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Subject } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIM_EPOCH } from "../sim/generate.ts";
import { generateWorldBag } from "../sim/index.ts";
import { attachLiveView, liveViewChannels, startLiveView } from "../src/adapters/live-view/index.ts";
import { LiveViewServer } from "../src/adapters/live-view/server.ts";
import { type ReplayResult, runReplay } from "../src/cli/replay.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";
import type { PipelineEvent } from "../src/runtime/pipeline.ts";
import { TestViewer } from "./helpers/foxglove-client.ts";
import { waitFor } from "./helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-live-"));
const bag = join(dir, "world.mcap");
// 12 s: the head trains (a finite loss), the costmap has known cells, a stalled viewer over 1000
// messages; each of the five replays below reads it.
const DURATION = 12;

beforeAll(async () => {
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 1,
    duration: DURATION,
    camera: { width: 160, height: 120 },
  });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function liveConfig(over: Partial<Config["live_view"]> = {}): Config {
  const config = defaultConfig();
  Object.assign(config.live_view, { enabled: true, port: 0 }, over);
  return config;
}

/** A live-view server with a sink fed by hand (no pipeline): `events` carries what a pipeline would. */
async function handFedLiveView(config: Config, options: { latchPeriodMs?: number } = {}) {
  const server = await startLiveView(config);
  const events = new Subject<PipelineEvent>();
  const sink = attachLiveView(
    server,
    { events$: events, stats: () => ({}) as never, truthFor: () => undefined },
    config,
    undefined,
    options,
  );
  return { server, events, sink };
}

/** A server without a rate cap whose per-viewer queues start to fill once `highWater` bytes sit in the socket. */
async function queuedServer(queueMessages: number, queueBytes: number, highWater: number) {
  const config = liveConfig({ max_rate: 0, queue_messages: queueMessages, queue_bytes: queueBytes });
  const server = await LiveViewServer.start(liveViewChannels(config), { ...config.live_view, highWater });
  return { config, server };
}

const T = {
  camera: "/camera/image_raw",
  overlay: "/terrain_learner/roughness/overlay",
  roughness: "/terrain_learner/roughness/image",
  roughnessInfo: "/terrain_learner/roughness/camera_info",
  costmap: "/terrain_learner/roughness/costmap",
  speedLimit: "/terrain_learner/speed_limit",
  labels: "/terrain_learner/labels",
  learner: "/terrain_learner/learner",
  tf: "/tf",
  tfStatic: "/tf_static",
};

type Header = { stamp: { sec: number; nanosec: number }; frame_id: string };
const seconds = (h: Header) => h.stamp.sec + h.stamp.nanosec * 1e-9;

describe("live view during a real replay", () => {
  let result: ReplayResult;
  let viewer: TestViewer;
  let server: LiveViewServer;

  beforeAll(async () => {
    // No rate cap and room for everything: every frame's messages reach this viewer.
    const config = liveConfig({ max_rate: 0, queue_messages: 100_000, queue_bytes: 2 ** 30 });
    server = await startLiveView(config);
    viewer = new TestViewer(server.url);
    await viewer.ready();
    viewer.subscribe(Object.values(T));
    await waitFor(
      "subscriptions",
      () => server.wants("overlay") && server.wants("costmap") && server.wants("tfStatic"),
    );
    result = await runReplay({ bag, config, evaluate: true, liveView: server });
    // Everything sent has arrived.
    await waitFor("all messages", () => viewer.received.length >= server.stats().totals.sent, 20_000);
  }, 240_000);

  afterAll(async () => {
    await viewer?.close();
    await server?.close();
  });

  it("advertises every channel with a ros2msg schema and CDR encoding", () => {
    const advertised = [...viewer.channels.values()];
    expect(advertised.map((c) => c.topic).sort()).toEqual(
      liveViewChannels(defaultConfig())
        .map((c) => c.topic)
        .sort(),
    );
    for (const c of advertised) {
      expect(c.encoding).toBe("cdr");
      expect(c.schemaEncoding).toBe("ros2msg");
      expect(c.schema.length).toBeGreaterThan(10);
    }
    expect(viewer.channels.get(T.costmap)!.schemaName).toBe("nav_msgs/msg/OccupancyGrid");
    expect(viewer.channels.get(T.overlay)!.schemaName).toBe("sensor_msgs/msg/Image");
  });

  it("sends the overlay of every frame as an rgb8 camera-sized image, in stamp order", () => {
    const overlays = viewer.messages(T.overlay);
    expect(overlays.length).toBe(result.frames);
    let last = -1;
    for (const { message: m, logTime } of overlays) {
      expect(m.encoding).toBe("rgb8");
      expect([m.width, m.height, m.step]).toEqual([160, 120, 480]);
      expect((m.data as Uint8Array).length).toBe(160 * 120 * 3);
      const t = seconds(m.header as Header);
      expect(t).toBeGreaterThan(last);
      expect(Number(logTime) / 1e9).toBeCloseTo(t, 6);
      last = t;
    }
    // The overlay is the camera image with colour on the ground: it differs from the camera frame
    // of the same stamp, and not everywhere (the sky is left as it is).
    const camera = viewer.messages(T.camera).at(-1)!.message;
    const overlay = overlays.at(-1)!.message;
    const a = camera.data as Uint8Array;
    const b = overlay.data as Uint8Array;
    let changed = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
    expect(changed).toBeGreaterThan(a.length * 0.05);
    expect(changed).toBeLessThan(a.length * 0.95);
  });

  it("sends the costmap in odom with the configured geometry and known cells once the robot has seen ground", () => {
    const config = defaultConfig();
    const costmaps = viewer.messages(T.costmap);
    expect(costmaps.length).toBe(result.frames);
    const last = costmaps.at(-1)!.message as {
      header: Header;
      info: { resolution: number; width: number; height: number };
      data: Int8Array;
    };
    expect(last.header.frame_id).toBe("odom");
    expect(last.info.resolution).toBeCloseTo(config.outputs.costmap_resolution, 6);
    expect(last.data.length).toBe(last.info.width * last.info.height);
    const values = Array.from(last.data);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...values)).toBeLessThanOrEqual(100);
    expect(values.filter((v) => v >= 0).length).toBeGreaterThan(20);
  });

  it("sends the roughness image with a CameraInfo of the grid's size", () => {
    const img = viewer.messages(T.roughness).at(-1)!.message;
    const info = viewer.messages(T.roughnessInfo).at(-1)!.message as {
      width: number;
      height: number;
      k: Float64Array;
    };
    expect(img.encoding).toBe("32FC1");
    expect([info.width, info.height]).toEqual([img.width, img.height]);
    // The camera's principal point lands in the middle of the grid.
    expect(info.k[2]).toBeGreaterThan(0);
    expect(info.k[2]).toBeLessThan(info.width);
  });

  it("sends the labels layer, the learner's state and the TF tree", () => {
    const labels = viewer.messages(T.labels).at(-1)!.message as {
      markers: { header: Header; type: number; points: unknown[]; colors: unknown[] }[];
    };
    const [marker] = labels.markers;
    expect(marker!.header.frame_id).toBe("odom");
    expect(marker!.type).toBe(11);
    // Two triangles per label footprint (a quadrilateral), one colour per vertex.
    expect(marker!.points.length).toBe(6 * result.labels);
    expect(marker!.colors.length).toBe(marker!.points.length);

    const learner = viewer.messages(T.learner).at(-1)!.message;
    expect(learner.train_steps).toBe(result.trainSteps);
    expect(learner.labels).toBe(result.labels);
    expect(Number.isFinite(learner.loss)).toBe(true);
    // Ground truth is in the bag: the live ρ is a number in [-1, 1].
    expect(learner.rho as number).toBeGreaterThanOrEqual(-1);
    expect(learner.rho as number).toBeLessThanOrEqual(1);
    const speed = viewer.messages(T.speedLimit).at(-1)!.message;
    expect(speed.speed_limit as number).toBeGreaterThan(0);

    const tf = viewer
      .messages(T.tf)
      .flatMap((r) => (r.message.transforms as { header: Header; child_frame_id: string }[]) ?? []);
    expect(tf.some((t) => t.header.frame_id === "odom" && t.child_frame_id === "base_link")).toBe(true);
    const statics = viewer.messages(T.tfStatic).at(-1)!.message.transforms as { child_frame_id: string }[];
    expect(statics.length).toBeGreaterThan(0);
    // The viewer follows the data's clock.
    expect(Number(viewer.serverTime) / 1e9).toBeGreaterThan(DURATION - 2);
  });

  it("dropped nothing for a viewer that keeps up", () => {
    const s = server.stats();
    expect(s.clients).toHaveLength(1);
    expect(s.clients[0]!.dropped).toBe(0);
  });
});

describe("a viewer that stops reading", () => {
  it("loses old messages (counted) and the replay completes as without it", async () => {
    // Small queues so that the test reaches them: 8 messages / 1 MiB once 256 KiB sit in the socket.
    const { config, server } = await queuedServer(8, 2 ** 20, 256 * 1024);
    // The same replay with the server up and nobody watching, then with a viewer that stalls.
    const quiet = await runReplay({ bag, config, liveView: server });
    const slow = new TestViewer(server.url, { decode: false });
    const fast = new TestViewer(server.url, { decode: false });
    try {
      await Promise.all([slow.ready(), fast.ready()]);
      const heavy = [T.camera, T.overlay, T.roughness, T.costmap, T.tf];
      slow.subscribe(heavy);
      fast.subscribe([T.speedLimit]);
      await waitFor("subscriptions", () => server.wants("camera") && server.wants("speedLimit"));
      // Stop reading: the kernel buffers fill, then the server's queue for this viewer.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const watched = await runReplay({ bag, config, liveView: server });

      // The replay is the same run: sensor-time scheduling, nothing waited for the viewer.
      expect(watched.frames).toBe(quiet.frames);
      expect(watched.labels).toBe(quiet.labels);
      expect(watched.trainSteps).toBe(quiet.trainSteps);
      const stats = server.stats();
      const s = stats.clients.find((c) => c.sent + c.dropped > 1000)!;
      expect(s.dropped).toBeGreaterThan(0);
      // Bounded: what waits for the slow viewer never exceeds its queue.
      expect(s.queued).toBeLessThanOrEqual(8);
      expect(s.queuedBytes).toBeLessThanOrEqual(2 ** 20 + 160 * 120 * 3 + 64);
      // The other viewer got every speed limit.
      await waitFor("fast viewer", () => fast.counts.get(T.speedLimit) === watched.frames, 10_000);
      console.log(
        `replay wall time: ${quiet.wallSeconds.toFixed(2)} s without a viewer, ${watched.wallSeconds.toFixed(2)} s with a stalled one (dropped ${s.dropped}, sent ${s.sent})`,
      );
    } finally {
      await fast.close();
      slow.ws.terminate();
      await server.close();
    }
  }, 240_000);
});

describe("a viewer a little behind when the run ends", () => {
  it("still receives the final labels and learner state before the server closes", async () => {
    const { config, server } = await queuedServer(16, 2 ** 22, 64 * 1024);
    const viewer = new TestViewer(server.url);
    const closed = new Promise((resolve) => viewer.ws.once("close", resolve));
    try {
      await viewer.ready();
      viewer.subscribe([T.overlay, T.labels, T.learner]);
      await waitFor("subscriptions", () => server.wants("overlay") && server.wants("learner"));
      // Behind: it reads nothing during the run, then catches up as the run ends.
      const socket = (viewer.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      socket.pause();
      const result = await runReplay({ bag, config, liveView: server });
      expect(server.stats().clients[0]!.queued).toBeGreaterThan(0);
      socket.resume();
      // As the CLI does: the run is over, close the server at once.
      await server.close();
      await closed;
      const last = viewer.messages(T.learner).at(-1)!.message;
      expect(last.train_steps).toBe(result.trainSteps);
      expect(last.labels).toBe(result.labels);
      const layer = viewer.messages(T.labels).at(-1)!.message.markers as { points: unknown[] }[];
      expect(layer[0]!.points.length).toBe(6 * result.labels);
    } finally {
      viewer.ws.terminate();
      await server.close();
    }
  }, 240_000);
});

describe("viewers that join as the run ends", () => {
  it("get the final labels layer, learner state and static transforms until the server has closed", async () => {
    const { config, server } = await queuedServer(16, 2 ** 22, 64 * 1024);
    // A viewer that stopped reading keeps the closing server draining for its full 2 s.
    const stalled = new TestViewer(server.url);
    const late: TestViewer[] = [];
    const join = async () => {
      const v = new TestViewer(server.url);
      late.push(v);
      await v.ready();
      v.subscribe([T.labels, T.learner, T.tfStatic, T.tf]);
      return v;
    };
    const got = (v: TestViewer) =>
      v.messages(T.labels).length > 0 &&
      v.messages(T.learner).length > 0 &&
      v.messages(T.tfStatic).length > 0;
    try {
      await stalled.ready();
      stalled.subscribe([T.overlay]);
      await waitFor("subscription", () => server.wants("overlay"));
      (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const result = await runReplay({ bag, config, liveView: server });
      // After the run, before the server closes (the CLI writes the summary, closes MQTT, ...).
      const after = await join();
      await waitFor("the final state after the run", () => got(after), 5000);
      // While the server drains for the stalled viewer.
      const closing = server.close();
      const draining = await join();
      await waitFor("the final state while the server closes", () => got(draining), 1900);
      await closing;
      for (const v of [after, draining]) {
        const learner = v.messages(T.learner).at(-1)!.message;
        expect(learner.train_steps).toBe(result.trainSteps);
        expect(learner.labels).toBe(result.labels);
        const layer = v.messages(T.labels).at(-1)!.message.markers as { points: unknown[] }[];
        expect(layer[0]!.points.length).toBe(6 * result.labels);
        const tf = v.messages(T.tf).flatMap((r) => r.message.transforms as { child_frame_id: string }[]);
        expect(tf.map((t) => t.child_frame_id)).toContain("base_link");
        expect(Number(v.serverTime) / 1e9).toBeGreaterThan(SIM_EPOCH + DURATION - 2);
      }
    } finally {
      for (const v of [stalled, ...late]) v.ws.terminate();
      await server.close();
    }
  }, 240_000);
});

describe("a pipeline that offers its inputs as a tap", () => {
  it("feeds the live view from taps.inputs$, and input() then adds nothing", async () => {
    const config = liveConfig();
    const server = await startLiveView(config);
    const events = new Subject<PipelineEvent>();
    const inputs = new Subject<unknown>();
    const sink = attachLiveView(
      server,
      { events$: events, stats: () => ({}) as never, truthFor: () => undefined, taps: { inputs$: inputs } },
      config,
    );
    const viewer = new TestViewer(server.url);
    try {
      await viewer.ready();
      viewer.subscribe([T.tf]);
      await waitFor("subscription", () => server.wants("tf"));
      const tf = {
        kind: "transforms",
        stamp: 1,
        isStatic: false,
        transforms: [
          {
            stamp: 1,
            parent: "odom",
            child: "base_link",
            translation: { x: 2, y: 0, z: 0 },
            rotation: { x: 0, y: 0, z: 0, w: 1 },
            isStatic: false,
          },
        ],
      };
      inputs.next(tf);
      sink.input(tf as never);
      await waitFor("the transform", () => viewer.messages(T.tf).length >= 1);
      await new Promise((r) => setTimeout(r, 200));
      expect(viewer.messages(T.tf)).toHaveLength(1);
      const [t] = viewer.messages(T.tf)[0]!.message.transforms as {
        transform: { translation: { x: number } };
      }[];
      expect(t!.transform.translation.x).toBe(2);
    } finally {
      await viewer.close();
      sink.close();
      await server.close();
    }
    expect(inputs.observed).toBe(false);
  });
});

describe("a bag of two recordings (the stamps go back once)", () => {
  it("takes the viewer's clock back once, at the seam, and on through the second", async () => {
    const camera = { width: 64, height: 48, rate: 5 };
    const parts = [join(dir, "part-a.mcap"), join(dir, "part-b.mcap")];
    await generateWorldBag({ out: parts[0]!, duration: 6, camera });
    await generateWorldBag({ out: parts[1]!, duration: 6, camera, seed: 2 });
    const joined = join(dir, "joined.mcap");
    const out = await Ros2McapWriter.create(joined, { compression: "none" });
    let offset = 0;
    for (const part of parts) {
      const bag = await openBag(part);
      let last = 0;
      for await (const e of bag.messages()) {
        if (e.type !== "message") continue;
        // Recorded one after the other; the header stamps of the second start again at the first's.
        await out.write(e.topic, e.schemaName, e.logTime + offset, e.message);
        last = e.logTime + offset;
      }
      await bag.close();
      offset = last + 1 - SIM_EPOCH;
    }
    await out.close();

    const config = liveConfig();
    const server = await startLiveView(config);
    const viewer = new TestViewer(server.url, { decode: false });
    try {
      await viewer.ready();
      const result = await runReplay({ bag: joined, config, liveView: server });
      expect(result.problems).toEqual({ clockJump: 1 });
      // Seconds from the simulation's start, and where they went back.
      const t = () => viewer.times.map((ns) => Number(ns - BigInt(SIM_EPOCH) * 1_000_000_000n) / 1e9);
      const backs = () => t().flatMap((x, i, all) => (i > 0 && x < all[i - 1]! ? [i] : []));
      await waitFor("the second recording's end", () => backs().length > 0 && t().at(-1)! > 5.5, 5000);
      expect(backs()).toHaveLength(1);
      const [seam] = backs();
      // From the first recording's end to the second's start, then on to the second's end (not stuck
      // at the first's end, where the viewer would look every transform up).
      expect(t()[seam! - 1]!).toBeGreaterThan(5.5);
      expect(t()[seam!]!).toBeLessThan(0.5);
    } finally {
      await viewer.close();
      await server.close();
    }
  }, 120_000);
});

describe("viewers that come and go", () => {
  it("leave no socket, queue, subscription or listener behind", async () => {
    const config = liveConfig({ queue_messages: 4, queue_bytes: 2 ** 20 });
    const { server, events, sink } = await handFedLiveView(config);
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    const before = sockets();
    const CYCLES = 40;
    try {
      for (let i = 0; i < CYCLES; i++) {
        const v = new TestViewer(server.url, { decode: false });
        await v.ready();
        v.subscribe([T.tf, T.tfStatic]);
        await waitFor("subscription", () => server.wants("tf"));
        // Traffic while connected, through the sink: a transform per input.
        for (let k = 0; k < 5; k++)
          sink.input({
            kind: "transforms",
            transforms: [
              {
                stamp: i + k / 10,
                parent: "odom",
                child: "base_link",
                translation: { x: k, y: 0, z: 0 },
                rotation: { x: 0, y: 0, z: 0, w: 1 },
                isStatic: false,
              },
            ],
          });
        // Half leave politely, half vanish (socket destroyed without a close handshake).
        if (i % 2 === 0) await v.close();
        else {
          const closed = new Promise((r) => v.ws.once("close", r));
          (v.ws as unknown as { _socket: { destroy(): void } })._socket.destroy();
          await closed;
        }
        await waitFor("server-side close", () => server.resources().sockets === 0, 5000);
      }
      await waitFor("sockets released", () => sockets() <= before, 5000);
      const r = server.resources();
      expect(r).toEqual({ outboxes: 0, sockets: 0, queued: 0 });
      const s = server.stats();
      expect(s.totals.connections).toBe(CYCLES);
      expect(s.totals.sent).toBeGreaterThanOrEqual(CYCLES * 5);
      // Nobody is subscribed any more, so nothing is built or sent.
      for (const c of Object.values(s.channels)) expect(c.subscribers).toBe(0);
      expect(server.wants("tf")).toBe(false);
    } finally {
      sink.close();
      await server.close();
    }
    // The sink let go of the pipeline's events.
    expect(events.observed).toBe(false);
  }, 120_000);

  it("sends a second viewer the latched static transforms when it subscribes, not at the next re-send", async () => {
    const config = liveConfig();
    // Re-sends an hour apart: whatever a viewer gets here comes from its subscription.
    const { server, sink } = await handFedLiveView(config, { latchPeriodMs: 3_600_000 });
    sink.input({
      kind: "transforms",
      transforms: [
        {
          stamp: 1,
          parent: "base_link",
          child: "camera_link",
          translation: { x: 0.25, y: 0, z: 1 },
          rotation: { x: 0, y: 0, z: 0, w: 1 },
          isStatic: true,
        },
      ],
    });
    const viewers = [new TestViewer(server.url), new TestViewer(server.url)];
    try {
      for (const [i, v] of viewers.entries()) {
        await v.ready();
        v.subscribe([T.tfStatic]);
        await waitFor(`viewer ${i + 1}'s static transforms`, () => v.messages(T.tfStatic).length > 0, 5000);
        const tf = v.messages(T.tfStatic)[0]!.message.transforms as { child_frame_id: string }[];
        expect(tf.map((t) => t.child_frame_id)).toEqual(["camera_link"]);
      }
    } finally {
      for (const v of viewers) await v.close();
      sink.close();
      await server.close();
    }
  });

  it("moves the viewer's clock with the robot's motion, forward but for a new timeline", async () => {
    const config = liveConfig();
    const { server, events, sink } = await handFedLiveView(config);
    const viewer = new TestViewer(server.url);
    try {
      await viewer.ready();
      const pose = { position: { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } };
      const odom = (stamp: number) =>
        sink.input({
          kind: "odom",
          sample: {
            stamp,
            frameId: "odom",
            childFrameId: "base_link",
            pose,
            linear: { x: 1, y: 0, z: 0 },
            angular: { x: 0, y: 0, z: 0 },
          },
        });
      // No camera frame at all (a serial run): odometry alone moves the clock.
      odom(10);
      odom(9.5);
      odom(11);
      // An earlier time than the one sent (odometry late behind TF) is not sent: the viewer would
      // take that step back for a seek and clear its panels.
      server.broadcastTime(10.9);
      server.broadcastTime(12);
      await waitFor("time updates", () => viewer.serverTime === 12_000_000_000n, 5000);
      expect(viewer.times).toEqual([10_000_000_000n, 11_000_000_000n, 12_000_000_000n]);
      // A new timeline (the pipeline saw the stamps go back: a simulation reset, a bag in a loop):
      // the clock goes back with it, or the viewer's would stay at the old timeline's end.
      odom(2);
      events.next({
        type: "problem",
        problem: { type: "problem", kind: "clockJump", message: "stamps went back", stamp: 12 },
      });
      // The old timeline's last inputs, still on their way when the jump is reported.
      odom(11.5);
      odom(3);
      odom(2.5);
      await waitFor("the new timeline's time", () => viewer.serverTime === 3_000_000_000n, 5000);
      expect(viewer.times.slice(3)).toEqual([3_000_000_000n]);
      // A viewer that connects while the data stands still (a silent device, a run that has ended)
      // gets the clock at once; without it its panels have no time to show or look transforms up at.
      const late = new TestViewer(server.url);
      await late.ready();
      await waitFor("the late viewer's time", () => late.times.length > 0, 5000).finally(() => late.close());
      expect(late.times).toEqual([3_000_000_000n]);
      // The first viewer is not sent the same time again.
      expect(viewer.times.slice(3)).toEqual([3_000_000_000n]);
    } finally {
      await viewer.close();
      sink.close();
      await server.close();
    }
  });

  it("sends a viewer that connects after the data stopped the data's time at once, and the robot's pose", async () => {
    const config = liveConfig();
    const { server, sink } = await handFedLiveView(config);
    // The robot moved while no viewer was connected, then stopped sending.
    const transform = (stamp: number) => ({
      stamp,
      parent: "odom",
      child: "base_link",
      translation: { x: stamp, y: 0, z: 0 },
      rotation: { x: 0, y: 0, z: 0, w: 1 },
      isStatic: false,
    });
    sink.input({ kind: "transforms", transforms: [transform(4)] });
    sink.input({ kind: "transforms", transforms: [transform(5)] });
    const viewer = new TestViewer(server.url);
    try {
      await viewer.ready();
      await waitFor("the viewer's time", () => viewer.times.length > 0, 5000);
      expect(viewer.times).toEqual([5_000_000_000n]);
      // And, as it subscribes, where the robot is: its 3D view places the labels around it.
      viewer.subscribe([T.tf]);
      await waitFor("the robot's transform", () => viewer.messages(T.tf).length > 0, 5000);
      const [tf] = viewer.messages(T.tf)[0]!.message.transforms as {
        child_frame_id: string;
        transform: { translation: { x: number } };
      }[];
      expect(tf!.child_frame_id).toBe("base_link");
      expect(tf!.transform.translation.x).toBe(5);
    } finally {
      await viewer.close();
      sink.close();
      await server.close();
    }
  });

  it("says clearly when the port is taken, once", async () => {
    const a = await startLiveView(liveConfig());
    const logged: string[] = [];
    try {
      await expect(startLiveView(liveConfig({ port: a.port }), (l) => logged.push(l))).rejects.toThrow(
        new RegExp(`port ${a.port} on 127.0.0.1 is in use`),
      );
      expect(logged).toEqual([]);
    } finally {
      await a.close();
    }
  });
});
