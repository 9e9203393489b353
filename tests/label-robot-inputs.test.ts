// `terrain-learner label` on what a robot integrator's drivers publish: a real BorealTC Husky run
// (tests/fixtures/borealtc, 100 Hz IMU, wheel speeds integrated into odometry) written as an MCAP
// with one thing wrong at a time: gravity removed, g instead of m/s², no acceleration (covariance
// -1) or no gyroscope, the IMU's frame_id naming the base while it is mounted on its side, odometry that fills only
// the twist, a pose that jitters while the robot stands still, a 50 Hz IMU, stamps repeated in
// batches, an IMU stamped on its own clock. The labels must either be right or be refused with the reason, never made silently wrong.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LabelSummary, runLabel } from "../src/cli/label.ts";
import { quatConjugate, quatFromRPY, quatRotate } from "../src/core/geometry.ts";
import type { Quat } from "../src/core/types.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { transformsToRos } from "../src/io/ros/convert.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { BOREAL_DIR, WheelOdometry } from "./core-borealtc-helpers.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "label-robot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function csv(path: string): number[][] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",").map(Number));
}
const IMU = csv(`${BOREAL_DIR}ASPHALT/imu_04.csv`); // t, wx, wy, wz, ax, ay, az (z up)
const PRO = csv(`${BOREAL_DIR}ASPHALT/pro_04.csv`); // t, curL, curR, velL, velR

interface Variant {
  /** base_link ← IMU rotation (the IMU's samples are rotated into its frame). */
  mount?: Quat;
  /** Publish TF base_link → IMU frame. */
  tf?: boolean;
  imuFrame?: string;
  gravity?: "removed";
  units?: "g";
  /** angular_velocity in deg/s. */
  gyroUnits?: "deg/s";
  /** linear_acceleration_covariance[0] = -1 and zeros, as a driver without an accelerometer. */
  noAcceleration?: boolean;
  /** Odometry with position left at 0 (twist only). */
  twistOnly?: boolean;
  /** Odometry with pose.pose.orientation left all zero. */
  noOrientation?: boolean;
  /** The robot stands still (zero twist) while its pose jitters by ±this many metres. */
  standStillJitter?: number;
  /** Keep every n-th IMU sample. */
  decimate?: number;
  /** Stamp n consecutive samples alike. */
  batch?: number;
  /** Swap the stamps of each pair of samples (a driver whose stamps zig-zag). */
  zigzag?: boolean;
  /** angular_velocity all NaN, as an IMU without a gyroscope; its covariance[0] is -1 unless `gyroCov`. */
  noGyro?: boolean;
  gyroCov?: number;
  /** Only the first seconds of the run. */
  until?: number;
  /** IMU header stamps on the device's clock (seconds since boot) instead of ROS time. */
  deviceClock?: boolean;
}

const T0 = 1_700_000_000;

async function bag(name: string, v: Variant): Promise<string> {
  const path = join(dir, `${name}.mcap`);
  const w = await Ros2McapWriter.create(path, { compression: "none" });
  const mount = v.mount ?? { x: 0, y: 0, z: 0, w: 1 };
  const inv = quatConjugate(mount);
  const frame = v.imuFrame ?? "imu_link";
  const hdr = (t: number, id: string) => ({
    stamp: { sec: Math.floor(t), nanosec: Math.round((t - Math.floor(t)) * 1e9) },
    frame_id: id,
  });
  if (v.tf) {
    const tf = { stamp: T0, parent: "base_link", child: frame, isStatic: true };
    await w.write(
      "/tf_static",
      "tf2_msgs/msg/TFMessage",
      T0,
      transformsToRos([{ ...tf, translation: { x: 0, y: 0, z: 0.2 }, rotation: mount }]),
    );
  }
  // Odometry at 50 Hz from the wheel speeds (Husky track), linear between the 6.5 Hz encoder samples.
  const odometry = new WheelOdometry(PRO);
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const msgs: { t: number; topic: string; type: string; m: unknown }[] = [];
  const end = Math.min(v.until ?? Number.POSITIVE_INFINITY, IMU[IMU.length - 1]![0]!);
  for (let t = 0; t <= end; t += 0.02) {
    const o = odometry.at(t);
    let [px, py, pyaw, pv, pw] = [o.x, o.y, o.yaw, o.v, o.w];
    if (v.standStillJitter !== undefined) {
      [px, py, pyaw, pv, pw] = [v.standStillJitter * 2 * rnd(), v.standStillJitter * 2 * rnd(), 0, 0, 0];
    }
    if (v.twistOnly) [px, py] = [0, 0];
    msgs.push({
      t,
      topic: "/odom",
      type: "nav_msgs/msg/Odometry",
      m: {
        header: hdr(T0 + t, "odom"),
        child_frame_id: "base_link",
        pose: {
          pose: {
            position: { x: px, y: py, z: 0 },
            orientation: v.noOrientation
              ? { x: 0, y: 0, z: 0, w: 0 }
              : { x: 0, y: 0, z: Math.sin(pyaw / 2), w: Math.cos(pyaw / 2) },
          },
          covariance: new Float64Array(36),
        },
        twist: {
          twist: { linear: { x: pv, y: 0, z: 0 }, angular: { x: 0, y: 0, z: pw } },
          covariance: new Float64Array(36),
        },
      },
    });
  }
  const scale = v.units === "g" ? 1 / 9.80665 : 1;
  const gyroScale = v.gyroUnits === "deg/s" ? 180 / Math.PI : 1;
  const step = v.decimate ?? 1;
  for (let i = 0; i < IMU.length && IMU[i]![0]! <= end; i += step) {
    const [t, wx, wy, wz, ax, ay, az] = IMU[i]! as number[] as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const stampT = v.batch ? IMU[i - (i % v.batch)]![0]! : v.zigzag && IMU[i ^ 1] ? IMU[i ^ 1]![0]! : t;
    const acc = quatRotate(inv, { x: ax, y: ay, z: v.gravity === "removed" ? az - 9.80665 : az });
    const cov = (c: number) => Float64Array.from([c, 0, 0, 0, c, 0, 0, 0, c]);
    msgs.push({
      t: t + 0.005,
      topic: "/imu/data",
      type: "sensor_msgs/msg/Imu",
      m: {
        header: hdr((v.deviceClock ? 12.5 : T0) + stampT, frame),
        orientation: { x: 0, y: 0, z: 0, w: 1 },
        orientation_covariance: cov(-1),
        angular_velocity: v.noGyro
          ? { x: Number.NaN, y: Number.NaN, z: Number.NaN }
          : quatRotate(inv, { x: wx * gyroScale, y: wy * gyroScale, z: wz * gyroScale }),
        angular_velocity_covariance: cov(v.noGyro ? (v.gyroCov ?? -1) : 0),
        linear_acceleration: v.noAcceleration
          ? { x: 0, y: 0, z: 0 }
          : { x: acc.x * scale, y: acc.y * scale, z: acc.z * scale },
        linear_acceleration_covariance: cov(v.noAcceleration ? -1 : 0),
      },
    });
  }
  msgs.sort((p, q) => p.t - q.t);
  for (const m of msgs) await w.write(m.topic, m.type, T0 + m.t, m.m);
  await w.close();
  return path;
}

async function label(name: string, v: Variant): Promise<{ summary: LabelSummary; energies: number[] }> {
  const energies: number[] = [];
  const summary = await runLabel({
    bag: await bag(name, v),
    config: defaultConfig(),
    onLabel: (l) => energies.push(l.energy),
  });
  return { summary, energies };
}

const sideways = quatFromRPY(Math.PI / 2, 0, 0);

describe("label on a real run as robots publish it", () => {
  it("the run as recorded: labels, no warnings", async () => {
    const { summary } = await label("plain", {});
    expect(summary.labels).toBe(87);
    expect(summary.warnings).toEqual([]);
    expect(summary.vertical.source).toBe("gravity");
    expect(Math.hypot(...summary.vertical.gravity)).toBeCloseTo(9.9, 0);
  }, 60_000);

  it("gravity removed by the driver: no label without TF (up is unknown), the same labels with TF", async () => {
    const without = await label("nograv", { gravity: "removed", mount: sideways });
    expect(without.summary.labels).toBe(0);
    expect(without.summary.skipped.no_vertical).toBe(87);
    expect(without.summary.warnings.join("\n")).toMatch(
      /linear_acceleration averages 0\.\d\d m\/s², not gravity .*give it with TF base_link → imu_link/,
    );
    const withTf = await label("nograv-tf", { gravity: "removed", mount: sideways, tf: true });
    const reference = await label("grav-tf", { mount: sideways, tf: true });
    expect(withTf.summary.warnings).toEqual([]);
    expect(withTf.energies.length).toBe(87);
    // The mean goes per Welch segment, so a constant 1 g changes nothing along the vertical.
    for (let i = 0; i < 87; i++) expect(withTf.energies[i]! / reference.energies[i]!).toBeCloseTo(1, 9);
  }, 60_000);

  it("acceleration in g: refused without TF and said so", async () => {
    const r = await runCli(["label", await bag("in-g", { units: "g" })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^warning: IMU linear_acceleration averages 1\.00 m\/s²: in g, not m\/s²/m);
    expect(r.stderr).toMatch(
      /no labels: every step was skipped \(no_vertical 87\); see the warning above\n$/,
    );
  }, 60_000);

  it("a gyro in deg/s: warned, with how far it turned against the odometry", async () => {
    const { summary } = await label("gyro-deg", { gyroUnits: "deg/s" });
    expect(summary.warnings).toEqual([
      expect.stringMatching(
        /^the IMU's angular_velocity about the vertical adds up to \d+ rad of turning while the odometry turned \d+\.\d rad \(\d+×\): in deg\/s, not rad\/s/,
      ),
    ]);
  }, 60_000);

  it("linear_acceleration_covariance[0] = -1 (no accelerometer): its zeros are not labelled", async () => {
    const { summary } = await label("no-acc", { noAcceleration: true, tf: true });
    expect(summary.labels).toBe(0);
    expect(Object.entries(summary.dropped.undecodable)).toEqual([
      [
        "/imu/data: linear_acceleration_covariance[0] is -1: the IMU publishes no linear acceleration, which labels need",
        IMU.length,
      ],
    ]);
  }, 60_000);

  it("an IMU without a gyroscope (angular_velocity_covariance[0] = -1, NaN rates): labelled from the acceleration", async () => {
    const { summary, energies } = await label("no-gyro", { noGyro: true });
    expect(summary.labels).toBe(87);
    expect(summary.dropped.imu.nan).toBe(0);
    const plain = await label("plain-again", {});
    // Without the roll/pitch-rate term the energy is the vertical band power alone: a little lower.
    for (let i = 0; i < 87; i++) {
      expect(energies[i]!).toBeLessThan(plain.energies[i]!);
      expect(energies[i]!).toBeGreaterThan(0.8 * plain.energies[i]!);
    }
    // The same rates with a covariance that claims them: every sample is dropped, and that is the reason.
    const r = await runCli(["label", await bag("nan-gyro", { noGyro: true, gyroCov: 0 })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no labels: every IMU sample was dropped \(nan 5062; nan: a NaN or infinity in the stamp, acceleration or rates\)\n$/,
    );
  }, 60_000);

  it("standing still with the motors running while the pose jitters: no label", async () => {
    const { summary } = await label("still", { standStillJitter: 0.01 });
    expect(summary.labels).toBe(0);
    expect(summary.skipped.stationary).toBeGreaterThan(50);
  }, 60_000);

  it("frame_id base_link on an IMU mounted on its side: warned, with the angle", async () => {
    const { summary } = await label("side-base", { mount: sideways, imuFrame: "base_link" });
    expect(summary.vertical.angle).toBeCloseTo(90, 0);
    expect(summary.warnings).toEqual([
      expect.stringMatching(
        /^the vertical from the IMU's frame_id base_link \(mounted level, z up\) \(\[0, 0, 1\] in the IMU frame\) is 90° from gravity in the IMU's data \(\[0\.00, -?1\.00, 0\.0\d\]\)/,
      ),
    ]);
  }, 60_000);

  it("odometry with only its twist filled: the reason is the position, not 'stationary'", async () => {
    const r = await runCli(["label", await bag("twist-only", { twistOnly: true })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^warning: odometry positions moved 0\.00 m while its twist adds up to 2\d\.\d m: steps are measured along pose\.pose\.position/m,
    );
  }, 60_000);

  it("odometry without an orientation (all-zero quaternion): the reason names it", async () => {
    const r = await runCli(["label", await bag("no-orientation", { noOrientation: true })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no labels: every odometry message was dropped \(nan 2531; nan: a NaN or infinity in the stamp or pose, or an all-zero pose\.pose\.orientation\)\n$/,
    );
  }, 60_000);

  it("an IMU stamped on its own clock: the reason is the stamps, not the robot", async () => {
    const r = await runCli(["label", await bag("device-clock", { deviceClock: true })], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "warning: IMU stamps (12.500 to 63.110 s) and odometry stamps (1700000000.000 to 1700000050.600 s) do not overlap, so the IMU samples have no pose: is one of them stamped on another clock (the device's, not ROS time)?\n" +
        `terrain-learner: ${join(dir, "device-clock.mcap")}: no labels: no IMU sample has a stamp within the odometry's; see the warning above\n`,
    );
  }, 60_000);

  it("--stats from fewer labels than the calibration's warmup: the bounds are printed, and called thin", async () => {
    const r = await runCli(["label", await bag("short", { until: 8 }), "--stats"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# 1\d labels from .*\n[\s\S]*mode: fixed\n {8}low: /);
    expect(r.stderr).toMatch(
      /^warning: percentiles of 1\d labels \(fewer than labeler\.calibration\.warmup, 30\) make thin calibration bounds/,
    );
  }, 60_000);

  it("--stats --json from fewer labels than the warmup: the thin-bounds warning is in the summary's warnings too", async () => {
    const r = await runCli(["label", await bag("short", { until: 8 }), "--stats", "--json"], dir);
    expect(r.code).toBe(0);
    const { summary } = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { summary: LabelSummary };
    expect(summary.warnings).toEqual([expect.stringMatching(/^percentiles of 1\d labels \(fewer than/)]);
    expect(r.stderr).toBe(`warning: ${summary.warnings[0]}\n`);
  }, 60_000);

  it("the text summary with fixed calibration names its bounds", async () => {
    const path = await bag("fixed-text", {});
    const stats = await runCli(["label", path, "--stats"], dir);
    expect(stats.code).toBe(0);
    writeFileSync(join(dir, "cal.yaml"), stats.stdout);
    const low = /low: (\S+)/.exec(stats.stdout)![1];
    const high = /high: (\S+)/.exec(stats.stdout)![1];
    const r = await runCli(["label", path, "--config", join(dir, "cal.yaml")], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `(calibration fixed, log10 energy ${low} to ${high}; --stats for a config snippet)`,
    );
  }, 60_000);

  it("--stats from one label: no snippet (its bounds would be equal), exit 1 saying why", async () => {
    const path = await bag("one", { until: 1.5 });
    const r = await runCli(["label", path, "--stats"], dir);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^terrain-learner: .*one\.mcap: no calibration: the 5th and 95th percentiles of 1 label are equal \(log10 energy -?[\d.]+\): use a longer drive/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.code).toBe(1);
  }, 60_000);

  it("fixed bounds from another robot are warned about; the bag's own --stats bounds are not", async () => {
    const path = await bag("fixed", {});
    const fixed = (low: number, high: number) => {
      const config = defaultConfig();
      config.labeler.calibration = { ...config.labeler.calibration, mode: "fixed", low, high };
      return runLabel({ bag: path, config });
    };
    const own = (await runLabel({ bag: path, config: defaultConfig() })).log10EnergyPercentiles;
    expect((await fixed(own.p5!, own.p95!)).warnings).toEqual([]);
    const above = await fixed(own.p5! - 2, own.p5! - 0.5);
    expect(above.warnings).toEqual([
      expect.stringMatching(
        /^half the labels or more lie above labeler\.calibration\.high \(fixed bounds .* median .*\), so their roughness is squeezed towards 1: bounds from another robot/,
      ),
    ]);
    const below = await fixed(own.p95! + 0.5, own.p95! + 2);
    expect(below.warnings[0]).toMatch(
      /^half the labels or more lie below labeler\.calibration\.low .* towards 0:/,
    );
  }, 60_000);

  it("--stats percentiles cover every label of the bag, not the labeller's window of the last 4096", async () => {
    const config = defaultConfig();
    config.labeler.step_length = 0.004; // ~5000 labels from the 22 m run
    const logs: number[] = [];
    const summary = await runLabel({
      bag: await bag("many", {}),
      config,
      onLabel: (l) => logs.push(Math.log10(l.energy)),
    });
    expect(summary.labels).toBeGreaterThan(4096);
    const sorted = logs.sort((a, b) => a - b);
    const at = (p: number) => {
      const pos = (p / 100) * (sorted.length - 1);
      const i = Math.floor(pos);
      return sorted[i]! + (pos - i) * (sorted[i + 1]! - sorted[i]!);
    };
    expect(summary.log10EnergyPercentiles.p5).toBeCloseTo(at(5), 3);
    expect(summary.log10EnergyPercentiles.p95).toBeCloseTo(at(95), 3);
  }, 120_000);

  it("a 50 Hz IMU and stamps repeated in batches are labelled, with warnings", async () => {
    const slow = await label("imu50", { decimate: 2 });
    expect(slow.summary.labels).toBe(87);
    expect(slow.summary.warnings).toEqual([
      "the IMU at 50 Hz sees vibration up to 25 Hz only: labeler.band_high 30 Hz is cut there, so energies are not comparable with a faster IMU's",
    ]);
    const batched = await label("batched", { batch: 4 });
    expect(batched.summary.warnings[0]).toMatch(
      /^\d+ of 5062 IMU messages repeat the stamp before them and were dropped: the driver stamps samples in batches/,
    );
  }, 60_000);

  it("stamps that zig-zag are re-ordered (fusion.reorder_window); beyond the window, half the IMU dropped is said as such", async () => {
    const r = await label("zigzag", { zigzag: true });
    expect(r.summary.dropped.imu.backwards).toBe(0);
    expect(r.summary.accepted.imu).toBe(5062);
    expect(r.summary.warnings).toEqual([]);
    const config = defaultConfig();
    config.fusion.reorder_window = 0;
    const summary = await runLabel({ bag: join(dir, "zigzag.mcap"), config });
    expect(summary.dropped.imu.backwards).toBe(2531);
    expect(summary.warnings[0]).toBe(
      "2531 of 5062 IMU messages are stamped more than fusion.reorder_window (0 s) before one already taken and were dropped: the stamps go back and forth further than messages are re-ordered, so the labels use only the rest (raise fusion.reorder_window to keep them)",
    );
  }, 60_000);
});
