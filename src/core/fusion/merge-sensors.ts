// Merges the sensor streams of one robot into one stamp-ordered stream of SensorEvents: each input
// is validated on its own (NaN / duplicate / backwards → Problem), then all are merged and
// re-ordered within `reorderWindow` seconds (late → Problem). Static TF passes through at once.

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
import { reorderByStamp } from "./reorder-by-stamp.ts";
import { validateStamps } from "./validate-stamps.ts";

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

export function mergeSensors(
  sources: SensorSources,
  options: MergeOptions,
): Observable<SensorEvent | Problem> {
  const streams: Observable<SensorEvent | Problem>[] = [];
  if (sources.imu$) {
    streams.push(
      sources.imu$.pipe(
        validateStamps<ImuSample>({
          topic: "imu",
          stampOf: (s) => s.stamp,
          isValid: (s) => finite3(s.linearAcceleration) && finite3(s.angularVelocity),
        }),
        tag("imu", (s: ImuSample) => s.stamp),
      ),
    );
  }
  if (sources.odom$) {
    streams.push(
      sources.odom$.pipe(
        validateStamps<OdomSample>({
          topic: "odom",
          stampOf: (s) => s.stamp,
          isValid: (s) => finite3(s.pose.position),
        }),
        tag("odom", (s: OdomSample) => s.stamp),
      ),
    );
  }
  if (sources.image$) {
    streams.push(
      sources.image$.pipe(
        validateStamps<ImageFrame | CompressedFrame>({ topic: "image", stampOf: (s) => s.stamp }),
        tag("image", (s: ImageFrame | CompressedFrame) => s.stamp),
      ),
    );
  }
  if (sources.cameraInfo$) {
    streams.push(
      sources.cameraInfo$.pipe(
        validateStamps<CameraModel>({ topic: "camera_info", stampOf: (s) => s.stamp }),
        tag("cameraInfo", (s: CameraModel) => s.stamp),
      ),
    );
  }
  if (sources.tf$) {
    streams.push(
      sources.tf$.pipe(
        validateStamps<Transform[]>({ topic: "tf", stampOf: tfStamp, allowEqual: true }),
        tag("tf", tfStamp),
      ),
    );
  }
  if (sources.tfStatic$) {
    streams.push(sources.tfStatic$.pipe(tag("tfStatic", () => 0)));
  }
  return merge(...streams).pipe(
    reorderByStamp<SensorEvent>({
      window: options.reorderWindow,
      stampOf: (e) => e.stamp,
      passThrough: (e) => e.kind === "tfStatic",
      topicOf: (e) => e.kind,
      ...(options.idleFlush !== undefined ? { idleFlush: options.idleFlush } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    }),
  );
}
