// The simulator's bag read back through @mcap/core and through our own reader: topics, types,
// rates, metadata, frames, and IMU gravity on the axis the mounting says.

import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { loadDecompressHandlers } from "@mcap/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerateResult, generateWorldBag, SIM_EPOCH, TOPICS } from "../sim/index.ts";
import { quatConjugate, quatRotate } from "../src/core/geometry.ts";
import { openBag } from "../src/io/bag/index.ts";
import { imuFromRos, odomFromRos, transformsFromRos } from "../src/io/ros/convert.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-bag-"));
const path = join(dir, "drive.mcap");
const DURATION = 3;
let result: GenerateResult;

interface Raw {
  topic: string;
  schema: string;
  logTime: bigint;
  data: Uint8Array;
}
let raw: Raw[] = [];
let metadata = new Map<string, string>();
const qosByTopic = new Map<string, string>();

beforeAll(async () => {
  result = await generateWorldBag({ out: path, seed: 3, duration: DURATION });
  const handle = await open(path, "r");
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: new FileHandleReadable(handle),
      decompressHandlers: await loadDecompressHandlers(),
    });
    expect(reader.header.profile).toBe("ros2");
    for await (const m of reader.readMetadata({ name: "terrain_learner_sim" })) metadata = m.metadata;
    raw = [];
    for (const ch of reader.channelsById.values())
      qosByTopic.set(ch.topic, ch.metadata.get("offered_qos_profiles") ?? "(none)");
    for await (const m of reader.readMessages()) {
      const ch = reader.channelsById.get(m.channelId)!;
      const schema = reader.schemasById.get(ch.schemaId)!;
      expect(schema.encoding).toBe("ros2msg");
      expect(ch.messageEncoding).toBe("cdr");
      raw.push({ topic: ch.topic, schema: schema.name, logTime: m.logTime, data: m.data });
    }
  } finally {
    await handle.close();
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function decode(r: Raw): unknown {
  return new MessageReader(definitionsFor(r.schema)).readMessage(r.data);
}

function count(topic: string): number {
  return raw.filter((r) => r.topic === topic).length;
}

describe("simulator bag via @mcap/core", () => {
  it("has the contract's topics, types and rates", () => {
    const types = new Map(raw.map((r) => [r.topic, r.schema]));
    expect(Object.fromEntries(types)).toEqual({
      [TOPICS.image]: "sensor_msgs/msg/Image",
      [TOPICS.cameraInfo]: "sensor_msgs/msg/CameraInfo",
      [TOPICS.imu]: "sensor_msgs/msg/Imu",
      [TOPICS.odom]: "nav_msgs/msg/Odometry",
      [TOPICS.tf]: "tf2_msgs/msg/TFMessage",
      [TOPICS.tfStatic]: "tf2_msgs/msg/TFMessage",
      [TOPICS.roughness]: "nav_msgs/msg/OccupancyGrid",
      [TOPICS.terrain]: "nav_msgs/msg/OccupancyGrid",
      [TOPICS.pose]: "nav_msgs/msg/Odometry",
    });
    expect(count(TOPICS.imu)).toBe(200 * DURATION);
    expect(count(TOPICS.odom)).toBe(50 * DURATION);
    expect(count(TOPICS.tf)).toBe(50 * DURATION);
    expect(count(TOPICS.pose)).toBe(50 * DURATION);
    expect(count(TOPICS.image)).toBe(15 * DURATION);
    expect(count(TOPICS.cameraInfo)).toBe(15 * DURATION);
    expect(count(TOPICS.tfStatic)).toBe(1);
    expect(count(TOPICS.roughness)).toBe(1);
    expect(count(TOPICS.terrain)).toBe(1);
    expect(result.imuSamples).toBe(200 * DURATION);
    expect(result.frames).toBe(15 * DURATION);
  });

  it("writes messages in log-time order from the fixed epoch, log time = header stamp", () => {
    for (let i = 1; i < raw.length; i++) expect(raw[i]!.logTime >= raw[i - 1]!.logTime).toBe(true);
    expect(raw[0]!.logTime).toBe(BigInt(SIM_EPOCH) * 1_000_000_000n);
    const imu = raw.filter((r) => r.topic === TOPICS.imu);
    const dts = imu.slice(1).map((r, i) => Number(r.logTime - imu[i]!.logTime) / 1e9);
    expect(Math.min(...dts)).toBeCloseTo(0.005, 6);
    expect(Math.max(...dts)).toBeCloseTo(0.005, 6);
    for (const r of raw.filter((x) => x.topic === TOPICS.odom).slice(0, 5)) {
      const m = decode(r) as { header: { stamp: { sec: number; nanosec: number } } };
      expect(BigInt(m.header.stamp.sec) * 1_000_000_000n + BigInt(m.header.stamp.nanosec)).toBe(r.logTime);
    }
  });

  it("offers /tf_static latched (transient local) like rosbag2, other topics with no profile", () => {
    const latched = qosByTopic.get("/tf_static") ?? "";
    expect(latched).toMatch(/durability: 1\n/); // TRANSIENT_LOCAL
    expect(latched).toMatch(/reliability: 1\n/); // RELIABLE
    expect(latched).toMatch(/depth: 1\n/);
    expect(qosByTopic.get(TOPICS.odom)).toBe("");
  });

  it("records the world, seed and version in the terrain_learner_sim metadata", () => {
    expect(metadata.get("seed")).toBe("3");
    expect(metadata.get("version")).toBeDefined();
    const world = JSON.parse(metadata.get("world")!) as {
      terrains: { name: string; roughness: number; driven: boolean }[];
    };
    expect(world.terrains.length).toBeGreaterThanOrEqual(8);
    expect(world.terrains.filter((t) => !t.driven).length).toBeGreaterThanOrEqual(2);
    for (const t of world.terrains) expect(t.roughness).toBeGreaterThanOrEqual(0);
  });

  it("publishes the static frames and a rgb8 image with CameraInfo in the optical frame", () => {
    const tfs = transformsFromRos(decode(raw.find((r) => r.topic === TOPICS.tfStatic)!), true);
    expect(tfs.map((t) => `${t.parent}->${t.child}`).sort()).toEqual([
      "base_link->camera_link",
      "base_link->imu_link",
      "camera_link->camera_optical_frame",
    ]);
    const img = decode(raw.find((r) => r.topic === TOPICS.image)!) as {
      header: { frame_id: string };
      encoding: string;
      width: number;
      height: number;
      step: number;
      data: Uint8Array;
    };
    expect(img.header.frame_id).toBe("camera_optical_frame");
    expect([img.encoding, img.width, img.height, img.step, img.data.length]).toEqual([
      "rgb8",
      320,
      240,
      960,
      320 * 240 * 3,
    ]);
    const info = decode(raw.find((r) => r.topic === TOPICS.cameraInfo)!) as {
      distortion_model: string;
      d: Float64Array;
      k: Float64Array;
    };
    expect(info.distortion_model).toBe("plumb_bob");
    expect(info.d.length).toBe(5);
    expect(Array.from(info.d).some((d) => d !== 0)).toBe(true);
    // 80° HFOV at 320 px.
    expect(info.k[0]).toBeCloseTo(160 / Math.tan((40 * Math.PI) / 180), 6);
  });

  it("measures gravity on the axis the imu_link mounting implies (rest at the start)", () => {
    const tfs = transformsFromRos(decode(raw.find((r) => r.topic === TOPICS.tfStatic)!), true);
    const mount = tfs.find((t) => t.child === "imu_link")!;
    // The robot stands still for the first second.
    const rest = raw.filter(
      (r) => r.topic === TOPICS.imu && r.logTime < BigInt(SIM_EPOCH) * 1_000_000_000n + 900_000_000n,
    );
    const mean = { x: 0, y: 0, z: 0 };
    for (const r of rest) {
      const s = imuFromRos(decode(r));
      expect(s.frameId).toBe("imu_link");
      mean.x += s.linearAcceleration.x / rest.length;
      mean.y += s.linearAcceleration.y / rest.length;
      mean.z += s.linearAcceleration.z / rest.length;
    }
    // Default mounting is pitched 90°: +9.81 "up" shows on imu −x, not on z.
    expect(mean.x).toBeCloseTo(-9.81, 0);
    expect(Math.abs(mean.z)).toBeLessThan(0.5);
    // Rotated into base_link with the published TF, gravity's reaction points up.
    const up = quatRotate(mount.rotation, mean);
    expect(up.z).toBeCloseTo(9.81, 0);
    expect(Math.hypot(up.x, up.y)).toBeLessThan(0.5);
    // And the inverse rotation maps base up back onto the measured axis.
    const back = quatRotate(quatConjugate(mount.rotation), { x: 0, y: 0, z: 1 });
    expect(back.x).toBeCloseTo(-1, 6);
  });

  it("keeps odometry on the true pose at first and lets it drift later", () => {
    const odom = raw.filter((r) => r.topic === TOPICS.odom).map((r) => odomFromRos(decode(r)));
    const truth = raw.filter((r) => r.topic === TOPICS.pose).map((r) => odomFromRos(decode(r)));
    expect(odom[0]!.frameId).toBe("odom");
    expect(odom[0]!.childFrameId).toBe("base_link");
    expect(odom[0]!.pose.position.x).toBeCloseTo(truth[0]!.pose.position.x, 9);
    expect(odom[0]!.pose.position.y).toBeCloseTo(truth[0]!.pose.position.y, 9);
    const last = odom.length - 1;
    const err = Math.hypot(
      odom[last]!.pose.position.x - truth[last]!.pose.position.x,
      odom[last]!.pose.position.y - truth[last]!.pose.position.y,
    );
    const travelled = Math.hypot(
      truth[last]!.pose.position.x - truth[0]!.pose.position.x,
      truth[last]!.pose.position.y - truth[0]!.pose.position.y,
    );
    expect(travelled).toBeGreaterThan(0.3);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.2 * travelled + 0.05);
  });
});

describe("simulator bag via openBag", () => {
  it("reads back with the same topics, types and counts", async () => {
    const bag = await openBag(path);
    try {
      expect(bag.format).toBe("mcap");
      const info = await bag.info();
      const byName = Object.fromEntries(info.topics.map((t) => [t.name, t]));
      expect(byName[TOPICS.imu]).toMatchObject({ type: "sensor_msgs/msg/Imu", count: 200 * DURATION });
      expect(byName[TOPICS.image]).toMatchObject({ type: "sensor_msgs/msg/Image", count: 15 * DURATION });
      expect(byName[TOPICS.roughness]).toMatchObject({ type: "nav_msgs/msg/OccupancyGrid", count: 1 });
      expect(info.start).toBeCloseTo(SIM_EPOCH, 6);
      expect(info.duration).toBeGreaterThan(DURATION - 0.1);
      let imu = 0;
      let problems = 0;
      let last = 0;
      for await (const ev of bag.messages({ topics: [TOPICS.imu, TOPICS.roughness] })) {
        if (ev.type === "problem") {
          problems++;
          continue;
        }
        expect(ev.logTime).toBeGreaterThanOrEqual(last);
        last = ev.logTime;
        if (ev.topic === TOPICS.imu) imu++;
        else {
          const grid = ev.message as { info: { resolution: number; width: number }; data: Int8Array };
          expect(grid.info.resolution).toBeCloseTo(0.1, 6);
          expect(grid.data.length).toBeGreaterThan(grid.info.width);
          expect(Math.max(...grid.data.subarray(0, 100000))).toBeLessThanOrEqual(100);
        }
      }
      expect(problems).toBe(0);
      expect(imu).toBe(200 * DURATION);
    } finally {
      await bag.close();
    }
  });
});
