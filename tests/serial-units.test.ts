// A serial IMU in g or deg/s, or one that removes gravity, looks plausible sample by sample: `run`
// made no label at all (g, no gravity) and exited 0 without a word. The unit check says so while it
// runs (and serial-dump at bring-up), and a --duration run without a label exits 1 saying why.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { SerialUnitCheck } from "../src/cli/serial-checks.ts";
import type { ImuSample, OdomSample } from "../src/core/types.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { runCli } from "./helpers/cli.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";

const G = 9.80665;
const DEG = Math.PI / 180;

/** 12 s at 200 Hz IMU / 20 Hz odometry, 1 m/s, turning ±0.3 rad/s every 4 s, vibrating. */
function drive(accel: number, gyro: number, gravity = G, odomW = 1) {
  const imu: ImuSample[] = [];
  const odom: OdomSample[] = [];
  let yaw = 0;
  for (let k = 0; k < 200 * 12; k++) {
    const t = 100 + k / 200;
    const w = Math.floor((t - 100) / 4) % 2 ? 0.3 : -0.3;
    const az = gravity + 2 * Math.sin(2 * Math.PI * 12 * t);
    imu.push({
      stamp: t,
      frameId: "imu_link",
      orientation: undefined,
      angularVelocity: { x: 0.1 / gyro, y: 0, z: w / gyro },
      linearAcceleration: { x: 0.1 / accel, y: 0, z: az / accel },
    });
    if (k % 10 === 0) {
      yaw += (w / odomW) * 0.05;
      odom.push({
        stamp: t,
        frameId: "odom",
        childFrameId: "base_link",
        pose: {
          position: { x: t - 100, y: 0, z: 0 },
          orientation: { x: 0, y: 0, z: Math.sin(yaw / 2), w: Math.cos(yaw / 2) },
        },
        linear: { x: 1, y: 0, z: 0 },
        angular: { x: 0, y: 0, z: w / odomW },
      });
    }
  }
  return { imu, odom };
}

function check(
  accel: number,
  gyro: number,
  gravity = G,
  yaml: Record<string, unknown> = {},
  odomW = 1,
): string[] {
  const config = loadConfig([]);
  Object.assign(config.serial, yaml);
  const c = new SerialUnitCheck(config, () => undefined);
  const { imu, odom } = drive(accel, gyro, gravity, odomW);
  let j = 0;
  for (const s of imu) {
    c.imu(s);
    while (j < odom.length && odom[j]!.stamp <= s.stamp) c.odom(odom[j++]!);
  }
  return c.warnings;
}

describe("SerialUnitCheck", () => {
  it("m/s² and rad/s: no warning", () => {
    expect(check(1, 1)).toEqual([]);
  });
  it("g: says so and names serial.accel_scale", () => {
    const w = check(G, 1);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/averages 1\.0\d m\/s² .*: g, not m\/s²\? serial\.accel_scale: 9\.80665 converts g/);
  });
  it("deg/s: says so once the odometry has turned, naming serial.gyro_scale", () => {
    const w = check(1, DEG);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/deg\/s, not rad\/s\? serial\.gyro_scale: 0\.0174533 converts deg\/s/);
  });
  it("odometry w in deg/s: says so, naming the turns it keeps from being labelled", () => {
    const w = check(1, 1, G, {}, DEG);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(
      /^the odometry's yaw rate w adds up to \d+ rad of turning while the IMU turned [\d.]+ rad \(\d+×\): w in deg\/s, not rad\/s\? .*labeler\.max_yaw_rate \(0\.8 rad\/s\) are not labelled$/,
    );
  });
  it("odometry slower than serial.max_odom_gap: says the pose is not integrated across its gaps", () => {
    const config = loadConfig([]);
    const c = new SerialUnitCheck(config, () => undefined);
    const { odom } = drive(1, 1);
    for (const o of odom.filter((_, i) => i % 20 === 0)) c.odom(o); // 1 Hz
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toBe(
      "10 of 10 odometry intervals while moving are longer than serial.max_odom_gap (0.5 s), and the pose is not integrated across them: the robot hardly moves and hardly a step is labelled; send odometry at 10 Hz or more (or raise serial.max_odom_gap)",
    );
  });
  it("gravity removed: says no step is labelled, unless the IMU is in the base frame", () => {
    expect(check(1, 1, 0)[0]).toMatch(
      /not gravity \(9\.81\): the device removes gravity.*serial\.imu_frame: base_link/,
    );
    expect(check(1, 1, 0, { imu_frame: "base_link" })).toEqual([]);
  });
});

const dir = mkdtempSync(join(tmpdir(), "serial-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(socatMissing() !== undefined)("run and serial-dump on a pty with an IMU in g", () => {
  it("warn while reading; run --duration without a label exits 1 with the labeller's reason", async () => {
    const pty = await PtyPair.start();
    let t = 1_000_000;
    // 200 Hz IMU in g, 20 Hz odometry at 1 m/s, in 50 ms bursts.
    const feed = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 10; i++) {
        t += 5000;
        const az = (G + 2 * Math.sin(t / 1e4)) / G;
        lines.push(nmeaSentence(`TLIMU,${t},0.01,0.02,${az.toFixed(5)},0.01,0.02,0`));
        if (i % 10 === 0) lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
      }
      void pty.write(`${lines.join("\n")}\n`);
    }, 50);
    try {
      const r = await runCli(["run", "--serial", pty.a, "--duration", "5"], dir);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /^warning: the IMU's acceleration averages 1\.00 m\/s² over its first 2 s: g, not m\/s²\? serial\.accel_scale: 9\.80665 converts g \(it is 1\); until then no step is labelled/m,
      );
      expect(r.stderr.trim().split("\n").at(-1)).toMatch(
        new RegExp(
          `^terrain-learner: ${pty.a}: no labels in 5 s: every step was skipped \\(no_vertical \\d+\\); see the warning above$`,
        ),
      );
      const d = await runCli(["serial-dump", pty.a, "--duration", "3"], dir);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stderr).toMatch(/^serial-dump: warning: the IMU's acceleration averages 1\.00 m\/s²/m);
    } finally {
      clearInterval(feed);
      await pty.close();
    }
  }, 180_000);
});
