// The node's parameters as `ros2 param` meets them, on the fake rclnodejs (whose parameter rules
// follow rclnodejs's lib/parameter.js and lib/node.js): every parameter declared read-only with the
// value the node runs with, its type, unit and description; `ros2 param set` refused with a reason;
// `ros2 param dump` loads back as the same configuration.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { READ_ONLY_CONSTRAINT, startRosNode } from "../src/adapters/ros2.ts";
import { configFromRosArgs, nodeParameters, parseRosArgs } from "../src/adapters/ros2-params.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type Pipeline } from "../src/runtime/pipeline.ts";
import { FakeParameter, FakeRclnodejs, FakeParameterType as T } from "./helpers/fake-rclnodejs.ts";

const PARAMS = join(import.meta.dirname, "../launch/params.yaml");
const dir = mkdtempSync(join(tmpdir(), "tl-nodeparams-"));
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await createPipeline(defaultConfig(), { mode: "live", warn: () => undefined });
}, 120_000);
afterAll(async () => {
  await pipeline?.close();
  rmSync(dir, { recursive: true, force: true });
});

const configOf = (...rosArgs: string[]) => configFromRosArgs(parseRosArgs(["--ros-args", ...rosArgs]));

/** Starts the node on a fake rclnodejs; returns its node, stopped after `fn`. */
async function withNode(
  config: Config,
  rcl: FakeRclnodejs,
  fn: (node: FakeRclnodejs["nodes"][number]) => void | Promise<void>,
): Promise<void> {
  const handle = startRosNode(rcl, config, pipeline, { log: () => undefined });
  try {
    await fn(rcl.nodes[0]!);
  } finally {
    await handle.stop();
  }
}

describe("the live node's parameters (ros2 param)", () => {
  const args = [
    "--params-file",
    PARAMS,
    "-p",
    "outputs.max_speed:=1.5",
    "-p",
    "topics.imu:=/vectornav/imu",
    "-p",
    "frames.base_height:=0.3",
    "-p",
    "learner.execution_providers:=[cuda, cpu]",
  ];

  it("declares every parameter read-only, typed by the schema, with its value, unit and description", async () => {
    const config = configOf(...args);
    await withNode(config, new FakeRclnodejs(), (node) => {
      // Every parameter of launch/params.yaml but the null ones, and use_sim_time (rclnodejs's own).
      expect(node.parameters.size).toBe(nodeParameters(config).length + 1);
      expect(nodeParameters(config).length).toBeGreaterThan(150);
      const get = (name: string) => {
        const p = node.getParameter(name);
        return [p.type, p.value];
      };
      expect(get("outputs.max_speed")).toEqual([T.PARAMETER_DOUBLE, 1.5]);
      expect(get("outputs.costmap_size")).toEqual([T.PARAMETER_DOUBLE, 20]);
      expect(get("learner.batch_size")).toEqual([T.PARAMETER_INTEGER, 64n]);
      expect(get("topics.imu")).toEqual([T.PARAMETER_STRING, "/vectornav/imu"]);
      expect(get("learner.backbone")).toEqual([T.PARAMETER_STRING, ""]);
      expect(get("ros.publish_overlay")).toEqual([T.PARAMETER_BOOL, true]);
      expect(get("learner.execution_providers")).toEqual([T.PARAMETER_STRING_ARRAY, ["cuda", "cpu"]]);
      expect(get("frames.base_height")).toEqual([T.PARAMETER_DOUBLE, 0.3]);
      expect(get("use_sim_time")).toEqual([T.PARAMETER_BOOL, false]);
      const d = node.descriptors.get("outputs.max_speed")!;
      expect([d.readOnly, d.description, d.additionalConstraints]).toEqual([
        true,
        "[m/s] ~/speed_limit at roughness 0 ...",
        READ_ONLY_CONSTRAINT,
      ]);
    });
  });

  it("`ros2 param set` is refused with the reason; use_sim_time stays settable", async () => {
    await withNode(configOf(...args), new FakeRclnodejs(), (node) => {
      expect(node.setParameters([new FakeParameter("outputs.max_speed", T.PARAMETER_DOUBLE, 1.0)])).toEqual([
        { successful: false, reason: "Parameter outputs.max_speed is readonly" },
      ]);
      expect(node.getParameter("outputs.max_speed").value).toBe(1.5);
      expect(node.setParameters([new FakeParameter("use_sim_time", T.PARAMETER_BOOL, true)])).toEqual([
        { successful: true, reason: null },
      ]);
    });
  });

  it("starts when rcl typed a double parameter's value as an integer (`max_speed: 2` in the params file)", async () => {
    const f = join(dir, "int.yaml");
    writeFileSync(f, "terrain_learner:\n  ros__parameters:\n    outputs:\n      max_speed: 2\n");
    // rcl_yaml_param_parser reads `2` as an integer override for outputs.max_speed.
    const rcl = new FakeRclnodejs({
      parameterOverrides: [new FakeParameter("outputs.max_speed", T.PARAMETER_INTEGER, 2)],
    });
    await withNode(configOf("--params-file", f), rcl, (node) => {
      expect(node.getParameter("outputs.max_speed").type).toBe(T.PARAMETER_DOUBLE);
      expect(node.getParameter("outputs.max_speed").value).toBe(2);
    });
  });

  it("`ros2 param dump` gives a params file that starts the node with the same configuration", async () => {
    for (const ns of ["/", "/robot1"]) {
      const nsArgs = ns === "/" ? [] : ["-r", `__ns:=${ns}`];
      const config = configOf(...args, ...nsArgs);
      await withNode(config, new FakeRclnodejs({ namespace: ns }), (node) => {
        const dump = node.paramDump();
        expect(dump.split("\n")[0]).toBe(ns === "/" ? "/terrain_learner:" : "/robot1/terrain_learner:");
        const f = join(dir, `dump${ns.replace(/\//g, "_")}.yaml`);
        writeFileSync(f, dump);
        expect(configOf("--params-file", f, ...nsArgs), ns).toEqual(config);
      });
    }
  });
});
