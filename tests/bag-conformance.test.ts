// Real bags from other projects, read through the one source interface: the rosbag2 conformance
// pair must decode to the same values from both containers, and real IMU/odometry recordings must
// become sane core samples.

import { afterEach, describe, expect, it } from "vitest";
import { type BagSource, openBag } from "../src/io/bag/index.ts";
import { imuFromRos, odomFromRos, transformsFromRos } from "../src/io/ros/convert.ts";
import { collect, fixture, plain } from "./helpers/bag-test-utils.ts";

const opened: BagSource[] = [];
async function open(path: string): Promise<BagSource> {
  const s = await openBag(fixture(path));
  opened.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

describe("rosbag2 conformance cdr_test", () => {
  it("MCAP and .db3 hold the same 7 messages, field by field", async () => {
    const mcap = await open("rosbag2_cdr_test_mcap/cdr_test_0.mcap");
    const db3 = await open("rosbag2_cdr_test_sqlite3/cdr_test_0.db3");
    expect(mcap.format).toBe("mcap");
    expect(db3.format).toBe("rosbag2-sqlite3");
    const a = await collect(mcap);
    const b = await collect(db3);
    expect(a.problems).toEqual([]);
    expect(b.problems).toEqual([]);
    expect(a.messages).toHaveLength(7);
    expect(b.messages).toHaveLength(7);
    for (let i = 0; i < 7; i++) {
      const x = a.messages[i]!;
      const y = b.messages[i]!;
      expect(y.topic).toBe(x.topic);
      expect(y.schemaName).toBe(x.schemaName);
      expect(y.logTime).toBe(x.logTime);
      expect(y.size).toBe(x.size);
      expect(plain(y.message)).toEqual(plain(x.message));
    }
    expect(a.messages.map((m) => m.topic)).toEqual([
      "/test_topic",
      "/array_topic",
      "/test_topic",
      "/array_topic",
      "/test_topic",
      "/array_topic",
      "/array_topic",
    ]);
    // Values rosbag2's test wrote into these bags.
    const basic = a.messages
      .filter((m) => m.topic === "/test_topic")
      .map((m) => m.message as Record<string, unknown>);
    expect(basic.map((m) => m.int32_value)).toEqual([123, 123, 123]);
    expect(basic[0]!.int64_value).toBe(0n);
    const arrays = a.messages.find((m) => m.topic === "/array_topic")!.message as Record<string, unknown>;
    expect(arrays.bool_values).toEqual([true, false, true]);
    expect(arrays.string_values).toEqual(["Complex Hello1", "Complex Hello2", "Complex Hello3"]);
    expect(arrays.float64_values).toBeInstanceOf(Float64Array);
  });

  it("the rosbag2 folder form opens through metadata.yaml with the same info", async () => {
    const folder = await open("rosbag2_cdr_test_mcap");
    const db3Folder = await open("rosbag2_cdr_test_sqlite3");
    const i1 = await folder.info();
    const i2 = await db3Folder.info();
    expect(i1.format).toBe("mcap");
    expect(i2.format).toBe("rosbag2-sqlite3");
    for (const info of [i1, i2]) {
      expect(info.start).toBeCloseTo(1586406456.763032, 6);
      expect(info.duration).toBeCloseTo(0.151137181, 9);
      expect(info.topics.map((t) => [t.name, t.type, t.count]).sort()).toEqual([
        ["/array_topic", "test_msgs/msg/Arrays", 4],
        ["/test_topic", "test_msgs/msg/BasicTypes", 3],
      ]);
      expect(info.skipped).toEqual({});
      expect(info.warnings).toEqual([]);
    }
  });

  it("filters by topic and by time", async () => {
    const bag = await open("rosbag2_cdr_test_sqlite3");
    const onlyArrays = await collect(bag, { topics: ["/array_topic"] });
    expect(onlyArrays.messages.map((m) => m.topic)).toEqual(Array(4).fill("/array_topic"));
    const all = (await collect(bag)).messages;
    const mid = await collect(bag, { start: all[2]!.logTime, end: all[4]!.logTime });
    expect(mid.messages.map((m) => m.logTime)).toEqual([all[2]!.logTime, all[3]!.logTime, all[4]!.logTime]);
    const mcap = await open("rosbag2_cdr_test_mcap/cdr_test_0.mcap");
    const mid2 = await collect(mcap, {
      start: all[2]!.logTime,
      end: all[4]!.logTime,
      topics: ["/test_topic"],
    });
    expect(mid2.messages.map((m) => m.logTime)).toEqual([all[2]!.logTime, all[4]!.logTime]);
  });
});

describe("talker.mcap (zstd chunk)", () => {
  it("reports a channel with 0 messages and decodes String and Log", async () => {
    const bag = await open("rosbag2_talker_mcap/talker.mcap");
    const info = await bag.info();
    const counts = Object.fromEntries(info.topics.map((t) => [t.name, [t.type, t.count]]));
    expect(counts).toEqual({
      "/topic": ["std_msgs/msg/String", 10],
      "/rosout": ["rcl_interfaces/msg/Log", 10],
      "/parameter_events": ["rcl_interfaces/msg/ParameterEvent", 0],
    });
    const { messages, problems } = await collect(bag);
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(20);
    const strings = messages
      .filter((m) => m.topic === "/topic")
      .map((m) => (m.message as { data: string }).data);
    expect(strings[0]).toMatch(/^Hello, world! \d+$/);
    const log = messages.find((m) => m.topic === "/rosout")!.message as { name: string; msg: string };
    expect(log.name).toBe("minimal_publisher");
    expect(log.msg).toMatch(/^Publishing: 'Hello, world! \d+'$/);
    for (let i = 1; i < messages.length; i++)
      expect(messages[i]!.logTime).toBeGreaterThanOrEqual(messages[i - 1]!.logTime);
  });
});

describe("stinger bags (real Humble .db3, no message_definitions table)", () => {
  it("decodes real IMU with built-in definitions and converts it to sane core samples", async () => {
    const bag = await open("stinger_test_bag");
    const info = await bag.info();
    expect(info.topics).toEqual([
      { name: "/imu/data", type: "sensor_msgs/msg/Imu", count: 104, serializationFormat: "cdr" },
    ]);
    expect(info.duration).toBeGreaterThan(10);
    expect(info.duration).toBeLessThan(11);
    const { messages, problems } = await collect(bag);
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(104);
    const samples = messages.map((m) => imuFromRos(m.message));
    for (const s of samples) {
      const a = s.linearAcceleration;
      const g = Math.hypot(a.x, a.y, a.z);
      expect(Number.isFinite(g)).toBe(true);
      expect(g).toBeGreaterThan(8.5);
      expect(g).toBeLessThan(11);
      expect(s.frameId).not.toBe("");
    }
    // Header stamps are sensor time close to the log times (within a second).
    expect(Math.abs(samples[0]!.stamp - messages[0]!.logTime)).toBeLessThan(1);
    // 10 Hz: about 0.1 s between samples.
    const dt = (samples.at(-1)!.stamp - samples[0]!.stamp) / (samples.length - 1);
    expect(dt).toBeGreaterThan(0.08);
    expect(dt).toBeLessThan(0.12);
  });

  it("reads the localization bag: IMU, NavSatFix and TF in log-time order", async () => {
    const bag = await open("stinger_localization_bag/localization_bag_0.db3");
    const info = await bag.info();
    const counts = Object.fromEntries(info.topics.map((t) => [t.name, t.count]));
    expect(counts).toEqual({ "/imu/data": 386, "/gps/fix": 9, "/tf": 376, "/tf_static": 3 });
    const { messages, problems } = await collect(bag);
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(774);
    for (let i = 1; i < messages.length; i++)
      expect(messages[i]!.logTime).toBeGreaterThanOrEqual(messages[i - 1]!.logTime);
    const statics = messages
      .filter((m) => m.topic === "/tf_static")
      .flatMap((m) => transformsFromRos(m.message, true));
    expect(statics.length).toBeGreaterThan(0);
    for (const t of statics)
      expect(Math.hypot(t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w)).toBeCloseTo(1, 3);
    const fix = messages.find((m) => m.topic === "/gps/fix")!.message as {
      latitude: number;
      longitude: number;
    };
    expect(Math.abs(fix.latitude)).toBeLessThanOrEqual(90);
    expect(Math.abs(fix.longitude)).toBeLessThanOrEqual(180);
  });

  it("reads legacy type names without /msg/ (sensor_msgs/Imu)", async () => {
    const { copyFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const Database = (await import("better-sqlite3")).default;
    const dir = mkdtempSync(join(tmpdir(), "tl-legacy-"));
    const path = join(dir, "legacy.db3");
    copyFileSync(fixture("stinger_test_bag/test_bag_0.db3"), path);
    const db = new Database(path);
    db.prepare("UPDATE topics SET type = 'sensor_msgs/Imu'").run();
    db.close();
    const bag = await openBag(path);
    opened.push(bag);
    const info = await bag.info();
    expect(info.topics[0]!.type).toBe("sensor_msgs/msg/Imu");
    const { messages, problems } = await collect(bag);
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(104);
    expect(messages[0]!.schemaName).toBe("sensor_msgs/msg/Imu");
    expect(imuFromRos(messages[0]!.message).linearAcceleration.z).not.toBe(0);
  });
});

describe("gps_nav_ws_bag (real Odometry, an unknown ackermann type)", () => {
  it("skips and counts the unknown type, decodes 2143 odometry messages", async () => {
    const bag = await open("gps_nav_ws_bag");
    const info = await bag.info();
    const counts = Object.fromEntries(info.topics.map((t) => [t.name, t.count]));
    expect(counts).toMatchObject({
      "/odometry": 2143,
      "/vehicle_pose": 2034,
      "/gps": 107,
      "/vehicle_command_ackermann": 1034,
      "/events/write_split": 0,
    });
    expect(info.skipped).toEqual({ "ackermann_msgs/msg/AckermannDriveStamped": 1034 });
    expect(info.duration).toBeCloseTo(114.272312045, 6);

    const { messages, problems } = await collect(bag);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: "unknown_type", topic: "/vehicle_command_ackermann" });
    expect(problems[0]!.message).toContain("bag_0.db3");
    expect(messages.filter((m) => m.topic === "/vehicle_command_ackermann")).toHaveLength(0);
    expect(messages).toHaveLength(5348 - 1034);

    const odom = messages.filter((m) => m.topic === "/odometry").map((m) => odomFromRos(m.message));
    expect(odom).toHaveLength(2143);
    const yaws = new Set<number>();
    const speeds = new Set<number>();
    for (const o of odom) {
      const q = o.pose.orientation;
      expect(Math.hypot(q.x, q.y, q.z, q.w)).toBeCloseTo(1, 3);
      for (const v of [o.pose.position.x, o.linear.x, o.linear.y, o.angular.z])
        expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(o.linear.x)).toBeLessThan(5);
      yaws.add(Math.round(Math.atan2(2 * q.w * q.z, 1 - 2 * q.z * q.z) * 100));
      speeds.add(Math.round(o.linear.x * 100));
    }
    // The data's README: orientation and twist vary while position stays 0.
    expect(yaws.size).toBeGreaterThan(50);
    expect(speeds.size).toBeGreaterThan(5);
    expect(odom.every((o) => o.pose.position.x === 0 && o.pose.position.y === 0)).toBe(true);
  });

  it("filtering to /odometry alone reads no other topic and reports no skipped type", async () => {
    const bag = await open("gps_nav_ws_bag/bag_0.db3");
    const { messages, problems } = await collect(bag, { topics: ["/odometry"] });
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(2143);
    expect(new Set(messages.map((m) => m.schemaName))).toEqual(new Set(["nav_msgs/msg/Odometry"]));
  });
});
