// ROS 1 bags: written by our test helper in the documented v2.0 layout (uncompressed, bz2 and lz4
// chunks), opened with @foxglove/rosbag through openBag, read back equal and in time order.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { imuFromRos, odomFromRos } from "../src/io/ros/convert.ts";
import { collect, plain } from "./helpers/bag-test-utils.ts";
import { type Ros1BagMessage, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-ros1-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const zeros = (n: number) => new Array<number>(n).fill(0);

/** 200 Hz IMU and 50 Hz odometry over 2 s; odometry stamps fall between IMU stamps. */
function ros1Messages(): Ros1BagMessage[] {
  const out: Ros1BagMessage[] = [];
  for (let i = 0; i < 400; i++) {
    const t = { sec: 1_600_000_000 + Math.floor(i / 200), nsec: (i % 200) * 5_000_000 };
    out.push({
      topic: "/imu/data",
      type: "sensor_msgs/Imu",
      time: t,
      message: {
        header: { seq: i, stamp: t, frame_id: "imu_link" },
        orientation: { x: 0, y: 0, z: 0, w: 1 },
        orientation_covariance: [-1, 0, 0, 0, 0, 0, 0, 0, 0],
        angular_velocity: { x: 0.001 * i, y: 0, z: -0.2 },
        angular_velocity_covariance: zeros(9),
        linear_acceleration: { x: 0.5 * Math.sin(i / 5), y: 0, z: 9.80665 },
        linear_acceleration_covariance: zeros(9),
      },
    });
    if (i % 4 === 1) {
      const ot = { sec: t.sec, nsec: t.nsec + 2_500_000 };
      out.push({
        topic: "/odom",
        type: "nav_msgs/Odometry",
        time: ot,
        message: {
          header: { seq: i, stamp: ot, frame_id: "odom" },
          child_frame_id: "base_link",
          pose: {
            pose: { position: { x: i * 0.0025, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
            covariance: zeros(36),
          },
          twist: {
            twist: { linear: { x: 0.5, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } },
            covariance: zeros(36),
          },
        },
      });
    }
  }
  return out;
}

describe.each(["none", "bz2", "lz4"] as const)("ROS 1 bag with %s chunks", (compression) => {
  const written = ros1Messages();
  const path = join(dir, `test-${compression}.bag`);
  // 64 messages per chunk, and odometry on its own interleaved with IMU: messages of one chunk
  // overlap the next chunk's time range only at the edges, as rosbag record produces.
  writeFileSync(path, writeRos1Bag(written, { compression, chunkMessages: 64 }));

  it("opens as ros1 with per-topic counts from the index", async () => {
    const bag = await openBag(path);
    try {
      expect(bag.format).toBe("ros1");
      const info = await bag.info();
      expect(info.topics).toEqual([
        { name: "/imu/data", type: "sensor_msgs/msg/Imu", count: 400, serializationFormat: "ros1" },
        { name: "/odom", type: "nav_msgs/msg/Odometry", count: 100, serializationFormat: "ros1" },
      ]);
      expect(info.start).toBe(1_600_000_000);
      expect(info.end).toBeCloseTo(1_600_000_001.995, 6);
      expect(info.warnings).toEqual([]);
      expect(info.skipped).toEqual({});
    } finally {
      await bag.close();
    }
  });

  it("reads every message back equal, in log-time order, with ROS 2 type names", async () => {
    const bag = await openBag(path);
    try {
      const { messages, problems } = await collect(bag);
      expect(problems).toEqual([]);
      expect(messages).toHaveLength(written.length);
      const order = [...written].sort((a, b) => a.time.sec - b.time.sec || a.time.nsec - b.time.nsec);
      expect(messages.map((m) => m.topic)).toEqual(order.map((w) => w.topic));
      expect(messages.map((m) => plain(m.message))).toEqual(order.map((w) => plain(w.message)));
      expect(new Set(messages.map((m) => m.schemaName))).toEqual(
        new Set(["sensor_msgs/msg/Imu", "nav_msgs/msg/Odometry"]),
      );
      // ROS 1 headers (seq, stamp {sec, nsec}) convert through the same module as ROS 2 ones.
      const imu = imuFromRos(messages[10]!.message);
      expect(imu.stamp).toBeCloseTo(messages[10]!.logTime, 9);
      expect(imu.orientation).toBeUndefined();
      expect(
        Math.hypot(imu.linearAcceleration.x, imu.linearAcceleration.y, imu.linearAcceleration.z),
      ).toBeGreaterThan(9.8);
      const odom = odomFromRos(messages.find((m) => m.topic === "/odom")!.message);
      expect([odom.frameId, odom.childFrameId, odom.linear.x]).toEqual(["odom", "base_link", 0.5]);
    } finally {
      await bag.close();
    }
  });

  it("filters by topic and time", async () => {
    const bag = await openBag(path);
    try {
      const odom = await collect(bag, { topics: ["/odom"], start: 1_600_000_001, end: 1_600_000_001.5 });
      expect(odom.problems).toEqual([]);
      expect(
        odom.messages.every(
          (m) => m.topic === "/odom" && m.logTime >= 1_600_000_001 && m.logTime <= 1_600_000_001.5,
        ),
      ).toBe(true);
      expect(odom.messages).toHaveLength(25);
    } finally {
      await bag.close();
    }
  });
});

describe("ROS 1 bag without its index (recorder lost power)", () => {
  it("scans the records, yields every message and one warning", async () => {
    const written = ros1Messages();
    const path = join(dir, "noindex.bag");
    writeFileSync(path, writeRos1Bag(written, { compression: "bz2", chunkMessages: 64, writeIndex: false }));
    const bag = await openBag(path);
    try {
      const info = await bag.info();
      expect(Object.fromEntries(info.topics.map((t) => [t.name, t.count]))).toEqual({
        "/imu/data": 400,
        "/odom": 100,
      });
      expect(info.warnings).toHaveLength(1);
      expect(info.warnings[0]).toContain("noindex.bag");
      const { messages, problems } = await collect(bag);
      expect(messages).toHaveLength(written.length);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.kind).toBe("truncated");
      for (let i = 1; i < messages.length; i++)
        expect(messages[i]!.logTime).toBeGreaterThanOrEqual(messages[i - 1]!.logTime);
    } finally {
      await bag.close();
    }
  });
});

describe("a folder of ROS 1 bags (rosbag record --split)", () => {
  const written = ros1Messages();
  /** The messages cut into parts at whole seconds of log time, as --split --duration cuts them. */
  function writeParts(folder: string, names: string[]): void {
    mkdirSync(folder);
    const cut = [1_600_000_000.5, 1_600_000_001, 1_600_000_001.5];
    names.forEach((name, k) => {
      const part = written.filter((m) => {
        const t = m.time.sec + m.time.nsec * 1e-9;
        return (k === 0 || t >= cut[k - 1]!) && (k === names.length - 1 || t < cut[k]!);
      });
      writeFileSync(join(folder, name), writeRos1Bag(part, { compression: "lz4", chunkMessages: 64 }));
    });
  }

  it("reads the parts of one recording as one bag: every message, in order, counts summed", async () => {
    const folder = join(dir, "split");
    // _10 after _2: parts are ordered by their number, not their name.
    const names = [0, 1, 2, 10].map((k) => `run_2020-09-13-12-26-40_${k}.bag`);
    writeParts(folder, names);
    const bag = await openBag(folder);
    try {
      expect(bag.format).toBe("ros1");
      const info = await bag.info();
      expect(info.files).toEqual(names.map((n) => join(folder, n)));
      expect(Object.fromEntries(info.topics.map((t) => [t.name, t.count]))).toEqual({
        "/imu/data": 400,
        "/odom": 100,
      });
      expect([info.start, info.end, info.duration]).toEqual([1_600_000_000, 1_600_000_001.995, 1.995]);
      expect(info.warnings).toEqual([`${folder}: split parts 3, 4, 5, 6, 7, 8, 9 are missing`]);
      const { messages, problems } = await collect(bag);
      expect(problems).toEqual([]);
      const order = [...written].sort((a, b) => a.time.sec - b.time.sec || a.time.nsec - b.time.nsec);
      expect(messages.map((m) => plain(m.message))).toEqual(order.map((w) => plain(w.message)));
      const odom = await collect(bag, { topics: ["/odom"], start: 1_600_000_000.9, end: 1_600_000_001.1 });
      expect(odom.messages.map((m) => m.logTime)).toEqual(
        order
          .filter((w) => w.topic === "/odom")
          .map((w) => w.time.sec + w.time.nsec * 1e-9)
          .filter((t) => t >= 1_600_000_000.9 && t <= 1_600_000_001.1),
      );
    } finally {
      await bag.close();
    }
  });

  it("refuses bags of different recordings, naming them", async () => {
    const folder = join(dir, "unrelated");
    writeParts(folder, ["field_a.bag", "field_b.bag"]);
    await expect(openBag(folder)).rejects.toThrow(
      `${folder}: holds 2 ROS 1 bags that are not the split parts of one recording (field_a.bag, field_b.bag); name the bag to read, e.g. ${join(folder, "field_a.bag")}`,
    );
  });
});
