// `--ros-args` for the live node, parsed by us so that the one config schema (src/runtime/config.ts)
// validates a ROS params file before any ROS library is loaded: a typo in a params file on a robot
// fails at start with the key named, whether or not ROS 2 is installed.
//
// Supported: `--params-file FILE` (repeatable), `-p|--param [node:]name:=value` (dotted names, YAML
// values), `-r|--remap [node:]from:=to` (rcl applies remappings itself; we read `__node`/`__name` and
// `__ns` to know the node's name), `--log-level`, `-e|--enclave`. As in rcl, a `node:` prefix limits a
// rule to that node: a remap prefix is matched against the node's name in code (`__ns` rules against
// the name after any `__node` rule), a `-p` prefix against the node's (remapped) name.
// Params files and `-p` overrides are read as rcl reads them (src/runtime/params-file.ts): in
// command-line order into one store of node entries (`-p name:=value` into the `/**` entry), then
// every entry matching the node (`/**`, `/robot1/*`, `/**/terrain_learner`, `terrain_learner`, ...)
// applied in store order.

import { readFileSync } from "node:fs";
import { isScalar, LineCounter, parseDocument, parse as parseYaml, visit } from "yaml";
import {
  type Config,
  ConfigError,
  ConfigSchema,
  readConfigDocument,
  validateParameters,
} from "../runtime/config.ts";
import {
  addParamsFile,
  appliesTo,
  isObj,
  isParamsFile,
  mergeDocument,
  mergeInto,
  type NodeId,
  type Obj,
  type ParameterStore,
  parametersFor,
  ROS_STANDARD_PARAMETERS,
  storeEntry,
} from "../runtime/params-file.ts";
import { describeParameters } from "../runtime/params-yaml.ts";

export interface RosArgs {
  paramsFiles: string[];
  /** `-p name:=value`, in order. */
  params: [string, string][];
  remaps: [string, string][];
  /** `--params-file` and `-p`, interleaved in command-line order (the order rcl reads them in). */
  parameterSources: ({ file: string } | { param: [string, string] })[];
  logLevel: string | undefined;
  /** Arguments before `--ros-args` (and after a closing `--`). */
  other: string[];
}

export function parseRosArgs(argv: readonly string[]): RosArgs {
  const out: RosArgs = {
    paramsFiles: [],
    params: [],
    remaps: [],
    parameterSources: [],
    logLevel: undefined,
    other: [],
  };
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
      case "--params-file": {
        const file = next();
        out.paramsFiles.push(file);
        out.parameterSources.push({ file });
        break;
      }
      case "-p":
      case "--param": {
        const param = pair(next());
        const name = splitNodePrefix(param[0])[1];
        if (name.includes(":"))
          throw new ConfigError(
            `--ros-args: ${a} ${param[0]}:=${param[1]}: expects [node:]name:=value, the node a plain name (terrain_learner:outputs.max_speed:=1.0)`,
          );
        out.params.push(param);
        out.parameterSources.push({ param });
        break;
      }
      case "-r":
      case "--remap": {
        const rule = pair(next());
        checkNameRemap(a, rule);
        out.remaps.push(rule);
        break;
      }
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

/** `node:rest` → `["node", "rest"]`; no prefix → `[undefined, whole]` (`rostopic://` is not one). */
function splitNodePrefix(lhs: string): [string | undefined, string] {
  const m = /^([A-Za-z0-9_]+):(?!\/\/)(.+)$/s.exec(lhs);
  return m ? [m[1], m[2]!] : [undefined, lhs];
}

/** rcl refuses the whole command line for a `__node` or `__ns` rule it cannot use. */
function checkNameRemap(flag: string, [lhs, to]: [string, string]): void {
  const from = splitNodePrefix(lhs)[1];
  if ((from === "__node" || from === "__name") && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(to))
    throw new ConfigError(`--ros-args: ${flag} ${lhs}:=${to}: a node name is letters, digits and '_'`);
  if (from === "__ns" && !to.startsWith("/"))
    throw new ConfigError(`--ros-args: ${flag} ${lhs}:=${to}: the namespace must be absolute ('/${to}')`);
}

/**
 * The node's name and namespace after the `__node` and `__ns` remaps, as rcl_node_init resolves them:
 * for each, the first rule without a node prefix or with the node's prefix wins; the name rule is
 * matched against the name in code, the namespace rule against the name after remapping.
 */
export function remappedNode(
  remaps: readonly [string, string][],
  node: NodeId,
): NodeId & { renamed: boolean } {
  const rules = remaps.map(([lhs, to]) => [...splitNodePrefix(lhs), to] as const);
  const nameRule = rules.find(
    ([prefix, from]) => (from === "__node" || from === "__name") && (prefix ?? node.name) === node.name,
  );
  const name = nameRule?.[2] ?? node.name;
  const nsRule = rules.find(([prefix, from]) => from === "__ns" && (prefix ?? name) === name);
  return { name, namespace: nsRule?.[2] ?? node.namespace, renamed: nameRule !== undefined };
}

/**
 * The node's Config from `--config` files (plain or params files) underneath `--ros-args` (params
 * files and `-p` overrides, read as rcl reads them), later sources winning key by key.
 */
export function configFromRosArgs(
  args: RosArgs,
  opts: { configFiles?: readonly string[]; nodeName?: string; namespace?: string } = {},
): Config {
  const node = remappedNode(args.remaps, {
    name: opts.nodeName ?? "terrain_learner",
    namespace: opts.namespace || "/",
  });
  const merged: Obj = {};
  const sources: string[] = [];
  for (const file of opts.configFiles ?? []) {
    mergeDocument(merged, readConfigDocument(file), file, node);
    sources.push(file);
  }
  const store: ParameterStore = new Map();
  for (const source of args.parameterSources) {
    if ("file" in source) {
      const doc = readConfigDocument(source.file, "params file");
      // `--params-file` takes ROS params files only, as in rcl (a plain map is for --config).
      if (isObj(doc) && !isParamsFile(doc))
        throw new ConfigError(
          `${source.file}: not a ROS params file (no '<node>: ros__parameters:' entry); plain maps go to --config`,
        );
      checkRclReadable(source.file);
      addParamsFile(store, doc, source.file, node);
      sources.push(source.file);
    } else {
      // `-p name:=value` goes to the `/**` entry, `-p node:name:=value` to the `node` entry.
      const [lhs, value] = source.param;
      const [prefix, param] = splitNodePrefix(lhs);
      const key = prefix ?? "/**";
      mergeInto(storeEntry(store, key), { [param]: yamlValue(value) });
      if (appliesTo(key, node)) sources.push(`-p ${lhs}`);
    }
  }
  mergeInto(merged, parametersFor(store, node));
  for (const k of ROS_STANDARD_PARAMETERS) delete merged[k];
  const config = validateParameters(merged, sources.length ? sources.join(" + ") : "defaults");
  // One node name: the remap is how ROS names a node, and it wins over ros.node_name as rcl's
  // remapping wins over the name in code; `~/` topics, the live view and the recorder follow it.
  if (node.renamed) config.ros.node_name = node.name;
  return config;
}

/**
 * Throws for what rcl_yaml_param_parser refuses in a params file that YAML, and so our reader,
 * accepts: an alias (`*name`) and a key without a value (`base_height:`). rcl parses every
 * `--params-file` itself when the node starts, and would stop it there with its own message.
 */
function checkRclReadable(file: string): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return; // readConfigDocument has said why
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  let problem: string | undefined;
  const at = (offset: number | undefined) => `line ${lines.linePos(offset ?? 0).line}`;
  visit(doc, {
    Alias(_, alias) {
      problem = `${at(alias.range?.[0])}: rcl reads no YAML aliases (*${alias.source}): write the value out`;
      return visit.BREAK;
    },
    Pair(_, pair) {
      const v = pair.value;
      if (isScalar(v) && v.type === "PLAIN" && v.source === "" && isScalar(pair.key)) {
        problem = `${at(v.range?.[0])}: ${String(pair.key.value)} has no value, which rcl refuses: write one (null, "" or a value)`;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (problem) throw new ConfigError(`${file}: ${problem} (the node would not start)`);
}

/** A `-p` value as rcl reads it: YAML (a string when it does not parse). */
function yamlValue(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

export type NodeParameterKind = "bool" | "integer" | "double" | "string" | "string_array" | "double_array";

/** One parameter as the live node declares it (read-only) for `ros2 param list|get|describe|dump`. */
export interface NodeParameter {
  /** Dotted name, e.g. `outputs.max_speed`. */
  name: string;
  kind: NodeParameterKind;
  value: boolean | number | string | string[] | number[];
  /** `[unit] description`, as in launch/params.yaml. */
  description: string;
}

/**
 * Every parameter of `config` with its ROS type (from the schema: an integer key is an integer, any
 * other number a double, whatever its value). Left out: `use_sim_time` (rclnodejs declares it
 * itself) and parameters without a value (`frames.base_height: null`): ROS has no "none" value.
 */
export function nodeParameters(config: Config): NodeParameter[] {
  const out: NodeParameter[] = [];
  for (const p of describeParameters(ConfigSchema, config).params) {
    if (p.path === "use_sim_time" || p.value === null || p.value === undefined) continue;
    const v = p.value;
    let kind: NodeParameterKind;
    if (typeof v === "boolean") kind = "bool";
    else if (typeof v === "number") kind = p.integer ? "integer" : "double";
    else if (typeof v === "string") kind = "string";
    else if (Array.isArray(v) && v.every((x) => typeof x === "string")) kind = "string_array";
    else if (Array.isArray(v) && v.every((x) => typeof x === "number")) kind = "double_array";
    else throw new Error(`parameter ${p.path}: no ROS parameter type for ${JSON.stringify(v)}`);
    const unit = p.unit ? `[${p.unit}] ` : "";
    out.push({
      name: p.path,
      kind,
      value: v as NodeParameter["value"],
      description: `${unit}${p.description ?? ""}`,
    });
  }
  return out;
}
