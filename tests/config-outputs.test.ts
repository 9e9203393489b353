// The outputs section refuses, at load and in one line, settings that would make the speed limit
// faster than intended, never leave min_speed, or allocate more costmap than the machine has.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { RollingCostmap } from "../src/outputs/costmap.ts";
import { ConfigError, configFromObject } from "../src/runtime/config.ts";
import { costmapOptions } from "../src/runtime/stages/outputs.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../bin/terrain-learner.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tl-config-outputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("outputs cross-field limits", () => {
  it("min_speed above max_speed is refused (unknown ground got the higher speed)", () => {
    expect(() => configFromObject({ outputs: { min_speed: 3, max_speed: 1 } }, "s.yaml")).toThrow(
      new ConfigError(
        "s.yaml: outputs.min_speed: must not exceed outputs.max_speed (3 > 1 m/s: rough and unknown ground would be driven faster than smooth)",
      ),
    );
    // Equal is a constant limit, allowed.
    expect(configFromObject({ outputs: { min_speed: 1, max_speed: 1 } }).outputs.min_speed).toBe(1);
  });

  it("an empty band ahead is refused (the limit stayed at min_speed for ever)", () => {
    expect(() => configFromObject({ outputs: { ahead_min: 5, ahead_max: 2 } }, "a.yaml")).toThrow(
      new ConfigError(
        "a.yaml: outputs.ahead_max: must exceed outputs.ahead_min (2 m ≤ 5 m: no ground ahead is judged)",
      ),
    );
    expect(() => configFromObject({ outputs: { ahead_min: 2, ahead_max: 2 } })).toThrow(/ahead_max/);
    // A band reaching past the costmap is fine: it is read from the frame's grid, not the costmap.
    expect(configFromObject({ outputs: { ahead_max: 30 } }).outputs.ahead_max).toBe(30);
  });

  it("costmap_max_range: 0 takes views from the whole window, a distance limits them, negative is refused", () => {
    const window = new RollingCostmap(costmapOptions(configFromObject({})));
    // 20 m window: half its diagonal.
    expect(window.maxRange).toBeCloseTo(10 * Math.SQRT2, 9);
    const taught = configFromObject({ outputs: { costmap_max_range: 8 } });
    expect(new RollingCostmap(costmapOptions(taught)).maxRange).toBe(8);
    expect(() => configFromObject({ outputs: { costmap_max_range: -1 } }, "r.yaml")).toThrow(
      /r\.yaml: outputs\.costmap_max_range/,
    );
  });

  it("a costmap of more cells than it can hold is refused (it took all the memory)", () => {
    expect(() =>
      configFromObject({ outputs: { costmap_size: 200, costmap_resolution: 0.005 } }, "c.yaml"),
    ).toThrow(
      new ConfigError(
        "c.yaml: outputs.costmap_size: 200 m at outputs.costmap_resolution 0.005 m is 40000 cells a side; at most 4000 (raise costmap_resolution or lower costmap_size)",
      ),
    );
    expect(
      configFromObject({ outputs: { costmap_size: 200, costmap_resolution: 0.05 } }).outputs.costmap_size,
    ).toBe(200);
  });

  it("replay says it in one line and exits 1 before reading the bag", async () => {
    const cfg = join(dir, "swapped.yaml");
    writeFileSync(cfg, "outputs:\n  min_speed: 3\n  max_speed: 1\n");
    // Not a bag: the config is read first.
    const bag = join(dir, "drive.mcap");
    writeFileSync(bag, "");
    const err = await run(process.execPath, [BIN, "replay", bag, "-c", cfg]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr.trim().split("\n")).toEqual([
      `terrain-learner: ${cfg}: outputs.min_speed: must not exceed outputs.max_speed (3 > 1 m/s: rough and unknown ground would be driven faster than smooth)`,
    ]);
  });
});
