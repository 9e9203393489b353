// One config file for the node and the CLI: launch/params.yaml is what the schema generates (every
// parameter, default, unit, description), it loads as the defaults through both readers, ROS's
// standard node parameters are accepted, and the calibration how-to works as written.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imuToRos, odomToRos, transformsToRos } from "../src/io/ros/convert.ts";
import { defaultConfig, loadConfig } from "../src/runtime/config.ts";
import { describeParameters, paramsYaml } from "../src/runtime/params-yaml.ts";
import { drive, interleave, staticTransforms } from "./core-synthetic.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const PARAMS = join(ROOT, "launch/params.yaml");
const CLI = join(ROOT, "bin/terrain-learner.js");
const dir = mkdtempSync(join(tmpdir(), "tl-params-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("launch/params.yaml", () => {
  it("is exactly what `npm run gen:params` writes from the schema", () => {
    expect(readFileSync(PARAMS, "utf8")).toBe(paramsYaml());
  });

  it("gives every parameter a description, and every number a unit", () => {
    const { params } = describeParameters();
    expect(params.length).toBeGreaterThan(100);
    for (const p of params) {
      expect(p.description, p.path).toMatch(/\S/);
      if (typeof p.value === "number") expect(p.unit, p.path).toMatch(/\S/);
    }
  });

  it("loads as exactly the defaults, as the node's --params-file and as the CLI's --config", () => {
    expect(configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", PARAMS]))).toEqual(defaultConfig());
    expect(loadConfig(PARAMS)).toEqual(defaultConfig());
    // Every parameter is written out: nothing comes from defaults the file does not show.
    const text = readFileSync(PARAMS, "utf8");
    for (const p of describeParameters().params) {
      const key = p.path.split(".").at(-1)!;
      expect(text, p.path).toMatch(new RegExp(`^ +${key}: `, "m"));
    }
  });
});

describe("params files and plain files, one format", () => {
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it("accepts ROS's standard node parameters in both forms", () => {
    const ros = write(
      "ros.yaml",
      [
        "/**:",
        "  ros__parameters:",
        "    use_sim_time: true",
        "    start_type_description_service: false",
        "    qos_overrides./tf.subscription.depth: 50",
        "terrain_learner:",
        "  ros__parameters:",
        "    qos_overrides:",
        "      /clock:",
        "        subscription:",
        "          reliability: best_effort",
        "    labeler:",
        "      step_length: 0.5",
        "other_node:",
        "  ros__parameters:",
        "    labeler:",
        "      step_length: 9.0",
      ].join("\n"),
    );
    const plain = write(
      "plain.yaml",
      "use_sim_time: true\nqos_overrides: {}\nlabeler:\n  step_length: 0.5\n",
    );
    for (const c of [
      loadConfig(ros),
      loadConfig(plain),
      configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", ros])),
      configFromRosArgs(parseRosArgs([]), { configFiles: [plain] }),
    ]) {
      expect(c.use_sim_time).toBe(true);
      expect(c.labeler.step_length).toBe(0.5);
    }
  });

  it("names the node one way: a __node remap reads that node's entries and becomes ros.node_name", () => {
    const f = write(
      "named.yaml",
      "rover_terrain:\n  ros__parameters:\n    outputs: {max_speed: 1.5}\n    ros: {node_name: ignored}\n",
    );
    const c = configFromRosArgs(
      parseRosArgs(["--ros-args", "-r", "__node:=rover_terrain", "--params-file", f]),
    );
    expect(c.outputs.max_speed).toBe(1.5);
    expect(c.ros.node_name).toBe("rover_terrain");
    // Without the remap the default name's entries are looked for, and this file has none.
    expect(() => configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", f]))).toThrow(
      /terrain_learner/,
    );
  });

  it("applies matching node entries in file order, later files over earlier ones, as rclcpp does", () => {
    const f = write(
      "order.yaml",
      "terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n/**:\n  ros__parameters:\n    outputs: {max_speed: 3.0, min_speed: 0.5}\n",
    );
    const g = write("later.yaml", "outputs:\n  min_speed: 0.2\n");
    const c = loadConfig([f, g]);
    expect([c.outputs.max_speed, c.outputs.min_speed]).toEqual([3, 0.2]);
    expect(() => loadConfig([f, write("typo.yaml", "outputs:\n  maxSpeeed: 1\n")])).toThrow(
      /typo\.yaml: unknown key outputs\.maxSpeeed/,
    );
  });
});

describe("calibration how-to (docs/ros2.md), run as written", () => {
  let bag: string;
  beforeAll(async () => {
    bag = join(dir, "drive.mcap");
    const d = drive({
      duration: 30,
      speed: 0.6,
      roughnessAt: (x) => (Math.floor(x / 2) % 2 ? 1 : 0.25),
      seed: 7,
    });
    const w = await Ros2McapWriter.create(bag, { compression: "zstd" });
    await w.write("/tf_static", "tf2_msgs/msg/TFMessage", 100, transformsToRos(staticTransforms()));
    for (const m of interleave(d.imu, d.odom)) {
      if ("linearAcceleration" in m) await w.write("/imu/data", "sensor_msgs/msg/Imu", m.stamp, imuToRos(m));
      else await w.write("/odom", "nav_msgs/msg/Odometry", m.stamp, odomToRos(m));
    }
    await w.close();
  });

  it("label --stats > calibration.yaml, then --config params.yaml --config calibration.yaml (CLI) and --params-file twice (node)", async () => {
    // terrain-learner label drive.mcap --stats > calibration.yaml
    const stats = await run(process.execPath, [CLI, "label", bag, "--stats"], { cwd: dir });
    const calibration = join(dir, "calibration.yaml");
    writeFileSync(calibration, stats.stdout);
    const low = Number(/^ {8}low: (\S+)$/m.exec(stats.stdout)?.[1]);
    const high = Number(/^ {8}high: (\S+)$/m.exec(stats.stdout)?.[1]);
    expect(low).toBeLessThan(high);

    // terrain-learner label drive.mcap --config launch/params.yaml --config calibration.yaml --json
    const labelled = await run(
      process.execPath,
      [CLI, "label", bag, "--config", PARAMS, "--config", calibration, "--json"],
      { cwd: dir, maxBuffer: 1 << 24 },
    );
    const summary = JSON.parse(labelled.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary.calibration).toMatchObject({ mode: "fixed", low, high });

    // ros2 run terrain_learner terrain_learner --ros-args --params-file params.yaml --params-file calibration.yaml
    const node = configFromRosArgs(
      parseRosArgs(["--ros-args", "--params-file", PARAMS, "--params-file", calibration]),
    );
    expect(node.labeler.calibration).toMatchObject({ mode: "fixed", low, high });
    // Everything else stays as params.yaml says.
    expect({
      ...node,
      labeler: { ...node.labeler, calibration: defaultConfig().labeler.calibration },
    }).toEqual(defaultConfig());
  }, 120_000);
});
