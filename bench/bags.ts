// Bag read throughput per format, through openBag → messages() (read + decode), and info() time.
// Run: node --import tsx bench/bags.ts [--json]
//
// MCAP: a synthetic recording written with our writer (zstd): 200 Hz Imu, 50 Hz Odometry, 15 Hz
// 320×240 rgb8 images with noisy texture (so chunks do not compress to nothing). ROS 1: 12,000 Imu
// messages per chunk compression. .db3: the real gps_nav_ws fixture. Also the no-summary path: the
// same MCAP cut at 90 %.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imageToRos, imuToRos, odomToRos } from "../src/io/ros/convert.ts";
import { writeRos1Bag } from "../tests/helpers/ros1-bag-writer.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 30);
const dir = mkdtempSync(join(tmpdir(), "tl-bench-bags-"));
const results: Record<string, unknown>[] = [];

async function measure(name: string, path: string): Promise<void> {
  let t = performance.now();
  const bag = await openBag(path);
  const info = await bag.info();
  const infoMs = performance.now() - t;
  t = performance.now();
  let n = 0;
  let bytes = 0;
  for await (const e of bag.messages()) {
    if (e.type === "message") {
      n++;
      bytes += e.size;
    }
  }
  const s = (performance.now() - t) / 1000;
  await bag.close();
  results.push({
    name,
    fileMB: +((info.size ?? statSync(path).size) / 1e6).toFixed(1),
    infoMs: +infoMs.toFixed(1),
    messages: n,
    payloadMB: +(bytes / 1e6).toFixed(1),
    seconds: +s.toFixed(3),
    msgPerS: Math.round(n / s),
    payloadMBPerS: +(bytes / 1e6 / s).toFixed(1),
    dataSeconds: +info.duration.toFixed(1),
  });
}

try {
  const mcap = join(dir, "synthetic.mcap");
  const w = await Ros2McapWriter.create(mcap, { compression: "zstd" });
  const W = 320;
  const H = 240;
  const img = new Uint8Array(W * H * 3);
  let x = 0x9e3779b9;
  for (let i = 0; i < seconds * 200; i++) {
    const s = 1000 + i / 200;
    await w.write(
      "/imu/data",
      "sensor_msgs/msg/Imu",
      s,
      imuToRos({
        stamp: s,
        frameId: "imu_link",
        orientation: undefined,
        angularVelocity: { x: 0, y: 0, z: 0.1 },
        linearAcceleration: { x: Math.sin(i), y: 0, z: 9.8 },
      }),
    );
    if (i % 4 === 0) {
      const pose = { position: { x: i * 0.004, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } };
      await w.write(
        "/odom",
        "nav_msgs/msg/Odometry",
        s,
        odomToRos({
          stamp: s,
          frameId: "odom",
          childFrameId: "base_link",
          pose,
          linear: { x: 0.8, y: 0, z: 0 },
          angular: { x: 0, y: 0, z: 0 },
        }),
      );
    }
    if (i % 13 === 0) {
      for (let p = 0; p < img.length; p++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        img[p] = ((p >> 4) & 0xf0) | (x & 0x0f);
      }
      await w.write(
        "/camera/image_raw",
        "sensor_msgs/msg/Image",
        s,
        imageToRos({ stamp: s, frameId: "camera", width: W, height: H, encoding: "rgb8", data: img }),
      );
    }
  }
  await w.close();
  await measure("mcap zstd (synthetic)", mcap);
  const cut = join(dir, "cut.mcap");
  const bytes = readFileSync(mcap);
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.9)));
  await measure("mcap cut at 90% (no summary: stream reader)", cut);
  await measure(
    "rosbag2 sqlite3 (gps_nav_ws fixture)",
    new URL("../tests/fixtures/bags/gps_nav_ws_bag", import.meta.url).pathname,
  );
  const msgs = [];
  const zeros = new Array<number>(9).fill(0);
  for (let i = 0; i < 12_000; i++) {
    const t = { sec: 1000 + Math.floor(i / 200), nsec: (i % 200) * 5_000_000 };
    msgs.push({
      topic: "/imu",
      type: "sensor_msgs/Imu",
      time: t,
      message: {
        header: { seq: i, stamp: t, frame_id: "imu" },
        orientation: { x: 0, y: 0, z: 0, w: 1 },
        orientation_covariance: zeros,
        angular_velocity: { x: 0, y: 0, z: 0 },
        angular_velocity_covariance: zeros,
        linear_acceleration: { x: 0, y: 0, z: 9.8 },
        linear_acceleration_covariance: zeros,
      },
    });
  }
  for (const compression of ["none", "bz2", "lz4"] as const) {
    const p = join(dir, `imu-${compression}.bag`);
    writeFileSync(p, writeRos1Bag(msgs, { compression, chunkMessages: 1000 }));
    await measure(`ros1 ${compression}`, p);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify(results)}\n`);
else console.table(results);
