// A bag whose camera (or IMU) driver stamps with its device's clock instead of ROS time: merged by
// stamp, the streams never meet. replay ran many times its normal time, reported dozens of "clock
// jumped back" lines blaming "a bag of two recordings", and ended with "no vibration labels" (which
// `label` on the same bag contradicted). It is now refused before reading, naming the topic.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { clockMismatch, topicClocks } from "../src/io/bag/stamp-clocks.ts";
import { type Msg, rewriteBag } from "./helpers/bag-rewrite.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-clocks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

/** header.stamp moved by `d` seconds (a device clock: time since boot instead of ROS time). */
function shifted(m: Msg, d: number): Msg {
  const h = m.header as { stamp: { sec: number; nanosec: number } };
  const t = h.stamp.sec + h.stamp.nanosec * 1e-9 + d;
  const sec = Math.floor(t);
  return {
    ...m,
    header: { ...h, stamp: { sec, nanosec: Math.min(999_999_999, Math.round((t - sec) * 1e9)) } },
  };
}

const BOOT = -1_699_999_000; // the simulator's stamps start at 1.7e9 s: the camera's at 1000 s
beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 3,
    camera: { width: 64, height: 48, rate: 5 },
  });
  const drop = (t: string) => t.startsWith("/sim/");
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "camclock.mcap"), (t, m) =>
    drop(t) ? null : t.startsWith("/camera/") ? shifted(m, BOOT) : m,
  );
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "robot.mcap"), (t, m) => (drop(t) ? null : m));
  // A camera driver started 1.5 s into the recording, stamping with its device's clock.
  const sec = (m: Msg) => (m.header as { stamp: { sec: number; nanosec: number } } | undefined)?.stamp;
  let start: number | undefined;
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "latecam.mcap"), (t, m) => {
    if (drop(t)) return null;
    const stamp = sec(m);
    const at = stamp ? stamp.sec + stamp.nanosec * 1e-9 : undefined;
    if (at !== undefined) start ??= at;
    if (!t.startsWith("/camera/")) return m;
    return at !== undefined && start !== undefined && at - start < 1.5 ? null : shifted(m, BOOT);
  });
  // CameraInfo published once, latched, ten minutes before the recording started.
  let infos = 0;
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "latched.mcap"), (t, m) =>
    drop(t) || (t === "/camera/camera_info" && infos++ > 0)
      ? null
      : t === "/camera/camera_info"
        ? shifted(m, -600)
        : m,
  );
}, 120_000);

describe("input topics stamped on different clocks", () => {
  it("replay refuses the bag before reading it, naming the camera topics and the IMU's clock", async () => {
    const r = await cli("replay", "camclock.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^terrain-learner: camclock\.mcap: \/camera\/image_raw is stamped 1699999000\.000 s behind \/imu\/data \(header\.stamp 1000\.000 at log time 1700000000\.000\); \/camera\/camera_info is stamped 1699999000\.000 s behind/,
    );
    expect(lines[0]).toMatch(/different clocks .* have the driver stamp with ROS time/);
    expect(lines[0]).not.toMatch(/clock jumped back/);
  }, 120_000);

  it("a bag on one clock passes the check", async () => {
    const bag = await openBag(join(dir, "robot.mcap"));
    const clocks = await topicClocks(bag, ["/imu/data", "/odom", "/camera/image_raw", "/camera/camera_info"]);
    await bag.close();
    expect(clocks.map((c) => c.topic).sort()).toEqual([
      "/camera/camera_info",
      "/camera/image_raw",
      "/imu/data",
      "/odom",
    ]);
    expect(clockMismatch(clocks, 5)).toBeUndefined();
  }, 60_000);

  it("a latched CameraInfo with an old stamp is not taken for another clock", async () => {
    const bag = await openBag(join(dir, "latched.mcap"));
    const clocks = await topicClocks(bag, ["/imu/data", "/odom", "/camera/image_raw", "/camera/camera_info"]);
    await bag.close();
    expect(clocks.map((c) => c.topic)).not.toContain("/camera/camera_info");
    expect(clockMismatch(clocks, 5)).toBeUndefined();
  }, 60_000);

  it("with the bag's counts, a latched CameraInfo does not keep it reading every other topic", async () => {
    const bag = await openBag(join(dir, "latched.mcap"));
    const info = await bag.info();
    const topics = ["/imu/data", "/odom", "/camera/image_raw", "/camera/camera_info"];
    const total = info.topics.filter((t) => topics.includes(t.name)).reduce((n, t) => n + t.count, 0);
    let read = 0;
    const counting = {
      messages: (o: Parameters<typeof bag.messages>[0]) =>
        (async function* () {
          for await (const e of bag.messages(o)) {
            read++;
            yield e;
          }
        })(),
    } as unknown as typeof bag;
    const counts = new Map(info.topics.map((t) => [t.name, t.count]));
    const clocks = await topicClocks(counting, topics, { counts });
    await bag.close();
    expect(clocks.map((c) => c.topic).sort()).toEqual(["/camera/image_raw", "/imu/data", "/odom"]);
    // Five camera frames at 5 Hz: under a second of a 3 s bag.
    expect(read).toBeLessThan(total / 2);
  }, 60_000);

  it("a topic that starts after the span read first is read again from its own start", async () => {
    const bag = await openBag(join(dir, "latecam.mcap"));
    const info = await bag.info();
    const counts = new Map(info.topics.map((t) => [t.name, t.count]));
    const topics = ["/imu/data", "/odom", "/camera/image_raw"];
    // A span of 1 s stands for the 30 s a replay reads first.
    const clocks = await topicClocks(bag, topics, { counts, maxSeconds: 1 });
    await bag.close();
    expect(clocks.map((c) => c.topic).sort()).toEqual(["/camera/image_raw", "/imu/data", "/odom"]);
    expect(clockMismatch(clocks, 5)).toMatch(/^\/camera\/image_raw is stamped 1699999000\.\d{3} s behind/);
  }, 60_000);

  it("a real Humble IMU is stamped within a second of its log time", async () => {
    const bag = await openBag(fixture("stinger_localization_bag"));
    const [imu] = await topicClocks(bag, ["/imu/data"]);
    await bag.close();
    expect(Math.abs(imu!.offset)).toBeLessThan(1);
  });

  it("the reference is the clock most topics share: an IMU on its own clock is the one named", () => {
    const c = (topic: string, offset: number) => ({ topic, offset, stamp: 1e9 + offset, logTime: 1e9 });
    const why = clockMismatch([c("/imu", -1.7e9), c("/odom", 0.01), c("/cam", -0.05), c("/info", -0.05)], 5);
    expect(why).toMatch(/^\/imu is stamped 1700000000\.010 s behind \/odom \(/);
    expect(why).not.toMatch(/\/cam is stamped/);
    expect(clockMismatch([c("/imu", 0), c("/cam", 4.9)], 5)).toBeUndefined();
  });
});
