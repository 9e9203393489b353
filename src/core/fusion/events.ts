// The tagged union that flows out of the sensor merge. `stamp` is the message's header stamp
// (seconds); it is what ordering, lateness and duplicates are judged on.

import type {
  CameraModel,
  CompressedFrame,
  ImageFrame,
  ImuSample,
  OdomSample,
  Problem,
  Stamp,
  Transform,
} from "../types.ts";

export type SensorEvent =
  | { kind: "imu"; stamp: Stamp; value: ImuSample }
  | { kind: "odom"; stamp: Stamp; value: OdomSample }
  | { kind: "image"; stamp: Stamp; value: ImageFrame | CompressedFrame }
  | { kind: "cameraInfo"; stamp: Stamp; value: CameraModel }
  | { kind: "tf"; stamp: Stamp; value: Transform[] }
  /** Static transforms are timeless: they bypass ordering and are never late. */
  | { kind: "tfStatic"; stamp: Stamp; value: Transform[] };

export type SensorKind = SensorEvent["kind"];

export function isProblem(x: unknown): x is Problem {
  return typeof x === "object" && x !== null && (x as { type?: unknown }).type === "problem";
}

export function problem(kind: string, message: string, topic?: string, stamp?: Stamp): Problem {
  const p: Problem = { type: "problem", kind, message };
  if (topic !== undefined) p.topic = topic;
  if (stamp !== undefined) p.stamp = stamp;
  return p;
}
