// The ROS 2 adapter without ROS: the pure wiring, and the node's setup against a FAKE of the small
// rclnodejs surface it uses (tests/helpers/fake-rclnodejs.ts), fed with messages decoded from REAL
// bags (same shape rclnodejs delivers). Every published message is serialised with a real CDR
// writer (@foxglove/rosmsg2-serialization) from the ROS message definitions: that proves its shape
// is a valid message of the declared type.

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { loadRclnodejs, type RosNodeHandle, startRosNode } from "../src/adapters/ros2.ts";
import { diagnosticsMessage, InputMeter } from "../src/adapters/ros2-diagnostics.ts";
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";
import {
  type InputKind,
  inputFromRos,
  OutputMapper,
  publisherSpecs,
  resolveName,
  subscriptionSpecs,
} from "../src/adapters/ros2-wiring.ts";
import { register as registerRos, rosConfig } from "../src/cli/ros-command.ts";
import type { BagMessage } from "../src/io/bag/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { imuToRos, odomToRos } from "../src/io/ros/convert.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { describeQos, sensorDataQos } from "../src/io/ros/qos.ts";
import { type Config, ConfigError, defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type Pipeline } from "../src/runtime/pipeline.ts";
import { type FakeNode, type FakeQoS, FakeRclnodejs } from "./helpers/fake-rclnodejs.ts";

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, "fixtures/bags");

async function bagMessages(path: string, topics?: string[]): Promise<BagMessage[]> {
  const bag = await openBag(path);
  const out: BagMessage[] = [];
  try {
    for await (const e of bag.messages(topics ? { topics } : {})) if (e.type === "message") out.push(e);
  } finally {
    await bag.close();
  }
  return out;
}

/** Serialises with the CDR writer and reads it back: throws if `msg` is not a valid `type`. */
/** One frame's outputs on a single confident grid cell of this roughness, with this speed limit. */
/** An IMU lying level and still at stamp t. */
function levelImu(t: number) {
  return imuToRos({
    stamp: t,
    frameId: "imu_link",
    orientation: undefined,
    angularVelocity: { x: 0, y: 0, z: 0 },
    linearAcceleration: { x: 0, y: 0, z: 9.81 },
  });
}

/** Odometry of a robot at x along odom's x axis, driving straight at v m/s. */
function straightOdom(t: number, x: number, v: number) {
  return odomToRos({
    stamp: t,
    frameId: "odom",
    childFrameId: "base_link",
    pose: { position: { x, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
    linear: { x: v, y: 0, z: 0 },
    angular: { x: 0, y: 0, z: 0 },
  });
}

function oneCellOutputs(roughness: number, speedLimit: number) {
  return {
    stamp: 1,
    frameId: "cam",
    grid: {
      stamp: 1,
      frameId: "cam",
      rows: 1,
      cols: 1,
      strideX: 8,
      strideY: 8,
      roughness: new Float32Array([roughness]),
      confidence: new Float32Array([1]),
    },
    overlay: undefined,
    costmap: undefined,
    ahead: roughness,
    aheadConfidence: 1,
    speedLimit,
  };
}

function roundTrip(type: string, msg: unknown): unknown {
  const defs = definitionsFor(type);
  const bytes = new MessageWriter(defs).writeMessage(msg);
  return new MessageReader(defs).readMessage(bytes);
}

describe("ros2-wiring (pure)", () => {
  it("resolves private, relative and absolute names", () => {
    const names = { node: "terrain_learner", namespace: "/" };
    expect(resolveName("~/roughness/image", names)).toBe("/terrain_learner/roughness/image");
    expect(resolveName("/diagnostics", names)).toBe("/diagnostics");
    expect(resolveName("~/reset", { node: "tl", namespace: "/robot1" })).toBe("/robot1/tl/reset");
    expect(resolveName("imu", { node: "tl", namespace: "/robot1/" })).toBe("/robot1/imu");
  });

  it("subscribes to raw or compressed images by parameter, sensors with the sensor-data QoS, /tf and /tf_static as tf2 does", () => {
    const c = defaultConfig();
    const raw = subscriptionSpecs(c);
    expect(raw.map((s) => [s.topic, s.type, describeQos(s.qos)])).toEqual([
      ["/camera/image_raw", "sensor_msgs/msg/Image", "best effort, volatile, keep last 5"],
      ["/camera/camera_info", "sensor_msgs/msg/CameraInfo", "best effort, volatile, keep last 5"],
      // IMU and odometry must not lose a sample while a frame is processed: a second at 1 kHz.
      ["/imu/data", "sensor_msgs/msg/Imu", "best effort, volatile, keep last 1000"],
      ["/odom", "nav_msgs/msg/Odometry", "best effort, volatile, keep last 1000"],
      ["/tf", "tf2_msgs/msg/TFMessage", "reliable, volatile, keep last 100"],
      ["/tf_static", "tf2_msgs/msg/TFMessage", "reliable, transient local, keep last 100"],
    ]);
    c.ros.image_transport = "compressed";
    expect(subscriptionSpecs(c)[0]).toEqual({
      kind: "compressed",
      topic: "/camera/image_raw/compressed",
      type: "sensor_msgs/msg/CompressedImage",
      qos: sensorDataQos(5),
    });
  });

  it("publishes every output of the design table, SpeedLimit falling back to Float32 without nav2_msgs", () => {
    const names = { node: "terrain_learner", namespace: "/" };
    const specs = publisherSpecs(defaultConfig(), names, { speedLimitFallback: false });
    expect(Object.fromEntries(specs.map((s) => [s.topic, s.type]))).toEqual({
      "/terrain_learner/roughness/image": "sensor_msgs/msg/Image",
      "/terrain_learner/roughness/camera_info": "sensor_msgs/msg/CameraInfo",
      "/terrain_learner/roughness/confidence": "sensor_msgs/msg/Image",
      "/terrain_learner/roughness/overlay": "sensor_msgs/msg/Image",
      "/terrain_learner/roughness/costmap": "nav_msgs/msg/OccupancyGrid",
      "/terrain_learner/roughness/ahead": "std_msgs/msg/Float32",
      "/terrain_learner/speed_limit": "nav2_msgs/msg/SpeedLimit",
      "/terrain_learner/labels": "visualization_msgs/msg/MarkerArray",
      "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    });
    const qos = (sp: typeof specs, key: string) => describeQos(sp.find((s) => s.key === key)!.qos);
    expect(qos(specs, "costmap")).toBe("reliable, transient local, keep last 1");
    expect(qos(specs, "speedLimit")).toBe("reliable, transient local, keep last 1");
    // Reliable by default: RViz and rqt_image_view subscribe reliable and get nothing from best effort.
    for (const key of ["roughness", "roughnessInfo", "confidence", "overlay"])
      expect(qos(specs, key), key).toBe("reliable, volatile, keep last 5");
    const lossy = defaultConfig();
    lossy.ros.output_image_reliability = "best_effort";
    const bspecs = publisherSpecs(lossy, names, { speedLimitFallback: false });
    for (const key of ["roughness", "roughnessInfo", "confidence", "overlay"])
      expect(qos(bspecs, key), key).toBe("best effort, volatile, keep last 5");
    const fallback = publisherSpecs(defaultConfig(), names, { speedLimitFallback: true });
    expect(fallback.find((s) => s.key === "speedLimit")!.type).toBe("std_msgs/msg/Float32");
  });

  it("converts real bag messages (stinger IMU + TF, gps_nav odometry) to pipeline inputs", async () => {
    const stinger = await bagMessages(join(FIXTURES, "stinger_localization_bag"), [
      "/imu/data",
      "/tf",
      "/tf_static",
    ]);
    const odom = await bagMessages(join(FIXTURES, "gps_nav_ws_bag"), ["/odometry"]);
    const kindOf: Record<string, InputKind> = {
      "/imu/data": "imu",
      "/tf": "tf",
      "/tf_static": "tfStatic",
      "/odometry": "odom",
    };
    const counts: Record<string, number> = {};
    for (const m of [...stinger, ...odom]) {
      const input = inputFromRos(kindOf[m.topic]!, m.message);
      counts[input.kind] = (counts[input.kind] ?? 0) + 1;
      if (input.kind === "imu") {
        expect(Number.isFinite(input.sample.stamp)).toBe(true);
        expect(Number.isFinite(input.sample.linearAcceleration.z)).toBe(true);
      }
      if (input.kind === "odom") expect(input.sample.frameId).not.toBe("");
      if (input.kind === "transforms")
        for (const t of input.transforms) expect(t.isStatic).toBe(m.topic === "/tf_static");
    }
    expect(counts.imu).toBeGreaterThan(10);
    expect(counts.odom).toBeGreaterThan(10);
    expect(counts.transforms).toBeGreaterThan(0);
  });

  it("builds diagnostics that are valid DiagnosticArray messages, WARN for silent inputs", () => {
    const meter = new InputMeter(0);
    for (let i = 0; i < 200; i++) meter.received("imu", i / 200);
    meter.failed("odom");
    const out = diagnosticsMessage({
      stamp: 12.5,
      hardwareId: "/terrain_learner",
      inputs: meter.snapshot(1),
      subscriptions: subscriptionSpecs(defaultConfig()),
      stats: undefined,
      latencyMs: { mean: 12.25, max: 30, count: 4 },
      learning: true,
      speedLimitType: "nav2_msgs/msg/SpeedLimit",
    });
    const back = roundTrip(out.type, out.message) as {
      header: { stamp: { sec: number; nanosec: number } };
      status: { level: number; name: string; message: string; values: { key: string; value: string }[] }[];
    };
    expect(back.header.stamp).toEqual({ sec: 12, nanosec: 500_000_000 });
    const inputs = back.status[0]!;
    expect(inputs.level).toBe(1);
    expect(inputs.message).toContain("/camera/image_raw");
    expect(inputs.message).not.toContain("/imu/data");
    const v = Object.fromEntries(inputs.values.map((kv) => [kv.key, kv.value]));
    expect(v["/imu/data rate (Hz)"]).toBe("200");
    expect(v["/odom conversion errors"]).toBe("1");
    const learner = Object.fromEntries(back.status[1]!.values.map((kv) => [kv.key, kv.value]));
    expect(learner["latency mean (ms)"]).toBe("12.25");
    expect(learner["messages later than the reorder window"]).toBe("0");
  });
});

describe("ros params (--ros-args)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-rosparams-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("parses --params-file, -p and -r", () => {
    const a = parseRosArgs([
      "--config",
      "x.yaml",
      "--ros-args",
      "--params-file",
      "p.yaml",
      "-p",
      "mqtt.url:=mqtt://b:1883",
      "-r",
      "/imu/data:=/imu",
      "--log-level",
      "debug",
    ]);
    expect(a).toEqual({
      paramsFiles: ["p.yaml"],
      params: [["mqtt.url", "mqtt://b:1883"]],
      remaps: [["/imu/data", "/imu"]],
      parameterSources: [{ file: "p.yaml" }, { param: ["mqtt.url", "mqtt://b:1883"] }],
      logLevel: "debug",
      other: ["--config", "x.yaml"],
    });
  });

  it("loads nested and dotted parameters, /** and node entries, use_sim_time, -p overrides", () => {
    const f = join(dir, "ok.yaml");
    writeFileSync(
      f,
      [
        "/**:",
        "  ros__parameters:",
        "    use_sim_time: true",
        "    mqtt.robot_id: from-wildcard",
        "terrain_learner:",
        "  ros__parameters:",
        "    topics:",
        "      imu: /robot/imu",
        "    labeler.step_length: 0.5",
        "    ros:",
        "      image_transport: compressed",
      ].join("\n"),
    );
    const c = configFromRosArgs(
      parseRosArgs([
        "--ros-args",
        "--params-file",
        f,
        "-p",
        "labeler.min_speed:=0.2",
        "-p",
        "mqtt.robot_id:=rover9",
      ]),
    );
    expect(c.use_sim_time).toBe(true);
    expect(c.topics.imu).toBe("/robot/imu");
    expect(c.labeler.step_length).toBe(0.5);
    expect(c.labeler.min_speed).toBe(0.2);
    expect(c.mqtt.robot_id).toBe("rover9");
    expect(c.ros.image_transport).toBe("compressed");
  });

  it("names the bad key (unknown key, wrong type) and the file", () => {
    const f = join(dir, "bad.yaml");
    writeFileSync(f, "terrain_learner:\n  ros__parameters:\n    labeler:\n      stepLenght: 0.3\n");
    expect(() => configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", f]))).toThrow(
      new ConfigError(`${f}: unknown key labeler.stepLenght`),
    );
    const g = join(dir, "bad2.yaml");
    writeFileSync(g, "terrain_learner:\n  ros__parameters:\n    mqtt.queue_limit: lots\n");
    expect(() => configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", g]))).toThrow(
      /bad2\.yaml: mqtt\.queue_limit: /,
    );
    const h = join(dir, "other-node.yaml");
    writeFileSync(h, "camera_driver:\n  ros__parameters:\n    fps: 30\n");
    expect(() => configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", h]))).toThrow(
      /no parameters for node 'terrain_learner'/,
    );
  });

  it("accepts the shipped launch/params.yaml with every parameter", () => {
    const f = join(import.meta.dirname, "../launch/params.yaml");
    const c = configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", f]));
    // Everything is spelled out, so the file equals the defaults except where it says otherwise.
    expect(c.ros.node_name).toBe("terrain_learner");
    expect(c.topics).toEqual(defaultConfig().topics);
  });

  it("`terrain-learner ros` with a bad params file: non-zero exit, one line naming the key", async () => {
    const f = join(dir, "bad-cli.yaml");
    writeFileSync(f, "terrain_learner:\n  ros__parameters:\n    outputs:\n      maxSpeeed: 2\n");
    const err = await run(process.execPath, [
      "bin/terrain-learner.js",
      "ros",
      "--ros-args",
      "--params-file",
      f,
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).not.toBe(0);
    expect(err?.stderr.trim().split("\n")).toEqual([`terrain-learner: ${f}: unknown key outputs.maxSpeeed`]);
  });

  it("`terrain-learner ros` without rclnodejs: non-zero exit, one clear line", async () => {
    const err = await run(process.execPath, ["bin/terrain-learner.js", "ros"]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).not.toBe(0);
    const lines = err!.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^terrain-learner: ROS 2 is not available: .*source \/opt\/ros\/<distro>\/setup\.bash.*npm install rclnodejs/,
    );
  });

  it("`terrain-learner ros` refuses an unknown option before --ros-args instead of ignoring it", async () => {
    for (const [args, bad] of [
      [["--live-veiw"], "--live-veiw"],
      [["--params-file", "launch/params.yaml"], "--params-file"],
    ] as const) {
      const err = await run(process.execPath, ["bin/terrain-learner.js", "ros", ...args]).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr.trim().split("\n")).toEqual([
        `terrain-learner: ros: unknown option '${bad}' (ROS arguments such as --params-file and -p go after --ros-args)`,
      ]);
    }
  });

  it("`terrain-learner ros --robot-id` sets mqtt.robot_id (the id --fleet shares under)", () => {
    const program = new Command();
    registerRos(program);
    const cmd = program.commands.find((c) => c.name() === "ros")!;
    const args = [
      "--fleet",
      "mqtt://127.0.0.1:1883",
      "--robot-id",
      "rover7",
      "--ros-args",
      "-p",
      "ros.qos_depth:=3",
    ];
    cmd.parseOptions(args);
    const config = rosConfig(args, cmd.opts(), cmd);
    expect(config.mqtt.robot_id).toBe("rover7");
    expect(config.fleet.url).toBe("mqtt://127.0.0.1:1883");
    expect(config.ros.qos_depth).toBe(3);
  });

  it("loadRclnodejs turns a failed import into the same one-line UserError", async () => {
    await expect(
      loadRclnodejs(() =>
        Promise.reject(
          Object.assign(new Error("Cannot find module 'rclnodejs'"), { code: "ERR_MODULE_NOT_FOUND" }),
        ),
      ),
    ).rejects.toThrow(/ROS 2 is not available.*\(rclnodejs is not installed\)$/);
    await expect(
      loadRclnodejs(() => Promise.reject(new Error("librcl.so: cannot open shared object file\nmore"))),
    ).rejects.toThrow(/rclnodejs failed to load \(librcl\.so: cannot open shared object file\)/);
  });
});

describe("ROS 2 node on a fake rclnodejs, fed with real bag messages", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-rosnode-"));
  const simBag = join(dir, "sim.mcap");
  let config: Config;
  let pipeline: Pipeline;
  let rcl: FakeRclnodejs;
  let node: FakeNode;
  let handle: RosNodeHandle;

  beforeAll(async () => {
    await generateWorldBag({ out: simBag, seed: 3, duration: 12, camera: { width: 160, height: 120 } });
    config = defaultConfig();
    config.use_sim_time = true;
    config.ros.costmap_rate = 1000; // every frame's costmap, for the test
    config.learner.checkpoint_dir = join(dir, "ckpt");
    pipeline = await createPipeline(config, {
      mode: "live",
      overlay: true,
      costmap: true,
      statsEvery: 1,
      warn: () => undefined,
    });
    rcl = new FakeRclnodejs();
    await rcl.init();
    handle = startRosNode(rcl, config, pipeline, { log: () => undefined });
    node = rcl.nodes[0]!;
  }, 300_000);

  afterAll(async () => {
    await handle?.stop();
    await pipeline?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates node terrain_learner with sensor-data QoS inputs, tf2's QoS on /tf and /tf_static, spins, honours use_sim_time", () => {
    expect(node.name()).toBe("terrain_learner");
    expect(rcl.spun).toEqual([node]);
    expect(node.parameters.get("use_sim_time")).toBe(true);
    const qos = Object.fromEntries(
      node.subscriptions.map((s) => [s.topic, `${s.type} ${(s.qos as FakeQoS).describe()}`]),
    );
    expect(qos).toEqual({
      "/camera/image_raw": "sensor_msgs/msg/Image keep_last(5) best_effort volatile",
      "/camera/camera_info": "sensor_msgs/msg/CameraInfo keep_last(5) best_effort volatile",
      "/imu/data": "sensor_msgs/msg/Imu keep_last(1000) best_effort volatile",
      "/odom": "nav_msgs/msg/Odometry keep_last(1000) best_effort volatile",
      "/tf": "tf2_msgs/msg/TFMessage keep_last(100) reliable volatile",
      "/tf_static": "tf2_msgs/msg/TFMessage keep_last(100) reliable transient_local",
    });
    const pubs = Object.fromEntries(node.publishers.map((p) => [p.topic, `${p.type} ${p.qos.describe()}`]));
    expect(pubs).toEqual({
      "/terrain_learner/roughness/image": "sensor_msgs/msg/Image keep_last(5) reliable volatile",
      "/terrain_learner/roughness/camera_info": "sensor_msgs/msg/CameraInfo keep_last(5) reliable volatile",
      "/terrain_learner/roughness/confidence": "sensor_msgs/msg/Image keep_last(5) reliable volatile",
      "/terrain_learner/roughness/overlay": "sensor_msgs/msg/Image keep_last(5) reliable volatile",
      "/terrain_learner/roughness/costmap":
        "nav_msgs/msg/OccupancyGrid keep_last(1) reliable transient_local",
      "/terrain_learner/roughness/ahead": "std_msgs/msg/Float32 keep_last(10) reliable volatile",
      "/terrain_learner/speed_limit": "nav2_msgs/msg/SpeedLimit keep_last(1) reliable transient_local",
      "/terrain_learner/labels": "visualization_msgs/msg/MarkerArray keep_last(10) reliable volatile",
      "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray keep_last(10) reliable volatile",
    });
    expect(node.services.map((s) => `${s.name} ${s.type}`)).toEqual([
      "/terrain_learner/save_checkpoint std_srvs/srv/Trigger",
      "/terrain_learner/reset std_srvs/srv/Trigger",
      "/terrain_learner/pause_learning std_srvs/srv/SetBool",
    ]);
  });

  it("runs a real bag through the subscriptions and publishes valid messages on every output", async () => {
    const messages = await bagMessages(simBag);
    let predictions = 0;
    const sub = pipeline.events$.subscribe((e) => {
      if (e.type === "prediction") predictions++;
    });
    let delivered = 0;
    for (const m of messages) {
      node.clock = m.logTime;
      delivered += node.deliver(m.topic, m.message);
      if (m.schemaName === "sensor_msgs/msg/Image") {
        // Live mode drops frames that arrive while one is processed (latest wins); give each frame
        // its time here, as a camera at 15 Hz would.
        const before = predictions;
        await handle.drain();
        const deadline = Date.now() + 10_000;
        while (predictions === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      }
    }
    sub.unsubscribe();
    expect(delivered).toBeGreaterThan(1000);
    await handle.drain();
    await pipeline.finish();
    const stats = pipeline.stats();
    expect(stats.framesProcessed).toBeGreaterThan(10);
    expect(stats.labels).toBeGreaterThan(3);

    const camera = messages.find((m) => m.topic === "/camera/image_raw")!.message as {
      header: { frame_id: string };
    };
    for (const p of node.publishers.filter((x) => x.topic !== "/diagnostics")) {
      expect(p.messages.length, p.topic).toBeGreaterThan(0);
      for (const msg of p.messages) roundTrip(p.type, msg); // throws on an invalid message
    }
    const rough = node.publisher("/terrain_learner/roughness/image").messages.at(-1) as {
      header: { frame_id: string };
      encoding: string;
      width: number;
      height: number;
      data: Uint8Array;
    };
    expect(rough.header.frame_id).toBe(camera.header.frame_id);
    expect(rough.encoding).toBe("32FC1");
    expect(rough.data.byteLength).toBe(rough.width * rough.height * 4);
    // The roughness image's CameraInfo: same stamp, frame and size as the image it describes.
    const info = node.publisher("/terrain_learner/roughness/camera_info").messages.at(-1) as typeof rough & {
      k: Float64Array;
    };
    expect([info.header, info.width, info.height]).toEqual([rough.header, rough.width, rough.height]);
    expect(info.k[0]).toBeGreaterThan(0);
    const costmap = roundTrip(
      "nav_msgs/msg/OccupancyGrid",
      node.publisher("/terrain_learner/roughness/costmap").messages.at(-1),
    ) as {
      header: { frame_id: string };
      info: { width: number; height: number };
      data: Int8Array;
    };
    expect(costmap.header.frame_id).toBe("odom");
    // Which cells are known depends on how far learning got (confidence); the shape does not.
    expect(costmap.data.length).toBe(costmap.info.width * costmap.info.height);
    expect(costmap.data.every((v) => v === -1 || (v >= 0 && v <= 100))).toBe(true);
    const speed = node.publisher("/terrain_learner/speed_limit").messages.at(-1) as {
      percentage: boolean;
      speed_limit: number;
    };
    // A percentage of max_speed: a Nav2 controller never drives faster than its own maximum.
    expect(speed.percentage).toBe(true);
    expect(speed.speed_limit).toBeGreaterThanOrEqual(
      (100 * config.outputs.min_speed) / config.outputs.max_speed - 1e-9,
    );
    expect(speed.speed_limit).toBeLessThanOrEqual(100);
    const markers = node.publisher("/terrain_learner/labels").messages as {
      markers: { header: { frame_id: string }; points: unknown[] }[];
    }[];
    expect(markers.length).toBe(stats.labels);
    expect(markers[0]!.markers[0]!.header.frame_id).toBe("odom");
    expect(markers[0]!.markers[0]!.points.length % 3).toBe(0);

    handle.publishDiagnostics();
    const diag = roundTrip(
      "diagnostic_msgs/msg/DiagnosticArray",
      node.publisher("/diagnostics").messages.at(-1),
    ) as {
      status: { name: string; values: { key: string; value: string }[] }[];
    };
    const learner = Object.fromEntries(diag.status[1]!.values.map((kv) => [kv.key, kv.value]));
    expect(learner.backend).toBe(pipeline.learner.backend);
    expect(Number(learner["frames processed"])).toBe(stats.framesProcessed);
    // Sim time: the node clock is the bag's time, so latency is small and finite.
    expect(Number.isFinite(Number(learner["latency mean (ms)"]))).toBe(true);
  }, 300_000);

  it("serves save_checkpoint, pause_learning and reset (std_srvs)", async () => {
    expect(await node.call("/terrain_learner/pause_learning", { data: true })).toEqual({
      success: true,
      message: "learning paused (predictions continue)",
    });
    expect(config.learner.enabled).toBe(false);
    expect(await node.call("/terrain_learner/pause_learning", { data: false })).toMatchObject({
      success: true,
    });
    expect(config.learner.enabled).toBe(true);
    const saved = (await node.call("/terrain_learner/save_checkpoint", {})) as {
      success: boolean;
      message: string;
    };
    expect(saved.success).toBe(true);
    expect(existsSync(config.learner.checkpoint_dir)).toBe(true);
    expect(readdirSync(config.learner.checkpoint_dir).length).toBeGreaterThan(0);
    expect(await node.call("/terrain_learner/reset", {})).toMatchObject({ success: true });
    expect(pipeline.learner.stats().bufferSize).toBe(0);
    config.learner.checkpoint_dir = "";
    expect(await node.call("/terrain_learner/save_checkpoint", {})).toEqual({
      success: false,
      message: "no checkpoint directory configured (set learner.checkpoint_dir)",
    });
  });

  it("without nav2_msgs publishes the speed limit as std_msgs/Float32", async () => {
    const rcl2 = new FakeRclnodejs({ packages: ["std_msgs", "sensor_msgs"] });
    const p2 = await createPipeline(defaultConfig(), { mode: "live", warn: () => undefined });
    const h2 = startRosNode(rcl2, defaultConfig(), p2, { log: () => undefined });
    try {
      const n2 = rcl2.nodes[0]!;
      expect(n2.publisher("/terrain_learner/speed_limit").type).toBe("std_msgs/msg/Float32");
      // rclnodejs also lacks nav2_msgs installed after it generated its messages: the line says how
      // to generate them, not only to install the package.
      expect(n2.logs.filter((l) => l.includes("nav2_msgs/msg/SpeedLimit"))).toEqual([
        "WARN rclnodejs cannot load nav2_msgs/msg/SpeedLimit (Package 'nav2_msgs' not found): publishing ~/speed_limit as std_msgs/msg/Float32 (m/s), which Nav2's controller server does not read; install nav2_msgs (ros-<distro>-nav2-msgs), or, when it is installed, run `npx generate-ros-messages` in the terrain-learner checkout with ROS sourced (rclnodejs made its messages before nav2_msgs came)",
      ]);
      const mapper = new OutputMapper(
        publisherSpecs(
          defaultConfig(),
          { node: "terrain_learner", namespace: "/" },
          { speedLimitFallback: true },
        ),
        defaultConfig(),
      );
      const out = mapper.prediction({ outputs: oneCellOutputs(0.5, 1.15) });
      const speed = out.find((o) => o.key === "speedLimit")!;
      expect(roundTrip(speed.type, speed.message)).toEqual({ data: Math.fround(1.15) });
    } finally {
      await h2.stop();
      await p2.close();
    }
  });

  it("warns once when odometry is not in frames.odom", async () => {
    const rcl3 = new FakeRclnodejs();
    const p3 = await createPipeline(defaultConfig(), { mode: "live", warn: () => undefined });
    const h3 = startRosNode(rcl3, defaultConfig(), p3, { log: () => undefined });
    try {
      const n3 = rcl3.nodes[0]!;
      const zero = { x: 0, y: 0, z: 0 };
      const odom = (stamp: number, frameId: string) =>
        odomToRos({
          stamp,
          frameId,
          childFrameId: "base_link",
          pose: { position: zero, orientation: { ...zero, w: 1 } },
          linear: zero,
          angular: zero,
        });
      n3.deliver("/odom", odom(1, "wheel_odom"));
      n3.deliver("/odom", odom(2, "wheel_odom"));
      const warns = n3.logs.filter((l) => l.includes("odometry is in frame"));
      expect(warns).toEqual([
        "WARN odometry is in frame 'wheel_odom' but frames.odom is 'odom': the costmap and labels are stamped 'odom'; set frames.odom: wheel_odom",
      ]);
    } finally {
      await h3.stop();
      await p3.close();
    }
  });

  it("holds the speed limit at the minimum once predictions stop (the topic is latched)", () => {
    const config = defaultConfig();
    let wall = 100;
    const specs = publisherSpecs(
      config,
      { node: "terrain_learner", namespace: "/" },
      { speedLimitFallback: false },
    );
    const mapper = new OutputMapper(specs, config, () => wall);
    const outputs = oneCellOutputs(0, config.outputs.max_speed);
    const minPercent = (100 * config.outputs.min_speed) / config.outputs.max_speed;
    // Before the first prediction the node has judged nothing: after the timeout, the minimum.
    wall += config.ros.speed_limit_timeout - 0.1;
    expect(mapper.staleSpeedLimit(5)).toEqual([]);
    wall += 0.2;
    const held = mapper.staleSpeedLimit(5);
    expect(held).toHaveLength(1);
    expect(roundTrip(held[0]!.type, held[0]!.message)).toMatchObject({ percentage: true });
    expect((held[0]!.message as { speed_limit: number }).speed_limit).toBeCloseTo(minPercent, 9);
    expect(mapper.speedLimitStale).toBe(true);
    // Not at every check: again after a second (tests/speed-limit-hold.test.ts).
    wall += 0.5;
    expect(mapper.staleSpeedLimit(6)).toEqual([]);
    // A prediction lifts the hold and restarts the clock; the limit climbs back from the minimum
    // at outputs.speed_limit_rise (0.5 m/s per s of sensor time), not at once to the pipeline's.
    const limitAt = (stamp: number) =>
      (
        mapper.prediction({ outputs: { ...outputs, stamp } }).find((o) => o.key === "speedLimit")!
          .message as { speed_limit: number }
      ).speed_limit;
    const percent = (v: number) => (100 * v) / config.outputs.max_speed;
    expect(limitAt(1)).toBeCloseTo(minPercent, 9);
    expect(mapper.speedLimitStale).toBe(false);
    expect(limitAt(2)).toBeCloseTo(percent(config.outputs.min_speed + config.outputs.speed_limit_rise), 9);
    expect(limitAt(5)).toBe(100);
    expect(limitAt(5.1)).toBe(100);
    wall += config.ros.speed_limit_timeout / 2;
    expect(mapper.staleSpeedLimit(7)).toEqual([]);
    wall += config.ros.speed_limit_timeout;
    expect(mapper.staleSpeedLimit(8)).toHaveLength(1);
    // 0 turns the guard off.
    const off = defaultConfig();
    off.ros.speed_limit_timeout = 0;
    const never = new OutputMapper(specs, off, () => wall);
    wall += 1000;
    expect(never.staleSpeedLimit(9)).toEqual([]);
  });

  it("drops and counts a bad message instead of crashing, with one warning per topic", async () => {
    const before = pipeline.stats().problems;
    node.deliver("/imu/data", { header: { stamp: { sec: 1, nanosec: 0 }, frame_id: "imu" } });
    node.deliver("/imu/data", { nonsense: true });
    await handle.drain();
    expect(node.logs.filter((l) => l.startsWith("WARN /imu/data")).length).toBe(1);
    // Not the graph's problems: they never reached it.
    expect(pipeline.stats().problems).toEqual(before);
    handle.publishDiagnostics();
    const diag = roundTrip(
      "diagnostic_msgs/msg/DiagnosticArray",
      node.publisher("/diagnostics").messages.at(-1),
    ) as {
      status: { values: { key: string; value: string }[] }[];
    };
    const v = Object.fromEntries(diag.status[0]!.values.map((kv) => [kv.key, kv.value]));
    expect(v["/imu/data conversion errors"]).toBe("2");
  });
});

describe("the ROS 2 node feeds the stream graph (fusion orders what arrives out of order)", () => {
  it("places crossed odometry, drops exactly the IMU messages later than the reorder window", async () => {
    const config = defaultConfig();
    const pipeline = await createPipeline(config, { mode: "live", warn: () => undefined });
    const rcl = new FakeRclnodejs();
    await rcl.init();
    const handle = startRosNode(rcl, config, pipeline, { log: () => undefined });
    const node = rcl.nodes[0]!;
    try {
      const t0 = 1_700_000_000;
      const imu = levelImu;
      const odom = (t: number) => straightOdom(t, t - t0, 1);
      // 3 s of IMU at 200 Hz and odometry at 50 Hz; every 10th odometry message swaps places with the
      // next one (they cross in transport); 4 IMU samples are held back 1 s (4× the window).
      const heldBack = new Map<number, number[]>();
      let imuSent = 0;
      for (let k = 0; k < 600; k++) {
        const t = t0 + k / 200;
        if (k % 150 === 75) {
          const due = k + 200;
          heldBack.set(due, [...(heldBack.get(due) ?? []), t]);
        } else node.deliver("/imu/data", imu(t));
        imuSent++;
        for (const late of heldBack.get(k) ?? []) node.deliver("/imu/data", imu(late));
        heldBack.delete(k);
        if (k % 4 === 0) {
          const j = k / 4;
          if (j % 10 === 0) continue; // sent after the next one
          node.deliver("/odom", odom(t0 + j / 50));
          if (j % 10 === 1) node.deliver("/odom", odom(t0 + (j - 1) / 50));
        }
      }
      for (const rest of heldBack.values()) for (const t of rest) node.deliver("/imu/data", imu(t));
      await handle.drain();
      const s = await pipeline.finish();
      const sup = s.supervisor as { imu: { accepted: number }; odom: { accepted: number } };
      // Live, the watermark follows the slowest stream that keeps up, less the disorder each stream
      // has shown (its first crossing falls in the first window, where the window alone decides).
      expect(s.problems).toEqual({ late: 4 });
      expect(sup.odom.accepted).toBe(150);
      expect(sup.imu.accepted).toBe(600 - 4);
      expect(imuSent).toBe(600);
      // The log says so once, with the parameter to change; /diagnostics counts the rest.
      const dropped = node.logs.filter((l) => l.includes("message dropped"));
      expect(dropped).toHaveLength(1);
      expect(dropped[0]).toMatch(
        /^WARN imu message dropped: .*raise fusion\.reorder_window by more than that/,
      );
    } finally {
      await handle.stop();
      await pipeline.close();
    }
  }, 120_000);

  it("a simulation reset (stamps go back 60 s): one WARN that the clock jumped back, nothing dropped", async () => {
    const config = defaultConfig();
    const pipeline = await createPipeline(config, { mode: "live", warn: () => undefined });
    const rcl = new FakeRclnodejs();
    await rcl.init();
    const handle = startRosNode(rcl, config, pipeline, { log: () => undefined });
    const node = rcl.nodes[0]!;
    try {
      const imu = levelImu;
      const odom = (t: number) => straightOdom(t, 0, 0);
      for (const start of [60, 0]) {
        for (let k = 0; k < 200; k++) {
          node.deliver("/imu/data", imu(start + k / 200));
          if (k % 4 === 0) node.deliver("/odom", odom(start + k / 200));
        }
      }
      await handle.drain();
      const s = await pipeline.finish();
      // The time-keyed state starts afresh at the jump: the second run's messages all go in.
      expect(s.problems).toEqual({ clockJump: 1 });
      const sup = s.supervisor as { imu: { accepted: number }; odom: { accepted: number } };
      expect(sup.imu.accepted).toBe(400);
      expect(sup.odom.accepted).toBe(100);
      expect(node.logs.filter((l) => l.includes("message dropped"))).toEqual([]);
      const jumps = node.logs.filter((l) => l.includes("the clock jumped back"));
      expect(jumps).toHaveLength(1);
      expect(jumps[0]).toMatch(/^WARN the clock jumped back 60\.\d+ s, from 60\.\d+ to 0 /);
    } finally {
      await handle.stop();
      await pipeline.close();
    }
  }, 120_000);
});
