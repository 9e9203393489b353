// ROS 2 params files and plain config files as one format. A params file nests parameters under
// `<node>: ros__parameters:`; a plain file has the same keys at the top. Both allow nested maps and
// dotted keys (`mqtt.url: ...`, the form `ros2 param dump` writes). ROS's standard node parameters
// (use_sim_time is part of our schema; qos_overrides, start_type_description_service are rcl's) are
// accepted in either form, so one file serves the node (`--params-file`) and the CLI (`--config`).

import { parse as parseYaml } from "yaml";

export type Obj = Record<string, unknown>;

/** Standard parameters every rclcpp node declares, which are not ours to validate (rcl reads them). */
export const ROS_STANDARD_PARAMETERS = new Set(["qos_overrides", "start_type_description_service"]);

/** A config or params file that cannot be used; the message names the file and the key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export function isObj(v: unknown): v is Obj {
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

/** Deep merge of `src` into `dst` (maps merged, everything else replaced); dotted keys are expanded. */
export function mergeInto(dst: Obj, src: Obj): void {
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

export function parseYamlText(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

/** Whether a parsed document is a ROS params file (a map of node names to `ros__parameters`). */
export function isParamsFile(doc: unknown): doc is Obj {
  return isObj(doc) && Object.values(doc).some((v) => isObj(v) && "ros__parameters" in v);
}

/**
 * The `ros__parameters` maps of a params file that apply to node `name` in namespace `ns`, in file
 * order (rclcpp applies matching entries in file order, later ones win): `/**`, `**`, `name`,
 * `/name`, `/ns/name` and `/**\/name`.
 */
export function nodeParameters(doc: unknown, name: string, ns: string, file: string): Obj[] {
  if (!isObj(doc))
    throw new ConfigError(
      `${file}: a ROS params file is a map of node names, found ${Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  const nsName = `${ns === "/" || ns === "" ? "" : ns.replace(/\/+$/, "")}/${name}`;
  const matching = new Set(["/**", "**", name, `/${name}`, nsName, `/**/${name}`]);
  const found: Obj[] = [];
  const keys = Object.keys(doc);
  for (const key of keys) {
    if (!matching.has(key)) continue;
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

/**
 * A parsed config document (params file or plain) merged into `into`: the node's entries of a
 * params file, or the whole plain map. ROS standard parameters other than ours are dropped.
 */
export function mergeDocument(
  into: Obj,
  doc: unknown,
  file: string,
  node: { name?: string; namespace?: string } = {},
): void {
  if (doc === null || doc === undefined) return;
  if (isParamsFile(doc)) {
    for (const p of nodeParameters(doc, node.name ?? "terrain_learner", node.namespace ?? "/", file))
      mergeInto(into, p);
  } else if (isObj(doc)) {
    mergeInto(into, doc);
  } else {
    throw new ConfigError(
      `${file}: expected a map of parameters, found ${Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  }
  for (const k of ROS_STANDARD_PARAMETERS) delete into[k];
}
