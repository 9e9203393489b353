// A reader that closes the pipe early (`terrain-learner sim --list-terrains | head -3`,
// `bag info BAG | head`) has had enough: the command ends as it would have, exit 0, without an
// EPIPE stack trace. run, serial-dump and label have their own handling (serial-cli-stdout.test.ts).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imuToRos, odomToRos } from "../src/io/ros/convert.ts";
import { drive, interleave } from "./core-synthetic.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { BIN } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "closed-stdout-"));
/** A short drive with IMU and odometry only: enough for `label` to print labels. */
const driveBag = join(dir, "drive.mcap");

beforeAll(async () => {
  const d = drive({ duration: 12, speed: 0.6, roughnessAt: () => 0.5, seed: 2 });
  const w = await Ros2McapWriter.create(driveBag);
  for (const m of interleave(d.imu, d.odom)) {
    if ("linearAcceleration" in m) await w.write("/imu/data", "sensor_msgs/msg/Imu", m.stamp, imuToRos(m));
    else await w.write("/odom", "nav_msgs/msg/Odometry", m.stamp, odomToRos(m));
  }
  await w.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the command with its stdout's read end closed before it writes anything. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
  });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
}

describe("stdout closed by its reader", () => {
  it.each([
    [["sim", "--list-terrains"]],
    [["bag", "info", fixture("rosbag2_talker_mcap/talker.mcap")]],
    [["--help"]],
  ])("%j exits 0 with nothing on stderr", async (args) => {
    const r = await withClosedStdout(args);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

/** Runs the command with its stdout redirected to a file that cannot grow (`ulimit -f 0`: EFBIG, as a full disk gives ENOSPC). */
function withFullStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), "full-stdout-"));
  const child = spawn(
    "/bin/sh",
    [
      "-c",
      'ulimit -f 0 && out="$1" && shift && exec "$@" > "$out"',
      "sh",
      join(dir, "out"),
      process.execPath,
      BIN,
      ...args,
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" } },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.once("close", (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr });
    }),
  );
}

describe("stdout that cannot be written (a full disk)", () => {
  it.each([
    [["sim", "--list-terrains"]],
    [["bag", "info", fixture("rosbag2_talker_mcap/talker.mcap"), "--json"]],
  ])("%j says so in one line and exits 1 (was an uncaught stack trace, exit 7)", async (args) => {
    const r = await withFullStdout(args);
    expect(r.stderr).toBe("terrain-learner: cannot write standard output: EFBIG: file too large, write\n");
    expect(r.code).toBe(1);
  });

  it("label --json says so in one line among its own report and exits 1 (its EPIPE handler rethrew it)", async () => {
    const r = await withFullStdout(["label", driveBag, "--json"]);
    expect(r.stderr).toContain(
      "terrain-learner: cannot write standard output: EFBIG: file too large, write\n",
    );
    expect(r.stderr.match(/cannot write standard output/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
  });
});
