// A bag whose topics have the robot's own names (`/odometry`, `/husky/imu`) instead of the defaults:
// the refusal names the bag's topic of the needed type and the flag that selects it, and never picks
// it silently; with two candidates (two cameras) it names both.

import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { requireTopics } from "../src/cli/topics.ts";
import type { BagInfo } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { runCli } from "./helpers/cli.ts";

const info = (topics: BagInfo["topics"]): BagInfo => ({
  path: "b",
  format: "mcap",
  start: 0,
  end: 1,
  duration: 1,
  topics,
  skipped: {},
  warnings: [],
});

describe("a needed topic under another name", () => {
  it("label on a real Humble .db3 whose odometry is /odometry names --odom /odometry", async () => {
    const r = await runCli(["label", fixture("gps_nav_ws_bag"), "--imu", "/gps"], tmpdir());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no messages on odometry topic \/odom \(the bag's topic of that type: use --odom \/odometry\)/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  }, 120_000);

  it("replay on a bag without CameraInfo says where intrinsics come from", async () => {
    const r = await runCli(["replay", fixture("gps_nav_ws_bag"), "--odom", "/odometry"], tmpdir());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no messages on camera info topic \/camera\/camera_info \(use --camera-info\); images cannot be related to the ground without intrinsics: give the camera's calibration file with --camera-info-file calib\.yaml \(what camera_calibration writes\), or record the camera driver's camera_info topic with its images;/,
    );
  }, 120_000);

  it("two cameras: both are named with their flags; a topic with no messages is not offered", () => {
    const bag = info([
      { name: "/front/image_raw", type: "sensor_msgs/msg/Image", count: 10 },
      { name: "/rear/image_raw/compressed", type: "sensor_msgs/CompressedImage", count: 10 },
      { name: "/left/image_raw", type: "sensor_msgs/msg/Image", count: 0 },
      { name: "/camera/camera_info", type: "sensor_msgs/msg/CameraInfo", count: 10 },
    ]);
    const need = [{ what: "camera image", keys: ["image", "compressedImage"] as const }];
    expect(() => requireTopics("b", bag, defaultConfig(), need)).toThrow(
      "b: no messages on camera image topic /camera/image_raw or /camera/image_raw/compressed (the bag's topics of that type: use one of --image /front/image_raw, --compressed-image /rear/image_raw/compressed); topics: ",
    );
  });

  it("no topic of the type: the flag alone, as before", () => {
    const bag = info([{ name: "/gps", type: "sensor_msgs/msg/NavSatFix", count: 3 }]);
    expect(() => requireTopics("b", bag, defaultConfig(), [{ what: "IMU", keys: ["imu"] }])).toThrow(
      "b: no messages on IMU topic /imu/data (use --imu); topics: /gps (sensor_msgs/msg/NavSatFix, 3)",
    );
  });
});
