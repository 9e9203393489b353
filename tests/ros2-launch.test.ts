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
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";

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

  it("installs the executable, the launch files, params.yaml, the Nav2 params, package.xml and the ament index marker", () => {
    expect(statSync(exe).mode & 0o111).toBe(0o111);
    for (const f of [
      "launch/terrain_learner.launch.xml",
      "launch/terrain_learner.launch.py",
      "launch/params.yaml",
      "launch/nav2-roughness.yaml",
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
});

/**
 * The command launch_ros would run for `ros2 launch terrain_learner FILE args...` with the package
 * installed at `prefix` (Python: the file evaluated with stand-in launch / launch_ros modules; XML:
 * the subset of the launch XML frontend our file uses). Parameter values are evaluated as
 * launch_ros's evaluate_parameter_dict does: a substitution's text goes through yaml.safe_load and
 * must come out bool, int, float or str (an empty text is None there: launch_ros raises TypeError),
 * while ParameterValue(..., value_type=str) keeps the text as it is.
 */
function launchCommand(file: string, args: Record<string, string>): string[] {
  const script = `
import json, os, sys, types, yaml, xml.etree.ElementTree as ET
file, prefix, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
params_out = sys.argv[4]

def evaluate_value(text):
    # launch_ros.utilities.evaluate_parameters.evaluate_parameter_dict, for a substitution
    value = yaml.safe_load(text)
    if type(value) not in (bool, int, float, str, bytes):
        raise TypeError("Allowed value types are bytes, bool, int, float, str, Sequence[bool], Sequence[int], Sequence[float], Sequence[str]. Got %s." % type(value))
    return value

class ParameterValue:
    def __init__(self, value, value_type=None): self.value, self.value_type = value, value_type

class LaunchConfiguration:
    def __init__(self, name): self.name = name
class DeclareLaunchArgument:
    def __init__(self, name, default_value=None, description=""): self.name, self.default = name, default_value
class Node:
    def __init__(self, package, executable, name, namespace="", output=None, parameters=()):
        self.package, self.executable, self.name, self.namespace, self.parameters = package, executable, name, namespace, parameters

def node_command(package, executable, name, namespace, params, config):
    # launch_ros Node: the executable from the package's lib/ folder (ament index), then
    # --ros-args -r __node:= -r __ns:= and one --params-file per file; dicts of inline parameters
    # go to a temporary params file under the node's full name.
    cmd = [os.path.join(prefix, "lib", package, executable), "--ros-args", "-r", "__node:=" + name]
    ns = "/" + namespace.strip("/") if namespace else "/"
    cmd += ["-r", "__ns:=" + ns]
    full = (ns.rstrip("/") + "/" + name)
    for i, p in enumerate(params):
        if isinstance(p, dict):
            path = "%s.%d.yaml" % (params_out, i)
            with open(path, "w") as f:
                yaml.dump({full: {"ros__parameters": p}}, f, default_flow_style=False)
            cmd += ["--params-file", path]
        else:
            cmd += ["--params-file", p]
    return cmd

if file.endswith(".py"):
    launch = types.ModuleType("launch"); actions = types.ModuleType("launch.actions")
    subs = types.ModuleType("launch.substitutions"); lr = types.ModuleType("launch_ros"); lra = types.ModuleType("launch_ros.actions")
    lrp = types.ModuleType("launch_ros.parameter_descriptions")
    launch.LaunchDescription = list; actions.DeclareLaunchArgument = DeclareLaunchArgument
    subs.LaunchConfiguration = LaunchConfiguration; lra.Node = Node; lrp.ParameterValue = ParameterValue
    sys.modules.update({"launch": launch, "launch.actions": actions, "launch.substitutions": subs, "launch_ros": lr, "launch_ros.actions": lra, "launch_ros.parameter_descriptions": lrp})
    import importlib.util
    spec = importlib.util.spec_from_file_location("tl_launch", file); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    ld = mod.generate_launch_description()
    config = {a.name: a.default for a in ld if isinstance(a, DeclareLaunchArgument)}
    config.update(overrides)
    def sub(x):
        if isinstance(x, LaunchConfiguration): return config[x.name]
        if isinstance(x, dict): return {k: param(v) for k, v in x.items()}
        return x
    def param(v):
        if isinstance(v, ParameterValue):
            text = sub(v.value)
            return text if v.value_type is str else evaluate_value(text)
        if isinstance(v, LaunchConfiguration): return evaluate_value(sub(v))
        return v
    node = [a for a in ld if isinstance(a, Node)][0]
    print(json.dumps(node_command(node.package, node.executable, sub(node.name), sub(node.namespace), [sub(p) for p in node.parameters], config)))
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
    node = root.find("node")
    params = []
    inline = {}
    for p in node.findall("param"):
        if p.get("from"): params.append(sub(p.get("from")))
        else:
            inline[p.get("name")] = evaluate_value(sub(p.get("value")))
    params.append(inline)
    print(json.dumps(node_command(node.get("pkg"), node.get("exec"), node.get("name"), sub(node.get("namespace", "")), params, config)))
`;
  const r = spawnSync(
    yamlPython!,
    ["-c", script, file, prefix, JSON.stringify(args), join(dir, "launch_params")],
    {
      encoding: "utf8",
    },
  );
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as string[];
}
