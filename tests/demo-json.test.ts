// `demo --json` carries the knowledge probe and the stability figures, like `replay --eval --json`
// (a short stripes world with a 64x48 camera, generated into a temporary cache by the demo itself;
// the figures' presence is tested, not their quality, and the small camera halves the CPU).

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "tl-demo-json-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const world = join(dir, "stripes.yaml");
writeFileSync(
  world,
  `${readFileSync("sim/worlds/stripes.yaml", "utf8")}\ncamera: { width: 64, height: 48 }\n`,
);

describe("demo --json", () => {
  it("carries eval.knowledge and eval.stability", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "bin/terrain-learner.js",
        "demo",
        "--world",
        world,
        "--duration",
        "25",
        "--cache",
        join(dir, "cache"),
        "--out",
        join(dir, "out"),
        "--json",
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      eval: {
        knowledge: {
          curve: { t: number; terrainRho: number | null }[];
          timeToRank: number | null;
          probe: { cells: number };
        };
        stability: { minTrailingRho: number | null; costmapFlicker: number | null };
      };
    };
    const k = result.eval.knowledge;
    expect(k.curve.map((c) => Math.round(c.t))).toEqual([10, 20, 25]);
    expect(k.probe.cells).toBeGreaterThan(0);
    expect(k).toHaveProperty("timeToRank");
    expect(result.eval.stability.minTrailingRho).toBeNull();
    expect(result.eval.stability.costmapFlicker).toBeGreaterThan(0);
  }, 300_000);

  it("a drive too short to learn from says so (its figures are an untrained model's)", async () => {
    const { stderr } = await run(process.execPath, [
      "bin/terrain-learner.js",
      "demo",
      ...["--world", world, "--duration", "3"],
      ...["--cache", join(dir, "cache"), "--out", join(dir, "out-short"), "--json"],
    ]);
    expect(stderr).toMatch(
      /^warning: nothing learned from \d+ frames: none of the \d+ labels fell in a keyframe's view/m,
    );
  }, 300_000);
});
