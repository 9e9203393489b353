// Core types of terrain-learner. Everything in src/core works on these, never on ROS/rclnodejs
// objects: one conversion module (src/io/ros/convert.ts) maps ROS messages to and from them.
//
// Time in the core is float64 seconds of sensor time (message header stamps). A float64 keeps
// sub-microsecond resolution for epoch stamps, which is far finer than any sensor we fuse; bigint
// nanoseconds exist only at the ROS/bag boundary.

/** Sensor time in seconds (float64). */
export type Stamp = number;

export interface Vec3 {
  x: number;
  y: number;
  z: number;
}

/** Unit quaternion, ROS order (x, y, z, w). */
export interface Quat {
  x: number;
  y: number;
  z: number;
  w: number;
}

export interface Pose3 {
  position: Vec3;
  orientation: Quat;
}

/** Planar pose in a fixed frame (usually `odom`): position and heading (rad, CCW from +x). */
export interface Pose2 {
  x: number;
  y: number;
  yaw: number;
}

export interface ImuSample {
  stamp: Stamp;
  frameId: string;
  /** Orientation estimate when the driver provides one (covariance[0] != -1), else undefined. */
  orientation: Quat | undefined;
  /** rad/s in frameId. */
  angularVelocity: Vec3;
  /** m/s², including gravity (a resting IMU reads +9.81 along its up axis), in frameId. */
  linearAcceleration: Vec3;
}

export interface OdomSample {
  stamp: Stamp;
  /** Fixed frame, e.g. `odom`. */
  frameId: string;
  /** Moving frame, e.g. `base_link`. */
  childFrameId: string;
  pose: Pose3;
  /** Twist in childFrameId (REP-105). */
  linear: Vec3;
  angular: Vec3;
}

export type PixelEncoding = "rgb8" | "mono8";

/**
 * A decoded image. Colour images are always rgb8 in the core (bgr8/bgra8/rgba8 are converted at the
 * edge), mono images mono8. Rows are tightly packed: step === width * channels.
 */
export interface ImageFrame {
  stamp: Stamp;
  frameId: string;
  width: number;
  height: number;
  encoding: PixelEncoding;
  data: Uint8Array;
}

/** An image still in its compressed form (JPEG/PNG); decoding is asynchronous and lives at the edge. */
export interface CompressedFrame {
  stamp: Stamp;
  frameId: string;
  format: string;
  data: Uint8Array;
}

export type DistortionModel = "plumb_bob" | "rational_polynomial" | "equidistant" | "none";

/** Pinhole camera intrinsics as in sensor_msgs/CameraInfo. */
export interface CameraModel {
  stamp: Stamp;
  frameId: string;
  width: number;
  height: number;
  /** Row-major 3×3 intrinsic matrix. */
  K: readonly number[];
  /** Distortion coefficients for `distortionModel` (plumb_bob: k1, k2, t1, t2, k3). */
  D: readonly number[];
  distortionModel: DistortionModel;
  /** Row-major 3×4 projection matrix. */
  P: readonly number[];
}

/** A rigid transform: maps points expressed in `child` into `parent`. */
export interface Transform {
  stamp: Stamp;
  parent: string;
  child: string;
  translation: Vec3;
  rotation: Quat;
  /** True for /tf_static. */
  isStatic: boolean;
}

/** A closed polygon in a fixed frame, vertices in order (no repeated last vertex). */
export interface Polygon2 {
  frameId: string;
  xs: Float64Array;
  ys: Float64Array;
}

/** Why the labeller produced no label for a step. */
export type LabelSkipReason =
  | "stationary"
  | "turning"
  | "too_few_samples"
  | "bad_samples"
  | "no_pose"
  | "no_vertical";

/** One stretch of ground the robot drove over, with the roughness measured from vibration. */
export interface RoughnessLabel {
  /** Stamp of the middle of the step. */
  stamp: Stamp;
  /** Start and end stamps of the step. */
  t0: Stamp;
  t1: Stamp;
  /** Centre of the footprint in the fixed frame. */
  x: number;
  y: number;
  /** Footprint polygon (robot width × step length) in the fixed frame. */
  footprint: Polygon2;
  /** Mean speed over the step, m/s. */
  speed: number;
  /** Speed-normalised vibration feature before calibration (comparable across bags). */
  energy: number;
  /** Raw (not speed-normalised) feature values, for calibration and debugging. */
  features: {
    verticalBandPower: number;
    angularRateEnergy: number;
    sampleCount: number;
  };
  /** Calibrated roughness in 0..1. */
  roughness: number;
}

/**
 * Per-cell predictions for one image, on the backbone's feature grid (row-major, rows × cols).
 * Cell (r, c) covers image pixels [c*strideX, (c+1)*strideX) × [r*strideY, (r+1)*strideY).
 */
export interface RoughnessGrid {
  stamp: Stamp;
  frameId: string;
  rows: number;
  cols: number;
  strideX: number;
  strideY: number;
  roughness: Float32Array;
  /** 0..1, low for features unlike anything trained on. */
  confidence: Float32Array;
}

/** A local occupancy-style grid in a fixed frame, as nav_msgs/OccupancyGrid: 0..100, -1 unknown. */
export interface Costmap {
  stamp: Stamp;
  frameId: string;
  resolution: number;
  width: number;
  height: number;
  /** Position of cell (0, 0)'s corner in frameId. */
  originX: number;
  originY: number;
  data: Int8Array;
}

/** A recoverable problem, reported as a value in a stream instead of thrown. */
export interface Problem {
  type: "problem";
  /** Short machine-readable kind, e.g. "decode", "nan", "backwards", "duplicate", "late". */
  kind: string;
  message: string;
  topic?: string;
  stamp?: Stamp;
}
