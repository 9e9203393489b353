// `demo --world my.yaml` with a mistake in the world (a misspelt key, a photo that is not an image,
// a recording with a bad row, text that is not YAML): one line naming it, exit 1, nothing generated
// or said to be, and no hint at a stack trace (the mistake is the user's, not a bug).

import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { WORLDS_DIR } from "../sim/index.ts";

const BIN = fileURLToPath(new URL("../bin/terrain-learner.js", import.meta.url));
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "demo-world-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stripes = readFileSync(join(WORLDS_DIR, "stripes.yaml"), "utf8");

async function demoError(world: string): Promise<{ code: number; stderr: string; cached: string[] }> {
  const cache = join(dir, "cache");
  const err = await run(
    process.execPath,
    [BIN, "demo", "--world", world, "--duration", "1", "--cache", cache, "--out", join(dir, "out")],
    { cwd: dir },
  ).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => e,
  );
  let cached: string[] = [];
  try {
    cached = readdirSync(cache);
  } catch {}
  return { code: err.code, stderr: err.stderr, cached };
}

describe("demo --world with a mistake in the world", () => {
  it.each([
    ["a misspelt key", "bad-key.yaml", stripes.replace("layout:", "layuot:"), /invalid world .*layuot/],
    [
      "a photo that is not an image",
      "bad-photo.yaml",
      stripes.replace("  - { type: grass }", "  - { type: grass, photos: [bad-photo.yaml] }"),
      /terrain 'grass': photo .*bad-photo\.yaml: not an image/,
    ],
    [
      // Found only when the IMU model is made: still the one line, no "generating" said before it.
      "a recording with too little motion to play",
      "short-recording.yaml",
      stripes.replace(
        "  - { type: grass }",
        "  - { type: grass, vibration: { recordings: [short.csv], speed: 1 } }",
      ),
      /^terrain-learner: invalid world .*short-recording\.yaml: terrain 'grass': recording .*short\.csv: only 0\.\d+ s with the robot moving ≥ 0\.1 m\/s; needs 2 s$/,
    ],
    [
      "text that is not YAML",
      "not-yaml.yaml",
      "a: b\nthis is: [not closed\n",
      /cannot parse world .*not-yaml\.yaml/,
    ],
  ])("%s: one line, exit 1, nothing generated", async (_what, name, text, message) => {
    const world = join(dir, name);
    writeFileSync(world, text);
    // One second of a 100 Hz IMU shaking at 1 m/s: a valid file, too short to play.
    const rows = Array.from({ length: 100 }, (_, i) => `${i / 100},0,0,${9.8 + Math.sin(i)}`);
    writeFileSync(join(dir, "short.csv"), `t,ax,ay,az\n${rows.join("\n")}\n`);
    const r = await demoError(world);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^terrain-learner: /);
    expect(lines[0]).toMatch(message);
    expect(r.cached.filter((f) => f.endsWith(".mcap"))).toEqual([]);
  });
});

describe("demo with a backbone that will not load", () => {
  it("is refused in one line before the world is simulated (nothing generated)", async () => {
    const world = join(dir, "stripes-ok.yaml");
    writeFileSync(world, stripes);
    const model = join(dir, "not-a-model.onnx");
    writeFileSync(model, "this is not an ONNX model\n");
    const config = join(dir, "bad-backbone.yaml");
    writeFileSync(config, `learner:\n  backbone: ${model}\n`);
    const cache = join(dir, "cache-backbone");
    const r = await run(
      process.execPath,
      [
        BIN,
        "demo",
        "--world",
        world,
        "--duration",
        "1",
        "--cache",
        cache,
        "--out",
        join(dir, "out"),
        "-c",
        config,
      ],
      { cwd: dir },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toEqual([expect.stringMatching(/^terrain-learner: .*not-a-model\.onnx/)]);
    let cached: string[] = [];
    try {
      cached = readdirSync(cache);
    } catch {}
    expect(cached.filter((f) => f.endsWith(".mcap"))).toEqual([]);
  });
});

describe("demo with learning off", () => {
  it("is refused in one line before anything is simulated, pointing at replay --checkpoint", async () => {
    const config = join(dir, "no-learning.yaml");
    writeFileSync(config, "learner:\n  enabled: false\n");
    const cache = join(dir, "cache-no-learning");
    const r = await run(
      process.execPath,
      [BIN, "demo", "--duration", "1", "--cache", cache, "--out", join(dir, "out"), "-c", config],
      { cwd: dir },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^terrain-learner: learner\.enabled is false: .*replay BAG --checkpoint DIR with learner\.enabled: false\)\n$/,
    );
    expect(() => readdirSync(cache)).toThrow();
  });
});
