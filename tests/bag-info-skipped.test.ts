// `bag info` names why it skips a topic's messages: a type it has no definition for, or a message
// encoding it does not read (a JSON channel beside the CDR ones in an MCAP, as Foxglove's bridges
// write). It used to say "(no message definition)" for both.

import { mkdtempSync, rmSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McapWriter } from "@mcap/core";
import { FileHandleWritable } from "@mcap/nodejs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { imuToRos } from "../src/io/ros/convert.ts";
import { schemaTextFor } from "../src/io/ros/definitions.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "bag-info-skipped-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

beforeAll(async () => {
  const handle = await openFile(join(dir, "mixed.mcap"), "w");
  const w = new McapWriter({ writable: new FileHandleWritable(handle) });
  await w.start({ profile: "", library: "test" });
  const imuSchema = await w.registerSchema({
    name: "sensor_msgs/msg/Imu",
    encoding: "ros2msg",
    data: new TextEncoder().encode(schemaTextFor("sensor_msgs/msg/Imu")),
  });
  const imu = await w.registerChannel({
    topic: "/imu/data",
    schemaId: imuSchema,
    messageEncoding: "cdr",
    metadata: new Map(),
  });
  const statusSchema = await w.registerSchema({
    name: "robot.Status",
    encoding: "jsonschema",
    data: new TextEncoder().encode('{"type":"object","properties":{"battery":{"type":"number"}}}'),
  });
  const status = await w.registerChannel({
    topic: "/status",
    schemaId: statusSchema,
    messageEncoding: "json",
    metadata: new Map(),
  });
  const { MessageWriter } = await import("@foxglove/rosmsg2-serialization");
  const { definitionsFor } = await import("../src/io/ros/definitions.ts");
  const ser = new MessageWriter(definitionsFor("sensor_msgs/msg/Imu"));
  for (let i = 0; i < 3; i++) {
    const logTime = BigInt(100 + i) * 1_000_000_000n;
    const sample = imuToRos({
      stamp: 100 + i,
      frameId: "imu_link",
      orientation: { x: 0, y: 0, z: 0, w: 1 },
      angularVelocity: { x: 0, y: 0, z: 0 },
      linearAcceleration: { x: 0, y: 0, z: 9.81 },
    });
    await w.addMessage({
      channelId: imu,
      sequence: i,
      logTime,
      publishTime: logTime,
      data: ser.writeMessage(sample),
    });
    const json = new TextEncoder().encode(JSON.stringify({ battery: 0.9 - i * 0.1 }));
    await w.addMessage({ channelId: status, sequence: i, logTime, publishTime: logTime, data: json });
  }
  await w.end();
  await handle.close();
});

describe("bag info: why messages are skipped", () => {
  it("a JSON channel in an MCAP: its message encoding, not a missing definition", async () => {
    const r = await cli("bag", "info", "mixed.mcap");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\nSkipped: {11}robot\.Status: 3 messages \(message encoding json: not read\)\n$/,
    );
    const j = JSON.parse((await cli("bag", "info", "mixed.mcap", "--json")).stdout);
    expect(j.skipped).toEqual({ "robot.Status": 3 });
    // The text output's reason is in the JSON too, keyed like the counts.
    expect(j.skippedWhy).toEqual({ "robot.Status": "message encoding json: not read" });
  });

  it("the reasons come with the counts from the reader", async () => {
    const bag = await openBag(join(dir, "mixed.mcap"));
    const info = await bag.info();
    await bag.close();
    expect(info.skippedWhy).toEqual({ "robot.Status": "message encoding json: not read" });
  });

  it("a type without a definition (a real Humble .db3) still says so", async () => {
    const r = await cli("bag", "info", fixture("gps_nav_ws_bag"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\nSkipped: {11}ackermann_msgs\/msg\/AckermannDriveStamped: 1034 messages \(no message definition\)\n$/,
    );
  });
});
