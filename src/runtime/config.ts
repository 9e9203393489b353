// One configuration schema for every entry point (replay, sim-driven main job, live ROS 2 node,
// serial runner). It reads plain YAML/JSON or a ROS 2 params file
// (`terrain_learner: ros__parameters: {...}`), so the file a robot integrator passes with
// `--ros-args --params-file` is the same file a researcher passes to `replay --config`.
//
// Every section has defaults that work on the bundled simulator worlds; an unknown key is an error
// that names it (a typo in a params file must not be silently ignored on a robot).

import { readFileSync } from "node:fs";
import { z } from "zod";
import { readErrorText } from "../core/read-error.ts";
import { ConfigError, mergeDocument, type Obj, parseYamlText } from "./params-file.ts";

export { ConfigError } from "./params-file.ts";

import { FleetSchema } from "../fleet/config.ts";
import { LearnerSchema } from "../learning/config.ts";

export { LearnerSchema };

import { LiveViewSchema, MqttSchema, RosSchema, SerialSchema } from "./config-adapters.ts";
import { FramesSchema, FusionSchema, KeyframesSchema, TopicsSchema } from "./config-inputs.ts";
import { AssociationSchema, LabellerSchema } from "./config-labels.ts";
import { OutputsSchema } from "./config-outputs.ts";

export { LiveViewSchema, MqttSchema, RosSchema, SerialSchema } from "./config-adapters.ts";
export { FramesSchema, FusionSchema, KeyframesSchema, TopicsSchema } from "./config-inputs.ts";
export { AssociationSchema, LabellerSchema } from "./config-labels.ts";
export { OutputsSchema } from "./config-outputs.ts";

export const ConfigSchema = z.strictObject({
  /** The standard ROS parameter, in the same place as in any ROS 2 params file. */
  use_sim_time: z
    .boolean()
    .default(false)
    .meta({ description: "use /clock (bag playback, simulation) instead of the wall clock" }),
  topics: TopicsSchema.meta({ description: "Input topics (the launch files' *_topic arguments set them)" }),
  frames: FramesSchema.meta({ description: "Frames (REP-105)" }),
  fusion: FusionSchema.meta({ description: "Merging the input streams in stamp order" }),
  keyframes: KeyframesSchema.meta({ description: "Camera frames kept for association with later labels" }),
  labeler: LabellerSchema.meta({
    description: "Vibration labels: one roughness label per ground step driven",
  }),
  association: AssociationSchema.meta({ description: "Which keyframe cells a label teaches about" }),
  learner: LearnerSchema.meta({ description: "Backbone (ONNX) and the online head (tfjs)" }),
  outputs: OutputsSchema.meta({ description: "Costmap, roughness ahead, speed limit, overlay" }),
  mqtt: MqttSchema.meta({ description: "Fleet telemetry over MQTT" }),
  fleet: FleetSchema.meta({ description: "Sharing training samples with peer robots over MQTT (--fleet)" }),
  serial: SerialSchema.meta({ description: "Serial IMU / odometry (terrain-learner run only)" }),
  ros: RosSchema.meta({ description: "The ROS 2 node" }),
  live_view: LiveViewSchema.meta({ description: "Foxglove WebSocket live view (--live-view)" }),
});

export type Config = z.infer<typeof ConfigSchema>;
export type LabellerConfig = Config["labeler"];
export type { LearnerConfig } from "../learning/config.ts";

/**
 * Validates parameters given as a plain map or a whole ROS params file (the `terrain_learner` and
 * `/**` entries apply); errors name the key path (`labeler.band_high: ...`).
 */
export function configFromObject(input: unknown, source = "config"): Config {
  const params: Obj = {};
  mergeDocument(params, input ?? {}, source);
  return validateParameters(params, source);
}

/** Validates merged parameters against the schema (defaults fill the rest). */
export function validateParameters(params: Obj, source: string): Config {
  const result = ConfigSchema.safeParse(params);
  if (!result.success) {
    const lastParamKey = /(?:^| \+ )-p (?:[A-Za-z0-9_]+:)?(\S+)$/.exec(source)?.[1];
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join(".");
      if (issue.code === "unrecognized_keys") {
        const keys = issue.keys
          .map((k) => {
            const full = path ? `${path}.${k}` : k;
            const ros = rosStyleKey(k);
            return ros !== k && knownKey(issue.path, ros)
              ? `${full} (parameters are ROS-style: ${ros})`
              : full;
          })
          .join(", ");
        return `unknown key ${keys}`;
      }
      // One problem, in the key the last source `-p key:=value` (which set it) names: say it once.
      if (result.error.issues.length === 1 && path === lastParamKey) return issue.message;
      return `${path || "(root)"}: ${issue.message}`;
    });
    throw new ConfigError(`${source}: ${lines.join("; ")}`);
  }
  return result.data;
}

/** A key as the parameters spell it: `stepLength` → `step_length`, British → US spelling. */
function rosStyleKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace("labeller", "labeler")
    .replace("neighbour", "neighbor");
}

/** Whether the defaults have `key` in the section at `path`. */
function knownKey(path: readonly PropertyKey[], key: string): boolean {
  let node: unknown = defaultConfig();
  for (const p of path) node = (node as Record<PropertyKey, unknown> | undefined)?.[p];
  return typeof node === "object" && node !== null && key in node;
}

/** Defaults for everything. */
export function defaultConfig(): Config {
  return configFromObject({});
}

/** Reads and parses one YAML (or JSON) file; errors name the file. */
export function readConfigDocument(path: string, what = "config"): unknown {
  if (path.trim() === "") throw new ConfigError(`the ${what} path is empty (expected a YAML file)`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${readErrorText(err)}`);
  }
  return parseYamlText(text, path);
}

/**
 * Reads config files (plain YAML/JSON or ROS 2 params files, in any mix), later files overriding
 * earlier ones key by key, as `--params-file` does; no path → defaults.
 */
export function loadConfig(paths?: string | readonly string[]): Config {
  const list = paths === undefined ? [] : typeof paths === "string" ? [paths] : paths;
  const params: Obj = {};
  for (const path of list) mergeDocument(params, readConfigDocument(path), path);
  return validateParameters(params, list.length ? list.join(" + ") : "defaults");
}
