// Pipeline events and inputs → the live view's ROS messages. Pure (no sockets): the sink asks for a
// channel's message only when a viewer subscribes to it, and this module builds it from the same
// conversions the ROS node and the recorder use.

import type { CameraModel, OdomSample, RoughnessLabel, Stamp, Transform } from "../../core/types.ts";
import { spearman } from "../../eval/metrics.ts";
import type { BagEvent } from "../../io/bag/types.ts";
import {
  cameraInfoFromRos,
  cameraInfoToRos,
  imageToRos,
  odomFromRos,
  toRosHeader,
  transformsFromRos,
  transformsToRos,
} from "../../io/ros/convert.ts";
import { gridCameraModel } from "../../outputs/grid-camera.ts";
import type { Config } from "../../runtime/config.ts";
import type { CoreInput, PipelineStats, PredictionEvent } from "../../runtime/pipeline.ts";
import { outputsToRos, rosOutputOptions } from "../../runtime/sinks/ros-outputs.ts";
import { rgbaOf } from "../ros2-wiring.ts";
import type { LiveViewKey } from "./channels.ts";

export interface LiveMessage {
  key: LiveViewKey;
  stamp: Stamp;
  message: unknown;
}

/** Labels kept for the labels layer (the newest; a long drive replaces the oldest). */
const MAX_LABELS = 4000;
/** Trailing window of the live ρ against simulator ground truth (s of sensor time). */
const RHO_WINDOW = 10;
const MARKER = { CUBE: 1, TRIANGLE_LIST: 11, ADD: 0 } as const;
/** The frame outputs the live view serves under the node's output topics. */
const OUTPUT_KEYS = ["roughness", "confidence", "overlay", "costmap", "ahead", "speedLimit"] as const;

export class LiveViewMapper {
  readonly #config: Config;
  #camera: CameraModel | undefined;
  #static = new Map<string, Transform>();
  /** Child frames some input publishes on /tf: odometry does not stand in for them. */
  #tfChildren = new Set<string>();
  /** The newest dynamic transform of each child frame (inputs' or made from odometry). */
  #latest = new Map<string, Transform>();
  #labels: RoughnessLabel[] = [];
  #labelHead = 0;
  #last = { stamp: Number.NaN, ahead: Number.NaN, speedLimit: Number.NaN };
  #rho: { stamp: Stamp; pred: Float32Array; truth: Float32Array }[] = [];
  #dataTime = Number.NaN;
  #jumpPending = false;

  constructor(config: Config) {
    this.#config = config;
  }

  /**
   * The newest stamp of the robot's motion (odometry, dynamic TF) seen so far, or since the last new
   * timeline began: the data's clock. NaN before any.
   */
  get dataTime(): Stamp {
    return this.#dataTime;
  }

  /** Messages an input yields (TF, camera info); `wants` says which channels have viewers. */
  input(event: BagEvent | CoreInput, wants: (key: LiveViewKey) => boolean): LiveMessage[] {
    const input = "type" in event ? this.#fromBag(event) : event;
    if (!input) return [];
    switch (input.kind) {
      case "transforms": {
        const dynamic = input.transforms.filter((t) => !t.isStatic);
        for (const t of dynamic) this.#advanceTime(t.stamp);
        for (const t of input.transforms) {
          if (t.isStatic) this.#static.set(t.child, t);
          else {
            this.#tfChildren.add(t.child);
            this.#keepLatest(t);
          }
        }
        const out: LiveMessage[] = [];
        const stamp = input.transforms[0]?.stamp ?? Number.NaN;
        if (dynamic.length && wants("tf")) out.push({ key: "tf", stamp, message: transformsToRos(dynamic) });
        if (dynamic.length < input.transforms.length && wants("tfStatic")) out.push(this.staticTransforms()!);
        return out;
      }
      case "cameraInfo":
        this.#camera = input.model;
        return wants("cameraInfo")
          ? [{ key: "cameraInfo", stamp: input.model.stamp, message: cameraInfoToRos(input.model) }]
          : [];
      case "odom": {
        this.#advanceTime(input.sample.stamp);
        const t = this.#odomTransform(input.sample);
        if (t) this.#keepLatest(t);
        return t && wants("tf") ? [{ key: "tf", stamp: t.stamp, message: transformsToRos([t]) }] : [];
      }
      default:
        return [];
    }
  }

  /** The messages of one processed frame. `truth` (simulator bags) feeds the live ρ. */
  prediction(e: PredictionEvent, wants: (key: LiveViewKey) => boolean, truth?: Float32Array): LiveMessage[] {
    const o = e.outputs;
    this.#last = { stamp: e.stamp, ahead: o.ahead, speedLimit: o.speedLimit };
    if (truth) this.#addRhoSample(e.stamp, o.grid.roughness, truth);
    const out: LiveMessage[] = [];
    const stamp = e.stamp;
    if (wants("camera")) out.push({ key: "camera", stamp, message: imageToRos(e.image) });
    const keys = OUTPUT_KEYS.filter((key) => wants(key));
    if (keys.length) {
      const ros = outputsToRos(o, rosOutputOptions(this.#config));
      for (const key of keys) {
        const message = ros[key];
        if (message !== undefined) out.push({ key, stamp, message });
      }
    }
    if (this.#camera && wants("roughnessInfo")) {
      const model = gridCameraModel(this.#camera, o.grid);
      out.push({ key: "roughnessInfo", stamp, message: cameraInfoToRos(model) });
    }
    if (wants("robot")) out.push(this.robot(stamp));
    return out;
  }

  label(label: RoughnessLabel): void {
    if (this.#labels.length < MAX_LABELS) this.#labels.push(label);
    else {
      this.#labels[this.#labelHead] = label;
      this.#labelHead = (this.#labelHead + 1) % MAX_LABELS;
    }
  }

  get labelCount(): number {
    return this.#labels.length;
  }

  /**
   * Every kept label as one marker (a triangle list coloured per vertex), so a viewer that joins late
   * sees the whole drive and each update replaces the previous one.
   */
  labelsMessage(): LiveMessage {
    const frame = this.#config.frames.odom;
    const points: { x: number; y: number; z: number }[] = [];
    const colors: { r: number; g: number; b: number; a: number }[] = [];
    let stamp = Number.NaN;
    for (const l of this.#labels) {
      const { xs, ys } = l.footprint;
      const c = rgbaOf(l.roughness);
      for (let k = 1; k + 1 < xs.length; k++) {
        for (const j of [0, k, k + 1]) {
          points.push({ x: xs[j]!, y: ys[j]!, z: 0.02 });
          colors.push(c);
        }
      }
      if (!(l.stamp <= stamp)) stamp = l.stamp;
    }
    const marker = {
      header: toRosHeader(Number.isFinite(stamp) ? stamp : 0, frame),
      ns: "terrain_learner/labels",
      id: 0,
      type: MARKER.TRIANGLE_LIST,
      action: MARKER.ADD,
      pose: { position: { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
      scale: { x: 1, y: 1, z: 1 },
      color: { r: 1, g: 1, b: 1, a: 1 },
      frame_locked: false,
      points,
      colors,
    };
    return { key: "labels", stamp: Number.isFinite(stamp) ? stamp : 0, message: { markers: [marker] } };
  }

  /** The static transforms seen so far (sent again now and then: the protocol has no latching). */
  staticTransforms(): LiveMessage | undefined {
    if (this.#static.size === 0) return undefined;
    const ts = [...this.#static.values()];
    return { key: "tfStatic", stamp: ts[0]!.stamp, message: transformsToRos(ts) };
  }

  cameraInfo(): LiveMessage | undefined {
    const c = this.#camera;
    return c ? { key: "cameraInfo", stamp: c.stamp, message: cameraInfoToRos(c) } : undefined;
  }

  learner(stats: PipelineStats, learning: boolean): LiveMessage {
    const stamp = Number.isFinite(this.#last.stamp) ? this.#last.stamp : stats.stamp;
    return {
      key: "learner",
      stamp,
      message: {
        header: toRosHeader(Number.isFinite(stamp) ? stamp : 0, ""),
        sensor_seconds: stats.sensorSeconds,
        frames_processed: stats.framesProcessed,
        frames_dropped: stats.framesDropped,
        keyframes: stats.keyframes,
        labels: stats.labels,
        samples: stats.samples,
        train_steps: stats.trainSteps,
        buffer_size: stats.bufferSize,
        loss: stats.lastLoss,
        rho: this.rho(),
        frame_ms: stats.frameMs,
        roughness_ahead: this.#last.ahead,
        speed_limit: this.#last.speedLimit,
        learning,
        backend: stats.backend,
      },
    };
  }

  /** Spearman ρ of predictions against ground truth over the last RHO_WINDOW s (NaN without truth). */
  rho(): number {
    const n = this.#rho.reduce((a, f) => a + f.pred.length, 0);
    if (n < 2) return Number.NaN;
    const pred = new Float32Array(n);
    const truth = new Float32Array(n);
    let k = 0;
    for (const f of this.#rho) {
      pred.set(f.pred, k);
      truth.set(f.truth, k);
      k += f.pred.length;
    }
    return spearman(pred, truth);
  }

  #addRhoSample(stamp: Stamp, roughness: Float32Array, truth: Float32Array): void {
    let n = 0;
    for (let i = 0; i < truth.length; i++)
      if (Number.isFinite(truth[i]!) && Number.isFinite(roughness[i]!)) n++;
    const pred = new Float32Array(n);
    const gt = new Float32Array(n);
    for (let i = 0, k = 0; i < truth.length; i++) {
      if (!Number.isFinite(truth[i]!) || !Number.isFinite(roughness[i]!)) continue;
      pred[k] = roughness[i]!;
      gt[k++] = truth[i]!;
    }
    this.#rho.push({ stamp, pred, truth: gt });
    while (this.#rho.length && this.#rho[0]!.stamp < stamp - RHO_WINDOW) this.#rho.shift();
  }

  /**
   * The stamps went back (the pipeline's `clockJump`): the live ρ starts afresh, and the clock goes
   * back at the first earlier stamp of the robot's motion. Not at once: the old timeline's last
   * inputs may still be on their way.
   */
  restartTime(): void {
    this.#jumpPending = true;
    this.#rho = [];
  }

  #advanceTime(stamp: Stamp): void {
    if (!Number.isFinite(stamp)) return;
    if (!(stamp <= this.#dataTime)) this.#dataTime = stamp;
    else if (this.#jumpPending && stamp < this.#dataTime) {
      this.#dataTime = stamp;
      this.#jumpPending = false;
    }
  }

  /**
   * The newest dynamic transform of each frame, for a viewer that subscribes while the robot stands
   * still or after the run: its 3D view needs them to place the labels around the robot.
   */
  latestTransforms(): LiveMessage | undefined {
    if (this.#latest.size === 0) return undefined;
    const ts = [...this.#latest.values()];
    return { key: "tf", stamp: Math.max(...ts.map((t) => t.stamp)), message: transformsToRos(ts) };
  }

  /** The last to arrive (each frame's transforms come from one source, in order; a new timeline too). */
  #keepLatest(t: Transform): void {
    this.#latest.set(t.child, t);
  }

  /** odom → base_link from odometry when no input publishes that transform (serial odometry). */
  #odomTransform(s: OdomSample): Transform | undefined {
    const child = s.childFrameId || this.#config.frames.base;
    if (this.#tfChildren.has(child)) return undefined;
    return {
      stamp: s.stamp,
      parent: s.frameId || this.#config.frames.odom,
      child,
      translation: s.pose.position,
      rotation: s.pose.orientation,
      isStatic: false,
    };
  }

  /** A box at the robot's base frame, for the 3D view (frame-locked: it follows the frame's TF). */
  robot(stamp: Stamp = this.#dataTime): LiveMessage {
    const t = Number.isFinite(stamp) ? stamp : 0;
    return { key: "robot", stamp: t, message: this.#robotMarker(t) };
  }

  #robotMarker(stamp: Stamp): unknown {
    return {
      header: toRosHeader(stamp, this.#config.frames.base),
      ns: "terrain_learner/robot",
      id: 0,
      type: MARKER.CUBE,
      action: MARKER.ADD,
      pose: { position: { x: 0, y: 0, z: 0.15 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
      scale: { x: 0.7, y: 0.5, z: 0.3 },
      color: { r: 0.2, g: 0.4, b: 0.9, a: 0.8 },
      frame_locked: true,
    };
  }

  /** A bag message as the input kinds this module reads (null for others or unreadable ones). */
  #fromBag(event: BagEvent): CoreInput | null {
    if (event.type !== "message") return null;
    const t = this.#config.topics;
    // The pipeline reports a message that does not convert; here it is only not shown.
    try {
      switch (event.topic) {
        case t.tf:
          return { kind: "transforms", transforms: transformsFromRos(event.message, false) };
        case t.tf_static:
          return { kind: "transforms", transforms: transformsFromRos(event.message, true) };
        case t.camera_info:
          return { kind: "cameraInfo", model: cameraInfoFromRos(event.message) };
        case t.odom:
          return { kind: "odom", sample: odomFromRos(event.message) };
        default:
          return null;
      }
    } catch {
      return null;
    }
  }
}
