// `--ros-args` read as rcl reads them, checked against what rcl and rclcpp (Humble and later) do:
// - node names in params files: rcl_yaml_param_parser accepts `/`-separated names where `*` is one
//   whole token and `**` any number (a partial `terrain_*` is an invalid name, the file is refused);
//   rclcpp prepends `/` to a relative name and matches the node's fully qualified name against it;
// - remaps and `-p` with a `node:` prefix apply to that node only (rcl_node_init: the `__node` rule is
//   matched against the name in code, the `__ns` rule against the name after remapping; the first
//   matching rule wins);
// - order: rcl parses `--params-file` and `-p` in command-line order into one store of node entries
//   (`-p name:=value` into the `/**` entry); an entry seen again is updated where it first appeared,
//   and rclcpp applies the matching entries in store order.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configFromRosArgs, parseRosArgs, remappedNode } from "../src/adapters/ros2-params.ts";
import { ConfigError, defaultConfig, loadConfig } from "../src/runtime/config.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-rclparams-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const node = (...rosArgs: string[]) => configFromRosArgs(parseRosArgs(["--ros-args", ...rosArgs]));
const DEFAULTS = defaultConfig();

describe("params-file node names, matched as rclcpp matches them", () => {
  const wild = write(
    "wild.yaml",
    [
      "/robot1/*:",
      "  ros__parameters:",
      "    outputs: {max_speed: 1.5}",
      "/**/terrain_learner:",
      "  ros__parameters:",
      "    outputs: {min_speed: 0.3}",
      "/*:",
      "  ros__parameters:",
      "    mqtt: {robot_id: root}",
    ].join("\n"),
  );

  it("`/robot1/*` is any node in /robot1, `/**/terrain_learner` any namespace, `/*` the root namespace", () => {
    const inRobot1 = node("-r", "__ns:=/robot1", "--params-file", wild);
    expect([inRobot1.outputs.max_speed, inRobot1.outputs.min_speed, inRobot1.mqtt.robot_id]).toEqual([
      1.5,
      0.3,
      DEFAULTS.mqtt.robot_id,
    ]);
    const atRoot = node("--params-file", wild);
    expect([atRoot.outputs.max_speed, atRoot.outputs.min_speed, atRoot.mqtt.robot_id]).toEqual([
      DEFAULTS.outputs.max_speed,
      0.3,
      "root",
    ]);
    // `*` is one token: /robot1/arm/terrain_learner is not in /robot1/*.
    const deeper = node("-r", "__ns:=/robot1/arm/", "--params-file", wild);
    expect([deeper.outputs.max_speed, deeper.outputs.min_speed]).toEqual([DEFAULTS.outputs.max_speed, 0.3]);
    // The CLI's --config reads the same file for terrain_learner in the root namespace.
    expect(loadConfig(wild).mqtt.robot_id).toBe("root");
  });

  it("a file whose only entry is `/robot1/*` has nothing for /terrain_learner", () => {
    const f = write("robot1-only.yaml", "/robot1/*:\n  ros__parameters:\n    outputs: {max_speed: 1.5}\n");
    expect(node("-r", "__ns:=/robot1", "--params-file", f).outputs.max_speed).toBe(1.5);
    expect(() => node("--params-file", f)).toThrow(
      /robot1-only\.yaml: no parameters for node 'terrain_learner' .*found \/robot1\/\*\)/,
    );
  });

  it("nested node names are joined with '/', as rcl_yaml_param_parser does", () => {
    const f = write(
      "nested.yaml",
      "robot1:\n  terrain_learner:\n    ros__parameters:\n      outputs:\n        max_speed: 1.25\n",
    );
    expect(node("-r", "__ns:=/robot1", "--params-file", f).outputs.max_speed).toBe(1.25);
    expect(() => node("--params-file", f)).toThrow(
      /no parameters for node 'terrain_learner' .*robot1\/terrain_learner/,
    );
  });

  it("`/terrain_learner` is the root namespace's node; the bare `terrain_learner` applies in every namespace", () => {
    // A fleet file: shared settings, then one entry per robot.
    const f = write(
      "fleet.yaml",
      [
        "terrain_learner:",
        "  ros__parameters:",
        "    outputs: {max_speed: 1.0}",
        "/robot1/terrain_learner:",
        "  ros__parameters:",
        "    mqtt: {robot_id: robot1}",
        "/terrain_learner:",
        "  ros__parameters:",
        "    mqtt: {robot_id: root}",
      ].join("\n"),
    );
    const robot1 = node("-r", "__ns:=/robot1", "--params-file", f);
    expect([robot1.outputs.max_speed, robot1.mqtt.robot_id]).toEqual([1.0, "robot1"]);
    const root = node("--params-file", f);
    expect([root.outputs.max_speed, root.mqtt.robot_id]).toEqual([1.0, "root"]);
    const onlyRoot = write(
      "root.yaml",
      "/terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n",
    );
    expect(() => node("-r", "__ns:=/robot1", "--params-file", onlyRoot)).toThrow(
      /no parameters for node 'terrain_learner' in namespace '\/robot1' \(expected a 'terrain_learner:', '\/robot1\/terrain_learner:'/,
    );
  });

  it("refuses what rcl refuses: partial wildcards, invalid names, values outside ros__parameters", () => {
    const partial = write(
      "partial.yaml",
      "/**/terrain_*:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n",
    );
    for (const load of [() => node("--params-file", partial), () => loadConfig(partial)]) {
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(
        `${partial}: node name '/**/terrain_*' is not valid in a ROS params file at 'terrain_*': '*' and '**' stand for whole names between slashes only (rcl accepts no partial match)`,
      );
    }
    const digit = write(
      "digit.yaml",
      "/1robot/terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n",
    );
    expect(() => node("--params-file", digit)).toThrow(
      /node name '\/1robot\/terrain_learner' is not valid .* at '1robot'/,
    );
    const stray = write(
      "stray.yaml",
      "terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n  max_speed: 2.0\n",
    );
    expect(() => node("--params-file", stray)).toThrow(
      /'terrain_learner\/max_speed' is a value outside ros__parameters/,
    );
  });
});

describe("`node:` prefixes on remaps and -p, as rcl applies them", () => {
  const rover = write("rover.yaml", "rover:\n  ros__parameters:\n    outputs: {max_speed: 1.5}\n");

  it("`-r terrain_learner:__node:=rover` renames this node: rover's entries, ros.node_name rover", () => {
    const c = node("-r", "terrain_learner:__node:=rover", "--params-file", rover);
    expect(c.outputs.max_speed).toBe(1.5);
    expect(c.ros.node_name).toBe("rover");
    // A rule for another node leaves this one alone.
    expect(() => node("-r", "camera:__node:=rover", "--params-file", rover)).toThrow(
      /no parameters for node 'terrain_learner'/,
    );
    expect(node("-r", "camera:__node:=rover").ros.node_name).toBe(DEFAULTS.ros.node_name);
  });

  it("a `__ns` rule's prefix is matched against the name after `__node`, and the first matching rule wins", () => {
    const f = write("ns.yaml", "/robot1/rover:\n  ros__parameters:\n    outputs: {max_speed: 1.5}\n");
    const c = node("-r", "terrain_learner:__node:=rover", "-r", "rover:__ns:=/robot1", "--params-file", f);
    expect(c.outputs.max_speed).toBe(1.5);
    // rcl_node_init remaps the name first, so `terrain_learner:__ns` no longer names this node.
    expect(() =>
      node("-r", "terrain_learner:__node:=rover", "-r", "terrain_learner:__ns:=/robot1", "--params-file", f),
    ).toThrow(/no parameters for node 'rover' \(/);
    const start = { name: "terrain_learner", namespace: "/" };
    expect(remappedNode([["terrain_learner:__ns", "/robot2"]], start)).toEqual({
      name: "terrain_learner",
      namespace: "/robot2",
      renamed: false,
    });
    expect(
      remappedNode(
        [
          ["camera:__node", "cam"],
          ["terrain_learner:__node", "rover"],
          ["__node", "other"],
          ["__ns", "/first"],
          ["rover:__ns", "/second"],
        ],
        start,
      ),
    ).toEqual({ name: "rover", namespace: "/first", renamed: true });
    // Topic remaps with a prefix are rcl's business; `rostopic://` is not a prefix.
    expect(remappedNode([["rostopic://imu", "/imu2"]], start)).toEqual({ ...start, renamed: false });
  });

  it("`-p terrain_learner:name:=value` sets this node's parameter; a prefix for another node is ignored", () => {
    const c = node("-p", "terrain_learner:outputs.max_speed:=1.5", "-p", "camera_driver:fps:=30");
    expect(c.outputs.max_speed).toBe(1.5);
    // After a rename the prefix is the new name.
    const renamed = node(
      "-r",
      "__node:=rover",
      "-p",
      "terrain_learner:outputs.max_speed:=9.0",
      "-p",
      "rover:outputs.min_speed:=0.3",
    );
    expect([renamed.outputs.max_speed, renamed.outputs.min_speed]).toEqual([DEFAULTS.outputs.max_speed, 0.3]);
    // Validation still names the key, and the source.
    expect(() => node("-p", "terrain_learner:outputs.maxSpeeed:=1")).toThrow(
      "-p terrain_learner:outputs.maxSpeeed: unknown key outputs.maxSpeeed",
    );
    // A bad value: the `-p` source names the key, the message does not repeat it.
    expect(() => node("-p", "outputs.max_speed:=bad")).toThrow(
      /^-p outputs\.max_speed: Invalid input: expected number, received string$/,
    );
    expect(() =>
      node("-p", "outputs.min_speed:=0.2", "-p", "terrain_learner:outputs.max_speed:=bad"),
    ).toThrow(
      /^-p outputs\.min_speed \+ -p terrain_learner:outputs\.max_speed: Invalid input: expected number/,
    );
  });

  it("refuses the rules rcl refuses", () => {
    expect(() => parseRosArgs(["--ros-args", "-p", "/robot1/terrain_learner:outputs.max_speed:=1"])).toThrow(
      /expects \[node:\]name:=value/,
    );
    expect(() => parseRosArgs(["--ros-args", "-r", "__ns:=robot1"])).toThrow(
      /must be absolute \('\/robot1'\)/,
    );
    expect(() => parseRosArgs(["--ros-args", "-r", "terrain_learner:__node:=my-rover"])).toThrow(
      /a node name is letters, digits and '_'/,
    );
  });
});

describe("order: --params-file and -p in command-line order, one store of entries", () => {
  it("wildcard and exact entries of one file apply in file order", () => {
    const exactLast = write(
      "exact-last.yaml",
      "/**:\n  ros__parameters:\n    outputs: {max_speed: 3.0}\nterrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n",
    );
    const wildLast = write(
      "wild-last.yaml",
      "terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n/**:\n  ros__parameters:\n    outputs: {max_speed: 3.0}\n",
    );
    expect(node("--params-file", exactLast).outputs.max_speed).toBe(1);
    expect(node("--params-file", wildLast).outputs.max_speed).toBe(3);
    expect(loadConfig(exactLast).outputs.max_speed).toBe(1);
    expect(loadConfig(wildLast).outputs.max_speed).toBe(3);
  });

  const a = write(
    "a.yaml",
    "terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0, min_speed: 0.1}\n",
  );
  const b = write("b.yaml", "terrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 2.0}\n");

  it("a later file wins; -p wins over what comes before it, and loses to a file after it", () => {
    expect(node("--params-file", a, "--params-file", b).outputs).toMatchObject({
      max_speed: 2,
      min_speed: 0.1,
    });
    expect(node("--params-file", b, "--params-file", a).outputs.max_speed).toBe(1);
    expect(node("--params-file", a, "-p", "outputs.max_speed:=4.0").outputs.max_speed).toBe(4);
    expect(node("-p", "outputs.max_speed:=4.0", "--params-file", a).outputs.max_speed).toBe(1);
    expect(node("-p", "outputs.max_speed:=4.0", "-p", "outputs.max_speed:=5.0").outputs.max_speed).toBe(5);
    // --config files lie under all of it.
    const plain = write("plain.yaml", "outputs:\n  max_speed: 7.0\n  min_speed: 0.4\n");
    const c = configFromRosArgs(parseRosArgs(["--ros-args", "--params-file", b]), { configFiles: [plain] });
    expect(c.outputs).toMatchObject({ max_speed: 2, min_speed: 0.4 });
  });

  it("an entry repeated later keeps its first place (rclcpp applies the store in that order)", () => {
    // wildcard-then-node.yaml places `/**` before `terrain_learner`; a later `/**` (another file's, or
    // `-p name:=value`, which rcl files under `/**`) updates that first `/**` entry, so the node
    // entry still comes after it and wins.
    const first = write(
      "wildcard-then-node.yaml",
      "/**:\n  ros__parameters:\n    use_sim_time: true\nterrain_learner:\n  ros__parameters:\n    outputs: {max_speed: 1.0}\n",
    );
    const later = write("later-wildcard.yaml", "/**:\n  ros__parameters:\n    outputs: {max_speed: 2.0}\n");
    expect(node("--params-file", first, "--params-file", later).outputs.max_speed).toBe(1);
    expect(node("--params-file", first, "-p", "outputs.max_speed:=4.0").outputs.max_speed).toBe(1);
    // A `-p` for this node by name has an entry of its own, placed last.
    expect(
      node("--params-file", first, "-p", "terrain_learner:outputs.max_speed:=4.0").outputs.max_speed,
    ).toBe(4);
    // Keys the node entry does not set come from the wildcard.
    expect(node("--params-file", first, "--params-file", later).use_sim_time).toBe(true);
  });
});

describe("params files rcl_yaml_param_parser refuses (rcl parses every --params-file at start)", () => {
  it("an alias or a key without a value is refused here, with its line, instead of by rcl at start", () => {
    const alias = write(
      "alias.yaml",
      "terrain_learner:\n  ros__parameters:\n    outputs:\n      max_speed: &fast 1.5\n      ahead_max: *fast\n",
    );
    expect(() => node("--params-file", alias)).toThrow(
      /alias\.yaml: line 5: rcl reads no YAML aliases \(\*fast\): write the value out \(the node would not start\)/,
    );
    // `base_height:` is null to YAML, a value the schema takes ("from TF"); rcl: "No value at line 4".
    const empty = write(
      "empty.yaml",
      "terrain_learner:\n  ros__parameters:\n    frames:\n      base_height:\n",
    );
    expect(() => node("--params-file", empty)).toThrow(
      /empty\.yaml: line 4: base_height has no value, which rcl refuses/,
    );
    // What rcl reads: null written out (a string to rcl, null to the schema), a quoted empty string.
    const fine = write(
      "written.yaml",
      "terrain_learner:\n  ros__parameters:\n    frames: {base_height: null}\n    learner: {checkpoint_dir: ''}\n",
    );
    expect(node("--params-file", fine).frames.base_height).toBeNull();
    // --config files are ours alone: YAML as YAML.
    expect(loadConfig(alias).outputs.ahead_max).toBe(1.5);
  });
});
