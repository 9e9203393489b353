// ROS message objects ⇄ core types. Messages decoded from CDR by @foxglove/rosmsg2-serialization,
// from ROS 1 bags by @foxglove/rosmsg-serialization, and delivered by rclnodejs all have the same
// shape (snake_case fields, header.stamp as {sec, nanosec|nsec}); ROS 1 spells some CameraInfo
// fields in upper case (K, D, P), which is handled here so no caller needs to care.

import { rosTimeToSeconds } from "../../core/time.ts";
import type {
  CameraModel,
  CompressedFrame,
  DistortionModel,
  ImageFrame,
  ImuSample,
  OdomSample,
  Quat,
  Stamp,
  Transform,
  Vec3,
} from "../../core/types.ts";
import { bayerToRgb, yuv422ToRgb } from "./pixels.ts";
import { cameraStamps } from "./stamp-memo.ts";

/** Thrown for a message whose content cannot become a core type (wrong encoding, short data). */
export class ConversionError extends Error {
  override name = "ConversionError";
}

// Loose shapes: we read only what we need and validate it, because bags carry whatever their
// writer put in them.
type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== "object") throw new ConversionError(`${what}: expected an object`);
  return v as Obj;
}

function num(v: unknown, what: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new ConversionError(`${what}: expected a number, found ${typeof v}`);
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function vec3(v: unknown, what: string): Vec3 {
  const o = obj(v, what);
  return { x: num(o.x, `${what}.x`), y: num(o.y, `${what}.y`), z: num(o.z, `${what}.z`) };
}

function quat(v: unknown, what: string): Quat {
  const o = obj(v, what);
  return {
    x: num(o.x, `${what}.x`),
    y: num(o.y, `${what}.y`),
    z: num(o.z, `${what}.z`),
    w: num(o.w, `${what}.w`),
  };
}

function numArray(v: unknown, what: string): number[] {
  if (Array.isArray(v)) return v.map((x, i) => num(x, `${what}[${i}]`));
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as Float64Array);
  throw new ConversionError(`${what}: expected an array`);
}

function bytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new ConversionError(`${what}: expected bytes`);
}

export interface Header {
  stamp: Stamp;
  frameId: string;
}

export function headerOf(msg: unknown): Header {
  const h = obj(obj(msg, "message").header, "header");
  return { stamp: rosTimeToSeconds(obj(h.stamp, "header.stamp") as never), frameId: str(h.frame_id) };
}

/** A camera message's header; its exact stamp is remembered for the outputs made from it. */
function cameraHeaderOf(msg: unknown): Header {
  const h = obj(obj(msg, "message").header, "header");
  return { stamp: cameraStamps.remember(obj(h.stamp, "header.stamp") as never), frameId: str(h.frame_id) };
}

// ---------------------------------------------------------------------------------------------
// ROS → core

/** sensor_msgs/Imu. Orientation is kept only when the driver says it is valid (covariance[0] != -1). */
export function imuFromRos(msg: unknown): ImuSample {
  const m = obj(msg, "Imu");
  const { stamp, frameId } = headerOf(m);
  // sensor_msgs/Imu: element 0 of a covariance at -1 says the driver has no such data. Labels are made
  // from the acceleration, so without it the message has nothing to use (its zeros are not data).
  const accCov = m.linear_acceleration_covariance;
  if (accCov !== undefined && numArray(accCov, "linear_acceleration_covariance")[0] === -1)
    throw new ConversionError(
      "linear_acceleration_covariance[0] is -1: the IMU publishes no linear acceleration, which labels need",
    );
  let orientation: Quat | undefined;
  const cov = m.orientation_covariance;
  const covValid = cov === undefined || numArray(cov, "orientation_covariance")[0] !== -1;
  if (m.orientation !== undefined && covValid) {
    const q = quat(m.orientation, "orientation");
    // An all-zero quaternion is how many drivers say "no orientation".
    if (q.x !== 0 || q.y !== 0 || q.z !== 0 || q.w !== 0) orientation = q;
  }
  // An IMU without a gyroscope (-1) may fill angular_velocity with anything, NaN included: labels
  // then use the acceleration alone.
  const gyroCov = m.angular_velocity_covariance;
  const noGyro = gyroCov !== undefined && numArray(gyroCov, "angular_velocity_covariance")[0] === -1;
  return {
    stamp,
    frameId,
    orientation,
    angularVelocity: noGyro ? { x: 0, y: 0, z: 0 } : vec3(m.angular_velocity, "angular_velocity"),
    linearAcceleration: vec3(m.linear_acceleration, "linear_acceleration"),
  };
}

/** nav_msgs/Odometry. */
export function odomFromRos(msg: unknown): OdomSample {
  const m = obj(msg, "Odometry");
  const { stamp, frameId } = headerOf(m);
  const pose = obj(obj(m.pose, "pose").pose, "pose.pose");
  const twist = obj(obj(m.twist, "twist").twist, "twist.twist");
  return {
    stamp,
    frameId,
    childFrameId: str(m.child_frame_id),
    pose: {
      position: vec3(pose.position, "pose.position"),
      orientation: quat(pose.orientation, "pose.orientation"),
    },
    linear: vec3(twist.linear, "twist.linear"),
    angular: vec3(twist.angular, "twist.angular"),
  };
}

/** Bytes per pixel of the sensor_msgs/Image encodings a camera driver publishes (lower case). */
const IMAGE_BYTES: Record<string, number> = {
  rgb8: 3,
  bgr8: 3,
  rgba8: 4,
  bgra8: 4,
  mono8: 1,
  "8uc1": 1,
  "8uc3": 3,
  mono16: 2,
  bayer_rggb8: 1,
  bayer_bggr8: 1,
  bayer_gbrg8: 1,
  bayer_grbg8: 1,
  bayer_rggb16: 2,
  bayer_bggr16: 2,
  bayer_gbrg16: 2,
  bayer_grbg16: 2,
  // UYVY (ROS's "yuv422") and YUYV ("yuv422_yuy2"; "uyvy"/"yuyv" in newer ROS 2): 2 pixels in 4 bytes.
  yuv422: 2,
  uyvy: 2,
  yuv422_yuy2: 2,
  yuyv: 2,
};

/** Depth encodings: a depth camera's topic given as the camera would "learn" from distances. */
const DEPTH_ENCODINGS = new Set(["16uc1", "32fc1"]);

/**
 * sensor_msgs/Image → rgb8 or mono8 with tight rows. bgr8 (and 8UC3, OpenCV's BGR)/rgba8/bgra8, Bayer mosaics (each 2×2
 * cell gives its four pixels one colour) and YUV 4:2:2 become rgb8, mono16 becomes mono8 (high
 * byte), so the learner sees one layout whatever the camera driver sends. Depth images are refused.
 */
export function imageFromRos(msg: unknown): ImageFrame {
  const m = obj(msg, "Image");
  const { stamp, frameId } = cameraHeaderOf(m);
  const width = num(m.width, "width");
  const height = num(m.height, "height");
  const step = num(m.step, "step");
  const encoding = str(m.encoding).toLowerCase();
  const bigEndian = num(m.is_bigendian ?? 0, "is_bigendian") !== 0;
  const src = bytes(m.data, "data");
  const bpp = IMAGE_BYTES[encoding];
  if (DEPTH_ENCODINGS.has(encoding)) {
    throw new ConversionError(
      `Image: encoding '${m.encoding}' is a depth image, not a camera's picture (give the colour or mono camera's topic)`,
    );
  }
  if (bpp === undefined) {
    throw new ConversionError(
      `Image: unsupported encoding '${m.encoding}' (supported: ${Object.keys(IMAGE_BYTES).join(", ")}; or CompressedImage)`,
    );
  }
  if (width <= 0 || height <= 0) throw new ConversionError(`Image: empty image ${width}x${height}`);
  if (step < width * bpp) throw new ConversionError(`Image: step ${step} < width ${width} × ${bpp} bytes`);
  if (src.byteLength < step * (height - 1) + width * bpp) {
    throw new ConversionError(
      `Image: data has ${src.byteLength} bytes, expected ${step * height} for ${width}x${height} ${encoding}`,
    );
  }
  const mono = encoding === "mono8" || encoding === "8uc1" || encoding === "mono16";
  // Already packed rgb8/mono8 rows: a view, not a copy (the decoded message owns its bytes; a frame
  // copy per image was a large share of the allocations a replay makes).
  if (step === width * bpp && (encoding === "rgb8" || encoding === "mono8" || encoding === "8uc1"))
    return {
      stamp,
      frameId,
      width,
      height,
      encoding: mono ? "mono8" : "rgb8",
      data: src.subarray(0, step * height),
    };
  const out = new Uint8Array(width * height * (mono ? 1 : 3));
  if (encoding.startsWith("bayer_")) {
    if (width < 2 || height < 2) throw new ConversionError(`Image: ${encoding} needs at least 2x2 pixels`);
    bayerToRgb(src, width, height, step, encoding, bigEndian, out);
  } else if (bpp === 2 && !mono) yuv422ToRgb(src, width, height, step, encoding, out);
  else
    for (let r = 0; r < height; r++) {
      const row = r * step;
      const o = r * width * (mono ? 1 : 3);
      switch (encoding) {
        case "rgb8":
          out.set(src.subarray(row, row + width * 3), o);
          break;
        case "mono8":
        case "8uc1":
          out.set(src.subarray(row, row + width), o);
          break;
        // 8UC3 says only "three 8-bit channels": it comes from an OpenCV Mat published without a
        // colour encoding, whose order is BGR (as Foxglove reads it).
        case "bgr8":
        case "8uc3":
          for (let c = 0; c < width; c++) {
            out[o + 3 * c] = src[row + 3 * c + 2]!;
            out[o + 3 * c + 1] = src[row + 3 * c + 1]!;
            out[o + 3 * c + 2] = src[row + 3 * c]!;
          }
          break;
        case "rgba8":
        case "bgra8": {
          const swap = encoding === "bgra8";
          for (let c = 0; c < width; c++) {
            const s = row + 4 * c;
            out[o + 3 * c] = src[s + (swap ? 2 : 0)]!;
            out[o + 3 * c + 1] = src[s + 1]!;
            out[o + 3 * c + 2] = src[s + (swap ? 0 : 2)]!;
          }
          break;
        }
        default:
          // 16-bit mono: keep the most significant byte.
          for (let c = 0; c < width; c++) out[o + c] = src[row + 2 * c + (bigEndian ? 0 : 1)]!;
      }
    }
  return { stamp, frameId, width, height, encoding: mono ? "mono8" : "rgb8", data: out };
}

/** sensor_msgs/CompressedImage, still compressed (decode with src/io/ros/decode-image.ts). */
export function compressedFromRos(msg: unknown): CompressedFrame {
  const m = obj(msg, "CompressedImage");
  const { stamp, frameId } = cameraHeaderOf(m);
  return { stamp, frameId, format: str(m.format), data: bytes(m.data, "data") };
}

/** Other names drivers and calibration tools use for ROS's `equidistant` (OpenCV fisheye, k1..k4). */
const EQUIDISTANT_ALIASES = new Set(["fisheye", "kannala_brandt", "kannala-brandt", "kb4"]);

function distortionModelOf(name: string, D: readonly number[]): DistortionModel {
  if (D.every((d) => d === 0)) return "none";
  const model = name.trim().toLowerCase();
  if (model === "" || model === "plumb_bob" || model === "rational_polynomial" || model === "equidistant")
    return model === "" ? "plumb_bob" : model;
  if (EQUIDISTANT_ALIASES.has(model) && D.length === 4) return "equidistant";
  // Projecting with the wrong model puts labels on the wrong ground, so the camera is not used.
  throw new ConversionError(
    `CameraInfo: distortion model '${name}' (d = [${D.join(", ")}]) is not supported: calibrate the camera with plumb_bob, rational_polynomial or equidistant (fisheye, 4 coefficients)`,
  );
}

/** sensor_msgs/CameraInfo (ROS 2 lower-case k/d/p, ROS 1 upper-case K/D/P). */
export function cameraInfoFromRos(msg: unknown): CameraModel {
  const m = obj(msg, "CameraInfo");
  const { stamp, frameId } = cameraHeaderOf(m);
  const K = numArray(m.k ?? m.K, "k");
  const D = numArray(m.d ?? m.D ?? [], "d");
  const P = numArray(m.p ?? m.P ?? [], "p");
  if (K.length !== 9) throw new ConversionError(`CameraInfo: k has ${K.length} values, expected 9`);
  if (K[0] === 0 || K[4] === 0) throw new ConversionError("CameraInfo: uncalibrated camera (fx or fy is 0)");
  const distortionModel = distortionModelOf(str(m.distortion_model, "plumb_bob"), D);
  let width = num(m.width, "width");
  let height = num(m.height, "height");
  const Pfull =
    P.length === 12 ? P : [K[0]!, K[1]!, K[2]!, 0, K[3]!, K[4]!, K[5]!, 0, K[6]!, K[7]!, K[8]!, 0];
  // A region of interest: the images are that window of the sensor, K and P describe the whole
  // sensor (binning is a resize, which the pipeline fits to the images' size).
  const roi = m.roi === undefined ? undefined : obj(m.roi, "roi");
  const rw = roi ? num(roi.width ?? 0, "roi.width") : 0;
  const rh = roi ? num(roi.height ?? 0, "roi.height") : 0;
  if (roi && rw > 0 && rh > 0 && (rw !== width || rh !== height)) {
    const x0 = num(roi.x_offset ?? 0, "roi.x_offset");
    const y0 = num(roi.y_offset ?? 0, "roi.y_offset");
    K[2] = K[2]! - x0;
    K[5] = K[5]! - y0;
    Pfull[2] = Pfull[2]! - x0;
    Pfull[6] = Pfull[6]! - y0;
    width = rw;
    height = rh;
  }
  return { stamp, frameId, width, height, K, D, distortionModel, P: Pfull };
}

/** tf2_msgs/TFMessage → transforms. `isStatic` is the caller's knowledge of the topic (/tf_static). */
export function transformsFromRos(msg: unknown, isStatic: boolean): Transform[] {
  const m = obj(msg, "TFMessage");
  const list = m.transforms;
  if (!Array.isArray(list)) throw new ConversionError("TFMessage: transforms is not an array");
  return list.map((t, i) => {
    const ts = obj(t, `transforms[${i}]`);
    const { stamp, frameId } = headerOf(ts);
    const tr = obj(ts.transform, `transforms[${i}].transform`);
    return {
      stamp,
      parent: stripSlash(frameId),
      child: stripSlash(str(ts.child_frame_id)),
      translation: vec3(tr.translation, "translation"),
      rotation: quat(tr.rotation, "rotation"),
      isStatic,
    };
  });
}

/** ROS 1 frames often carry a leading slash; tf2 does not. */
export function stripSlash(frame: string): string {
  return frame.startsWith("/") ? frame.slice(1) : frame;
}

/** ROS 1 spells these CameraInfo fields in upper case; ROS 2 in lower case. */
const ROS1_CAMERA_INFO_FIELDS = ["D", "K", "R", "P"] as const;

/**
 * A message decoded from a ROS 1 bag, in the shape a ROS 2 writer serialises: every time and
 * duration {sec, nsec} becomes {sec, nanosec} (a ROS 2 writer would write 0 ns) and CameraInfo's
 * D, K, R, P become d, k, r, p (it would write zeros). A message already in ROS 2 shape comes back
 * as the same object; bytes and numeric arrays are shared, not copied.
 */
export function toRos2Shape(msg: unknown): unknown {
  if (msg === null || typeof msg !== "object" || ArrayBuffer.isView(msg)) return msg;
  if (Array.isArray(msg)) {
    if (msg.length === 0 || typeof msg[0] !== "object") return msg;
    let out: unknown[] | undefined;
    for (let i = 0; i < msg.length; i++) {
      const v = toRos2Shape(msg[i]);
      if (v === msg[i]) continue;
      out ??= msg.slice();
      out[i] = v;
    }
    return out ?? msg;
  }
  const o = msg as Obj;
  if ("nsec" in o && "sec" in o && !("nanosec" in o)) {
    const { nsec, ...rest } = o;
    return { ...rest, nanosec: nsec };
  }
  let out: Obj | undefined;
  for (const key of Object.keys(o)) {
    const v = toRos2Shape(o[key]);
    if (v === o[key]) continue;
    out ??= { ...o };
    out[key] = v;
  }
  if ("K" in o && !("k" in o)) {
    out ??= { ...o };
    for (const f of ROS1_CAMERA_INFO_FIELDS) {
      if (!(f in out)) continue;
      out[f.toLowerCase()] = out[f];
      delete out[f];
    }
  }
  return out ?? o;
}

// The other way (core → ROS) lives in to-ros.ts; importers of this module get both.
export * from "./to-ros.ts";
