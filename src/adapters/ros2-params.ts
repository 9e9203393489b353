// `--ros-args` for the live node, parsed by us so that the one config schema (src/runtime/config.ts)
// validates a ROS params file before any ROS library is loaded: a typo in a params file on a robot
// fails at start with the key named, whether or not ROS 2 is installed.
//
// Supported: `--params-file FILE` (repeatable, later files win), `-p|--param name:=value` (dotted
// names, YAML values), `-r|--remap from:=to` (kept for rcl, which applies remappings itself),
// `--log-level`, `-e|--enclave`. In a params file, parameters of every entry that applies to the
// node are merged in file order, as rclcpp does: `/**`, `<name>`, `/<name>`, `/<ns>/<name>`. Nested
// maps and dotted keys (`mqtt.url: ...`, the form `ros2 param dump` writes) are both accepted, and
// so are ROS's standard node parameters (src/runtime/params-file.ts).

import { parse as parseYaml } from "yaml";
import { type Config, ConfigError, readConfigDocument, validateParameters } from "../runtime/config.ts";
import { isParamsFile, mergeDocument, nodeParameters, type Obj } from "../runtime/params-file.ts";

export interface RosArgs {
  paramsFiles: string[];
  /** `-p name:=value`, in order. */
  params: [string, string][];
  remaps: [string, string][];
  logLevel: string | undefined;
  /** Arguments before `--ros-args` (and after a closing `--`). */
  other: string[];
}

export function parseRosArgs(argv: readonly string[]): RosArgs {
  const out: RosArgs = { paramsFiles: [], params: [], remaps: [], logLevel: undefined, other: [] };
  let inRos = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--ros-args") {
      inRos = true;
      continue;
    }
    if (!inRos) {
      out.other.push(a);
      continue;
    }
    if (a === "--") {
      inRos = false;
      continue;
    }
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new ConfigError(`--ros-args: ${a} needs a value`);
      return v;
    };
    const pair = (v: string): [string, string] => {
      const k = v.indexOf(":=");
      if (k <= 0) throw new ConfigError(`--ros-args: ${a} expects name:=value, got '${v}'`);
      return [v.slice(0, k), v.slice(k + 2)];
    };
    switch (a) {
      case "--params-file":
        out.paramsFiles.push(next());
        break;
      case "-p":
      case "--param":
        out.params.push(pair(next()));
        break;
      case "-r":
      case "--remap":
        out.remaps.push(pair(next()));
        break;
      case "--log-level":
        out.logLevel = next();
        break;
      case "-e":
      case "--enclave":
        next();
        break;
      default:
        // Other rcl flags (e.g. --disable-rosout-logs) take no value; rcl reads them itself.
        break;
    }
  }
  return out;
}

/**
 * The node's Config from `--config` files (plain or params files) underneath `--ros-args` (params files,
 * then `-p` overrides), later sources winning key by key.
 */
export function configFromRosArgs(
  args: RosArgs,
  opts: { configFiles?: readonly string[]; nodeName?: string; namespace?: string } = {},
): Config {
  const merged: Obj = {};
  const sources: string[] = [];
  // The node name may be remapped on the command line (`-r __node:=other`).
  const remapped = args.remaps.find(([f]) => f === "__node" || f === "__name")?.[1];
  const name = remapped ?? opts.nodeName ?? "terrain_learner";
  const namespace = args.remaps.find(([f]) => f === "__ns")?.[1] ?? opts.namespace ?? "/";
  for (const file of opts.configFiles ?? []) {
    mergeDocument(merged, readConfigDocument(file), file, { name, namespace });
    sources.push(file);
  }
  for (const file of args.paramsFiles) {
    const doc = readConfigDocument(file, "params file");
    // A params file proper: the node's entries (a plain map is not one).
    mergeDocument(merged, nodeParametersOnly(doc, file, name, namespace), file, { name, namespace });
    sources.push(file);
  }
  for (const [param, value] of args.params) {
    let v: unknown;
    try {
      v = parseYaml(value);
    } catch {
      v = value;
    }
    mergeDocument(merged, { [param]: v }, `-p ${param}`);
    sources.push(`-p ${param}`);
  }
  const config = validateParameters(merged, sources.length ? sources.join(" + ") : "defaults");
  // One node name: the remap is how ROS names a node, and it wins over ros.node_name as rcl's
  // remapping wins over the name in code; `~/` topics, the live view and the recorder follow it.
  if (remapped) config.ros.node_name = remapped;
  return config;
}

/** `--params-file` takes ROS params files only: a plain map there is an error, as in rcl. */
function nodeParametersOnly(doc: unknown, file: string, name: string, namespace: string): unknown {
  if (isParamsFile(doc)) return doc;
  // nodeParameters names the problem (not a map, or no entry for this node).
  nodeParameters(doc, name, namespace, file);
  return doc;
}
