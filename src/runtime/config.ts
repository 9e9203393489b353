// One configuration schema for every entry point (replay, sim-driven main job, live ROS 2 node,
// serial runner). It reads plain YAML/JSON or a ROS 2 params file
// (`terrain_learner: ros__parameters: {...}`), so the file a robot integrator passes with
// `--ros-args --params-file` is the same file a researcher passes to `replay --config`.
//
// Every section has defaults that work on the bundled simulator worlds; an unknown key is an error
// that names it (a typo in a params file must not be silently ignored on a robot).

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const positive = () => z.number().positive();

export const TopicsSchema = z
  .strictObject({
    image: z.string().default("/camera/image_raw"),
    compressedImage: z.string().default("/camera/image_raw/compressed"),
    cameraInfo: z.string().default("/camera/camera_info"),
    imu: z.string().default("/imu/data"),
    odom: z.string().default("/odom"),
    tf: z.string().default("/tf"),
    tfStatic: z.string().default("/tf_static"),
  })
  .prefault({});

export const FramesSchema = z
  .strictObject({
    /** Fixed frame of odometry and of the costmap. */
    odom: z.string().default("odom"),
    base: z.string().default("base_link"),
  })
  .prefault({});

export const FusionSchema = z
  .strictObject({
    /** Messages may arrive this much out of order (s) and still be merged in stamp order. */
    reorderWindow: z.number().nonnegative().default(0.1),
    /** Seconds of odometry kept for pose interpolation. */
    poseHistory: positive().default(120),
  })
  .prefault({});

export const KeyframesSchema = z
  .strictObject({
    /** Keep every Nth image as a keyframe ... */
    everyNFrames: z.number().int().positive().default(1),
    /** ... but at least this far apart (m); 0 disables the distance rule. */
    minDistance: z.number().nonnegative().default(0.25),
    /** Keyframes older than this (s of sensor time) or farther than maxDistance (m) are dropped. */
    horizonSeconds: positive().default(60),
    horizonDistance: positive().default(15),
    maxCount: z.number().int().positive().default(200),
  })
  .prefault({});

export const LabellerSchema = z
  .strictObject({
    /** Ground step per label (m). */
    stepLength: positive().default(0.25),
    /** Band for vertical-acceleration power (Hz). */
    bandLow: z.number().nonnegative().default(1),
    bandHigh: positive().default(30),
    /** Weight of roll/pitch-rate energy relative to vertical band power. */
    angularWeight: z.number().nonnegative().default(0.5),
    /**
     * Speed normalisation: energy / (speed / referenceSpeed)^speedExponent. 2.85 is the
     * least-squares fit on the BorealTC Husky runs (same terrain at ~0.23 and 0.4–0.6 m/s; see
     * tests/core-borealtc.test.ts).
     */
    speedExponent: z.number().nonnegative().default(2.85),
    referenceSpeed: positive().default(1),
    minSpeed: z.number().nonnegative().default(0.1),
    maxYawRate: positive().default(0.8),
    minSamples: z.number().int().positive().default(16),
    /**
     * Minimum analysis window (s) centred on each step: a 0.25 m step at 1 m/s is 0.25 s of IMU,
     * too little for a stable band power; labels then wait windowSeconds/2 for the data after.
     */
    windowSeconds: z.number().nonnegative().default(1.5),
    /** Welch segment length (s), rounded to a power of two of samples at the IMU rate. */
    segmentSeconds: positive().default(0.32),
    /** Time constant (s) of the running mean of acceleration that estimates "up" without TF. */
    gravityTimeConstant: positive().default(2),
    /** A gap between IMU samples longer than this (s) voids the step; 0 = max(0.1 s, 5 samples). */
    maxGap: z.number().nonnegative().default(0),
    /** How normalised energy maps to 0..1: fixed bounds on log-energy, or running percentiles. */
    calibration: z
      .strictObject({
        mode: z.enum(["fixed", "percentile"]).default("percentile"),
        /**
         * Fixed bounds on log10(energy): roughness 0.05 at `low`, 0.95 at `high`, order-keeping tails
         * towards 0 and 1 beyond (also used during warmup).
         */
        low: z.number().default(-1.5),
        high: z.number().default(1.5),
        lowPercentile: z.number().min(0).max(100).default(5),
        highPercentile: z.number().min(0).max(100).default(95),
        /** Labels before percentiles are trusted. */
        warmup: z.number().int().nonnegative().default(30),
      })
      .prefault({}),
  })
  .prefault({});

export const AssociationSchema = z
  .strictObject({
    /** A keyframe teaches about a footprint it saw from this far ahead (m). */
    minDistance: z.number().nonnegative().default(1),
    maxDistance: positive().default(8),
    /** Footprint width (m): the robot's track width. */
    robotWidth: positive().default(0.6),
    /** Feature-grid cells covered less than this fraction are not part of a sample. */
    minCellCoverage: z.number().min(0).max(1).default(0.1),
    /** A footprint whose projection covers less than this share of its area in the image is skipped. */
    minVisibleFraction: z.number().min(0).max(1).default(0.5),
  })
  .prefault({});

export const LearnerSchema = z
  .strictObject({
    /**
     * The ONNX backbone: a path, or a bundled one by name: "filterbank" (also "", the default:
     * models/backbone.onnx) or "mobilenetv2" (models/mobilenetv2.onnx, ImageNet-pretrained).
     */
    backbone: z.string().default(""),
    executionProviders: z.array(z.string()).default(["cpu"]),
    /**
     * onnxruntime intra-op threads for the backbone. 0 = auto: one per core minus the one the
     * training worker needs (at least 1).
     */
    backboneThreads: z.number().int().nonnegative().default(0),
    /**
     * onnxruntime intra-op threads for the per-frame head (MLP + novelty): 1 by default, because a
     * 1200-cell head is ~1 ms and a second thread only adds hand-off and contention with the backbone
     * and the training worker (0 = onnxruntime's default).
     */
    predictThreads: z.number().int().nonnegative().default(1),
    /**
     * Working resolution: camera images wider than this many pixels are box-filtered down to it (aspect
     * kept) before the backbone, so a bigger camera does not multiply the backbone and head cost; the
     * feature grid stays in camera pixels. 0 = feed the native resolution.
     */
    inputWidth: z.number().int().nonnegative().default(320),
    /**
     * Run the backbone (and the head's neighbourhood features) in a worker thread, so frame inference
     * overlaps bag reading, labelling, the head and the outputs instead of blocking them; a replay
     * also starts the next frames' features early. false = on the pipeline's own thread.
     */
    backboneWorker: z.boolean().default(true),
    /** tfjs backend: auto picks tfjs-node if installed, else wasm, else cpu. */
    backend: z.enum(["auto", "node", "wasm", "cpu"]).default("auto"),
    hiddenUnits: z.number().int().positive().default(64),
    learningRate: positive().default(0.003),
    batchSize: z.number().int().positive().default(64),
    bufferSize: z.number().int().positive().default(20000),
    balance: z.enum(["reservoir", "per-bin"]).default("per-bin"),
    /** Replay mode: training steps per second of sensor time (deterministic). */
    stepsPerSecond: positive().default(20),
    /**
     * Replay mode: "worker" trains in a worker thread in lockstep with sensor time (each block's
     * weights take effect one block later: deterministic, and inference overlaps training on a
     * second core); "inline" trains on the pipeline's thread before the next frame.
     */
    replayTraining: z.enum(["worker", "inline"]).default("worker"),
    /** Live mode: the share of one core the training worker may use. */
    cpuBudget: z.number().min(0.05).max(1).default(0.5),
    enabled: z.boolean().default(true),
    checkpointDir: z.string().default(""),
    checkpointKeep: z.number().int().positive().default(3),
    checkpointEvery: positive().default(60),
    /**
     * Novelty score behind the confidence: distance to the k nearest training samples ("knn") or the
     * reconstruction error of an autoencoder trained on them ("autoencoder").
     */
    novelty: z.enum(["knn", "autoencoder"]).default("knn"),
    /** kNN novelty: reference rows drawn from the replay buffer, and neighbours averaged. */
    noveltyReferences: z.number().int().positive().default(128),
    noveltyNeighbours: z.number().int().positive().default(3),
    /**
     * kNN novelty distances: "standardised" (Euclidean between standardised features) or "local"
     * (Mahalanobis under the spread between neighbouring references; see learning/novelty.ts).
     * Never-driven ground that mixes driven ground's traits (patchwork's rubble: asphalt's colour,
     * cobbles' texture) stands out under "local"; see noveltyRidge for how far it goes.
     */
    noveltyMetric: z.enum(["standardised", "local"]).default("local"),
    /**
     * noveltyMetric local: ridge added to the neighbour-difference covariance (standardised units²).
     * Small ridges weight quiet directions most and also flag driven ground whose look varies in
     * them (grass and sand seen again later); 0.5 kept every simulated world's confidence AUROC
     * above 0.8 where 0.05 did not (default world seed 2: 0.83 vs 0.89).
     */
    noveltyRidge: positive().default(0.5),
    /**
     * kNN novelty features: "all" head inputs, or "invariant": the backbone's channels pooled over
     * orientation and without mean luminance, so that driven ground seen from another heading or
     * under another exposure does not look new (from the backbone's channel_names metadata; a
     * backbone without them gets "all"; see learning/novelty-features.ts).
     */
    noveltyFeatures: z.enum(["all", "invariant"]).default("invariant"),
    /** Autoencoder bottleneck width of the novelty (confidence) head. */
    bottleneck: z.number().int().positive().default(8),
    /**
     * Confidence falls off as exp(-½(z/confidenceSigma)²) where z is the reconstruction error in
     * standard deviations (of log error) above the mean of the training samples' errors.
     */
    confidenceSigma: positive().default(2),
    /** Roughness bins for balance=per-bin. */
    bins: z.number().int().min(1).max(100).default(5),
    /** Seed of weight initialisation and replay sampling (replay runs are reproducible). */
    seed: z.number().int().nonnegative().default(1),
    /** Training starts once the replay buffer holds this many samples. */
    minSamples: z.number().int().positive().default(64),
    /** Live mode: seconds between weight hand-overs from the training worker to the predictor. */
    publishEvery: positive().default(2),
  })
  .prefault({});

export const OutputsSchema = z
  .strictObject({
    costmapResolution: positive().default(0.2),
    costmapSize: positive().default(20),
    /** Distance band ahead of the robot summarised as `roughness/ahead` (m). */
    aheadMin: z.number().nonnegative().default(1),
    aheadMax: positive().default(4),
    /** Speed limit: maxSpeed at roughness 0, minSpeed at roughness 1. */
    maxSpeed: positive().default(2),
    minSpeed: positive().default(0.3),
    /** Cells below this confidence are unknown (-1) in the costmap. */
    minConfidence: z.number().min(0).max(1).default(0.3),
    /** Costmap evidence half-life (s of sensor time): older observations fade. */
    costmapHalfLife: positive().default(10),
    /** Half width of the corridor summarised as `roughness/ahead` (m). */
    aheadHalfWidth: positive().default(0.5),
    /** Opacity of the colour layer in the overlay image at confidence 1. */
    overlayAlpha: z.number().min(0).max(1).default(0.6),
    /**
     * Shrinkage towards what the robot has felt: each cell's roughness is pulled towards the running
     * mean label roughness by priorWeight × (1 − confidence). Ground unlike anything driven on gets
     * an estimate close to the typical ground instead of an extrapolation from texture alone (which
     * can be far off either way); familiar ground keeps its prediction. 0 = off.
     */
    priorWeight: z.number().min(0).max(1).default(1),
    /** Passes of confidence-weighted 3×3 smoothing over neighbouring ground cells before output (0 = off). */
    smoothing: z.number().int().min(0).max(5).default(2),
  })
  .prefault({});

export const MqttSchema = z
  .strictObject({
    url: z.string().default(""),
    robotId: z.string().default("robot"),
    topicPrefix: z.string().default("terrain-learner"),
    username: z.string().default(""),
    password: z.string().default(""),
    ca: z.string().default(""),
    cert: z.string().default(""),
    key: z.string().default(""),
    /** Max publications per second of roughness summaries / learner stats. */
    roughnessRate: positive().default(2),
    learnerRate: positive().default(0.2),
    /** Messages kept while offline (oldest dropped). */
    queueLimit: z.number().int().positive().default(500),
    /** Also publish every label as it is made on `<prefix>/<robotId>/labels`. */
    publishLabels: z.boolean().default(false),
    /** Seconds between reconnection attempts (a robot boots before its network). */
    reconnectPeriod: positive().default(2),
    connectTimeout: positive().default(10),
    keepalive: z.number().int().nonnegative().default(30),
    /** Empty: `terrain-learner-<robotId>-<random>`. */
    clientId: z.string().default(""),
    /** mqtts: verify the broker's certificate (turn off only on a bench with a self-made CA you did not pass in `ca`). */
    rejectUnauthorized: z.boolean().default(true),
  })
  .prefault({});

export const SerialSchema = z
  .strictObject({
    path: z.string().default(""),
    baudRate: z.number().int().positive().default(115200),
    mode: z.enum(["nmea", "csv"]).default("nmea"),
    /** CSV mode: column names (t_us|t_ms|t_s, ax ay az gx gy gz, v w; other names are ignored). */
    csvColumns: z.array(z.string()).default(["t_us", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"]),
    /** Bytes per line, `$` and `*HH` included; longer lines are dropped and counted. */
    maxLineLength: z.number().int().min(8).default(256),
    /** NMEA mode: reject sentences without `*HH`. */
    requireChecksum: z.boolean().default(true),
    imuFrame: z.string().default("imu_link"),
    /** Multipliers to SI units (9.80665 for a device reporting g, 0.0174533 for deg/s). */
    accelScale: positive().default(1),
    gyroScale: positive().default(1),
    /** Width of the device's microsecond counter (32 for micros() on a microcontroller); 0: never wraps. */
    clockWrapBits: z.number().int().min(0).max(53).default(32),
    /** A device clock stepping back or running ahead of arrival by more than this (s) is re-anchored. */
    maxClockJump: positive().default(1),
    /** Odometry is not integrated across a gap longer than this (s). */
    maxOdomGap: positive().default(0.5),
    /** Reopen a vanished device with backoff from reconnectMin to reconnectMax seconds. */
    reconnectMin: positive().default(0.2),
    reconnectMax: positive().default(5),
  })
  .prefault({});

export const RosSchema = z
  .strictObject({
    nodeName: z.string().default("terrain_learner"),
    useSimTime: z.boolean().default(false),
    diagnosticsRate: positive().default(1),
    /** Subscribe to sensor_msgs/Image (`raw`, topics.image) or CompressedImage (`compressed`, topics.compressedImage). */
    imageTransport: z.enum(["raw", "compressed"]).default("raw"),
    /** Queue depth of the sensor-data (best effort) subscriptions. */
    qosDepth: z.number().int().positive().default(5),
    /** Publish the rgb8 overlay (costs a colour image per frame). */
    publishOverlay: z.boolean().default(true),
    /** Hz cap of costmap publications (latest wins). */
    costmapRate: positive().default(2),
  })
  .prefault({});

export const ConfigSchema = z.strictObject({
  topics: TopicsSchema,
  frames: FramesSchema,
  fusion: FusionSchema,
  keyframes: KeyframesSchema,
  labeller: LabellerSchema,
  association: AssociationSchema,
  learner: LearnerSchema,
  outputs: OutputsSchema,
  mqtt: MqttSchema,
  serial: SerialSchema,
  ros: RosSchema,
});

export type Config = z.infer<typeof ConfigSchema>;
export type LabellerConfig = Config["labeller"];
export type LearnerConfig = Config["learner"];

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates an already-parsed object; errors name the key path (`labeller.bandHigh: ...`). */
export function configFromObject(input: unknown, source = "config"): Config {
  const unwrapped = unwrapRosParams(input ?? {});
  const result = ConfigSchema.safeParse(unwrapped);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join(".");
      if (issue.code === "unrecognized_keys") {
        const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k)).join(", ");
        return `unknown key ${keys}`;
      }
      return `${path || "(root)"}: ${issue.message}`;
    });
    throw new ConfigError(`${source}: ${lines.join("; ")}`);
  }
  return result.data;
}

/** Defaults for everything. */
export function defaultConfig(): Config {
  return configFromObject({});
}

/** Reads YAML or JSON (a ROS params file works too); no path → defaults. */
export function loadConfig(path?: string): Config {
  if (!path) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(
      `cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  return configFromObject(parsed, path);
}

/**
 * A ROS 2 params file nests everything under `<node name>: ros__parameters:` (node name may be
 * `/**` or namespaced). Take the first node entry that has `ros__parameters`.
 */
export function unwrapRosParams(input: unknown): unknown {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
  for (const value of Object.values(input as Record<string, unknown>)) {
    if (value && typeof value === "object" && "ros__parameters" in value) {
      return (value as Record<string, unknown>).ros__parameters;
    }
  }
  return input;
}
