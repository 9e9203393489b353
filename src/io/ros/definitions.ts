// Message definitions for the ROS types terrain-learner reads and writes, for bags that carry none
// (rosbag2 .db3 files recorded before Iron have no `message_definitions` table) and for writing
// MCAP schemas. The common types come from @foxglove/rosmsg-msgs-common; the few it lacks are
// declared here in .msg syntax.

import type { MessageDefinition } from "@foxglove/message-definition";
import { parse, stringify } from "@foxglove/rosmsg";
import { ros2humble } from "@foxglove/rosmsg-msgs-common";

/** `sensor_msgs/Imu`, `sensor_msgs/msg/Imu` → `sensor_msgs/msg/Imu`. */
export function ros2TypeName(type: string): string {
  const parts = type.split("/");
  if (parts.length === 2) return `${parts[0]}/msg/${parts[1]}`;
  return type;
}

/** `sensor_msgs/msg/Imu` → `sensor_msgs/Imu` (the key form of the definition tables). */
export function shortTypeName(type: string): string {
  const parts = type.split("/");
  if (parts.length === 3) return `${parts[0]}/${parts[2]}`;
  return type;
}

const TIME: MessageDefinition = {
  name: "builtin_interfaces/Time",
  definitions: [
    { name: "sec", type: "int32", isComplex: false, isArray: false },
    { name: "nanosec", type: "uint32", isComplex: false, isArray: false },
  ],
};
const DURATION: MessageDefinition = { ...TIME, name: "builtin_interfaces/Duration" };

// Types missing from @foxglove/rosmsg-msgs-common that our outputs use, in .msg syntax. Each is
// parsed together with the std_msgs/Header text so that its references resolve.
const EXTRA_MSG: Record<string, string> = {
  "nav2_msgs/SpeedLimit": "std_msgs/Header header\nbool percentage\nfloat64 speed_limit",
  // The learner's state as one plottable message (the live view's `learner` topic; not a ROS interface).
  "terrain_learner_msgs/LearnerStats": [
    "std_msgs/Header header",
    "float64 sensor_seconds",
    "uint32 frames_processed",
    "uint32 frames_dropped",
    "uint32 keyframes",
    "uint32 labels",
    "uint32 samples",
    "uint32 train_steps",
    "uint32 buffer_size",
    "float32 loss",
    "float32 rho",
    "float32 frame_ms",
    "float32 roughness_ahead",
    "float32 speed_limit",
    "bool learning",
    "string backend",
  ].join("\n"),
};
const HEADER_MSG = "MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n";

function extraDefinition(name: string, text: string): MessageDefinition {
  const [root] = parse(`${text}\n${"=".repeat(80)}\n${HEADER_MSG}`, { ros2: true });
  return { ...root!, name };
}

/**
 * The common definitions with ROS 2's real Time/Duration message types instead of the ROS 1
 * `time`/`duration` primitives: schemas we write then read like the ones rosbag2 writes, and the
 * CDR bytes are the same either way (int32 sec, uint32 nanosec).
 */
const TABLE: Map<string, MessageDefinition> = (() => {
  const table = new Map<string, MessageDefinition>();
  const upgrade = (def: MessageDefinition): MessageDefinition => ({
    ...def,
    definitions: def.definitions.map((f) =>
      f.type === "time" || f.type === "duration"
        ? { ...f, type: f.type === "time" ? TIME.name! : DURATION.name!, isComplex: true }
        : f,
    ),
  });
  for (const [name, def] of Object.entries(ros2humble as Record<string, MessageDefinition>)) {
    table.set(name, upgrade({ ...def, name }));
  }
  table.set(TIME.name!, TIME);
  table.set(DURATION.name!, DURATION);
  for (const [name, text] of Object.entries(EXTRA_MSG)) table.set(name, upgrade(extraDefinition(name, text)));
  return table;
})();

export function hasDefinition(type: string): boolean {
  return TABLE.has(shortTypeName(type));
}

/**
 * The root definition of `type` followed by every type it depends on, the order that
 * @foxglove/rosmsg2-serialization's MessageReader/MessageWriter and MCAP `ros2msg` schemas use.
 * Throws for an unknown type.
 */
export function definitionsFor(type: string): MessageDefinition[] {
  const rootName = shortTypeName(type);
  const root = TABLE.get(rootName);
  if (!root) throw new Error(`no built-in message definition for ${ros2TypeName(type)}`);
  const out: MessageDefinition[] = [root];
  const seen = new Set([rootName]);
  for (let i = 0; i < out.length; i++) {
    for (const field of out[i]!.definitions) {
      if (!field.isComplex || seen.has(field.type)) continue;
      const dep = TABLE.get(field.type);
      if (!dep) throw new Error(`message definition ${ros2TypeName(type)} needs unknown type ${field.type}`);
      seen.add(field.type);
      out.push(dep);
    }
  }
  return out;
}

/** The `ros2msg` schema text for `type` (root fields, then `MSG: pkg/Type` sections). */
export function schemaTextFor(type: string): string {
  return stringify(definitionsFor(type));
}
