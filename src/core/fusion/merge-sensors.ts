// Merges the sensor streams of one robot into one stamp-ordered stream of SensorEvents: all are
// merged and re-ordered within `reorder_window` seconds (late → Problem), then each stream is checked
// in that order (NaN / duplicate → Problem; see fuse-streams.ts). Static TF passes through at once.

import { map, merge, type Observable, type SchedulerLike } from "rxjs";
import type {
  CameraModel,
  CompressedFrame,
  ImageFrame,
  ImuSample,
  OdomSample,
  Problem,
  Transform,
} from "../types.ts";
import type { SensorEvent } from "./events.ts";
import { fuseStreams } from "./fuse-streams.ts";

export interface SensorSources {
  imu$?: Observable<ImuSample | Problem>;
  odom$?: Observable<OdomSample | Problem>;
  image$?: Observable<ImageFrame | CompressedFrame | Problem>;
  cameraInfo$?: Observable<CameraModel | Problem>;
  tf$?: Observable<Transform[] | Problem>;
  tfStatic$?: Observable<Transform[] | Problem>;
}

export interface MergeOptions {
  reorderWindow: number;
  idleFlush?: number;
  scheduler?: SchedulerLike;
  /** See FuseOptions.watermark (default "window"). */
  watermark?: "window" | "sources";
}

const finite3 = (v: { x: number; y: number; z: number }) =>
  Number.isFinite(v.x) && Number.isFinite(v.y) && Number.isFinite(v.z);

function tag<T, K extends SensorEvent["kind"]>(kind: K, stampOf: (x: T) => number) {
  return map((x: T | Problem): SensorEvent | Problem =>
    (x as Problem).type === "problem"
      ? (x as Problem)
      : ({ kind, stamp: stampOf(x as T), value: x } as SensorEvent),
  );
}

const tfStamp = (ts: Transform[]) => (ts.length ? Math.max(...ts.map((t) => t.stamp)) : Number.NaN);

const KIND_RANK: Record<SensorEvent["kind"], number> = {
  tfStatic: 0,
  odom: 1,
  tf: 2,
  imu: 3,
  image: 4,
  cameraInfo: 5,
};

function validContent(e: SensorEvent): boolean {
  switch (e.kind) {
    case "imu":
      return finite3(e.value.linearAcceleration) && finite3(e.value.angularVelocity);
    case "odom":
      return finite3(e.value.pose.position);
    default:
      return true;
  }
}

export function mergeSensors(
  sources: SensorSources,
  options: MergeOptions,
): Observable<SensorEvent | Problem> {
  const streams: Observable<SensorEvent | Problem>[] = [];
  if (sources.imu$) streams.push(sources.imu$.pipe(tag("imu", (s: ImuSample) => s.stamp)));
  if (sources.odom$) streams.push(sources.odom$.pipe(tag("odom", (s: OdomSample) => s.stamp)));
  if (sources.image$)
    streams.push(sources.image$.pipe(tag("image", (s: ImageFrame | CompressedFrame) => s.stamp)));
  if (sources.cameraInfo$)
    streams.push(sources.cameraInfo$.pipe(tag("cameraInfo", (s: CameraModel) => s.stamp)));
  if (sources.tf$) streams.push(sources.tf$.pipe(tag("tf", tfStamp)));
  // Static transforms are timeless: stamp 0, never held, never late.
  if (sources.tfStatic$) streams.push(sources.tfStatic$.pipe(tag("tfStatic", () => 0)));
  return merge(...streams).pipe(
    fuseStreams<SensorEvent>({
      window: options.reorderWindow,
      stampOf: (e) => e.stamp,
      streamOf: (e) => e.kind,
      rankOf: (e) => KIND_RANK[e.kind],
      passThrough: (e) => e.kind === "tfStatic",
      isValid: validContent,
      allowEqual: (e) => e.kind === "tf" || e.kind === "tfStatic",
      ...(options.watermark ? { watermark: options.watermark } : {}),
      ...(options.idleFlush !== undefined ? { idleFlush: options.idleFlush } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    }),
  );
}
