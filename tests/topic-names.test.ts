// Topic names with or without a leading slash: `imu/data` (a relative name, as a namespaced node's
// params give it) and `/imu/data` (what rosbag2 records) name the same topic at the root namespace,
// and ROS 1 bags carry either. replay and label find the bag's spelling instead of reporting "no
// messages" on a topic the bag has.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { withBagTopics } from "../src/cli/topics.ts";
import type { BagInfo } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const FIXTURES = join(import.meta.dirname, "fixtures", "bags");
const dir = mkdtempSync(join(tmpdir(), "topic-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

describe("withBagTopics", () => {
  const info = (...names: string[]): BagInfo => ({
    path: "b",
    format: "ros1",
    start: 0,
    end: 1,
    duration: 1,
    topics: names.map((name) => ({ name, type: "", count: 1 })),
    skipped: {},
    warnings: [],
  });

  it("takes the bag's spelling, either way, and keeps exact or absent names", () => {
    const config = defaultConfig();
    config.topics.imu = "imu/data";
    const t = withBagTopics(config, info("/imu/data", "odom", "/odom", "tf")).topics;
    expect(t.imu).toBe("/imu/data");
    expect(t.odom).toBe("/odom");
    expect(t.tf).toBe("tf");
    expect(t.camera_info).toBe("/camera/camera_info");
    // The caller's config is not changed.
    expect(config.topics.imu).toBe("imu/data");
  });
});

describe("on bags", () => {
  beforeAll(async () => {
    const src = join(dir, "t.mcap");
    await generateWorldBag({ out: src, duration: 4, camera: { width: 64, height: 48, rate: 5 } });
    // Every topic without its leading slash, as some ROS 1 recorders wrote them.
    await rewriteBag(
      src,
      join(dir, "noslash.mcap"),
      (_, m) => m,
      (topic) => topic.slice(1),
    );
  }, 120_000);

  it("replay with relative topic flags learns what it learns with absolute ones", async () => {
    const abs = await cli("replay", "t.mcap", "--json");
    const rel = await cli(
      "replay",
      "t.mcap",
      "--json",
      ...["--imu", "imu/data", "--odom", "odom", "--image", "camera/image_raw"],
      ...["--camera-info", "camera/camera_info"],
    );
    // A 4-s bag ends before the first training step; that warning is all it says.
    expect(rel.stderr).toMatch(/^warning: t\.mcap: the bag ended before the first training step[^\n]*\n$/);
    expect(rel.code).toBe(0);
    const a = JSON.parse(abs.stdout);
    const b = JSON.parse(rel.stdout);
    expect(a.samples).toBeGreaterThan(0);
    for (const k of ["frames", "labels", "samples", "rows"]) expect(b[k], k).toBe(a[k]);
  }, 120_000);

  it("a bag whose topics have no leading slash: replay and label read them with the defaults", async () => {
    const r = await cli("replay", "noslash.mcap", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).samples).toBeGreaterThan(0);
    const l = await cli("label", "noslash.mcap");
    expect(l.code).toBe(0);
    expect(l.stdout).toMatch(/^\d+ labels over 4\.0 s \(imu\/data at [\d.]+ Hz, odom\)/m);
  }, 120_000);

  it("a real rosbag2: --odom odometry finds /odometry (what is missing is only the IMU)", async () => {
    const r = await cli("label", join(FIXTURES, "gps_nav_ws_bag"), "--odom", "odometry");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no messages on IMU topic \/imu\/data/);
    expect(r.stderr).not.toMatch(/odometry topic/);
  }, 120_000);
});
