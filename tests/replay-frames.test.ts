// A robot whose body frame is not `base_link` (`chassis`, Spot's `body`): TF and the odometry name
// it, frames.base does not. replay read the whole bag and then failed with "TF never linked the
// camera frame to 'base_link'"; it now stops before reading, naming the frame to set. The same for
// a namespaced robot whose TF is on /robot1/tf: the topics.* keys to set are named.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { bagFrames } from "../src/io/bag/frame-names.ts";
import { openBag } from "../src/io/bag/index.ts";
import { type Msg, rewriteBag } from "./helpers/bag-rewrite.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-frames-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

/** base_link renamed chassis in every header, child_frame_id and transform. */
function chassis(m: Msg): Msg {
  const rn = (f: unknown) => (f === "base_link" ? "chassis" : f);
  const out: Msg = { ...m };
  if (m.header) out.header = { ...(m.header as Msg), frame_id: rn((m.header as Msg).frame_id) };
  if ("child_frame_id" in m) out.child_frame_id = rn(m.child_frame_id);
  if (Array.isArray(m.transforms)) out.transforms = (m.transforms as Msg[]).map(chassis);
  return out;
}

beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 3,
    camera: { width: 64, height: 48, rate: 5 },
  });
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "chassis.mcap"), (t, m) =>
    t.startsWith("/sim/") ? null : chassis(m),
  );
  writeFileSync(join(dir, "chassis.yaml"), "frames: {base: chassis}\n");
  // A namespaced robot's recording: TF on /robot1/tf and /robot1/tf_static.
  await rewriteBag(
    join(dir, "sim.mcap"),
    join(dir, "ns.mcap"),
    (t, m) => (t.startsWith("/sim/") ? null : m),
    (t) => (t.startsWith("/tf") ? `/robot1${t}` : t),
  );
  writeFileSync(join(dir, "ns.yaml"), "topics: {tf: /robot1/tf, tf_static: /robot1/tf_static}\n");
}, 120_000);

describe("frames.base that the bag does not have", () => {
  it("replay stops before reading, naming the odometry's frame to set and the TF frames", async () => {
    const r = await cli("replay", "chassis.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "terrain-learner: chassis.mcap: frames.base 'base_link' is in no transform on /tf or /tf_static, and the odometry (/odom) moves 'chassis', which TF has: set frames.base: chassis (a config file with frames: {base: chassis}, given with -c); TF frames: camera_link, camera_optical_frame, chassis, imu_link, odom\n",
    );
  }, 120_000);

  it("with frames.base: chassis the check passes and TF links the camera (3 s: too short to learn)", async () => {
    const r = await cli("replay", "chassis.mcap", "-c", "chassis.yaml", "--json");
    expect(r.stderr).not.toMatch(/frames\.base|never linked/);
    expect(JSON.parse(r.stdout).frames).toBe(15);
  }, 120_000);

  it("TF under other topic names: replay stops before reading, naming the topics.* keys to set", async () => {
    const r = await cli("replay", "ns.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "terrain-learner: ns.mcap: the bag's TF is on other topics than the config's: set topics.tf: /robot1/tf (not /tf) and topics.tf_static: /robot1/tf_static (not /tf_static) in a config file given with -c; without TF the camera cannot be placed on the robot\n",
    );
    const ok = await cli("replay", "ns.mcap", "-c", "ns.yaml", "--json");
    expect(ok.stderr).not.toMatch(/TF|never linked/);
    expect(JSON.parse(ok.stdout).frames).toBe(15);
  }, 120_000);

  it("reads a real Humble bag's TF frames", async () => {
    const bag = await openBag(fixture("stinger_localization_bag"));
    const f = await bagFrames(bag, ["/tf", "/tf_static"], "/odom");
    await bag.close();
    expect([...f.tf].sort()).toEqual([
      "base_link",
      "camera_link",
      "gps_frame",
      "hull_link",
      "imu_link",
      "laser_frame",
      "map",
      "odom",
      "utm",
    ]);
    expect(f.odomChild).toBeUndefined();
  });
});
