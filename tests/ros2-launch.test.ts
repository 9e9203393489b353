// The ament package without ROS 2 (which cannot be installed here), checked with what is real:
// - package.xml parsed and validated by catkin_pkg (Debian's python3-catkin-pkg, the parser colcon
//   and rosdep use);
// - CMakeLists.txt configured and installed by real CMake into a temporary prefix (ament_cmake is
//   absent, so its plain install rules run: same files, plus the ament index marker);
// - the installed lib/terrain_learner/terrain_learner run from that prefix, on this checkout's
//   node_modules;
// - both launch files turned into the command launch_ros would run (a STAND-IN for launch_ros,
//   mirroring its Node action: `<exe> --ros-args -r __node:=NAME [-r __ns:=NS] --params-file FILE...`,
//   inline parameters written to a params file under the node's full name), and that command run
//   with the installed executable: the parameters pass our validation, then the node stops with
//   the one-line "ROS 2 is not available" (no rclnodejs here).
// Not verified here: colcon itself, ament_package()'s environment hooks, rcl and DDS.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";
import {
  type PublisherSpec,
  publisherSpecs,
  resolveName,
  type SubscriptionSpec,
  subscriptionSpecs,
} from "../src/adapters/ros2-wiring.ts";
import type { QosProfile } from "../src/io/ros/qos.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";

const ROOT = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "tl-package-"));
const prefix = join(dir, "install");
const exe = join(prefix, "lib/terrain_learner/terrain_learner");
const share = join(prefix, "share/terrain_learner");

/** A Python with catkin_pkg: Debian's python3-catkin-pkg installs into /usr/bin/python3. */
const catkinPython = ["python3", "/usr/bin/python3"].find(
  (py) => spawnSync(py, ["-c", "import catkin_pkg"]).status === 0,
);
const hasCmake = spawnSync("cmake", ["--version"]).status === 0;
/** A Python with PyYAML, which launch_ros evaluates parameter values with. */
const yamlPython = ["python3", "/usr/bin/python3"].find(
  (py) => spawnSync(py, ["-c", "import yaml"]).status === 0,
);
const hasPython = yamlPython !== undefined;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("package.xml", () => {
  it.skipIf(!catkinPython)("is a valid format 3 package manifest for catkin_pkg", () => {
    const script = `
import json, sys
from catkin_pkg.package import parse_package
warnings = []
p = parse_package(sys.argv[1], warnings=warnings)
p.validate(warnings=warnings)
print(json.dumps({
  "name": p.name, "version": p.version, "format": p.package_format,
  "build_type": p.get_build_type(), "buildtool": [d.name for d in p.buildtool_depends],
  "exec": [d.name for d in p.exec_depends], "licenses": [str(l) for l in p.licenses],
  "maintainers": len(p.maintainers), "warnings": warnings}))
`;
    const r = spawnSync(catkinPython!, ["-c", script, ROOT], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    const p = JSON.parse(r.stdout);
    expect(p).toMatchObject({
      name: "terrain_learner",
      format: 3,
      build_type: "ament_cmake",
      buildtool: ["ament_cmake"],
      licenses: ["Apache-2.0"],
      warnings: [],
    });
    expect(p.version).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    expect(p.maintainers).toBeGreaterThan(0);
    // Every interface package the node uses, and the launch packages.
    expect(p.exec).toEqual(
      expect.arrayContaining([
        "nodejs",
        "sensor_msgs",
        "nav_msgs",
        "tf2_msgs",
        "std_msgs",
        "std_srvs",
        "visualization_msgs",
        "diagnostic_msgs",
        "nav2_msgs",
        "launch_ros",
        "launch_xml",
      ]),
    );
    // rviz:=true is optional: rosdep must not pull RViz and Qt onto a headless robot.
    expect(p.exec).not.toContain("rviz2");
  });
});

describe("npm install scripts", () => {
  it("rclnodejs's install script is approved: npm 12 skips unapproved ones, and without it the node has no native binding or messages", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    // It builds its binding against the sourced ROS (install) and generates the messages (postinstall).
    expect(lock.packages["node_modules/rclnodejs"]?.hasInstallScript).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.optionalDependencies).toHaveProperty("rclnodejs");
    expect(pkg.allowScripts?.rclnodejs).toBe(true);
  });

  it("every optional dependency with an install script has it approved or denied on purpose", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const withScripts = Object.keys(pkg.optionalDependencies ?? {}).filter(
      (name) => lock.packages[`node_modules/${name}`]?.hasInstallScript,
    );
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(pkg.allowScripts?.[name], name).toBeTypeOf("boolean");
  });
});

/** The message type each rviz_default_plugins display class subscribes to (rviz_default_plugins' sources). */
const RVIZ_DISPLAY_TYPES: Record<string, string | null> = {
  "rviz_default_plugins/Grid": null,
  "rviz_default_plugins/TF": null,
  "rviz_default_plugins/Map": "nav_msgs/msg/OccupancyGrid",
  "rviz_default_plugins/Image": "sensor_msgs/msg/Image",
  "rviz_default_plugins/MarkerArray": "visualization_msgs/msg/MarkerArray",
  "rviz_default_plugins/Odometry": "nav_msgs/msg/Odometry",
};

interface RvizDisplay {
  Class: string;
  Name: string;
  Topic?: { Value: string; "Reliability Policy": string; "Durability Policy": string; Depth: number };
  Displays?: RvizDisplay[];
  [key: string]: unknown;
}

/** The QoS an RViz topic property asks for. */
function rvizQos(topic: NonNullable<RvizDisplay["Topic"]>): QosProfile {
  const reliability = { Reliable: "reliable", "Best Effort": "best_effort" }[topic["Reliability Policy"]];
  const durability = { Volatile: "volatile", "Transient Local": "transient_local" }[
    topic["Durability Policy"]
  ];
  expect(reliability, topic.Value).toBeDefined();
  expect(durability, topic.Value).toBeDefined();
  return { depth: topic.Depth, reliability, durability } as QosProfile;
}

/** DDS request/offered matching: a reliable or transient-local reader gets nothing from a lesser writer. */
function qosMatches(offered: QosProfile, requested: QosProfile): boolean {
  if (requested.reliability === "reliable" && offered.reliability === "best_effort") return false;
  if (requested.durability === "transient_local" && offered.durability === "volatile") return false;
  return true;
}

describe("launch/terrain_learner.rviz", () => {
  const rviz = parseYaml(readFileSync(join(ROOT, "launch/terrain_learner.rviz"), "utf8"));
  const manager = rviz["Visualization Manager"];
  const flatten = (ds: RvizDisplay[]): RvizDisplay[] =>
    ds.flatMap((d) => (d.Class === "rviz_common/Group" ? flatten(d.Displays ?? []) : [d]));
  const displays = flatten(manager.Displays);
  const withTopic = displays.filter((d) => d.Topic !== undefined);
  /** The node's publishers and subscriptions for a config, as the node creates them in namespace `ns`. */
  const nodeTopics = (config: Config, ns: string) => ({
    published: publisherSpecs(
      config,
      { node: config.ros.node_name, namespace: ns },
      { speedLimitFallback: false },
    ),
    subscribed: subscriptionSpecs(config),
  });
  const base = defaultConfig();
  // Every output on: the overlay is optional (ros.publish_overlay).
  const configs: Config[] = (["reliable", "best_effort"] as const).map((reliability) => ({
    ...base,
    ros: { ...base.ros, output_image_reliability: reliability, publish_overlay: true },
  }));

  it("is an RViz 2 config of rviz_default_plugins displays, fixed in the costmap's frame", () => {
    expect(displays.length).toBeGreaterThan(0);
    for (const d of displays) expect(Object.keys(RVIZ_DISPLAY_TYPES), d.Name).toContain(d.Class);
    expect(new Set(displays.map((d) => d.Name)).size).toBe(displays.length);
    // The costmap and the label footprints are in frames.odom; the view follows frames.base.
    expect(manager["Global Options"]["Fixed Frame"]).toBe(base.frames.odom);
    expect(manager.Views.Current["Target Frame"]).toBe(base.frames.base);
    for (const d of displays)
      if (d.Class === "rviz_default_plugins/Grid") expect(d["Reference Frame"]).toBe("<Fixed Frame>");
  });

  it("every display's topic is one the node publishes or reads, with that message type, at the root and in a namespace", () => {
    for (const ns of ["/", "/robot1"]) {
      const { published, subscribed } = nodeTopics(configs[0]!, ns);
      for (const d of withTopic) {
        // rviz2 from the launch files runs in the node's namespace: relative names resolve there.
        const topic = resolveName(d.Topic!.Value, { node: "rviz2", namespace: ns });
        const spec: PublisherSpec | SubscriptionSpec | undefined =
          published.find((s) => s.topic === topic) ?? subscribed.find((s) => s.topic === topic);
        expect(spec, `${d.Name}: ${topic} in ${ns}`).toBeDefined();
        expect(spec!.type, d.Name).toBe(RVIZ_DISPLAY_TYPES[d.Class]);
      }
    }
  });

  it("shows the costmap, the roughness image and the label markers", () => {
    const { published } = nodeTopics(configs[0]!, "/");
    const shown = withTopic.map((d) => resolveName(d.Topic!.Value, { node: "rviz2", namespace: "/" }));
    for (const key of ["costmap", "roughness", "labels"])
      expect(shown, key).toContain(published.find((s) => s.key === key)!.topic);
  });

  it("asks for QoS the node's publishers offer (either ros.output_image_reliability); the latched costmap transient local", () => {
    for (const config of configs) {
      const { published, subscribed } = nodeTopics(config, "/");
      for (const d of withTopic) {
        const topic = resolveName(d.Topic!.Value, { node: "rviz2", namespace: "/" });
        const asked = rvizQos(d.Topic!);
        const pub = published.find((s) => s.topic === topic);
        if (pub) {
          const why = `${d.Name} with ${config.ros.output_image_reliability} images`;
          expect(qosMatches(pub.qos, asked), why).toBe(true);
          // A latched topic read volatile shows nothing until the next message.
          if (pub.qos.durability === "transient_local") expect(asked.durability, why).toBe("transient_local");
          continue;
        }
        // An input topic: whatever publisher the node accepts must reach RViz too.
        const sub = subscribed.find((s) => s.topic === topic)!;
        expect(qosMatches(sub.qos, asked), d.Name).toBe(true);
      }
    }
    const costmap = withTopic.find((d) => d.Class === "rviz_default_plugins/Map")!;
    expect(costmap["Color Scheme"]).toBe("costmap");
    expect(rvizQos(costmap.Topic!)).toMatchObject({ reliability: "reliable", durability: "transient_local" });
  });

  it("draws the 32FC1 roughness image over the fixed range 0..1", () => {
    const topic = nodeTopics(configs[0]!, "/").published.find((s) => s.key === "roughness")!.topic;
    const d = withTopic.find(
      (x) => resolveName(x.Topic!.Value, { node: "rviz2", namespace: "/" }) === topic,
    )!;
    expect(d).toMatchObject({ "Normalize Range": false, "Min Value": 0, "Max Value": 1 });
  });
});

describe.skipIf(!hasCmake)("CMake install (plain rules: ament_cmake is not installed here)", () => {
  beforeAll(() => {
    const build = join(dir, "build");
    const configure = spawnSync("cmake", ["-S", ROOT, "-B", build, `-DCMAKE_INSTALL_PREFIX=${prefix}`], {
      encoding: "utf8",
    });
    expect(configure.status, configure.stderr).toBe(0);
    expect(configure.stdout).toContain("ament_cmake not found: plain install rules");
    const install = spawnSync("cmake", ["--install", build], { encoding: "utf8" });
    expect(install.status, install.stderr).toBe(0);
  }, 60_000);

  it("installs the executable, the launch files, params.yaml, the Nav2 params, the RViz config, package.xml and the ament index marker", () => {
    expect(statSync(exe).mode & 0o111).toBe(0o111);
    for (const f of [
      "launch/terrain_learner.launch.xml",
      "launch/terrain_learner.launch.py",
      "launch/params.yaml",
      "launch/nav2-roughness.yaml",
      "launch/terrain_learner.rviz",
    ])
      expect(readFileSync(join(share, f), "utf8"), f).toBe(
        readFileSync(join(ROOT, "launch", f.slice(7)), "utf8"),
      );
    expect(existsSync(join(share, "package.xml"))).toBe(true);
    expect(existsSync(join(prefix, "share/ament_index/resource_index/packages/terrain_learner"))).toBe(true);
  });

  it("the installed executable runs the node's --help from this checkout", () => {
    const r = spawnSync(exe, ["--help"], { encoding: "utf8", cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: terrain-learner ros/);
    expect(r.stdout).toContain("--ros-args");
  }, 60_000);

  it("an older Node.js (NODE=…) is refused by the installed executable in one line naming the version needed", () => {
    const old = join(dir, "node18");
    writeFileSync(old, "#!/bin/sh\necho 18.19.1\n", { mode: 0o755 });
    const r = spawnSync(exe, ["--help"], { encoding: "utf8", cwd: dir, env: { ...process.env, NODE: old } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `terrain_learner: Node.js 18.19.1 (${old}) is too old: install Node.js 20.19 or newer (e.g. from NodeSource) or set NODE=/path/to/node`,
    );
    const r20 = spawnSync(exe, ["--help"], {
      encoding: "utf8",
      cwd: dir,
      env: { ...process.env, NODE: process.execPath },
    });
    expect(r20.status).toBe(0);
  }, 60_000);

  it("a bad parameter stops the installed executable with the key named, before ROS is needed", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "terrain_learner:\n  ros__parameters:\n    outputs:\n      maxSpeeed: 1.0\n");
    const r = spawnSync(exe, ["--ros-args", "--params-file", bad], { encoding: "utf8", cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`terrain-learner: ${bad}: unknown key outputs.maxSpeeed`);
  }, 60_000);

  it.skipIf(!hasPython)(
    "both installed launch files run a command the installed executable accepts",
    () => {
      for (const file of ["terrain_learner.launch.xml", "terrain_learner.launch.py"]) {
        const cmd = launchCommand(join(share, "launch", file), {
          image_topic: "/front/image_raw",
          namespace: "robot1",
        });
        expect(cmd[0], file).toBe(exe);
        expect(cmd.slice(1, 6)).toEqual([
          "--ros-args",
          "-r",
          "__node:=terrain_learner",
          "-r",
          "__ns:=/robot1",
        ]);
        // Our parser and schema see what rcl would: the shipped params, then the launch arguments.
        const config = configFromRosArgs(parseRosArgs(cmd.slice(1)));
        expect(config.topics.image, file).toBe("/front/image_raw");
        expect(config.topics.imu, file).toBe("/imu/data");
        expect(config.use_sim_time, file).toBe(false);
        const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", cwd: dir });
        expect(r.status, file).toBe(1);
        expect(r.stderr.trim(), file).toMatch(/^terrain-learner: ROS 2 is not available: .*rclnodejs/);
      }
    },
    120_000,
  );

  it.skipIf(!hasPython)(
    "a topic argument left out keeps the topic of params_file; one given wins over it",
    () => {
      const mine = join(dir, "my_robot.yaml");
      writeFileSync(
        mine,
        "terrain_learner:\n  ros__parameters:\n    topics:\n      imu: /vectornav/imu\n      odom: /wheel/odom\n",
      );
      for (const file of ["terrain_learner.launch.xml", "terrain_learner.launch.py"]) {
        const cmd = launchCommand(join(share, "launch", file), {
          params_file: mine,
          odom_topic: "/ekf/odom",
        });
        const config = configFromRosArgs(parseRosArgs(cmd.slice(1)));
        expect(config.topics.imu, file).toBe("/vectornav/imu");
        expect(config.topics.odom, file).toBe("/ekf/odom");
        expect(config.topics.image, file).toBe("/camera/image_raw");
        const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", cwd: dir });
        expect(r.stderr.trim(), file).toMatch(/^terrain-learner: ROS 2 is not available: .*rclnodejs/);
      }
    },
    120_000,
  );

  it.skipIf(!hasPython)(
    "ros2 launch waits longer for the node's stop than its MQTT and fleet waits before SIGTERM; sigterm_timeout:= sets it",
    () => {
      // The stop waits up to mqtt.close_timeout for the MQTT broker and as long for the fleet's,
      // after the last frame and the checkpoint; launch's own default (5 s) cuts that short.
      const needs = 2 * defaultConfig().mqtt.close_timeout + 2;
      for (const file of ["terrain_learner.launch.xml", "terrain_learner.launch.py"]) {
        const path = join(share, "launch", file);
        const [node] = launchSigtermTimeouts(path, {});
        expect(node, file).toBeGreaterThanOrEqual(needs);
        expect(launchSigtermTimeouts(path, { sigterm_timeout: "40" })[0], file).toBe(40);
      }
    },
    60_000,
  );

  it.skipIf(!hasPython)(
    "rviz:=true adds rviz2 with the installed RViz config, in the node's namespace; by default it is not started",
    () => {
      const rvizExe = join(ROS_PREFIX, "lib/rviz2/rviz2");
      for (const file of ["terrain_learner.launch.xml", "terrain_learner.launch.py"]) {
        const path = join(share, "launch", file);
        for (const args of [{}, { rviz: "false" }] as Record<string, string>[]) {
          const cmds = launchCommands(path, args);
          expect(
            cmds.map((c) => c[0]),
            `${file} ${JSON.stringify(args)}`,
          ).toEqual([exe]);
        }
        const cmds = launchCommands(path, { rviz: "true", namespace: "robot1", use_sim_time: "true" });
        expect(
          cmds.map((c) => c[0]),
          file,
        ).toEqual([exe, rvizExe]);
        const rviz = cmds[1]!;
        expect(rviz.slice(1, 8), file).toEqual([
          "-d",
          join(share, "launch/terrain_learner.rviz"),
          "--ros-args",
          "-r",
          "__node:=rviz2",
          "-r",
          "__ns:=/robot1",
        ]);
        // The config opened is the installed one, and RViz follows the same clock as the node.
        expect(readFileSync(rviz[2]!, "utf8")).toBe(
          readFileSync(join(ROOT, "launch/terrain_learner.rviz"), "utf8"),
        );
        const files = rviz.flatMap((a, i) => (rviz[i - 1] === "--params-file" ? [a] : []));
        const params = files.map((f) => parseYaml(readFileSync(f, "utf8")));
        expect(params, file).toContainEqual({ "/robot1/rviz2": { ros__parameters: { use_sim_time: true } } });
        expect(configFromRosArgs(parseRosArgs(cmds[0]!.slice(1))).use_sim_time, file).toBe(true);
      }
    },
    60_000,
  );
});

/** Where the stand-in puts packages other than ours (rviz2): a ROS distribution's prefix. */
const ROS_PREFIX = "/opt/ros/distro";

/** The command launch_ros would run for the terrain_learner node (see launchCommands). */
function launchCommand(file: string, args: Record<string, string>): string[] {
  const cmd = launchCommands(file, args).find((c) => c[0] === exe);
  expect(cmd, `${file}: no terrain_learner node`).toBeDefined();
  return cmd!;
}

/**
 * The commands launch_ros would run for `ros2 launch terrain_learner FILE args...` with the package
 * installed at `prefix`, one per node whose condition holds (Python: the file evaluated with stand-in
 * launch / launch_ros modules; XML: the subset of the launch XML frontend our file uses). Parameter
 * values are evaluated as launch_ros's evaluate_parameter_dict does: a substitution's text goes through
 * yaml.safe_load and must come out bool, int, float or str (an empty text is None there: launch_ros
 * raises TypeError), while ParameterValue(..., value_type=str) keeps the text as it is. Conditions
 * (IfCondition, XML `if`) take what launch's evaluate_condition_expression takes: true/1/false/0 in
 * any case, anything else an error. Other packages' executables are under ROS_PREFIX.
 */
function launchCommands(file: string, args: Record<string, string>): string[][] {
  return runLaunchStandIn(file, args, "commands") as string[][];
}

/** Per command of launchCommands: the seconds launch waits after its SIGINT before it sends SIGTERM. */
function launchSigtermTimeouts(file: string, args: Record<string, string>): number[] {
  return runLaunchStandIn(file, args, "sigterm_timeouts") as number[];
}

function runLaunchStandIn(
  file: string,
  args: Record<string, string>,
  what: "commands" | "sigterm_timeouts",
): unknown {
  const script = `
import json, os, sys, types, yaml, xml.etree.ElementTree as ET
file, prefix, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
params_out, ros_prefix = sys.argv[4], sys.argv[5]

def evaluate_value(text):
    # launch_ros.utilities.evaluate_parameters.evaluate_parameter_dict, for a substitution
    value = yaml.safe_load(text)
    if type(value) not in (bool, int, float, str, bytes):
        raise TypeError("Allowed value types are bytes, bool, int, float, str, Sequence[bool], Sequence[int], Sequence[float], Sequence[str]. Got %s." % type(value))
    return value

def evaluate_condition(text):
    # launch.conditions.evaluate_condition_expression
    if text.lower() in ("true", "1"): return True
    if text.lower() in ("false", "0"): return False
    raise ValueError("invalid condition expression %r" % text)

class ParameterValue:
    def __init__(self, value, value_type=None): self.value, self.value_type = value, value_type

class LaunchConfiguration:
    def __init__(self, name, default=None): self.name, self.default = name, default
class IfCondition:
    def __init__(self, predicate): self.predicate = predicate
class DeclareLaunchArgument:
    def __init__(self, name, default_value=None, description=""): self.name, self.default = name, default_value
class Node:
    def __init__(self, package, executable, name, namespace="", output=None, parameters=(), arguments=(), condition=None, sigterm_timeout=None):
        self.package, self.executable, self.name, self.namespace, self.parameters = package, executable, name, namespace, parameters
        self.arguments, self.condition = arguments, condition
        # launch's ExecuteProcess: LaunchConfiguration('sigterm_timeout', default=5) when not given
        self.sigterm_timeout = sigterm_timeout or LaunchConfiguration("sigterm_timeout", "5")

def node_command(package, executable, name, namespace, params, arguments, config):
    # launch_ros Node: the executable from the package's lib/ folder (ament index), its arguments, then
    # --ros-args -r __node:= -r __ns:= and one --params-file per file; dicts of inline parameters
    # go to a temporary params file under the node's full name.
    root = prefix if package == "terrain_learner" else ros_prefix
    cmd = [os.path.join(root, "lib", package, executable)] + list(arguments)
    cmd += ["--ros-args", "-r", "__node:=" + name]
    ns = "/" + namespace.strip("/") if namespace else "/"
    cmd += ["-r", "__ns:=" + ns]
    full = (ns.rstrip("/") + "/" + name)
    for i, p in enumerate(params):
        if isinstance(p, dict):
            path = "%s.%s.%d.yaml" % (params_out, name, i)
            with open(path, "w") as f:
                yaml.dump({full: {"ros__parameters": p}}, f, default_flow_style=False)
            cmd += ["--params-file", path]
        else:
            cmd += ["--params-file", p]
    return cmd

commands = []
# Per command: seconds from launch's SIGINT at shutdown to its SIGTERM.
sigterm_timeouts = []
if file.endswith(".py"):
    launch = types.ModuleType("launch"); actions = types.ModuleType("launch.actions")
    conditions = types.ModuleType("launch.conditions")
    subs = types.ModuleType("launch.substitutions"); lr = types.ModuleType("launch_ros"); lra = types.ModuleType("launch_ros.actions")
    lrp = types.ModuleType("launch_ros.parameter_descriptions")
    launch.LaunchDescription = list; actions.DeclareLaunchArgument = DeclareLaunchArgument
    conditions.IfCondition = IfCondition
    subs.LaunchConfiguration = LaunchConfiguration; lra.Node = Node; lrp.ParameterValue = ParameterValue
    sys.modules.update({"launch": launch, "launch.actions": actions, "launch.conditions": conditions, "launch.substitutions": subs, "launch_ros": lr, "launch_ros.actions": lra, "launch_ros.parameter_descriptions": lrp})
    import importlib.util
    spec = importlib.util.spec_from_file_location("tl_launch", file); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    ld = mod.generate_launch_description()
    config = {a.name: a.default for a in ld if isinstance(a, DeclareLaunchArgument)}
    config.update(overrides)
    def sub(x):
        if isinstance(x, LaunchConfiguration): return config[x.name] if x.default is None else config.get(x.name, x.default)
        if isinstance(x, dict): return {k: param(v) for k, v in x.items()}
        return x
    def param(v):
        if isinstance(v, ParameterValue):
            text = sub(v.value)
            return text if v.value_type is str else evaluate_value(text)
        if isinstance(v, LaunchConfiguration): return evaluate_value(sub(v))
        return v
    for node in [a for a in ld if isinstance(a, Node)]:
        if node.condition is not None and not evaluate_condition(sub(node.condition.predicate)): continue
        commands.append(node_command(node.package, node.executable, sub(node.name), sub(node.namespace), [sub(p) for p in node.parameters], [sub(a) for a in node.arguments], config))
        sigterm_timeouts.append(float(sub(node.sigterm_timeout)))
else:
    root = ET.parse(file).getroot()
    config = {}
    def sub(s):
        s = s.replace("$(dirname)", os.path.dirname(file))
        while "$(var " in s:
            i = s.index("$(var "); j = s.index(")", i)
            s = s[:i] + config[s[i + 6:j]] + s[j + 1:]
        return s
    for a in root.findall("arg"):
        config[a.get("name")] = overrides.get(a.get("name"), sub(a.get("default")))
    for node in root.findall("node"):
        if node.get("if") is not None and not evaluate_condition(sub(node.get("if"))): continue
        # Humble's launch_xml refuses these <node> attributes (Jazzy's reads them).
        late = {a for a in ("sigterm_timeout", "sigkill_timeout") if node.get(a) is not None}
        if late: raise ValueError("Unexpected attribute(s) found in \`node\`: %s" % late)
        params = []
        inline = {}
        for p in node.findall("param"):
            if p.get("from"): params.append(sub(p.get("from")))
            else:
                inline[p.get("name")] = evaluate_value(sub(p.get("value")))
        params.append(inline)
        arguments = sub(node.get("args", "")).split()
        commands.append(node_command(node.get("pkg"), node.get("exec"), node.get("name"), sub(node.get("namespace", "")), params, arguments, config))
        sigterm_timeouts.append(float(config.get("sigterm_timeout", "5")))
print(json.dumps(sigterm_timeouts if len(sys.argv) > 6 and sys.argv[6] == "sigterm_timeouts" else commands))
`;
  const r = spawnSync(
    yamlPython!,
    ["-c", script, file, prefix, JSON.stringify(args), join(dir, "launch_params"), ROS_PREFIX, what],
    {
      encoding: "utf8",
    },
  );
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout);
}
