// core → ROS: message objects ready for a CDR writer or an rclnodejs publisher (the recorder, the
// live view and the ROS 2 node all write through these).

import { secondsToRosTime } from "../../core/time.ts";
import type {
  CameraModel,
  CompressedFrame,
  Costmap,
  ImageFrame,
  ImuSample,
  OdomSample,
  Stamp,
  Transform,
  Vec3,
} from "../../core/types.ts";
import { cameraStamps } from "./stamp-memo.ts";

type Obj = Record<string, unknown>;

export function toRosHeader(
  stamp: Stamp,
  frameId: string,
): { stamp: { sec: number; nanosec: number }; frame_id: string } {
  return { stamp: cameraStamps.toRos(stamp), frame_id: frameId };
}

export function imuToRos(s: ImuSample): Obj {
  return {
    header: toRosHeader(s.stamp, s.frameId),
    orientation: s.orientation ?? { x: 0, y: 0, z: 0, w: 1 },
    orientation_covariance: s.orientation
      ? new Float64Array(9)
      : Float64Array.from([-1, 0, 0, 0, 0, 0, 0, 0, 0]),
    angular_velocity: s.angularVelocity,
    angular_velocity_covariance: new Float64Array(9),
    linear_acceleration: s.linearAcceleration,
    linear_acceleration_covariance: new Float64Array(9),
  };
}

export function odomToRos(s: OdomSample): Obj {
  return {
    header: toRosHeader(s.stamp, s.frameId),
    child_frame_id: s.childFrameId,
    pose: { pose: s.pose, covariance: new Float64Array(36) },
    twist: { twist: { linear: s.linear, angular: s.angular }, covariance: new Float64Array(36) },
  };
}

export function imageToRos(img: ImageFrame): Obj {
  const channels = img.encoding === "rgb8" ? 3 : 1;
  return {
    header: toRosHeader(img.stamp, img.frameId),
    height: img.height,
    width: img.width,
    encoding: img.encoding,
    is_bigendian: 0,
    step: img.width * channels,
    data: img.data,
  };
}

/** A 32FC1 image (roughness / confidence per cell), little-endian as on every robot we target. */
export function float32ImageToRos(
  stamp: Stamp,
  frameId: string,
  width: number,
  height: number,
  values: Float32Array,
): Obj {
  return {
    header: toRosHeader(stamp, frameId),
    height,
    width,
    encoding: "32FC1",
    is_bigendian: 0,
    step: width * 4,
    data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

export function compressedToRos(f: CompressedFrame): Obj {
  return { header: toRosHeader(f.stamp, f.frameId), format: f.format, data: f.data };
}

export function cameraInfoToRos(c: CameraModel): Obj {
  const R = new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  return {
    header: toRosHeader(c.stamp, c.frameId),
    height: c.height,
    width: c.width,
    distortion_model: c.distortionModel === "none" ? "plumb_bob" : c.distortionModel,
    d: Float64Array.from(c.D),
    k: Float64Array.from(c.K),
    r: R,
    p: Float64Array.from(c.P),
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

export function transformsToRos(ts: readonly Transform[]): Obj {
  return {
    transforms: ts.map((t) => ({
      header: toRosHeader(t.stamp, t.parent),
      child_frame_id: t.child,
      transform: { translation: t.translation, rotation: t.rotation },
    })),
  };
}

export function costmapToRos(c: Costmap): Obj {
  return {
    header: toRosHeader(c.stamp, c.frameId),
    info: {
      map_load_time: cameraStamps.toRos(c.stamp),
      resolution: c.resolution,
      width: c.width,
      height: c.height,
      origin: { position: { x: c.originX, y: c.originY, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
    },
    data: c.data,
  };
}

// ---------------------------------------------------------------------------------------------
// Live-node outputs (added by the adapters: labels as markers, diagnostics).

/** Colour in 0..1 per channel. */
export interface Rgba {
  r: number;
  g: number;
  b: number;
  a: number;
}

export interface LabelMarkerOptions {
  ns: string;
  /** Marker id of the first label; ids wrap at `idModulo` so RViz keeps a bounded set. */
  firstId: number;
  idModulo: number;
  colorOf: (roughness: number) => Rgba;
  /** Seconds a marker stays visible (0: until replaced). */
  lifetime: number;
  /** Height above the ground plane (m), so the patches do not z-fight with a map. */
  z: number;
}

/**
 * visualization_msgs/MarkerArray: each label's footprint as a filled TRIANGLE_LIST (fan over the
 * convex footprint polygon) in the label's frame, coloured by roughness.
 */
export function labelMarkersToRos(
  labels: readonly {
    stamp: Stamp;
    roughness: number;
    footprint: { frameId: string; xs: Float64Array; ys: Float64Array };
  }[],
  o: LabelMarkerOptions,
): Obj {
  const TRIANGLE_LIST = 11;
  const ADD = 0;
  const markers = labels.map((l, i) => {
    const { xs, ys } = l.footprint;
    const points: Vec3[] = [];
    for (let k = 1; k + 1 < xs.length; k++) {
      points.push(
        { x: xs[0]!, y: ys[0]!, z: o.z },
        { x: xs[k]!, y: ys[k]!, z: o.z },
        { x: xs[k + 1]!, y: ys[k + 1]!, z: o.z },
      );
    }
    const color = o.colorOf(l.roughness);
    return {
      header: toRosHeader(l.stamp, l.footprint.frameId),
      ns: o.ns,
      id: (o.firstId + i) % o.idModulo,
      type: TRIANGLE_LIST,
      action: ADD,
      pose: { position: { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
      scale: { x: 1, y: 1, z: 1 },
      color,
      lifetime: secondsToRosTime(o.lifetime),
      frame_locked: false,
      points,
      colors: [],
      texture_resource: "",
      texture: { header: toRosHeader(0, ""), format: "", data: new Uint8Array(0) },
      uv_coordinates: [],
      text: "",
      mesh_resource: "",
      mesh_file: { filename: "", data: new Uint8Array(0) },
      mesh_use_embedded_materials: false,
    };
  });
  return { markers };
}

/** diagnostic_msgs/DiagnosticStatus levels. */
export const DIAGNOSTIC_LEVEL = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;

export interface DiagnosticStatusInput {
  level: number;
  name: string;
  message: string;
  hardwareId: string;
  values: Record<string, string | number | boolean>;
}

/** diagnostic_msgs/DiagnosticArray; numbers are printed with up to 4 decimals, NaN as "nan". */
export function diagnosticArrayToRos(stamp: Stamp, statuses: readonly DiagnosticStatusInput[]): Obj {
  const fmt = (v: string | number | boolean): string => {
    if (typeof v === "number") return Number.isFinite(v) ? String(Math.round(v * 1e4) / 1e4) : "nan";
    return String(v);
  };
  return {
    header: toRosHeader(stamp, ""),
    status: statuses.map((s) => ({
      level: s.level,
      name: s.name,
      message: s.message,
      hardware_id: s.hardwareId,
      values: Object.entries(s.values).map(([key, value]) => ({ key, value: fmt(value) })),
    })),
  };
}
