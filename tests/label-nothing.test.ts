// `label` and `replay` that would make nothing say so: a topic whose messages are of another type
// is refused before reading (naming the topic, its type and the one expected), and a `label` run
// that made no label exits non-zero with the reason, without a calibration snippet of NaN.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { requireTopics } from "../src/cli/topics.ts";
import type { BagInfo } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "label-nothing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(args, dir);

const camera = { width: 64, height: 48, rate: 5 };
beforeAll(async () => {
  // One second: the robot is still starting and completes no 0.25 m step. Two seconds: one step.
  // Four seconds: labels.
  await generateWorldBag({ out: join(dir, "s1.mcap"), duration: 1, camera });
  await generateWorldBag({ out: join(dir, "s2.mcap"), duration: 2, camera });
  await generateWorldBag({ out: join(dir, "t.mcap"), duration: 4, camera });
}, 120_000);

describe("label with no labels", () => {
  it("prints the summary, then the reason, and exits non-zero", async () => {
    const r = await cli("label", "s1.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^0 labels over 1\.0 s \(\/imu\/data, \/odom\)/m);
    expect(r.stdout).not.toMatch(/NaN/);
    expect(r.stderr).toBe(
      "terrain-learner: s1.mcap: no labels: the robot never completed a 0.25 m step (labeler.step_length) while moving in 0.995 s of data\n",
    );
  }, 120_000);

  it("one label is counted in the singular", async () => {
    const r = await cli("label", "s2.mcap");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1 label over 2\.0 s \(/m);
  }, 120_000);

  it("--stats prints no snippet without labels", async () => {
    const r = await cli("label", "s1.mcap", "--stats");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^terrain-learner: s1\.mcap: no labels: /);
    const ok = await cli("label", "t.mcap", "--stats");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/low: -?\d/);
  }, 120_000);
});

describe("topics of the wrong type", () => {
  it("an empty topic flag is refused, naming the flag once", async () => {
    const r = await cli("label", "t.mcap", "--imu", "");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("terrain-learner: --imu '': expected a topic name (e.g. /imu/data)\n");
    const replay = await cli("replay", "t.mcap", "--odom", " ");
    expect(replay.code).toBe(1);
    expect(replay.stderr).toBe("terrain-learner: --odom ' ': expected a topic name (e.g. /odom)\n");
  }, 120_000);

  it("label --imu naming a CameraInfo topic is refused before reading", async () => {
    const r = await cli("label", "t.mcap", "--imu", "/camera/camera_info");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^terrain-learner: t\.mcap: IMU topic \/camera\/camera_info carries sensor_msgs\/msg\/CameraInfo, expected sensor_msgs\/Imu \(use --imu\); topics: /,
    );
    expect(r.stdout).toBe("");
  }, 120_000);

  it("replay --odom naming the TF topic is refused before reading", async () => {
    const r = await cli("replay", "t.mcap", "--odom", "/tf");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^terrain-learner: t\.mcap: odometry topic \/tf carries tf2_msgs\/msg\/TFMessage, expected nav_msgs\/Odometry \(use --odom\)/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  }, 120_000);

  it("replay --image naming the compressed camera topic is refused before reading, naming --compressed-image", async () => {
    // The topic is also topics.compressed_image's default: it fits that key, but the flag given
    // makes it the raw camera, whose conversion every message would fail after the whole bag.
    await generateWorldBag({ out: join(dir, "j.mcap"), duration: 1, camera, jpeg: true });
    const r = await cli("replay", "j.mcap", "--image", "/camera/image_raw/compressed");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^terrain-learner: j\.mcap: camera image topic \/camera\/image_raw\/compressed carries sensor_msgs\/msg\/CompressedImage, expected sensor_msgs\/Image \(give it with --compressed-image\); topics: /,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  }, 120_000);

  it("ROS 1 and ROS 2 spellings of a type, and a bag that does not say, are accepted", () => {
    const info = (imuType: string): BagInfo => ({
      path: "b",
      format: "ros1",
      start: 0,
      end: 1,
      duration: 1,
      topics: [
        { name: "/imu/data", type: imuType, count: 3 },
        { name: "/odom", type: "nav_msgs/Odometry", count: 3 },
      ],
      skipped: {},
      warnings: [],
    });
    const needs = [
      { what: "IMU", keys: ["imu"] as const },
      { what: "odometry", keys: ["odom"] as const },
    ];
    for (const t of ["sensor_msgs/Imu", "sensor_msgs/msg/Imu", ""])
      expect(() => requireTopics("b", info(t), defaultConfig(), needs)).not.toThrow();
    expect(() => requireTopics("b", info("geometry_msgs/msg/Twist"), defaultConfig(), needs)).toThrow(
      /IMU topic \/imu\/data carries geometry_msgs\/msg\/Twist, expected sensor_msgs\/Imu/,
    );
  });
});
