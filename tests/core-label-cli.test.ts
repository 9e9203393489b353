// `terrain-learner label` over a real MCAP written with the project's writer (synthetic drive,
// IMU mounted on its side, TF with the mount), through the real bag reader and the real CLI.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLabel } from "../src/cli/label.ts";
import { quatFromRPY } from "../src/core/geometry.ts";
import { LogEnergyPercentiles } from "../src/core/label-calibration.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imuToRos, odomToRos, transformsToRos } from "../src/io/ros/convert.ts";
import { defaultConfig, loadConfig } from "../src/runtime/config.ts";
import { drive, interleave, staticTransforms } from "./core-synthetic.ts";

const run = promisify(execFile);
let dir: string;
let bag: string;
const rough = (x: number) => (Math.floor(x / 2) % 2 ? 1.0 : 0.25);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tl-label-"));
  bag = join(dir, "drive.mcap");
  const mount = quatFromRPY(Math.PI / 2, 0, 0);
  const d = drive({ duration: 40, speed: 0.6, roughnessAt: rough, imuRotation: mount, seed: 4 });
  const w = await Ros2McapWriter.create(bag, { compression: "zstd" });
  await w.write("/tf_static", "tf2_msgs/msg/TFMessage", 100, transformsToRos(staticTransforms(mount)));
  for (const m of interleave(d.imu, d.odom)) {
    if ("linearAcceleration" in m) await w.write("/imu/data", "sensor_msgs/msg/Imu", m.stamp, imuToRos(m));
    else await w.write("/odom", "nav_msgs/msg/Odometry", m.stamp, odomToRos(m));
  }
  // A duplicate and a NaN IMU message: counted, not fatal.
  const last = d.imu[d.imu.length - 1]!;
  await w.write("/imu/data", "sensor_msgs/msg/Imu", last.stamp + 0.001, imuToRos(last));
  await w.write(
    "/imu/data",
    "sensor_msgs/msg/Imu",
    last.stamp + 0.002,
    imuToRos({ ...last, stamp: last.stamp + 0.002, linearAcceleration: { x: Number.NaN, y: 0, z: 0 } }),
  );
  await w.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("label command", () => {
  it("runLabel labels a bag without a camera, with the vertical from TF", async () => {
    const labels: { x: number; energy: number }[] = [];
    const s = await runLabel({ bag, config: defaultConfig(), onLabel: (l) => labels.push(l) });
    expect(s.labels).toBe(labels.length);
    expect(labels.length).toBeGreaterThan(85);
    expect(s.vertical.source).toBe("tf");
    expect(s.dropped.imu.duplicate).toBe(1);
    expect(s.dropped.imu.nan).toBe(1);
    // Rough stretches (1.0) against smooth ones (0.25): the energies separate completely.
    const hi = labels.filter((l) => rough(l.x) > 0.5 && Math.abs((l.x % 2) - 1) < 0.8).map((l) => l.energy);
    const lo = labels.filter((l) => rough(l.x) < 0.5 && Math.abs((l.x % 2) - 1) < 0.8).map((l) => l.energy);
    expect(Math.min(...hi)).toBeGreaterThan(Math.max(...lo));
    expect(s.energyPercentiles.p5!).toBeLessThan(s.energyPercentiles.p95!);
  });

  it("--json prints one object per label and a summary line; --stats a config snippet", async () => {
    const cli = join(process.cwd(), "bin/terrain-learner.js");
    const { stdout } = await run(process.execPath, [cli, "label", bag, "--json"], { maxBuffer: 1 << 24 });
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const summary = lines.pop().summary;
    expect(lines.length).toBe(summary.labels);
    for (const l of lines)
      expect(Object.keys(l).sort()).toEqual(["energy", "roughness", "speed", "t", "x", "y"]);
    expect(summary.skipped).toHaveProperty("stationary");
    expect(summary.log10EnergyPercentiles.p50).toBeCloseTo(Math.log10(summary.energyPercentiles.p50), 3);
    const stats = await run(process.execPath, [cli, "label", bag, "--stats"]);
    expect(stats.stdout).toMatch(
      /terrain_learner:\n {2}ros__parameters:\n {4}labeler:\n {6}calibration:\n {8}mode: fixed\n {8}low: -?[0-9.]+\n {8}high: -?[0-9.]+/,
    );
    // docs/calibration.md: the snippet is a params file layered after the robot's own.
    const calibration = join(dir, "calibration.yaml");
    writeFileSync(calibration, stats.stdout);
    const layered = loadConfig(["launch/params.yaml", calibration]).labeler.calibration;
    expect(layered.mode).toBe("fixed");
    expect(layered.low).toBeCloseTo(summary.log10EnergyPercentiles.p5, 3);
    expect(layered.high).toBeCloseTo(summary.log10EnergyPercentiles.p95, 3);
    const human = await run(process.execPath, [cli, "label", bag]);
    expect(human.stdout).toMatch(/t \(s\)\s+x \(m\)/);
    expect(human.stdout).toMatch(/labels over 40\.\d s/);
    expect(human.stdout).toMatch(/imu duplicate 1/);
  });

  it("--stats fits the bounds at the configured percentiles: the labeller's own running bounds over the same labels", async () => {
    const params = join(dir, "pct.yaml");
    writeFileSync(
      params,
      "terrain_learner:\n  ros__parameters:\n    labeler:\n      calibration:\n        low_percentile: 12.5\n        high_percentile: 80\n",
    );
    const config = loadConfig([params]);
    const running = new LogEnergyPercentiles();
    await runLabel({ bag, config, onLabel: (l) => running.record(Math.log10(l.energy)) });
    const want = running.bounds(config.labeler.calibration);
    expect(want.source).toBe("percentile");
    const cli = join(process.cwd(), "bin/terrain-learner.js");
    const stats = await run(process.execPath, [cli, "label", bag, "--config", params, "--stats"]);
    const snippet = join(dir, "pct-calibration.yaml");
    writeFileSync(snippet, stats.stdout);
    const fitted = loadConfig([params, snippet]).labeler.calibration;
    expect(fitted.low).toBeCloseTo(want.lo, 4);
    expect(fitted.high).toBeCloseTo(want.hi, 4);
    expect(stats.stdout).toMatch(
      /# Fixed calibration from the 12\.5th\/80th percentiles \(roughness 0\.05 and 0\.95\)/,
    );
  });

  it("names the topics it found when the IMU topic is wrong, with a one-line error", async () => {
    const cli = join(process.cwd(), "bin/terrain-learner.js");
    const err = await run(process.execPath, [cli, "label", bag, "--imu", "/nope"]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /no messages on IMU topic \/nope .*\/imu\/data \(sensor_msgs\/msg\/Imu, \d+\)/,
    );
    expect(err.stderr.trim().split("\n").length).toBe(1);
  });
});
