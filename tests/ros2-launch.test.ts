// The launch files cannot run without ROS 2 here; what they would run can be checked: the XML's
// command and the Python file's ExecuteProcess command, with default arguments substituted, must
// be a `terrain-learner ros --ros-args ...` line that our own argument parser and config schema
// accept, and that remaps each input topic.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configFromRosArgs, parseRosArgs } from "../src/adapters/ros2-params.ts";

const LAUNCH = join(import.meta.dirname, "../launch");

function checkCommand(cmd: string[]) {
  expect(cmd.slice(0, 3)).toEqual(["terrain-learner", "ros", "--ros-args"]);
  const args = parseRosArgs(cmd.slice(2));
  expect(args.paramsFiles).toEqual([join(LAUNCH, "params.yaml")]);
  expect(args.remaps.map(([from]) => from).sort()).toEqual(
    ["/camera/camera_info", "/camera/image_raw", "/camera/image_raw/compressed", "/imu/data", "/odom"].sort(),
  );
  const config = configFromRosArgs(args);
  expect(config.ros.useSimTime).toBe(false);
  return args;
}

describe("launch files", () => {
  it("terrain_learner.launch.xml runs a command our parser and schema accept", () => {
    const xml = readFileSync(join(LAUNCH, "terrain_learner.launch.xml"), "utf8");
    const defaults = new Map<string, string>();
    for (const m of xml.matchAll(/<arg name="([^"]+)" default="([^"]*)"/g)) defaults.set(m[1]!, m[2]!);
    const cmd = /<executable[^>]*\scmd="([^"]+)"/s.exec(xml)?.[1];
    expect(cmd).toBeDefined();
    const expand = (s: string): string =>
      s.replace(/\$\(dirname\)/g, LAUNCH).replace(/\$\(var ([a-z_]+)\)/g, (_, name: string) => {
        const v = defaults.get(name);
        if (v === undefined) throw new Error(`launch XML uses undeclared arg ${name}`);
        return expand(v);
      });
    const args = checkCommand(expand(cmd!).split(/\s+/));
    expect(Object.fromEntries(args.remaps)["/imu/data"]).toBe("/imu/data");
  });

  const python = spawnSync("python3", ["--version"]).status === 0;
  it.skipIf(!python)(
    "terrain_learner.launch.py builds the same command (evaluated with a stand-in `launch` module)",
    () => {
      // A minimal stand-in for the `launch` package: records the arguments and the process command.
      const script = `
import json, sys, types, importlib.util
launch = types.ModuleType("launch"); actions = types.ModuleType("launch.actions"); subs = types.ModuleType("launch.substitutions")
class LaunchDescription(list): pass
class DeclareLaunchArgument:
    def __init__(self, name, default_value=None, description=""): self.name, self.default = name, default_value
class ExecuteProcess:
    def __init__(self, cmd, **kw): self.cmd = cmd
class LaunchConfiguration:
    def __init__(self, name): self.name = name
launch.LaunchDescription = LaunchDescription; actions.DeclareLaunchArgument = DeclareLaunchArgument
actions.ExecuteProcess = ExecuteProcess; subs.LaunchConfiguration = LaunchConfiguration
sys.modules.update({"launch": launch, "launch.actions": actions, "launch.substitutions": subs})
spec = importlib.util.spec_from_file_location("tl_launch", sys.argv[1]); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
ld = mod.generate_launch_description()
defaults = {a.name: a.default for a in ld if isinstance(a, DeclareLaunchArgument)}
def sub(x):
    if isinstance(x, LaunchConfiguration): return defaults[x.name]
    if isinstance(x, list): return "".join(sub(y) for y in x)
    return x
proc = [a for a in ld if isinstance(a, ExecuteProcess)][0]
print(json.dumps([sub(x) for x in proc.cmd]))
`;
      const r = spawnSync("python3", ["-c", script, join(LAUNCH, "terrain_learner.launch.py")], {
        encoding: "utf8",
      });
      expect(r.stderr).toBe("");
      const cmd = JSON.parse(r.stdout) as string[];
      checkCommand(cmd);
    },
  );
});
