// launch/params.yaml, written from the config schema: every parameter with its default, unit and
// one-line description (the `.meta({ unit, description })` of each schema entry), so the file and
// the code cannot disagree. scripts/gen-params.ts writes it; a test fails when they differ.

import { stringify } from "yaml";
import { z } from "zod";
import { ConfigSchema } from "./config.ts";

export interface ParamDoc {
  /** Dotted path, e.g. `labeler.step_length`. */
  path: string;
  value: unknown;
  unit: string | undefined;
  description: string | undefined;
  /** Integer-valued number parameter (written without a decimal point). */
  integer: boolean;
}

interface Meta {
  unit?: string;
  description?: string;
}

/** Meta of a schema and of the schemas it wraps (default, prefault, optional), outermost first. */
function metaOf(schema: z.ZodType): Meta {
  const meta: Meta = {};
  let s: z.ZodType | undefined = schema;
  while (s) {
    const m = z.globalRegistry.get(s) as Meta | undefined;
    meta.unit ??= m?.unit;
    meta.description ??= m?.description;
    const def = s._zod.def as { innerType?: z.ZodType };
    s = def.innerType;
  }
  return meta;
}

/** The schema under default/prefault/optional wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { innerType?: z.ZodType };
    if (!def.innerType) return s;
    s = def.innerType;
  }
}

/** Sections (maps) and parameters of the schema, in schema order, with the defaults of `values`. */
export function describeParameters(
  schema: z.ZodType = ConfigSchema,
  values: unknown = ConfigSchema.parse({}),
): { sections: Map<string, string | undefined>; params: ParamDoc[] } {
  const sections = new Map<string, string | undefined>();
  const params: ParamDoc[] = [];
  const walk = (s: z.ZodType, v: unknown, prefix: string) => {
    const inner = unwrap(s);
    if (inner instanceof z.ZodObject) {
      if (prefix) sections.set(prefix, metaOf(s).description);
      for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
        walk(child, (v as Record<string, unknown>)[key], prefix ? `${prefix}.${key}` : key);
      }
      return;
    }
    const meta = metaOf(s);
    params.push({
      path: prefix,
      value: v,
      unit: meta.unit,
      description: meta.description,
      integer: inner instanceof z.ZodNumber && inner.isInt === true,
    });
  };
  walk(schema, values, "");
  return { sections, params };
}

function scalar(p: ParamDoc): string {
  const v = p.value;
  // A double written as `1.0`: ROS parses `1` as an integer parameter.
  if (typeof v === "number") return p.integer || !Number.isInteger(v) ? String(v) : v.toFixed(1);
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (typeof v === "string" && v === "") return '""';
  return stringify(v).trimEnd();
}

const HEADER = [
  "# Parameters of the terrain_learner node, every one with its default, unit and description.",
  "# A ROS 2 params file (`ros2 launch terrain_learner terrain_learner.launch.xml params_file:=...`,",
  "# `--ros-args --params-file`) that `terrain-learner replay|label|demo|run --config` read too.",
  "# Copy it for your robot and change what differs; a key left out keeps its default. Validation is",
  "# strict: an unknown or misspelt key stops the node at start with the key named.",
  "# Generated from src/runtime/config.ts by `npm run gen:params`: edit the schema, not this file.",
  "# Comments: [unit] description.",
];

/** The params file text. */
export function paramsYaml(): string {
  const { sections, params } = describeParameters();
  const lines = [...HEADER, "terrain_learner:", "  ros__parameters:"];
  const opened = new Set<string>();
  // Comments start in one column per section, as far as the longest `key: value` there needs.
  const entries = params.map((p) => {
    const parts = p.path.split(".");
    const key = parts[parts.length - 1]!;
    const indent = "  ".repeat(parts.length + 1);
    return { p, parts, text: `${indent}${key}: ${scalar(p)}` };
  });
  const groupOf = (parts: string[]) => parts.slice(0, -1).join(".");
  const width = new Map<string, number>();
  for (const e of entries) {
    const g = groupOf(e.parts);
    width.set(g, Math.max(width.get(g) ?? 0, Math.min(e.text.length, 56)));
  }
  for (const e of entries) {
    for (let i = 1; i < e.parts.length; i++) {
      const section = e.parts.slice(0, i).join(".");
      if (opened.has(section)) continue;
      opened.add(section);
      const indent = "  ".repeat(i + 1);
      if (i === 1) lines.push("");
      const description = sections.get(section);
      if (description) lines.push(`${indent}# ${description}`);
      lines.push(`${indent}${e.parts[i - 1]}:`);
    }
    const unit = e.p.unit ? `[${e.p.unit}] ` : "";
    const pad = " ".repeat(Math.max(1, (width.get(groupOf(e.parts)) ?? 0) - e.text.length + 2));
    lines.push(`${e.text}${pad}# ${unit}${e.p.description ?? ""}`);
  }
  return `${lines.join("\n")}\n`;
}
