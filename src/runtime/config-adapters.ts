// Config sections of the adapters: `mqtt`, `serial`, `ros` and `live_view`.

import { z } from "zod";

const positive = () => z.number().positive();

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
    /** Per second of sensor time (the frames' and stats' stamps): a replay at any speed publishes the same. */
    roughness_rate: positive()
      .default(2)
      .meta({ unit: "1/s", description: "most roughness summaries per second of sensor time" }),
    learner_rate: positive()
      .default(0.2)
      .meta({ unit: "1/s", description: "most learner stats per second of sensor time" }),
    /** Messages kept while offline (when full: superseded roughness / learner first, then the oldest labels). */
    queue_limit: z.number().int().positive().default(500).meta({
      unit: "messages",
      description: "messages kept while offline (stale telemetry dropped first, then oldest labels)",
    }),
    /** Also publish every label as it is made on `<prefix>/<robot_id>/labels`. */
    publish_labels: z.boolean().default(false).meta({ description: "also publish every label" }),
    /** Seconds between reconnection attempts (a robot boots before its network). */
    reconnect_period: positive().default(2).meta({ unit: "s", description: "between reconnection attempts" }),
    connect_timeout: positive().default(10).meta({ unit: "s", description: "connection timeout" }),
    /** At shutdown, how long queued messages wait for an unreachable broker to come back. */
    close_timeout: z
      .number()
      .nonnegative()
      .default(5)
      .meta({ unit: "s", description: "at shutdown: longest wait for the broker to take queued messages" }),
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
    // rcl's rule (rmw_validate_node_name): a bad name fails in rclnodejs with a less plain message.
    node_name: z
      .string()
      .regex(
        /^[A-Za-z_][A-Za-z0-9_]*$/,
        "must be a ROS node name: letters, digits and _, not starting with a digit",
      )
      .default("terrain_learner")
      .meta({ description: "node name" }),
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
      .meta({ unit: "messages", description: "keep-last depth of the camera and camera_info subscriptions" }),
    /**
     * Queue depth of the IMU and odometry subscriptions. A camera frame may be dropped (latest wins),
     * but an IMU sample lost while the node is busy with a frame leaves a gap in the vibration it
     * labels from: at 400 Hz a depth of 5 lasts 12 ms. 1000 holds a second at 1 kHz (a few hundred kB).
     */
    stream_qos_depth: z.number().int().positive().default(1000).meta({
      unit: "messages",
      description: "keep-last depth of the IMU and odometry subscriptions (no sample may be lost)",
    }),
    /**
     * Reliability of the output images and their CameraInfo. Reliable reaches every subscriber (RViz
     * and rqt_image_view subscribe reliable by default and receive nothing from a best-effort
     * publisher); best_effort never resends a lost frame over a weak link.
     */
    output_image_reliability: z
      .enum(["best_effort", "reliable"])
      .default("reliable")
      .meta({ description: "output images and their CameraInfo: reliable (any viewer) or best_effort" }),
    /** Publish the rgb8 overlay (costs a colour image per frame). */
    publish_overlay: z
      .boolean()
      .default(true)
      .meta({ description: "publish ~/roughness/overlay (an rgb8 image per frame)" }),
    /**
     * ~/speed_limit as a percentage of outputs.max_speed (Nav2's controllers scale their own maximum
     * by it: it can only slow the robot) or as absolute m/s (Regulated Pure Pursuit and MPPI then
     * drive at that speed, even above their own maximum).
     */
    speed_limit_as: z.enum(["percentage", "absolute"]).default("percentage").meta({
      description:
        "~/speed_limit as a percentage of outputs.max_speed (safe with any controller) or absolute m/s",
    }),
    /** No prediction for this long (s, wall clock): ~/speed_limit falls to outputs.min_speed. 0 = never. */
    speed_limit_timeout: z.number().nonnegative().default(2).meta({
      unit: "s",
      description: "no prediction for this long: ~/speed_limit falls to outputs.min_speed (0: never)",
    }),
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
      // Node listens on every interface for an empty host: the camera on the network by mistake;
      // a blank one fails only when the view starts (getaddrinfo ENOTFOUND).
      .refine((h) => h.trim() !== "", "must name an address (127.0.0.1; 0.0.0.0 for every interface)")
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
