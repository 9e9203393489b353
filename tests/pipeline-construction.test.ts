// A pipeline whose construction fails closes what it had started (the backbone worker, the
// learner's training worker): the process ends after the error instead of hanging. And the
// settings that made StreamGraph throw are rejected by the config schema, one line, up front.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, configFromObject } from "../src/runtime/config.ts";

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL("./pipeline-construction-child.ts", import.meta.url));

async function child(mode: string, which: string): Promise<string> {
  // Before the fix the child printed the error and then never exited: the timeout kills it.
  const { stdout } = await run(process.execPath, ["--import", "tsx", CHILD, mode, which], {
    timeout: 60_000,
  });
  return stdout;
}

describe("createPipeline that fails", () => {
  it.each([
    ["replay", "band", /labeller band \[40, 30\] Hz is empty/],
    ["live", "band", /labeller band \[40, 30\] Hz is empty/],
    ["replay", "costmap", /costmap: size 0\.1 m must exceed resolution 0\.2 m/],
  ])(
    "%s, bad %s: rejects and the process exits by itself",
    async (mode, which, message) => {
      expect(await child(mode, which)).toMatch(message);
    },
    90_000,
  );
});

describe("cross-field limits in the config schema", () => {
  it("labeler.band_high must be above band_low", () => {
    expect(() => configFromObject({ labeler: { band_low: 40, band_high: 30 } }, "band.yaml")).toThrow(
      new ConfigError(
        "band.yaml: labeler.band_high: must be above labeler.band_low (band [40, 30] Hz is empty)",
      ),
    );
    expect(() => configFromObject({ labeler: { band_low: 30, band_high: 30 } })).toThrow(/band_high/);
    expect(configFromObject({ labeler: { band_low: 5, band_high: 40 } }).labeler.band_high).toBe(40);
  });

  it("outputs.costmap_size must exceed costmap_resolution", () => {
    expect(() =>
      configFromObject({ outputs: { costmap_size: 0.1, costmap_resolution: 0.2 } }, "cm.yaml"),
    ).toThrow(
      new ConfigError(
        "cm.yaml: outputs.costmap_size: must exceed outputs.costmap_resolution (0.1 m ≤ 0.2 m: no cells)",
      ),
    );
    expect(
      configFromObject({ outputs: { costmap_size: 2, costmap_resolution: 0.5 } }).outputs.costmap_size,
    ).toBe(2);
  });
});
