// `export` without --image-size: the checkpoint records the size of the camera frames it was trained
// on (both save paths: the lockstep worker thread, replay's default, and learner.replay_training
// inline), and export builds the graph for that size, read back from the file as onnxruntime sees
// it. A checkpoint that records no size (older versions) is refused with one line asking for
// --image-size; an --image-size that differs from the recorded one is exported with one warning
// (none when the export fails).

import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { readOnnxMetadata } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { LiveTrainer } from "../src/learning/worker.ts";
import { configFromObject } from "../src/runtime/config.ts";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "terrain-learner.js");
const dir = mkdtempSync(join(tmpdir(), "tl-export-size-"));
const quiet = () => {};

/** A real replay of a simulator bag at this camera size, saved to a checkpoint folder. */
async function trained(name: string, width: number, height: number, learner: Record<string, unknown>) {
  const bag = join(dir, `${name}.mcap`);
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 3,
    duration: 12,
    camera: { width, height },
  });
  const ckpt = join(dir, name);
  const r = await runReplay({
    bag,
    config: configFromObject({ learner }),
    saveCheckpoint: ckpt,
    warn: quiet,
  });
  expect(r.trainSteps).toBeGreaterThan(0);
  return ckpt;
}

const manifestOf = (ckpt: string) => join(ckpt, readdirSync(ckpt).find((f) => f.endsWith(".json"))!);

function cli(args: string[]) {
  return run(process.execPath, [BIN, "export", ...args], {
    env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

/** The model's input shape as onnxruntime reads it from the file. */
async function inputShape(model: string): Promise<unknown[]> {
  const session = await ort.InferenceSession.create(model);
  try {
    const meta = session.inputMetadata[0]!;
    return meta.isTensor ? [...meta.shape] : [];
  } finally {
    await session.release();
  }
}

let worker: string;
let inline: string;
beforeAll(async () => {
  worker = await trained("worker", 320, 240, { replay_training: "worker" });
  inline = await trained("inline", 200, 150, { replay_training: "inline" });
}, 240_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the checkpoint records the camera frames' size", () => {
  it("on both save paths (worker thread and in-process)", () => {
    for (const [ckpt, width, height] of [
      [worker, 320, 240],
      [inline, 200, 150],
    ] as const) {
      const info = JSON.parse(readFileSync(manifestOf(ckpt), "utf8")).info;
      expect(info.camera).toEqual({ width, height, frameId: "camera_optical_frame" });
      // The existing fields keep their meaning.
      expect(info.trainSteps).toBeGreaterThan(0);
      expect(typeof info.backboneSha256).toBe("string");
    }
  });
});

describe("export without --image-size", () => {
  it.each([
    ["worker", 320, 240],
    ["inline", 200, 150],
  ])(
    "builds the graph for the recorded size (%s: %ix%i) and says where it came from",
    async (name, w, h) => {
      const out = join(dir, `${name}.onnx`);
      const r = await cli(["--checkpoint", join(dir, name), "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain(
        `image size ${w}x${h}: the camera frames the checkpoint was trained on (frame_id camera_optical_frame)\n`,
      );
      expect(await inputShape(out)).toEqual([1, h, w, 3]);
      const m = readOnnxMetadata(out);
      expect(m.input_shape).toBe(`1,${h},${w},3`);
      expect(m.camera_image_size).toBe(`${w}x${h}`);
      expect(m.camera_frame_id).toBe("camera_optical_frame");
    },
    60_000,
  );

  it("a checkpoint that records no size is refused with one line; --image-size exports it", async () => {
    const old = join(dir, "old");
    cpSync(worker, old, { recursive: true });
    const manifest = manifestOf(old);
    const m = JSON.parse(readFileSync(manifest, "utf8"));
    delete m.info.camera;
    writeFileSync(manifest, JSON.stringify(m));
    const out = join(dir, "old.onnx");
    const refused = await cli(["--checkpoint", old, "--out", out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `terrain-learner: ${manifest} does not record the camera image size it was trained on (written by an older terrain-learner, or before any frame): give it with --image-size WxH\n`,
    );
    expect(existsSync(out)).toBe(false);
    const given = await cli(["--checkpoint", old, "--out", out, "--image-size", "320x240"]);
    expect(given.code, given.stderr).toBe(0);
    expect(given.stderr).toBe("");
    expect(given.stdout).toContain("image size 320x240: from --image-size\n");
    expect(await inputShape(out)).toEqual([1, 240, 320, 3]);
  }, 60_000);

  it("an --image-size other than the recorded one is exported, with one warning once written", async () => {
    const out = join(dir, "other.onnx");
    const same = await cli(["--checkpoint", worker, "--out", out, "--image-size", "320x240"]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).toBe("");
    const r = await cli(["--checkpoint", worker, "--out", out, "--image-size", "640x480", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      `export: --image-size 640x480 differs from the 320x240 camera frames ${manifestOf(worker).split("/").at(-1)} was trained on; exported at 640x480 (fine for the same camera at another resolution)\n`,
    );
    const j = JSON.parse(r.stdout);
    expect(j.imageSizeFrom).toBe("--image-size");
    expect(j.recordedImage).toEqual({ width: 320, height: 240, frameId: "camera_optical_frame" });
    expect(await inputShape(out)).toEqual([1, 480, 640, 3]);
    // A failed export stays one line: no warning about the size of a model not written.
    const thin = await cli([
      "--checkpoint",
      worker,
      "--out",
      join(dir, "thin.onnx"),
      "--image-size",
      "640x8",
    ]);
    expect(thin.code).toBe(1);
    expect(thin.stderr).toMatch(
      /^terrain-learner: --image-size 640x8: smaller than one feature cell [^\n]*\n$/,
    );
  }, 60_000);

  it("a run resumed from a checkpoint keeps its size in saves made before any frame (both save paths)", async () => {
    const recorded = JSON.parse(readFileSync(manifestOf(inline), "utf8")).info;
    const cfg = configFromObject({ learner: { replay_training: "inline" } }).learner;
    const learner = await OnlineLearner.create(cfg, recorded.channels, { warn: quiet });
    const trainer = await LiveTrainer.start(cfg, recorded.channels, { warn: quiet });
    try {
      for (const [name, l] of [
        ["in-process", learner],
        ["worker", trainer],
      ] as const) {
        expect(await l.loadLatestCheckpoint(inline)).toBe(true);
        const again = join(dir, `resumed-${name}`);
        await l.saveCheckpoint(again);
        expect(JSON.parse(readFileSync(manifestOf(again), "utf8")).info.camera, name).toEqual({
          width: 200,
          height: 150,
          frameId: "camera_optical_frame",
        });
        // A frame seen since then wins.
        const seen = join(dir, `resumed-${name}-seen`);
        await l.saveCheckpoint(seen, { width: 64, height: 48, frameId: "cam" });
        expect(JSON.parse(readFileSync(manifestOf(seen), "utf8")).info.camera).toEqual({
          width: 64,
          height: 48,
          frameId: "cam",
        });
      }
    } finally {
      learner.dispose();
      await trainer.stop();
    }
  }, 60_000);
});
