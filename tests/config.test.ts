import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, configFromObject, defaultConfig, loadConfig } from "../src/runtime/config.ts";

describe("config", () => {
  it("has defaults for every section", () => {
    const c = defaultConfig();
    expect(c.topics.imu).toBe("/imu/data");
    expect(c.labeler.step_length).toBeGreaterThan(0);
    expect(c.labeler.calibration.mode).toBe("percentile");
    expect(c.learner.backend).toBe("auto");
  });

  it("reads a ROS 2 params file and plain YAML alike", () => {
    const dir = mkdtempSync(join(tmpdir(), "tl-config-"));
    const ros = join(dir, "params.yaml");
    writeFileSync(
      ros,
      "terrain_learner:\n  ros__parameters:\n    labeler:\n      step_length: 0.5\n    topics:\n      imu: /vectornav/imu\n",
    );
    const plain = join(dir, "plain.yaml");
    writeFileSync(plain, "labeler:\n  step_length: 0.5\ntopics:\n  imu: /vectornav/imu\n");
    expect(loadConfig(ros)).toEqual(loadConfig(plain));
    expect(loadConfig(ros).labeler.step_length).toBe(0.5);
    expect(loadConfig(ros).labeler.band_high).toBe(defaultConfig().labeler.band_high);
  });

  it("names the bad key", () => {
    expect(() => configFromObject({ labeler: { stepLenght: 1 } })).toThrow(/unknown key labeler\.stepLenght/);
    // A camelCase or British key that has a ROS-style name gets that name in the message.
    expect(() => configFromObject({ labeller: {} })).toThrow(
      "unknown key labeller (parameters are ROS-style: labeler)",
    );
    expect(() => configFromObject({ learner: { noveltyNeighbours: 4, hiddenUnitz: 3 } })).toThrow(
      "unknown key learner.noveltyNeighbours (parameters are ROS-style: novelty_neighbors), learner.hiddenUnitz",
    );
    expect(() => configFromObject({ labeler: { band_high: "x" } })).toThrow(/labeler\.band_high/);
    expect(() => configFromObject({ nonsense: {} })).toThrow(ConfigError);
  });

  it("refuses a node name rcl would refuse (empty, slashed, leading digit); keeps a valid one", () => {
    for (const node_name of ["", "/terrain_learner", "2nd_robot", "terrain-learner"])
      expect(() => configFromObject({ ros: { node_name } }), node_name).toThrow(
        /ros\.node_name: must be a ROS node name/,
      );
    expect(configFromObject({ ros: { node_name: "_tl2" } }).ros.node_name).toBe("_tl2");
  });

  it("reports unreadable and invalid files with their path", () => {
    expect(() => loadConfig("/nonexistent/params.yaml")).toThrow(
      "cannot read config /nonexistent/params.yaml: no such file (ENOENT)",
    );
    expect(() => loadConfig(tmpdir())).toThrow(
      `cannot read config ${tmpdir()}: a folder, not a file (EISDIR)`,
    );
    const dir = mkdtempSync(join(tmpdir(), "tl-config-"));
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "labeller: [unclosed\n");
    expect(() => loadConfig(bad)).toThrow(/bad\.yaml: not valid YAML: .* at line \d+, column \d+$/);
  });
});
