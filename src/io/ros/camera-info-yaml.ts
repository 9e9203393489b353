// A camera's calibration file, as ROS's camera_calibration and camera_info_manager write it
// (camera_calibration_parsers' YAML: image_width, image_height, camera_name, camera_matrix,
// distortion_model, distortion_coefficients, rectification_matrix, projection_matrix, each matrix
// as {rows, cols, data}), turned into the sensor_msgs/msg/CameraInfo a driver would publish with
// it, so that the pipeline reads it as it reads a bag's CameraInfo. Pure: text in, message out.

import { parse } from "yaml";

/** Other names tools give the equidistant (OpenCV fisheye, k1..k4) model; convert.ts takes them too. */
const EQUIDISTANT = new Set(["equidistant", "fisheye", "kannala_brandt", "kannala-brandt", "kb4"]);

/** How many coefficients each model the pipeline projects with takes. */
function coefficientCounts(model: string): readonly number[] | undefined {
  if (model === "plumb_bob") return [4, 5];
  if (model === "rational_polynomial") return [8];
  if (EQUIDISTANT.has(model)) return [4];
  return undefined;
}

export interface CameraCalibration {
  cameraName: string;
  width: number;
  height: number;
  /**
   * sensor_msgs/msg/CameraInfo in the decoded-bag shape (snake_case, lower-case k/d/r/p), header
   * empty: whoever publishes it stamps it with the frame it describes.
   */
  message: {
    header: { stamp: { sec: number; nanosec: number }; frame_id: string };
    height: number;
    width: number;
    distortion_model: string;
    d: number[];
    k: number[];
    r: number[];
    p: number[];
    binning_x: number;
    binning_y: number;
    roi: { x_offset: number; y_offset: number; height: number; width: number; do_rectify: boolean };
  };
}

type Doc = Record<string, unknown>;

/**
 * Parses a calibration file's text; `file` names it in the errors, one line each, which name the
 * key at fault. rectification_matrix and projection_matrix may be left out (identity, and K with a
 * zero fourth column, as a CameraInfo without P is read); distortion_model too (plumb_bob, as
 * camera_calibration_parsers assumes).
 */
export function parseCameraCalibration(text: string, file: string): CameraCalibration {
  const fail = (why: string): never => {
    throw new Error(`${file}: ${why}`);
  };
  const keys = "image_width, image_height, camera_matrix, distortion_coefficients, ...";
  if (text.includes("\u0000")) fail(`not a YAML calibration file (binary data; expected ${keys})`);
  if (text.includes("opencv-matrix"))
    fail(
      "an OpenCV FileStorage file (!!opencv-matrix), not the ROS calibration format: write it with ROS's camera_calibration, or copy its values into image_width, image_height, camera_matrix {rows, cols, data}, ...",
    );
  let doc: unknown;
  try {
    doc = parse(text, { logLevel: "error" });
  } catch (err) {
    fail(`not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    fail(`not a camera calibration: expected a YAML mapping with ${keys}`);
  const d = doc as Doc;

  const size = (key: string): number => {
    const v = d[key];
    if (v === undefined) fail(`missing key ${key}`);
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      fail(`${key} must be a whole number of pixels above 0, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const width = size("image_width");
  const height = size("image_height");

  /** A {rows, cols, data} matrix; `shapes` are the [rows, cols] it may have. */
  const matrix = (key: string, shapes: readonly (readonly [number, number])[], optional = false) => {
    const m = d[key];
    if (m === undefined || m === null) {
      if (optional) return undefined;
      return fail(`missing key ${key}`);
    }
    if (typeof m !== "object" || Array.isArray(m)) return fail(`${key} must be a mapping {rows, cols, data}`);
    const { rows, cols, data } = m as Doc;
    for (const [name, v] of [
      ["rows", rows],
      ["cols", cols],
    ] as const)
      if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
        fail(`${key}.${name} must be a whole number above 0, got ${JSON.stringify(v)}`);
    if (!Array.isArray(data)) return fail(`${key}.data must be a list of numbers`);
    const r = rows as number;
    const c = cols as number;
    const want = shapes.map(([a, b]) => `${a}x${b}`);
    if (!shapes.some(([a, b]) => a === r && b === c))
      fail(`${key} is ${r}x${c} (rows x cols), expected ${want.join(" or ")}`);
    if (data.length !== r * c) fail(`${key}.data has ${data.length} values, expected ${r * c} (${r}x${c})`);
    return data.map((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v))
        fail(`${key}.data[${i}] is ${JSON.stringify(v)}, not a number`);
      return v as number;
    });
  };

  const K = matrix("camera_matrix", [[3, 3]])!;
  if (K[0]! <= 0 || K[4]! <= 0)
    fail(`camera_matrix: fx and fy must be above 0, got fx = ${K[0]}, fy = ${K[4]} (an uncalibrated camera)`);

  const rawModel = d.distortion_model ?? "plumb_bob";
  if (typeof rawModel !== "string") fail(`distortion_model must be a name, got ${JSON.stringify(rawModel)}`);
  const model = (rawModel as string).trim().toLowerCase();
  const counts = coefficientCounts(model);
  if (!counts)
    fail(
      `distortion_model '${rawModel}' is not supported: plumb_bob, rational_polynomial or equidistant (fisheye, kannala_brandt; 4 coefficients)`,
    );
  const D = matrix(
    "distortion_coefficients",
    counts!.flatMap((n) => [[1, n] as const, [n, 1] as const]),
  )!;
  const R = matrix("rectification_matrix", [[3, 3]], true) ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const P = matrix("projection_matrix", [[3, 4]], true) ?? [
    K[0]!,
    K[1]!,
    K[2]!,
    0,
    K[3]!,
    K[4]!,
    K[5]!,
    0,
    K[6]!,
    K[7]!,
    K[8]!,
    0,
  ];
  const name = d.camera_name;
  return {
    cameraName: typeof name === "string" ? name : name === undefined || name === null ? "" : String(name),
    width,
    height,
    message: {
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: "" },
      height,
      width,
      // The name as written: convert.ts maps the fisheye aliases as it does for a driver's message.
      distortion_model: rawModel as string,
      d: D,
      k: K,
      r: R,
      p: P,
      binning_x: 0,
      binning_y: 0,
      roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
    },
  };
}
