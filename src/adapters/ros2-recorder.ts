// `replay --record`: what the live node would publish, written to an MCAP with the node's topic
// names, message types and QoS (from the same specs ros2.ts creates its publishers from), next to
// the input topics the replay read. Outputs follow sensor time: the costmap at `ros.costmap_rate` Hz
// of bag time, /diagnostics at `ros.diagnostics_rate`, label markers as labels are made, and the
// roughness image's CameraInfo with each roughness image.

import type { RoughnessGrid } from "../core/types.ts";
import type { BagMessage } from "../io/bag/index.ts";
import type { Ros2McapWriter } from "../io/bag/mcap-writer.ts";
import { cameraInfoToRos, toRos2Shape } from "../io/ros/convert.ts";
import { hasDefinition } from "../io/ros/definitions.ts";
import { gridCameraModel } from "../outputs/grid-camera.ts";
import type { Config } from "../runtime/config.ts";
import type { PipelineEvent, PipelineStats, PredictionEvent } from "../runtime/pipeline.ts";
import { diagnosticsMessage, InputMeter } from "./ros2-diagnostics.ts";
import {
  type InputKind,
  type Outgoing,
  OutputMapper,
  type PublisherSpec,
  publisherSpecs,
  type SubscriptionSpec,
  subscriptionSpecs,
} from "./ros2-wiring.ts";

/**
 * ROS 1 types whose ROS 2 form has another package: the fields are the same, so the message is
 * written as the ROS 2 type (ROS 1 `tf` predates tf2_msgs; without this a recording of an older bag
 * lost its transforms and did not replay like the bag).
 */
const ROS2_EQUIVALENT: Record<string, string> = { "tf/msg/tfMessage": "tf2_msgs/msg/TFMessage" };

/** Frames held for a late roughness CameraInfo: a bag with no CameraInfo at all holds no more. */
const MAX_WITHOUT_INFO = 64;

type GridSpec = Pick<RoughnessGrid, "rows" | "cols" | "strideX" | "strideY" | "stamp" | "frameId">;

export interface OutputRecorderOptions {
  /** Leave the input topics out of the recording. */
  outputsOnly?: boolean;
  /** The pipeline's current stats, for /diagnostics. */
  stats: () => PipelineStats;
  /** Topics the bag has messages on: /diagnostics meters the camera topics among them. */
  bagTopics?: ReadonlySet<string>;
  /**
   * Bag topics the replay does not read (the camera topic left out of a bag with both): not
   * recorded, so the recording holds the inputs the outputs were made from, each frame once.
   */
  unread?: ReadonlySet<string>;
}

/**
 * The inputs /diagnostics meters: a replay reads the raw and the compressed camera topic, whichever
 * the bag has, while ros.image_transport picks the one a live node subscribes to; metering that one
 * alone would report a bag's only camera as silent.
 */
function recordedInputs(config: Config, bagTopics: ReadonlySet<string> | undefined): SubscriptionSpec[] {
  const subs = subscriptionSpecs(config);
  if (!bagTopics) return subs;
  const isCamera = (s: SubscriptionSpec) => s.kind === "image" || s.kind === "compressed";
  const cameras = (["raw", "compressed"] as const)
    .map((t) => subscriptionSpecs({ ...config, ros: { ...config.ros, image_transport: t } }).find(isCamera)!)
    .filter((s) => bagTopics.has(s.topic));
  if (cameras.length === 0) return subs;
  return [...cameras, ...subs.filter((s) => !isCamera(s))];
}

export class OutputRecorder {
  readonly specs: readonly PublisherSpec[];
  readonly #writer: Ros2McapWriter;
  readonly #config: Config;
  readonly #opts: OutputRecorderOptions;
  readonly #mapper: OutputMapper;
  readonly #subs: SubscriptionSpec[];
  readonly #kindOf = new Map<string, InputKind>();
  #meter: InputMeter | undefined;
  readonly #diagnosticsPeriod: number;
  readonly #pending: Promise<void>[] = [];
  readonly #skippedTypes = new Set<string>();
  #error: Error | undefined;
  /** Sensor time of the latest event: the clock of the costmap rate limit and of /diagnostics. */
  #now = Number.NEGATIVE_INFINITY;
  #nextDiagnostics: number | undefined;
  /** Frames whose roughness image went out before any CameraInfo (see #lateCameraInfo). */
  readonly #withoutInfo: GridSpec[] = [];

  constructor(writer: Ros2McapWriter, config: Config, opts: OutputRecorderOptions) {
    this.#writer = writer;
    this.#config = config;
    this.#opts = opts;
    // The node's own names (root namespace), and nav2_msgs/SpeedLimit: its definition is built in.
    this.specs = publisherSpecs(
      config,
      { node: config.ros.node_name, namespace: "/" },
      { speedLimitFallback: false },
    );
    this.#mapper = new OutputMapper(this.specs, config, () => this.#now);
    this.#subs = recordedInputs(config, opts.bagTopics);
    for (const s of this.#subs) this.#kindOf.set(s.topic, s.kind);
    this.#diagnosticsPeriod = 1 / config.ros.diagnostics_rate;
  }

  /** Declares every output topic with its QoS, so that the channels exist even if a run makes none. */
  async start(): Promise<void> {
    for (const s of this.specs) await this.#writer.addTopic(s.topic, s.type, s.qos);
  }

  /** One input message from the bag (recorded unless outputsOnly or unread; counted for /diagnostics). */
  input(m: BagMessage): void {
    if (this.#opts.unread?.has(m.topic)) return;
    this.#advance(m.logTime);
    const kind = this.#kindOf.get(m.topic);
    if (kind) this.#inputMeter(m.logTime).received(kind, m.logTime);
    if (this.#opts.outputsOnly) return;
    // A ROS 1 bag's messages are re-shaped for the ROS 2 writer (sub-second stamps, CameraInfo K).
    const type = ROS2_EQUIVALENT[m.schemaName] ?? m.schemaName;
    if (hasDefinition(type))
      this.#track(this.#writer.write(m.topic, type, m.logTime, toRos2Shape(m.message)));
    else this.#skippedTypes.add(m.schemaName);
  }

  /** A pipeline event: predictions and labels become messages on the node's output topics. */
  event(e: PipelineEvent): void {
    switch (e.type) {
      case "prediction": {
        this.#advance(e.stamp);
        const msgs = this.#mapper.prediction(e);
        this.#write(this.#lateCameraInfo(e.outputs, msgs), e.stamp);
        this.#write(msgs, e.stamp);
        break;
      }
      case "label":
        this.#write(this.#mapper.labels([e.label]), Math.max(this.#now, e.label.stamp));
        break;
      default:
    }
  }

  /** Writes a last /diagnostics and waits for every write; throws the first write error. */
  async finish(): Promise<{ skippedTypes: string[] }> {
    if (Number.isFinite(this.#now)) this.#diagnostics(this.#now);
    await Promise.all(this.#pending);
    if (this.#error) throw this.#error;
    return { skippedTypes: [...this.#skippedTypes] };
  }

  /**
   * The roughness CameraInfo of frames processed before the camera's CameraInfo was known (a camera
   * driver may publish an image before its CameraInfo of the same stamp), once it is: a viewer pairs
   * each roughness image with the CameraInfo of its stamp, and without one cannot project it.
   */
  #lateCameraInfo(o: PredictionEvent["outputs"], msgs: readonly Outgoing[]): Outgoing[] {
    const spec = this.#mapper.spec("roughnessInfo");
    if (!spec) return [];
    if (!o.camera) {
      if (msgs.some((m) => m.key === "roughness") && this.#withoutInfo.length < MAX_WITHOUT_INFO)
        this.#withoutInfo.push({
          rows: o.grid.rows,
          cols: o.grid.cols,
          strideX: o.grid.strideX,
          strideY: o.grid.strideY,
          stamp: o.stamp,
          frameId: o.frameId,
        });
      return [];
    }
    const late = this.#withoutInfo.map((g) => ({
      key: "roughnessInfo" as const,
      topic: spec.topic,
      type: spec.type,
      message: cameraInfoToRos(gridCameraModel(o.camera!, g)),
    }));
    this.#withoutInfo.length = 0;
    return late;
  }

  /** Input rates are measured in sensor time, from the first message on. */
  #inputMeter(t: number): InputMeter {
    this.#meter ??= new InputMeter(t);
    return this.#meter;
  }

  #advance(t: number): void {
    if (!Number.isFinite(t) || t <= this.#now) return;
    this.#now = t;
    this.#nextDiagnostics ??= t + this.#diagnosticsPeriod;
    if (t >= this.#nextDiagnostics) {
      this.#diagnostics(t);
      // A gap in the bag does not produce a burst of diagnostics.
      this.#nextDiagnostics = Math.max(this.#nextDiagnostics + this.#diagnosticsPeriod, t);
    }
  }

  #diagnostics(t: number): void {
    const msg = diagnosticsMessage({
      stamp: t,
      hardwareId: `/${this.#config.ros.node_name}`,
      inputs: this.#inputMeter(t).snapshot(t),
      subscriptions: this.#subs,
      stats: this.#opts.stats(),
      // Image stamp to publication is a property of a live node; a replay has no such latency.
      latencyMs: { mean: Number.NaN, max: Number.NaN, count: 0 },
      learning: this.#config.learner.enabled,
      speedLimitType: "nav2_msgs/msg/SpeedLimit",
    });
    this.#write([msg], t);
  }

  #write(msgs: readonly Outgoing[], stamp: number): void {
    for (const m of msgs) this.#track(this.#writer.write(m.topic, m.type, stamp, m.message));
  }

  #track(p: Promise<void>): void {
    this.#pending.push(
      p.catch((err: unknown) => {
        this.#error ??= err as Error;
      }),
    );
    // The writer settles in order, so settled prefixes can go.
    if (this.#pending.length > 256) void Promise.all(this.#pending.splice(0, 128));
  }
}
