// labeler.calibration as a robot integrator writes it: the `label --stats` snippet layered over the
// main params file (--config, and --params-file after the main one) switches the labeller to those
// fixed bounds; bounds that are no range are refused at load with the key named, since they would
// make every label 0.5.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";
import { loadConfig } from "../src/runtime/config.ts";

const dir = mkdtempSync(join(tmpdir(), "config-calibration-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MAIN = new URL("../launch/params.yaml", import.meta.url).pathname;

function snippet(name: string, calibration: string): string {
  const path = join(dir, `${name}.yaml`);
  const body = calibration
    .trim()
    .split("\n")
    .map((l) => `        ${l.trim()}`)
    .join("\n");
  writeFileSync(path, `terrain_learner:\n  ros__parameters:\n    labeler:\n      calibration:\n${body}\n`);
  return path;
}

const ros = (file: string) =>
  configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", MAIN, "--params-file", file]));

describe("labeler.calibration from a params file", () => {
  it("the --stats snippet after the main file sets fixed bounds", () => {
    const file = snippet("stats", "mode: fixed\nlow: -1.1866\nhigh: 0.1947");
    for (const config of [loadConfig([MAIN, file]), ros(file)])
      expect(config.labeler.calibration).toMatchObject({ mode: "fixed", low: -1.1866, high: 0.1947 });
  });

  it.each([
    [
      "low above high",
      "mode: fixed\nlow: 1.5\nhigh: -1.5",
      "labeler.calibration.high: must be above labeler.calibration.low (1.5 to -1.5 is no range",
    ],
    [
      "equal bounds",
      "mode: fixed\nlow: 0.1873\nhigh: 0.1873",
      "labeler.calibration.high: must be above labeler.calibration.low (0.1873 to 0.1873",
    ],
    [
      "warmup bounds in percentile mode",
      "low: 2\nhigh: 1",
      "labeler.calibration.high: must be above labeler.calibration.low",
    ],
    [
      "percentiles swapped",
      "low_percentile: 95\nhigh_percentile: 5",
      "labeler.calibration.high_percentile: must be above labeler.calibration.low_percentile (95 to 5",
    ],
    ["NaN", "low: .nan", "labeler.calibration.low: Invalid input: expected number, received NaN"],
    ["a negative exponent", "exponent: -0.5", "labeler.calibration.exponent: Too small"],
  ])("%s: refused at load, naming the key", (name, body, message) => {
    const file = snippet(name.replace(/\W+/g, "-"), body);
    expect(() => loadConfig([MAIN, file])).toThrow(message);
    expect(() => ros(file)).toThrow(message);
  });
});
