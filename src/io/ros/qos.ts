// QoS profiles of the node's topics, as data: the live node builds rclnodejs QoS objects from them
// and the recorder writes the same profiles into a bag's `offered_qos_profiles`, so that
// `ros2 bag play` offers a recorded topic the way the node published it (a transient-local costmap
// reaches Nav2's StaticLayer with `map_subscribe_transient_local: true` only if the bag says so).
//
// History is always keep-last; deadline, lifespan and liveliness stay at the ROS defaults.

export type Reliability = "reliable" | "best_effort";
export type Durability = "volatile" | "transient_local";

export interface QosProfile {
  /** Keep-last depth. */
  depth: number;
  reliability: Reliability;
  durability: Durability;
}

/** rclcpp's SensorDataQoS (rmw_qos_profile_sensor_data): best effort, keep last 5, volatile. */
export function sensorDataQos(depth = 5): QosProfile {
  return { depth, reliability: "best_effort", durability: "volatile" };
}

/** tf2_ros's DynamicListenerQoS / DynamicBroadcasterQoS for /tf. */
export const TF_QOS: QosProfile = { depth: 100, reliability: "reliable", durability: "volatile" };

/** tf2_ros's StaticListenerQoS for /tf_static: every static broadcaster's latest message. */
export const TF_STATIC_SUBSCRIBE_QOS: QosProfile = {
  depth: 100,
  reliability: "reliable",
  durability: "transient_local",
};

/** tf2_ros's StaticBroadcasterQoS: what a /tf_static publisher offers. */
export const TF_STATIC_QOS: QosProfile = { depth: 1, reliability: "reliable", durability: "transient_local" };

/**
 * "Latched" outputs (the costmap, the speed limit): a late subscriber gets the latest message, as
 * Nav2's StaticLayer (`map_subscribe_transient_local`) and its speed-limit publishers expect.
 */
export const LATCHED_QOS: QosProfile = { depth: 1, reliability: "reliable", durability: "transient_local" };

/** rclcpp's default publisher QoS (`rclcpp::QoS(10)`): reliable, keep last 10, volatile. */
export const DEFAULT_QOS: QosProfile = { depth: 10, reliability: "reliable", durability: "volatile" };

/**
 * Output images (and their CameraInfo): `ros.output_image_reliability`, reliable by default since
 * RViz subscribes reliable and receives nothing from a best-effort publisher; `best_effort` for a
 * weak link, so that a slow viewer does not hold the publisher back.
 */
export function outputImageQos(reliability: Reliability): QosProfile {
  return { depth: 5, reliability, durability: "volatile" };
}

// rmw enum values (rmw/types.h), which rosbag2 metadata version <= 8 writes as integers.
const HISTORY_KEEP_LAST = 1;
const RELIABILITY: Record<Reliability, number> = { reliable: 1, best_effort: 2 };
const DURABILITY: Record<Durability, number> = { transient_local: 1, volatile: 2 };
const LIVELINESS_AUTOMATIC = 1;
/** RMW_DURATION_INFINITE as rosbag2 writes it. */
const INFINITE = ["    sec: 2147483647", "    nsec: 4294967295"];

/**
 * rosbag2's `offered_qos_profiles` YAML (a list of profiles) in the integer form of metadata version
 * 8, which every distro reads (Humble only reads this form; newer ones read it when the bag's
 * `rosbag2` metadata record has no serialized metadata, see Ros2McapWriter). An empty list is "".
 */
export function offeredQosYaml(profiles: readonly QosProfile[]): string {
  const lines: string[] = [];
  for (const p of profiles) {
    lines.push(
      `- history: ${HISTORY_KEEP_LAST}`,
      `  depth: ${p.depth}`,
      `  reliability: ${RELIABILITY[p.reliability]}`,
      `  durability: ${DURABILITY[p.durability]}`,
      "  deadline:",
      ...INFINITE,
      "  lifespan:",
      ...INFINITE,
      `  liveliness: ${LIVELINESS_AUTOMATIC}`,
      "  liveliness_lease_duration:",
      ...INFINITE,
      "  avoid_ros_namespace_conventions: false",
    );
  }
  return lines.join("\n");
}

/** Readable form for logs and messages: `reliable, transient local, keep last 1`. */
export function describeQos(p: QosProfile): string {
  return `${p.reliability.replace("_", " ")}, ${p.durability.replace("_", " ")}, keep last ${p.depth}`;
}
