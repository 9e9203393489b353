// A replay that used no camera frame, or learned from none, prints its summary, says why on stderr
// and exits 1 (not 0 with "frames 0" or "samples 0" and nothing else): each case is a short
// simulator bag rewritten the way a real bag goes wrong (no /tf_static); a depth topic as the camera
// is refused before reading instead.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { rewriteBag as rewrite } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-nothing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

beforeAll(async () => {
  const src = join(dir, "t.mcap");
  await generateWorldBag({ out: src, duration: 4, camera: { width: 64, height: 48, rate: 5 } });
  // A float depth image on the camera topic: no frame converts.
  await rewrite(src, join(dir, "depth.mcap"), (topic, m) => {
    if (topic !== "/camera/image_raw") return m;
    const w = m.width as number;
    const h = m.height as number;
    return { ...m, encoding: "32FC1", step: w * 4, data: new Uint8Array(w * h * 4) };
  });
  // The camera mount was on /tf_static, which was not recorded.
  await rewrite(src, join(dir, "nostatic.mcap"), (topic, m) => (topic === "/tf_static" ? null : m));
  // A camera too small for the bundled backbone's pyramid: every frame fails in onnxruntime.
  await generateWorldBag({
    out: join(dir, "tiny.mcap"),
    duration: 2,
    camera: { width: 24, height: 24, rate: 5 },
  });
  // A robot's own bag: no simulator ground truth.
  await rewrite(src, join(dir, "robot.mcap"), (topic, m) => (topic.startsWith("/sim/") ? null : m));
}, 120_000);

describe("replay that does nothing", () => {
  it("a bag whose camera topic never converts: refused before reading with the reason, exit 1", async () => {
    const r = await cli("replay", "depth.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^terrain-learner: depth\.mcap: none of the first \d+ camera frames can be used \(\/camera\/image_raw: Image: .*'32FC1'.*\n$/,
    );
  }, 120_000);

  it("frames the backbone cannot run on: its error as the reason, once, without onnxruntime's own log", async () => {
    const r = await cli("replay", "tiny.mcap");
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/onnxruntime:/);
    const last = r.stderr.trim().split("\n").at(-1);
    expect(last).toMatch(
      /^terrain-learner: tiny\.mcap: no camera frame could be used: backbone backbone\.onnx failed on a 24×24 image/,
    );
  }, 120_000);

  it("--json: the object on stdout, the reason on stderr, exit 1", async () => {
    const r = await cli("replay", "tiny.mcap", "--json");
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.frames).toBe(0);
    expect(j).not.toHaveProperty("idle");
    expect(r.stderr).toMatch(/no camera frame could be used/);
  }, 120_000);

  it("frames but no TF from the camera to the robot: names the frames, exit 1", async () => {
    const r = await cli("replay", "nostatic.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^frames 20 .*samples 0 /m);
    expect(r.stderr).toBe(
      "terrain-learner: nostatic.mcap: nothing learned from 20 frames: TF (/tf, /tf_static) never linked the camera frame 'camera_optical_frame' to 'base_link' (frames.base)\n",
    );
  }, 120_000);

  it("--eval on a bag without ground truth: refused before reading, one line, no report", async () => {
    const r = await cli("replay", "robot.mcap", "--eval");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^terrain-learner: robot\.mcap: --eval scores predictions against a simulator's ground truth, and this bag has no messages on \/sim\/ground_truth\/roughness or \/sim\/ground_truth\/pose .*; topics: .*\/imu\/data/,
    );
    expect(existsSync(join(dir, "out", "robot"))).toBe(false);
  }, 120_000);

  it("the same bag with its TF makes samples and exits 0; too short to train, it says so, and --save-checkpoint saves nothing", async () => {
    // Two independent replays of the same bag: started together, checked in turn.
    const saving = cli("replay", "t.mcap", "--save-checkpoint", "ck");
    const r = await cli("replay", "t.mcap");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^learner: 0 training steps/m);
    expect(r.stderr).toMatch(
      /^warning: t\.mcap: the bag ended before the first training step, so every prediction came from an untrained model \([1-9]\d* samples; training starts once learner\.min_samples = 64 cells are stored, .*\)\n$/,
    );
    // An untrained checkpoint is one export refuses, and it would count towards checkpoint_keep.
    const s = await saving;
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(
      /^terrain-learner: --save-checkpoint ck: nothing saved: the bag ended before the first training step/,
    );
    expect(existsSync(join(dir, "ck"))).toBe(false);
  }, 120_000);
});
