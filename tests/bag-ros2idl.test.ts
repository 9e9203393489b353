// MCAP files whose schemas are OMG IDL (`ros2idl`, what rosbag2 records for types defined in .idl
// files) decode through the schema text, like `ros2msg` ones; a broken IDL schema is a clear problem
// for its topic, not the end of the bag.

import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageWriter } from "@foxglove/rosmsg2-serialization";
import { McapWriter } from "@mcap/core";
import { FileHandleWritable } from "@mcap/nodejs";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import type { BagEvent } from "../src/io/bag/types.ts";
import { imuFromRos } from "../src/io/ros/convert.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";

const SEP = "=".repeat(80);
// The layout rosbag2 writes: each type's IDL after a separator and an "IDL: <type>" line, root first.
const IMU_IDL = [
  SEP,
  "IDL: sensor_msgs/msg/Imu",
  `module sensor_msgs { module msg {
  struct Imu {
    std_msgs::msg::Header header;
    geometry_msgs::msg::Quaternion orientation;
    double orientation_covariance[9];
    geometry_msgs::msg::Vector3 angular_velocity;
    double angular_velocity_covariance[9];
    geometry_msgs::msg::Vector3 linear_acceleration;
    double linear_acceleration_covariance[9];
  };
}; };`,
  SEP,
  "IDL: std_msgs/msg/Header",
  "module std_msgs { module msg { struct Header { builtin_interfaces::msg::Time stamp; string frame_id; }; }; };",
  SEP,
  "IDL: builtin_interfaces/msg/Time",
  "module builtin_interfaces { module msg { struct Time { int32 sec; uint32 nanosec; }; }; };",
  SEP,
  "IDL: geometry_msgs/msg/Quaternion",
  "module geometry_msgs { module msg { struct Quaternion { double x; double y; double z; double w; }; }; };",
  SEP,
  "IDL: geometry_msgs/msg/Vector3",
  "module geometry_msgs { module msg { struct Vector3 { double x; double y; double z; }; }; };",
].join("\n");

const dir = mkdtempSync(join(tmpdir(), "tl-idl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function imuMessage(i: number) {
  return {
    header: { stamp: { sec: 100 + i, nanosec: 250_000_000 }, frame_id: "imu_link" },
    orientation: { x: 0, y: 0, z: 0, w: 1 },
    orientation_covariance: new Float64Array(9),
    angular_velocity: { x: 0.01 * i, y: -0.02, z: 0.5 },
    angular_velocity_covariance: new Float64Array(9),
    linear_acceleration: { x: 0.1, y: 0.2 * i, z: 9.81 },
    linear_acceleration_covariance: new Float64Array(9),
  };
}

async function writeBag(path: string, idl: string): Promise<void> {
  const handle = await open(path, "w");
  const writer = new McapWriter({ writable: new FileHandleWritable(handle) });
  await writer.start({ profile: "ros2", library: "terrain-learner test" });
  const schemaId = await writer.registerSchema({
    name: "sensor_msgs/msg/Imu",
    encoding: "ros2idl",
    data: new TextEncoder().encode(idl),
  });
  const channelId = await writer.registerChannel({
    topic: "/imu/data",
    schemaId,
    messageEncoding: "cdr",
    metadata: new Map(),
  });
  // The bytes come from the .msg definitions: the IDL describes the same CDR layout.
  const cdr = new MessageWriter(definitionsFor("sensor_msgs/msg/Imu"));
  for (let i = 0; i < 5; i++) {
    const t = BigInt(100 + i) * 1_000_000_000n + 250_000_000n;
    await writer.addMessage({
      channelId,
      sequence: i,
      logTime: t,
      publishTime: t,
      data: cdr.writeMessage(imuMessage(i)),
    });
  }
  await writer.end();
  await handle.close();
}

async function readAll(path: string): Promise<BagEvent[]> {
  const bag = await openBag(path);
  const events: BagEvent[] = [];
  for await (const e of bag.messages()) events.push(e);
  await bag.close();
  return events;
}

describe("MCAP with ros2idl schemas", () => {
  it("decodes messages through the IDL text", async () => {
    const path = join(dir, "imu-idl.mcap");
    await writeBag(path, IMU_IDL);
    const events = await readAll(path);
    expect(events.filter((e) => e.type === "problem")).toEqual([]);
    const msgs = events.filter((e) => e.type === "message");
    expect(msgs).toHaveLength(5);
    for (const [i, e] of msgs.entries()) {
      if (e.type !== "message") continue;
      const imu = imuFromRos(e.message);
      expect(imu.stamp).toBeCloseTo(100 + i + 0.25, 9);
      expect(imu.frameId).toBe("imu_link");
      expect(imu.linearAcceleration.y).toBeCloseTo(0.2 * i, 12);
      expect(imu.angularVelocity.z).toBe(0.5);
    }
  });

  it("reports a schema that does not define its type as a problem for that topic", async () => {
    const path = join(dir, "imu-bad-idl.mcap");
    await writeBag(path, "module x { module msg { struct Other { int32 a; }; }; };");
    const events = await readAll(path);
    const problems = events.filter((e) => e.type === "problem");
    expect(events.filter((e) => e.type === "message")).toHaveLength(0);
    expect(problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(problems)).toMatch(/ros2idl schema does not define sensor_msgs\/msg\/Imu/);
  });
});
