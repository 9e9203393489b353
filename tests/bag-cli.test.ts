// `terrain-learner bag info` through the real CLI entry point, one process per call, as a user
// runs it.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { fixture } from "./helpers/bag-test-utils.ts";
import { writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tl-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, "bin/terrain-learner.js"), ...args],
      { cwd: ROOT, env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === "number" ? code : 1, stdout, stderr });
      },
    );
  });
}

function oneJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe("terrain-learner bag info", () => {
  it("--json on an MCAP: one object with counts, a 0-message channel and ROS 2 types", async () => {
    const r = await cli("bag", "info", fixture("rosbag2_talker_mcap/talker.mcap"), "--json");
    expect(r.code).toBe(0);
    const j = oneJson(r.stdout);
    expect(Object.keys(j)).toEqual([
      "path",
      "format",
      "start",
      "end",
      "duration",
      "topics",
      "skipped",
      "skippedWhy",
    ]);
    expect(j.format).toBe("mcap");
    expect(j.duration).toBeCloseTo(4.531096768, 9);
    expect(j.topics).toEqual([
      { name: "/rosout", type: "rcl_interfaces/msg/Log", count: 10 },
      { name: "/parameter_events", type: "rcl_interfaces/msg/ParameterEvent", count: 0 },
      { name: "/topic", type: "std_msgs/msg/String", count: 10 },
    ]);
    expect(j.skipped).toEqual({});
    expect(j.skippedWhy).toEqual({});
  });

  it("--json on a rosbag2 sqlite3 folder counts the skipped type", async () => {
    const r = await cli("bag", "info", fixture("gps_nav_ws_bag"), "--json");
    expect(r.code).toBe(0);
    const j = oneJson(r.stdout);
    expect(j.format).toBe("rosbag2-sqlite3");
    const counts = Object.fromEntries(
      (j.topics as { name: string; count: number }[]).map((t) => [t.name, t.count]),
    );
    expect(counts["/odometry"]).toBe(2143);
    expect(j.skipped).toEqual({ "ackermann_msgs/msg/AckermannDriveStamped": 1034 });
    // Why, as the table says it, under the same key.
    expect(j.skippedWhy).toEqual({ "ackermann_msgs/msg/AckermannDriveStamped": "no message definition" });
  });

  it("--json on a lone .db3 and on a ROS 1 .bag", async () => {
    const db3 = oneJson(
      (await cli("bag", "info", fixture("stinger_test_bag/test_bag_0.db3"), "--json")).stdout,
    );
    expect(db3.topics).toEqual([{ name: "/imu/data", type: "sensor_msgs/msg/Imu", count: 104 }]);
    const bagPath = join(dir, "small.bag");
    const t = { sec: 5, nsec: 0 };
    writeFileSync(
      bagPath,
      writeRos1Bag(
        [
          {
            topic: "/odom",
            type: "nav_msgs/Odometry",
            time: t,
            message: {
              header: { seq: 0, stamp: t, frame_id: "odom" },
              child_frame_id: "base_link",
              pose: {
                pose: { position: { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
                covariance: new Array(36).fill(0),
              },
              twist: {
                twist: { linear: { x: 0, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } },
                covariance: new Array(36).fill(0),
              },
            },
          },
        ],
        { compression: "bz2" },
      ),
    );
    const r = await cli("bag", "info", bagPath, "--json");
    expect(r.code).toBe(0);
    const j = oneJson(r.stdout);
    expect([j.format, j.start, j.end, j.duration]).toEqual(["ros1", 5, 5, 0]);
    expect(j.topics).toEqual([{ name: "/odom", type: "nav_msgs/msg/Odometry", count: 1 }]);
  });

  it("prints a ros2-bag-info style table", async () => {
    const r = await cli("bag", "info", fixture("rosbag2_cdr_test_mcap"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Files: +cdr_test_0\.mcap$/m);
    expect(r.stdout).toMatch(/^Storage id: +mcap$/m);
    expect(r.stdout).toMatch(/^Duration: +0\.151137181s$/m);
    expect(r.stdout).toMatch(/^Messages: +7$/m);
    expect(r.stdout).toMatch(
      /Topic: \/test_topic +\| Type: test_msgs\/msg\/BasicTypes \| Count: 3 \| Serialization Format: cdr/,
    );
  });

  it("a truncated bag: JSON carries the warning, exit 0", async () => {
    const { readFileSync } = await import("node:fs");
    const bytes = readFileSync(fixture("rosbag2_talker_mcap/talker.mcap"));
    const cut = join(dir, "cut.mcap");
    writeFileSync(cut, bytes.subarray(0, 9000));
    const r = await cli("bag", "info", cut, "--json");
    expect(r.code).toBe(0);
    const j = oneJson(r.stdout);
    expect(j.warnings).toEqual([expect.stringMatching(/cut\.mcap: truncated at byte \d+ of 9000/)]);
  });

  it("a missing file: non-zero exit, one line on stderr, no stack trace", async () => {
    const r = await cli("bag", "info", join(dir, "missing.mcap"), "--json");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^terrain-learner: .*missing\.mcap: no such file or directory$/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it("an empty bag or config path (an unset shell variable) is named as empty, not as ': no such file'", async () => {
    const bag = join(dir, "missing.mcap");
    for (const [args, what] of [
      [["bag", "info", ""], "bag"],
      [["label", ""], "bag"],
      [["replay", ""], "bag"],
      [["label", bag, "--config", ""], "config"],
    ] as const) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim()).toMatch(new RegExp(`^terrain-learner: the ${what} path is empty \\(expected `));
    }
  });

  it("random bytes: non-zero exit, one clear line", async () => {
    const p = join(dir, "random.db3");
    writeFileSync(p, Buffer.from("this is not a bag at all, just some text\n".repeat(100)));
    const r = await cli("bag", "info", p);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/random\.db3: not a bag/)]);
  });

  it("a rosbag2 folder's metadata.yaml: one line naming the folder to give instead", async () => {
    const r = await cli("bag", "info", fixture("stinger_test_bag/metadata.yaml"));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `terrain-learner: ${fixture("stinger_test_bag/metadata.yaml")}: a rosbag2 folder's metadata file, not a bag: give the folder, ${fixture("stinger_test_bag")}`,
    ]);
  });

  it("a folder of bag folders (a dataset): one line naming the bags in it", async () => {
    const r = await cli("bag", "info", fixture("."));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /not a rosbag2 folder \(no metadata\.yaml, no \.db3 or \.mcap files\); it holds bag folders gps_nav_ws_bag, rosbag2_cdr_test_mcap, rosbag2_cdr_test_sqlite3, rosbag2_talker_mcap, stinger_localization_bag, \.\.\.: give one of them$/,
      ),
    ]);
  });
});
