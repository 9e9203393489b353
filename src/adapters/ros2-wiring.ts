// What the ROS 2 node subscribes to, publishes and serves, and how messages map to pipeline inputs
// and pipeline events map to messages. Pure (no rclnodejs): the node in ros2.ts only creates the
// entities these specs describe and moves messages through these functions, so all of it is tested
// without ROS, with messages decoded from real bags (the same shape rclnodejs delivers).
//
// Topic names: subscriptions use `config.topics` as given (remap them with `-r from:=to` or set the
// parameter); outputs live under the node (`~/roughness/image` → `/<ns>/terrain_learner/roughness/image`),
// diagnostics on the absolute `/diagnostics`, as the aggregator expects.

import type { RoughnessLabel } from "../core/types.ts";
import {
  cameraInfoFromRos,
  compressedFromRos,
  imageFromRos,
  imuFromRos,
  labelMarkersToRos,
  odomFromRos,
  type Rgba,
  transformsFromRos,
} from "../io/ros/convert.ts";
import {
  DEFAULT_QOS,
  LATCHED_QOS,
  outputImageQos,
  type QosProfile,
  sensorDataQos,
  TF_QOS,
  TF_STATIC_SUBSCRIBE_QOS,
} from "../io/ros/qos.ts";
import { lutIndex, ROUGHNESS_LUT } from "../outputs/colormap.ts";
import type { Config } from "../runtime/config.ts";
import type { CoreInput, PredictionEvent } from "../runtime/events.ts";
import {
  OUTPUT_TOPICS,
  type OutputKey,
  outputsToRos,
  type RosOutputOptions,
  rosOutputOptions,
  speedLimitToRos,
} from "../runtime/sinks/ros-outputs.ts";
import type { RuntimeControls } from "./controls.ts";

export type InputKind = "image" | "compressed" | "cameraInfo" | "imu" | "odom" | "tf" | "tfStatic";

export interface SubscriptionSpec {
  kind: InputKind;
  topic: string;
  type: string;
  qos: QosProfile;
}

export type PublisherKey = OutputKey | "labels" | "diagnostics";

export interface PublisherSpec {
  key: PublisherKey;
  topic: string;
  type: string;
  qos: QosProfile;
}

export type ServiceCommand = "save" | "reset" | "pause";

export interface ServiceSpec {
  command: ServiceCommand;
  name: string;
  type: "std_srvs/srv/Trigger" | "std_srvs/srv/SetBool";
}

/** One message to publish. */
export interface Outgoing {
  key: PublisherKey;
  topic: string;
  type: string;
  message: unknown;
}

export interface NodeNames {
  node: string;
  /** "/" or "/robot1". */
  namespace: string;
}

/** ROS name resolution for the forms we use: `~/x` (private), `/x` (absolute), `x` (relative to the namespace). */
export function resolveName(name: string, names: NodeNames): string {
  const ns = names.namespace === "/" || names.namespace === "" ? "" : names.namespace.replace(/\/+$/, "");
  if (name.startsWith("/")) return name;
  if (name === "~") return `${ns}/${names.node}`;
  if (name.startsWith("~/")) return `${ns}/${names.node}/${name.slice(2)}`;
  return `${ns}/${name}`;
}

/**
 * Inputs: sensor streams with the sensor-data profile (best effort accepts both best-effort and
 * reliable publishers), /tf and /tf_static as tf2_ros's listeners subscribe to them.
 */
export function subscriptionSpecs(config: Config): SubscriptionSpec[] {
  const t = config.topics;
  const sensor = sensorDataQos(config.ros.qos_depth);
  const stream = sensorDataQos(config.ros.stream_qos_depth);
  const camera: SubscriptionSpec =
    config.ros.image_transport === "compressed"
      ? {
          kind: "compressed",
          topic: t.compressed_image,
          type: "sensor_msgs/msg/CompressedImage",
          qos: sensor,
        }
      : { kind: "image", topic: t.image, type: "sensor_msgs/msg/Image", qos: sensor };
  return [
    camera,
    { kind: "cameraInfo", topic: t.camera_info, type: "sensor_msgs/msg/CameraInfo", qos: sensor },
    { kind: "imu", topic: t.imu, type: "sensor_msgs/msg/Imu", qos: stream },
    { kind: "odom", topic: t.odom, type: "nav_msgs/msg/Odometry", qos: stream },
    { kind: "tf", topic: t.tf, type: "tf2_msgs/msg/TFMessage", qos: TF_QOS },
    { kind: "tfStatic", topic: t.tf_static, type: "tf2_msgs/msg/TFMessage", qos: TF_STATIC_SUBSCRIBE_QOS },
  ];
}

/**
 * QoS of each output: images and their CameraInfo as `ros.output_image_reliability` says (reliable
 * by default, so RViz receives them); the costmap and the speed limit latched (reliable, transient
 * local, depth 1) for Nav2; the rest reliable.
 */
export function outputQos(key: PublisherKey, config: Config): QosProfile {
  switch (key) {
    case "roughness":
    case "roughnessInfo":
    case "confidence":
    case "overlay":
      return outputImageQos(config.ros.output_image_reliability);
    case "costmap":
    case "speedLimit":
      return LATCHED_QOS;
    case "ahead":
    case "labels":
    case "diagnostics":
      return DEFAULT_QOS;
  }
}

export interface PublisherOptions {
  /** nav2_msgs is not installed: publish the speed limit as std_msgs/Float32. */
  speedLimitFallback: boolean;
}

export function publisherSpecs(config: Config, names: NodeNames, opts: PublisherOptions): PublisherSpec[] {
  const specs: PublisherSpec[] = [];
  for (const key of Object.keys(OUTPUT_TOPICS) as OutputKey[]) {
    if (key === "overlay" && !config.ros.publish_overlay) continue;
    const spec = OUTPUT_TOPICS[key];
    const type = key === "speedLimit" && opts.speedLimitFallback ? "std_msgs/msg/Float32" : spec.type;
    specs.push({
      key,
      topic: resolveName(`~/${spec.topic}`, names),
      type,
      qos: outputQos(key, config),
    });
  }
  specs.push({
    key: "labels",
    topic: resolveName("~/labels", names),
    type: "visualization_msgs/msg/MarkerArray",
    qos: outputQos("labels", config),
  });
  specs.push({
    key: "diagnostics",
    topic: "/diagnostics",
    type: "diagnostic_msgs/msg/DiagnosticArray",
    qos: outputQos("diagnostics", config),
  });
  return specs;
}

export function serviceSpecs(names: NodeNames): ServiceSpec[] {
  return [
    { command: "save", name: resolveName("~/save_checkpoint", names), type: "std_srvs/srv/Trigger" },
    { command: "reset", name: resolveName("~/reset", names), type: "std_srvs/srv/Trigger" },
    { command: "pause", name: resolveName("~/pause_learning", names), type: "std_srvs/srv/SetBool" },
  ];
}

/** A received message → pipeline input. Throws ConversionError for a message that cannot be used. */
export function inputFromRos(kind: InputKind, msg: unknown): CoreInput {
  switch (kind) {
    case "image": {
      // imageFromRos returns a view of packed rgb8/mono8 data; a live frame may wait for the
      // pipeline after the callback returns, so it gets bytes of its own (as it always had).
      const frame = imageFromRos(msg);
      return { kind: "image", frame: { ...frame, data: frame.data.slice() } };
    }
    case "compressed":
      return { kind: "compressed", frame: compressedFromRos(msg) };
    case "cameraInfo":
      return { kind: "cameraInfo", model: cameraInfoFromRos(msg) };
    case "imu":
      return { kind: "imu", sample: imuFromRos(msg) };
    case "odom":
      return { kind: "odom", sample: odomFromRos(msg) };
    case "tf":
      return { kind: "transforms", transforms: transformsFromRos(msg, false) };
    case "tfStatic":
      return { kind: "transforms", transforms: transformsFromRos(msg, true) };
  }
}

/** Std_srvs response for a service call: Trigger → save/reset; SetBool(data) → pause (true) / resume (false). */
export async function serviceResponse(
  command: ServiceCommand,
  request: unknown,
  controls: RuntimeControls,
): Promise<{ success: boolean; message: string }> {
  try {
    switch (command) {
      case "save": {
        const { path } = await controls.save();
        return { success: true, message: `checkpoint saved: ${path}` };
      }
      case "reset":
        controls.reset();
        return { success: true, message: "model reset: buffer and head cleared" };
      case "pause": {
        const data = (request as { data?: unknown } | null)?.data;
        if (typeof data !== "boolean")
          return { success: false, message: "SetBool request without a boolean 'data'" };
        if (data) controls.pause();
        else controls.resume();
        return {
          success: true,
          message: data ? "learning paused (predictions continue)" : "learning resumed",
        };
      }
    }
  } catch (err) {
    return { success: false, message: (err as Error).message };
  }
}

/** Marker colour of a roughness value (the overlay's colour map; grey when unknown). */
export function rgbaOf(roughness: number): Rgba {
  const i = lutIndex(roughness);
  if (i < 0) return { r: 0.5, g: 0.5, b: 0.5, a: 0.8 };
  return {
    r: ROUGHNESS_LUT[3 * i]! / 255,
    g: ROUGHNESS_LUT[3 * i + 1]! / 255,
    b: ROUGHNESS_LUT[3 * i + 2]! / 255,
    a: 0.8,
  };
}

/** Seconds between repeats of the held minimum speed limit. */
export const HOLD_REPEAT_S = 1;

/**
 * Pipeline events → messages for the node's publishers. Stateful only where the outputs are:
 * the costmap is rate-limited (`ros.costmap_rate`, latest wins) and label markers get running ids.
 */
export class OutputMapper {
  private readonly byKey = new Map<PublisherKey, PublisherSpec>();
  private readonly costmapInterval: number;
  private lastCostmap = Number.NEGATIVE_INFINITY;
  private labelCount = 0;
  private readonly rosOptions: RosOutputOptions;
  private readonly minSpeed: number;
  private readonly speedLimitTimeout: number;
  /** Clock time of the last prediction (the mapper's creation before the first). */
  private lastPrediction: number;
  private holdingMinSpeed = false;
  /** Clock time the held minimum was last sent. */
  private lastHold = Number.NEGATIVE_INFINITY;
  /** After a hold at min_speed: where the limit restarted (sensor stamp), rising at speed_limit_rise. */
  private ramp: { stamp: number } | undefined;
  private readonly speedLimitRise: number;

  constructor(
    specs: readonly PublisherSpec[],
    config: Config,
    private readonly wallSeconds: () => number = () => performance.now() / 1000,
  ) {
    for (const s of specs) this.byKey.set(s.key, s);
    this.costmapInterval = 1 / config.ros.costmap_rate;
    this.rosOptions = rosOutputOptions(config);
    this.minSpeed = config.outputs.min_speed;
    this.speedLimitTimeout = config.ros.speed_limit_timeout;
    this.speedLimitRise = config.outputs.speed_limit_rise;
    this.lastPrediction = wallSeconds();
  }

  /**
   * The speed limit is latched, so a controller keeps the last one for ever. When no prediction has
   * come for `ros.speed_limit_timeout` seconds (camera gone, node stalled, not started yet), the
   * limit falls to `outputs.min_speed`, as for ground the node cannot judge. It is sent again every
   * HOLD_REPEAT_S while the silence lasts: Nav2's controller server subscribes volatile, so a latched
   * message sent once never reaches a controller that starts or restarts during the silence.
   */
  staleSpeedLimit(stamp: number): Outgoing[] {
    if (this.speedLimitTimeout <= 0) return [];
    const now = this.wallSeconds();
    if (now - this.lastPrediction < this.speedLimitTimeout) return [];
    if (this.holdingMinSpeed && now - this.lastHold < HOLD_REPEAT_S) return [];
    const spec = this.byKey.get("speedLimit");
    if (!spec) return [];
    this.holdingMinSpeed = true;
    this.lastHold = now;
    const message =
      spec.type === "std_msgs/msg/Float32"
        ? { data: this.minSpeed }
        : speedLimitToRos(stamp, this.minSpeed, this.rosOptions);
    return [{ key: "speedLimit", topic: spec.topic, type: spec.type, message }];
  }

  /**
   * The pipeline's limit kept rising its own way while the node held min_speed; when predictions
   * resume, the published limit climbs back from min_speed at speed_limit_rise, as after any drop.
   */
  private resumedSpeedLimit(o: { stamp: number; speedLimit: number }): number {
    if (this.holdingMinSpeed && this.speedLimitRise > 0) this.ramp = { stamp: o.stamp };
    if (!this.ramp) return o.speedLimit;
    const cap = this.minSpeed + this.speedLimitRise * Math.max(0, o.stamp - this.ramp.stamp);
    if (cap >= o.speedLimit) {
      this.ramp = undefined;
      return o.speedLimit;
    }
    return cap;
  }

  /** Whether the speed limit is held at the minimum for want of predictions. */
  get speedLimitStale(): boolean {
    return this.holdingMinSpeed;
  }

  /** The spec a key publishes on (undefined if that output is off). */
  spec(key: PublisherKey): PublisherSpec | undefined {
    return this.byKey.get(key);
  }

  prediction(e: Pick<PredictionEvent, "outputs">): Outgoing[] {
    this.lastPrediction = this.wallSeconds();
    const outputs = { ...e.outputs, speedLimit: this.resumedSpeedLimit(e.outputs) };
    this.holdingMinSpeed = false;
    const msgs = outputsToRos(outputs, this.rosOptions);
    const out: Outgoing[] = [];
    for (const [k, message] of Object.entries(msgs) as [OutputKey, unknown][]) {
      const spec = this.byKey.get(k);
      if (!spec) continue;
      if (k === "costmap") {
        const now = this.wallSeconds();
        if (now - this.lastCostmap < this.costmapInterval) continue;
        this.lastCostmap = now;
      }
      const msg =
        k === "speedLimit" && spec.type === "std_msgs/msg/Float32" ? { data: outputs.speedLimit } : message;
      out.push({ key: k, topic: spec.topic, type: spec.type, message: msg });
    }
    return out;
  }

  labels(labels: readonly RoughnessLabel[]): Outgoing[] {
    const spec = this.byKey.get("labels");
    if (!spec || labels.length === 0) return [];
    const message = labelMarkersToRos(labels, {
      ns: "terrain_learner/labels",
      firstId: this.labelCount,
      idModulo: 10_000,
      colorOf: rgbaOf,
      lifetime: 0,
      z: 0.02,
    });
    this.labelCount += labels.length;
    return [{ key: "labels", topic: spec.topic, type: spec.type, message }];
  }
}
