// ROS 2 params files and plain config files as one format. A params file nests parameters under
// `<node>: ros__parameters:`; a plain file has the same keys at the top. Both allow nested maps and
// dotted keys (`mqtt.url: ...`, which rcl reads as the nested form; `ros2 param dump` writes nested
// maps). ROS's standard node parameters (use_sim_time is part of our schema; qos_overrides,
// start_type_description_service are rcl's) are accepted in either form, so one file serves the
// node (`--params-file`) and the CLI (`--config`).
// Which entries apply, and in which order, follows rcl_yaml_param_parser and rclcpp (Humble and later):
// node names with `*`/`**` wildcards matched against the node's fully qualified name, one store of
// entries for all files and `-p` overrides (ParameterStore below).

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

/**
 * Deep merge of `src` into `dst` (maps merged, everything else replaced); dotted keys are expanded.
 * An empty `topics.*` value is no value: a topic name is never empty, and it is what the launch files
 * pass for a topic argument left out, so the params file's topic stands.
 */
export function mergeInto(dst: Obj, src: Obj, path = ""): void {
  for (const [k, v] of Object.entries(src)) {
    if (k.includes(".")) {
      const wrapped: Obj = {};
      setPath(wrapped, k, v);
      mergeInto(dst, wrapped, path);
    } else if (isObj(v)) {
      if (!isObj(dst[k])) dst[k] = {};
      mergeInto(dst[k] as Obj, v, `${path}${k}.`);
    } else if (!(v === "" && path === "topics.")) {
      dst[k] = v;
    }
  }
}

export function parseYamlText(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `${file}: not valid YAML: ${(err as Error).message.split("\n")[0]?.replace(/:$/, "")}`,
    );
  }
}

/** Whether `v` is, or holds, a node entry (a map with `ros__parameters`). */
function holdsNodeEntry(v: unknown): boolean {
  return isObj(v) && ("ros__parameters" in v || Object.values(v).some(holdsNodeEntry));
}

/** Whether a parsed document is a ROS params file (node names, possibly nested, over `ros__parameters`). */
export function isParamsFile(doc: unknown): doc is Obj {
  return isObj(doc) && Object.values(doc).some(holdsNodeEntry);
}

/** A node as rcl names it: the name and namespace after remapping. */
export interface NodeId {
  name: string;
  namespace: string;
}

/** The node's fully qualified name, `/<namespace>/<name>` (`/<name>` in the root namespace). */
export function fullyQualifiedName(node: NodeId): string {
  return `${node.namespace.replace(/\/+$/, "")}/${node.name}`;
}

/** A name token as rmw validates node names and namespace parts. */
const TOKEN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Throws unless rcl's params-file parser accepts `key` as a node name: `/`-separated tokens, where
 * `*` stands for exactly one whole token and `**` for any number of them. A partial wildcard such as
 * `terrain_*` is an invalid node name to rcl, which then refuses the whole file.
 */
function checkNodeKey(key: string, file: string): void {
  const parts = (key.startsWith("/") ? key.slice(1) : key).split("/");
  for (const part of parts) {
    if (part === "*" || part === "**" || TOKEN.test(part)) continue;
    const why = part.includes("*")
      ? "'*' and '**' stand for whole names between slashes only (rcl accepts no partial match)"
      : part === ""
        ? "an empty name (repeated, leading or trailing '/')"
        : "names are letters, digits and '_', not starting with a digit";
    throw new ConfigError(
      `${file}: node name '${key}' is not valid in a ROS params file at '${part}': ${why}`,
    );
  }
}

/**
 * Whether the params-file entry `key` applies to `node`. rclcpp reads a relative key as absolute
 * (`terrain_learner` is `/terrain_learner`) and matches the node's fully qualified name against it,
 * `/*` matching one `/token` and `/**` any number. One deliberate difference: the bare node name
 * (`terrain_learner:`, what launch/params.yaml and `label --stats` write) applies in every namespace,
 * so those files keep working under `namespace:=robot1`; rclcpp would read it for the root namespace
 * only. An absolute `/terrain_learner:` is taken as rcl takes it.
 */
export function appliesTo(key: string, node: NodeId): boolean {
  if (key === node.name) return true;
  const parts = (key.startsWith("/") ? key.slice(1) : key).split("/");
  const pattern = parts.map((p) => (p === "**" ? "(?:/\\w+)*" : p === "*" ? "/\\w+" : `/${p}`)).join("");
  return new RegExp(`^${pattern}$`).test(fullyQualifiedName(node));
}

/**
 * The node entries of a params file in file order, as `[node key, ros__parameters]`. Node names may
 * nest (`robot1: {terrain_learner: {ros__parameters: ...}}` is `robot1/terrain_learner`), as in rcl;
 * anything else above `ros__parameters` is an error there and here.
 */
export function nodeEntries(doc: unknown, file: string): [string, Obj][] {
  if (!isObj(doc))
    throw new ConfigError(
      `${file}: a ROS params file is a map of node names, found ${doc === null || doc === undefined ? "nothing" : Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  const entries: [string, Obj][] = [];
  const walk = (map: Obj, path: string): void => {
    for (const [k, v] of Object.entries(map)) {
      if (k === "ros__parameters") {
        if (!path) throw new ConfigError(`${file}: 'ros__parameters' needs a node name above it`);
        if (!isObj(v)) throw new ConfigError(`${file}: '${path}' has no 'ros__parameters' map`);
        checkNodeKey(path, file);
        entries.push([path, v]);
      } else if (isObj(v)) {
        walk(v, path ? `${path}/${k}` : k);
      } else {
        const at = path ? `${path}/${k}` : k;
        throw new ConfigError(
          `${file}: '${at}' is a value outside ros__parameters (expected node names over ros__parameters)`,
        );
      }
    }
  };
  walk(doc, "");
  return entries;
}

/**
 * rcl's store of parameter overrides (`rcl_params_t`): one entry per node key, in the order keys first
 * appear across all `--params-file`s and `-p`s; a key seen again updates its entry in place, where it
 * first appeared. rclcpp then applies every entry that matches the node in that order, later entries
 * winning parameter by parameter. So a file's wildcard and exact entries combine in file order, and a
 * later file wins, except where it repeats a key an earlier file already placed before another
 * matching entry (that entry still comes later).
 */
export type ParameterStore = Map<string, Obj>;

/** The store's entry for `key`, created at the end if new. */
export function storeEntry(store: ParameterStore, key: string): Obj {
  let entry = store.get(key);
  if (!entry) {
    entry = {};
    store.set(key, entry);
  }
  return entry;
}

/**
 * A params file's entries added to `store`. The file must have an entry for `node`: a file that
 * configures other nodes only is a mistake here (rcl would skip it silently).
 */
export function addParamsFile(store: ParameterStore, doc: unknown, file: string, node: NodeId): void {
  const entries = nodeEntries(doc, file);
  if (!entries.some(([key]) => appliesTo(key, node))) {
    const where = node.namespace.replace(/\/+$/, "") ? ` in namespace '${node.namespace}'` : "";
    const found = entries.map(([key]) => key).join(", ") || Object.keys(doc as Obj).join(", ");
    throw new ConfigError(
      `${file}: no parameters for node '${node.name}'${where} (expected a '${node.name}:', '${fullyQualifiedName(node)}:' or wildcard entry such as '/**:' with ros__parameters; found ${found || "nothing"})`,
    );
  }
  for (const [key, params] of entries) mergeInto(storeEntry(store, key), params);
}

/** The parameters `store` gives `node`: its matching entries merged in store order. */
export function parametersFor(store: ParameterStore, node: NodeId): Obj {
  const out: Obj = {};
  for (const [key, params] of store) if (appliesTo(key, node)) mergeInto(out, params);
  return out;
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
    const id = { name: node.name ?? "terrain_learner", namespace: node.namespace ?? "/" };
    const store: ParameterStore = new Map();
    addParamsFile(store, doc, file, id);
    mergeInto(into, parametersFor(store, id));
  } else if (isObj(doc)) {
    mergeInto(into, doc);
  } else {
    throw new ConfigError(
      `${file}: expected a map of parameters, found ${Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  }
  for (const k of ROS_STANDARD_PARAMETERS) delete into[k];
}
