// One configuration schema for every entry point (replay, sim-driven main job, live ROS 2 node,
// serial runner). It reads plain YAML/JSON or a ROS 2 params file
// (`terrain_learner: ros__parameters: {...}`), so the file a robot integrator passes with
// `--ros-args --params-file` is the same file a researcher passes to `replay --config`.
//
// Every section has defaults that work on the bundled simulator worlds; an unknown key is an error
// that names it (a typo in a params file must not be silently ignored on a robot).

import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError, mergeDocument, type Obj, parseYamlText } from "./params-file.ts";

export { ConfigError } from "./params-file.ts";

import { FleetSchema } from "../fleet/config.ts";
import { LearnerSchema } from "../learning/config.ts";

export { LearnerSchema };

const positive = () => z.number().positive();

export const TopicsSchema = z
  .strictObject({
    image: z
      .string()
      .default("/camera/image_raw")
      .meta({ description: "sensor_msgs/Image input (ros.image_transport: raw)" }),
    compressed_image: z
      .string()
      .default("/camera/image_raw/compressed")
      .meta({ description: "sensor_msgs/CompressedImage input (ros.image_transport: compressed)" }),
    camera_info: z
      .string()
      .default("/camera/camera_info")
      .meta({ description: "sensor_msgs/CameraInfo of that camera" }),
    imu: z.string().default("/imu/data").meta({
      description: "sensor_msgs/Imu input, any mounting (TF base_link -> IMU frame, or gravity in the data)",
    }),
    odom: z.string().default("/odom").meta({ description: "nav_msgs/Odometry input, odom -> base_link" }),
    tf: z.string().default("/tf").meta({ description: "tf2_msgs/TFMessage transforms" }),
    tf_static: z
      .string()
      .default("/tf_static")
      .meta({ description: "tf2_msgs/TFMessage static transforms (transient local)" }),
  })
  .prefault({});

export const FramesSchema = z
  .strictObject({
    /** Fixed frame of odometry and of the costmap. */
    odom: z.string().default("odom").meta({ description: "fixed frame of odometry, labels and the costmap" }),
    base: z.string().default("base_link").meta({ description: "robot body frame (REP-105)" }),
  })
  .prefault({});

export const FusionSchema = z
  .strictObject({
    /**
     * Messages may arrive this much out of order (s) and still be merged in stamp order; later ones
     * are dropped and counted (problems.late). A camera's frames typically arrive 30–150 ms after the
     * IMU samples of the same instant. Live, a frame never waits for this (see docs/design.md).
     */
    reorder_window: z.number().nonnegative().default(0.25).meta({
      unit: "s",
      description: "messages this late are still merged in stamp order; later ones are counted and dropped",
    }),
    /** Seconds of odometry kept for pose interpolation. */
    pose_history: positive()
      .default(120)
      .meta({ unit: "s", description: "odometry kept for pose interpolation" }),
  })
  .prefault({});

export const KeyframesSchema = z
  .strictObject({
    /** Keep every Nth image as a keyframe ... */
    every_n_frames: z
      .number()
      .int()
      .positive()
      .default(1)
      .meta({ unit: "frames", description: "keep every Nth camera frame as a keyframe ..." }),
    /** ... but at least this far apart (m); 0 disables the distance rule. */
    min_distance: z
      .number()
      .nonnegative()
      .default(0.25)
      .meta({ unit: "m", description: "... at least this far apart (0: no distance rule)" }),
    /** Keyframes older than this (s of sensor time) or farther than max_distance (m) are dropped. */
    horizon_seconds: positive()
      .default(60)
      .meta({ unit: "s", description: "keyframes older than this are dropped ..." }),
    horizon_distance: positive()
      .default(15)
      .meta({ unit: "m", description: "... or farther away than this" }),
    max_count: z
      .number()
      .int()
      .positive()
      .default(200)
      .meta({ unit: "keyframes", description: "most keyframes kept" }),
  })
  .prefault({});

export const LabellerSchema = z
  .strictObject({
    /** Ground step per label (m). */
    step_length: positive().default(0.25).meta({ unit: "m", description: "ground step per label" }),
    /** Band for vertical-acceleration power (Hz). */
    band_low: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "Hz", description: "low edge of the vertical-acceleration band" }),
    band_high: positive().default(30).meta({ unit: "Hz", description: "high edge of that band" }),
    /** Weight of roll/pitch-rate energy relative to vertical band power. */
    angular_weight: z
      .number()
      .nonnegative()
      .default(0.5)
      .meta({ unit: "1", description: "weight of roll/pitch-rate energy vs vertical band power" }),
    /**
     * Speed normalisation: energy / (speed / reference_speed)^speed_exponent. 2.85 is the
     * least-squares fit on the BorealTC Husky runs (same terrain at ~0.23 and 0.4–0.6 m/s; see
     * tests/core-borealtc.test.ts).
     */
    speed_exponent: z
      .number()
      .nonnegative()
      .default(2.85)
      .meta({ unit: "1", description: "energy / (speed / reference_speed)^speed_exponent" }),
    reference_speed: positive()
      .default(1)
      .meta({ unit: "m/s", description: "speed at which energy is not rescaled" }),
    min_speed: z
      .number()
      .nonnegative()
      .default(0.1)
      .meta({ unit: "m/s", description: "no label below this speed ..." }),
    max_yaw_rate: positive()
      .default(0.8)
      .meta({ unit: "rad/s", description: "... or while turning faster than this" }),
    min_samples: z
      .number()
      .int()
      .positive()
      .default(16)
      .meta({ unit: "samples", description: "IMU samples a step needs" }),
    /**
     * Minimum analysis window (s) centred on each step: a 0.25 m step at 1 m/s is 0.25 s of IMU,
     * too little for a stable band power; labels then wait window_seconds/2 for the data after.
     */
    window_seconds: z
      .number()
      .nonnegative()
      .default(1.5)
      .meta({ unit: "s", description: "least IMU window analysed around each step" }),
    /** Welch segment length (s), rounded to a power of two of samples at the IMU rate. */
    segment_seconds: positive().default(0.32).meta({ unit: "s", description: "Welch segment length" }),
    /** Time constant (s) of the running mean of acceleration that estimates "up" without TF. */
    gravity_time_constant: positive()
      .default(2)
      .meta({ unit: "s", description: "running mean estimating up when TF has no IMU mounting" }),
    /** A gap between IMU samples longer than this (s) voids the step; 0 = max(0.1 s, 5 samples). */
    max_gap: z.number().nonnegative().default(0).meta({
      unit: "s",
      description: "an IMU gap longer than this voids the step (0: max(0.1 s, 5 samples))",
    }),
    /** How normalised energy maps to 0..1: fixed bounds on log-energy, or running percentiles. */
    calibration: z
      .strictObject({
        mode: z
          .enum(["fixed", "percentile"])
          .default("percentile")
          .meta({ description: "fixed bounds on log10(energy), or running percentiles" }),
        /**
         * Fixed bounds on log10(energy): roughness 0.05 at `low`, 0.95 at `high`, order-keeping tails
         * towards 0 and 1 beyond (also used during warmup).
         */
        low: z
          .number()
          .default(-1.5)
          .meta({ unit: "log10", description: "fixed: log10(energy) mapped to roughness 0.05 ..." }),
        high: z
          .number()
          .default(1.5)
          .meta({ unit: "log10", description: "... and to 0.95 (also used during warmup)" }),
        low_percentile: z
          .number()
          .min(0)
          .max(100)
          .default(5)
          .meta({ unit: "%", description: "percentile: energy percentile mapped to 0.05 ..." }),
        high_percentile: z
          .number()
          .min(0)
          .max(100)
          .default(95)
          .meta({ unit: "%", description: "... and to 0.95" }),
        /** Labels before percentiles are trusted. */
        warmup: z
          .number()
          .int()
          .nonnegative()
          .default(30)
          .meta({ unit: "labels", description: "labels before percentiles are trusted" }),
      })
      .prefault({}),
  })
  .prefault({});

export const AssociationSchema = z
  .strictObject({
    /** A keyframe teaches about a footprint it saw from this far ahead (m). */
    min_distance: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "m", description: "a keyframe teaches about ground it saw from this far ..." }),
    max_distance: positive().default(8).meta({ unit: "m", description: "... up to this far" }),
    /** Footprint width (m): the robot's track width. */
    robot_width: positive().default(0.6).meta({ unit: "m", description: "footprint width: the track width" }),
    /** Feature-grid cells covered less than this fraction are not part of a sample. */
    min_cell_coverage: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .meta({ unit: "1", description: "feature cells covered less than this fraction are not used" }),
    /** A footprint whose projection covers less than this share of its area in the image is skipped. */
    min_visible_fraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .meta({ unit: "1", description: "footprints less visible than this in the image are skipped" }),
    /**
     * Far views taught by near ones: keyframe cells 4–8 m away learn what the model predicted for the
     * same ground from 1–3 m, at this weight times the near views' confidence (labels: their coverage,
     * up to 1). Vibration labels alone teach mostly near views (src/core/near-view-teacher.ts). 0: off.
     */
    near_teacher_weight: z.number().min(0).default(0).meta({
      unit: "1",
      description: "weight of far keyframe cells taught the near views' prediction of their ground (0: off)",
    }),
  })
  .prefault({});

export const OutputsSchema = z
  .strictObject({
    costmap_resolution: positive()
      .default(0.2)
      .meta({ unit: "m", description: "cell size of ~/roughness/costmap" }),
    costmap_size: positive()
      .default(20)
      .meta({ unit: "m", description: "side of the rolling costmap around the robot" }),
    /** Distance band ahead of the robot summarised as `roughness/ahead` (m). */
    ahead_min: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "m", description: "band ahead of the robot summarised in ~/roughness/ahead, from ..." }),
    ahead_max: positive().default(4).meta({ unit: "m", description: "... to" }),
    /** Speed limit: max_speed at roughness 0, min_speed at roughness 1. */
    max_speed: positive().default(2).meta({ unit: "m/s", description: "~/speed_limit at roughness 0 ..." }),
    min_speed: positive()
      .default(0.3)
      .meta({ unit: "m/s", description: "... at roughness 1, and on ground it cannot judge" }),
    /** Cells below this confidence are unknown (-1) in the costmap. */
    min_confidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .meta({ unit: "1", description: "cells less confident than this are unknown (-1) in the costmap" }),
    /** Costmap evidence half-life (s of sensor time): older observations fade. */
    costmap_half_life: positive()
      .default(10)
      .meta({ unit: "s", description: "costmap evidence half-life: older observations fade" }),
    /** Half width of the corridor summarised as `roughness/ahead` (m). */
    ahead_half_width: positive()
      .default(0.5)
      .meta({ unit: "m", description: "half width of the corridor summarised in ~/roughness/ahead" }),
    /** Opacity of the colour layer in the overlay image at confidence 1. */
    overlay_alpha: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .meta({ unit: "1", description: "opacity of ~/roughness/overlay's colour layer at confidence 1" }),
    /**
     * Shrinkage towards what the robot has felt: each cell's roughness is pulled towards the running
     * mean label roughness by prior_weight × (1 − confidence). Ground unlike anything driven on gets
     * an estimate close to the typical ground instead of an extrapolation from texture alone (which
     * can be far off either way); familiar ground keeps its prediction. 0 = off.
     */
    prior_weight: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .meta({ unit: "1", description: "pull of uncertain cells towards the mean label roughness (0: off)" }),
    /** Passes of confidence-weighted 3×3 smoothing over neighbouring ground cells before output (0 = off). */
    smoothing: z.number().int().min(0).max(5).default(2).meta({
      unit: "passes",
      description: "confidence-weighted 3x3 smoothing passes over ground cells (0: off)",
    }),
  })
  .prefault({});

export const MqttSchema = z
  .strictObject({
    url: z
      .string()
      .default("")
      .meta({ description: "broker, e.g. mqtt://broker.local:1883 or mqtts://host:8883; empty: no MQTT" }),
    robot_id: z
      .string()
      .default("robot")
      .meta({ description: "robot id in the topics <topic_prefix>/<robot_id>/..." }),
    topic_prefix: z.string().default("terrain-learner").meta({ description: "first level of the topics" }),
    username: z.string().default("").meta({ description: "broker user name" }),
    password: z.string().default("").meta({ description: "broker password (never logged)" }),
    ca: z.string().default("").meta({ description: "mqtts: CA certificate file" }),
    cert: z.string().default("").meta({ description: "mqtts: client certificate file" }),
    key: z.string().default("").meta({ description: "mqtts: client key file" }),
    /** Max publications per second of roughness summaries / learner stats. */
    roughness_rate: positive()
      .default(2)
      .meta({ unit: "1/s", description: "most roughness summaries per second" }),
    learner_rate: positive().default(0.2).meta({ unit: "1/s", description: "most learner stats per second" }),
    /** Messages kept while offline (oldest dropped). */
    queue_limit: z
      .number()
      .int()
      .positive()
      .default(500)
      .meta({ unit: "messages", description: "messages kept while offline (oldest dropped)" }),
    /** Also publish every label as it is made on `<prefix>/<robot_id>/labels`. */
    publish_labels: z.boolean().default(false).meta({ description: "also publish every label" }),
    /** Seconds between reconnection attempts (a robot boots before its network). */
    reconnect_period: positive().default(2).meta({ unit: "s", description: "between reconnection attempts" }),
    connect_timeout: positive().default(10).meta({ unit: "s", description: "connection timeout" }),
    keepalive: z.number().int().nonnegative().default(30).meta({ unit: "s", description: "MQTT keepalive" }),
    /** Empty: `terrain-learner-<robot_id>-<random>`. */
    client_id: z
      .string()
      .default("")
      .meta({ description: "client id; empty: terrain-learner-<robot_id>-<random>" }),
    /** mqtts: verify the broker's certificate (turn off only on a bench with a self-made CA you did not pass in `ca`). */
    reject_unauthorized: z
      .boolean()
      .default(true)
      .meta({ description: "mqtts: verify the broker's certificate" }),
  })
  .prefault({});

export const SerialSchema = z
  .strictObject({
    path: z
      .string()
      .default("")
      .meta({ description: "serial device (terrain-learner run), e.g. /dev/ttyACM0" }),
    baud_rate: z.number().int().positive().default(115200).meta({ unit: "baud", description: "line speed" }),
    mode: z
      .enum(["nmea", "csv"])
      .default("nmea")
      .meta({ description: "nmea ($TLIMU / $TLODO sentences) or csv" }),
    /** CSV mode: column names (t_us|t_ms|t_s, ax ay az gx gy gz, v w; other names are ignored). */
    csv_columns: z
      .array(z.string())
      .default(["t_us", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"])
      .meta({ description: "csv: column names (t_us|t_ms|t_s, ax ay az gx gy gz, v w)" }),
    /** Bytes per line, `$` and `*HH` included; longer lines are dropped and counted. */
    max_line_length: z
      .number()
      .int()
      .min(8)
      .default(256)
      .meta({ unit: "bytes", description: "longer lines are dropped and counted" }),
    /** NMEA mode: reject sentences without `*HH`. */
    require_checksum: z.boolean().default(true).meta({ description: "nmea: reject sentences without *HH" }),
    imu_frame: z.string().default("imu_link").meta({ description: "frame of the IMU samples" }),
    /** Multipliers to SI units (9.80665 for a device reporting g, 0.0174533 for deg/s). */
    accel_scale: positive()
      .default(1)
      .meta({ unit: "1", description: "to m/s^2 (9.80665 for a device reporting g)" }),
    gyro_scale: positive().default(1).meta({ unit: "1", description: "to rad/s (0.0174533 for deg/s)" }),
    /** Width of the device's microsecond counter (32 for micros() on a microcontroller); 0: never wraps. */
    clock_wrap_bits: z
      .number()
      .int()
      .min(0)
      .max(53)
      .default(32)
      .meta({ unit: "bits", description: "device microsecond counter width (0: never wraps)" }),
    /** A device clock stepping back or running ahead of arrival by more than this (s) is re-anchored. */
    max_clock_jump: positive()
      .default(1)
      .meta({ unit: "s", description: "larger device clock jumps re-anchor the clock" }),
    /** Odometry is not integrated across a gap longer than this (s). */
    max_odom_gap: positive()
      .default(0.5)
      .meta({ unit: "s", description: "odometry is not integrated across longer gaps" }),
    /** Reopen a vanished device with backoff from reconnect_min to reconnect_max seconds. */
    reconnect_min: positive().default(0.2).meta({ unit: "s", description: "reopen backoff from ..." }),
    reconnect_max: positive().default(5).meta({ unit: "s", description: "... to" }),
  })
  .prefault({});

export const RosSchema = z
  .strictObject({
    node_name: z.string().default("terrain_learner").meta({ description: "node name" }),
    diagnostics_rate: positive().default(1).meta({ unit: "Hz", description: "rate of /diagnostics" }),
    /** Subscribe to sensor_msgs/Image (`raw`, topics.image) or CompressedImage (`compressed`, topics.compressed_image). */
    image_transport: z.enum(["raw", "compressed"]).default("raw").meta({
      description: "subscribe to raw (topics.image) or compressed (topics.compressed_image) images",
    }),
    /** Queue depth of the sensor-data (best effort) subscriptions. */
    qos_depth: z
      .number()
      .int()
      .positive()
      .default(5)
      .meta({ unit: "messages", description: "keep-last depth of the sensor-data subscriptions" }),
    /**
     * Reliability of the output images and their CameraInfo: best_effort (as camera drivers publish;
     * a slow viewer does not hold the node back) or reliable (every frame reaches a recorder).
     */
    output_image_reliability: z
      .enum(["best_effort", "reliable"])
      .default("best_effort")
      .meta({ description: "output images and their CameraInfo: best_effort or reliable" }),
    /** Publish the rgb8 overlay (costs a colour image per frame). */
    publish_overlay: z
      .boolean()
      .default(true)
      .meta({ description: "publish ~/roughness/overlay (an rgb8 image per frame)" }),
    /** Hz cap of costmap publications (latest wins). */
    costmap_rate: positive()
      .default(2)
      .meta({ unit: "Hz", description: "most ~/roughness/costmap messages per second" }),
  })
  .prefault({});

export const LiveViewSchema = z
  .strictObject({
    /** Serve the Foxglove WebSocket live view (`--live-view`). */
    enabled: z
      .boolean()
      .default(false)
      .meta({ description: "serve the Foxglove WebSocket live view (--live-view)" }),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(8765)
      .meta({ unit: "port", description: "TCP port of the live view (0: any free port)" }),
    /** Listen address; 0.0.0.0 exposes the view (camera images included) to the network. */
    host: z
      .string()
      .default("127.0.0.1")
      .meta({ description: "listen address; 0.0.0.0 exposes the camera to the network" }),
    /** Hz cap (wall clock) of each heavy channel (images, costmap, labels); latest wins. 0 = no cap. */
    max_rate: z
      .number()
      .nonnegative()
      .default(15)
      .meta({ unit: "Hz", description: "cap per heavy channel (images, costmap, labels); 0: none" }),
    /** Per-client queue of messages not yet handed to the socket; the oldest are dropped beyond it. */
    queue_messages: z
      .number()
      .int()
      .positive()
      .default(64)
      .meta({ unit: "messages", description: "per-viewer queue; the oldest are dropped beyond it" }),
    queue_bytes: z
      .number()
      .int()
      .positive()
      .default(32 * 2 ** 20)
      .meta({ unit: "bytes", description: "per-viewer queue size in bytes" }),
  })
  .prefault({});

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
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
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
