// `--ros-args` for the live node, parsed by us so that the one config schema (src/runtime/config.ts)
// validates a ROS params file before any ROS library is loaded: a typo in a params file on a robot
// fails at start with the key named, whether or not ROS 2 is installed.
//
// Supported: `--params-file FILE` (repeatable, later files win), `-p|--param name:=value` (dotted
// names, YAML values), `-r|--remap from:=to` (kept for rcl, which applies remappings itself),
// `--log-level`, `-e|--enclave`. In a params file, parameters of every entry that applies to the
// node are merged in order: `/**`, then `<name>`, `/<name>` and `/<ns>/<name>`. Nested maps and
// dotted keys (`mqtt.url: ...`, the form `ros2 param dump` writes) are both accepted.
// `use_sim_time` (the standard ROS parameter) maps to `ros.useSimTime`.

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { type Config, ConfigError, configFromObject } from "../runtime/config.ts";

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

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Sets `a.b.c` in a nested object. */
function setPath(target: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let o = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    if (!isObj(o[p])) o[p] = {};
    o = o[p] as Obj;
  }
  o[parts[parts.length - 1]!] = value;
}

/** Deep merge of `src` into `dst` (objects merged, everything else replaced). Dotted keys are expanded. */
function mergeInto(dst: Obj, src: Obj): void {
  for (const [k, v] of Object.entries(src)) {
    if (k.includes(".")) {
      const wrapped: Obj = {};
      setPath(wrapped, k, v);
      mergeInto(dst, wrapped);
    } else if (isObj(v)) {
      if (!isObj(dst[k])) dst[k] = {};
      mergeInto(dst[k] as Obj, v);
    } else {
      dst[k] = v;
    }
  }
}

/** The ros__parameters that apply to node `name` in namespace `ns`, in precedence order. */
function nodeParameters(doc: unknown, name: string, ns: string, file: string): Obj[] {
  if (!isObj(doc))
    throw new ConfigError(
      `${file}: a ROS params file is a map of node names, found ${Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  const nsName = `${ns === "/" ? "" : ns}/${name}`;
  const order = ["/**", "**", name, `/${name}`, nsName, `/**/${name}`];
  const found: Obj[] = [];
  const keys = Object.keys(doc);
  for (const key of order) {
    if (!keys.includes(key)) continue;
    const entry = doc[key];
    if (!isObj(entry) || !isObj(entry.ros__parameters)) {
      throw new ConfigError(`${file}: '${key}' has no 'ros__parameters' map`);
    }
    found.push(entry.ros__parameters);
  }
  if (found.length === 0) {
    throw new ConfigError(
      `${file}: no parameters for node '${name}' (expected a '${name}:' or '/**:' entry with ros__parameters; found ${keys.join(", ") || "nothing"})`,
    );
  }
  return found;
}

/** ROS-level parameters that are not part of our schema. */
const ROS_STANDARD = new Set(["use_sim_time", "qos_overrides", "start_type_description_service"]);

/** Parameters object (our schema + ROS standard ones) → Config; errors name the key and the file. */
export function configFromRosParameters(params: Obj, source: string): Config {
  const ours: Obj = {};
  let useSimTime: unknown;
  for (const [k, v] of Object.entries(params)) {
    if (k === "use_sim_time") useSimTime = v;
    else if (!ROS_STANDARD.has(k)) ours[k] = v;
  }
  if (useSimTime !== undefined) {
    if (typeof useSimTime !== "boolean")
      throw new ConfigError(`${source}: use_sim_time: expected a boolean, got ${JSON.stringify(useSimTime)}`);
    mergeInto(ours, { ros: { useSimTime } });
  }
  return configFromObject(ours, source);
}

/**
 * The node's Config from `--ros-args` (params files, then `-p` overrides) and an optional plain
 * `--config` file underneath them.
 */
export function configFromRosArgs(
  args: RosArgs,
  opts: { configFile?: string; nodeName?: string; namespace?: string } = {},
): Config {
  const merged: Obj = {};
  const sources: string[] = [];
  if (opts.configFile) {
    let text: string;
    try {
      text = readFileSync(opts.configFile, "utf8");
    } catch (err) {
      throw new ConfigError(
        `cannot read config ${opts.configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const doc = parseYamlFile(text, opts.configFile);
    // A plain config or a params file, both work.
    const hasNodes = isObj(doc) && Object.values(doc).some((v) => isObj(v) && "ros__parameters" in v);
    if (hasNodes)
      for (const p of nodeParameters(
        doc,
        opts.nodeName ?? "terrain_learner",
        opts.namespace ?? "/",
        opts.configFile,
      ))
        mergeInto(merged, p);
    else if (isObj(doc)) mergeInto(merged, doc);
    sources.push(opts.configFile);
  }
  // The node name may be remapped on the command line (`-r __node:=other`).
  const nodeName =
    args.remaps.find(([f]) => f === "__node" || f === "__name")?.[1] ?? opts.nodeName ?? "terrain_learner";
  const namespace = args.remaps.find(([f]) => f === "__ns")?.[1] ?? opts.namespace ?? "/";
  for (const file of args.paramsFiles) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(
        `cannot read params file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    for (const p of nodeParameters(parseYamlFile(text, file), nodeName, namespace, file))
      mergeInto(merged, p);
    sources.push(file);
  }
  for (const [name, value] of args.params) {
    let v: unknown;
    try {
      v = parseYaml(value);
    } catch {
      v = value;
    }
    mergeInto(merged, { [name]: v });
    sources.push(`-p ${name}`);
  }
  return configFromRosParameters(merged, sources.length ? sources.join(" + ") : "defaults");
}

function parseYamlFile(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}
