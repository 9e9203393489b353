// The composition root: a pipeline is the stream graph (graph.ts) with its backbone and learner.
//
//   const pipeline = await createPipeline(config, { mode: "replay", evaluate: true });
//   pipeline.events$.subscribe((e) => { ... });      // typed PipelineEvent values (events.ts)
//   for await (const event of readAhead(pipeline, bag.messages())) await pipeline.push(event);
//   const summary = await pipeline.finish();          // final stats (+ eval summary), emits "done"
//   await pipeline.close();
//
// Inputs: `push(event)` takes a `BagEvent` from src/io/bag (topic → type by `config.topics`; the
// simulator's ground-truth topics feed the evaluator) or a `CoreInput` (already-converted core types,
// what the ROS 2 node and the serial source produce). Problems (undecodable messages, messages
// later than fusion.reorder_window) become `problem` events and the run goes on.
//
// Scheduling (graph.ts, docs/design.md "Stream graph"):
// - replay: every input goes through the whole graph in stamp order before the next (`push`
//   resolves then); training runs `learner.steps_per_second` steps per second of SENSOR time, so
//   results do not depend on machine speed.
// - live: `push` never waits for a frame: an image arriving while one is processed replaces the
//   pending one (latest wins) and is counted in `stats().framesDropped`; training runs in a worker.
//
// Sinks subscribe to `events$` (ROS conversion: src/runtime/sinks/ros-outputs.ts); taps read `taps`.

import type { Observable } from "rxjs";
import type { CompressedFrame, ImageFrame, RoughnessGrid, Stamp } from "../core/types.ts";
import { type EvalOptions, PrequentialEvaluator } from "../eval/evaluator.ts";
import { parseSimWorld } from "../eval/ground-truth.ts";
import type { ProbeSet } from "../eval/probe-set.ts";
import type { BagEvent } from "../io/bag/types.ts";
import { Backbone, type FeatureMap } from "../learning/backbone.ts";
import type { OnlineLearner } from "../learning/learner.ts";
import type { Config } from "./config.ts";
import { UserError } from "./errors.ts";
import type { CoreInput, PipelineEvent, PipelineStats, PipelineSummary } from "./events.ts";
import { FeatureWorker } from "./feature-worker.ts";
import { type FeatureContext, featureChannels } from "./features.ts";
import { StreamGraph } from "./graph.ts";
import { createLearner, type PipelineLearner } from "./learners.ts";
import { fromBagStamped, fromCore, type GraphInput } from "./stages/inputs.ts";
import type { SampleSource } from "./stages/learning.ts";
import { type FeatureBackbone, PerceptionStage } from "./stages/perception.ts";
import type { GraphTaps } from "./taps.ts";

export type * from "./events.ts";
export type { PipelineLearner } from "./learners.ts";
export { readAhead } from "./read-ahead.ts";
export { SIM_TOPICS } from "./stages/inputs.ts";
export type { SampleSource } from "./stages/learning.ts";
export type { FeatureBackbone } from "./stages/perception.ts";
export type { SampleRows } from "./stages/supervision.ts";
export type { GraphTaps } from "./taps.ts";

const DEFAULT_CONTEXT: FeatureContext =
  (process.env.TERRAIN_LEARNER_FEATURE_CONTEXT as FeatureContext | undefined) ?? "neighbourhood";

export interface PipelineOptions {
  mode?: "replay" | "live";
  /** Attach the prequential evaluator (simulator bags). */
  evaluate?: boolean | Partial<EvalOptions>;
  /** World description for the confidence metric (MCAP metadata `terrain_learner_sim`). */
  simMetadata?: Map<string, string> | Record<string, string>;
  /** Build the rgb8 overlay for every frame (costs a pass over the image). Default true. */
  overlay?: boolean;
  /** Build the costmap snapshot for every frame. Default true. */
  costmap?: boolean;
  /** Emit a stats event every this many sensor seconds. Default 5. */
  statsEvery?: number;
  /**
   * Inject a backbone/learner (tests, the ROS node sharing one): an injected backbone runs on the
   * pipeline's thread. Otherwise created from config (`learner.backbone_worker`: in a worker thread).
   */
  backbone?: Backbone;
  /** Injected learners are not closed by the pipeline. */
  learner?: OnlineLearner | PipelineLearner;
  /** Extra training rows taken at each sensor-time training tick (a fleet's peers). */
  sampleSources?: readonly SampleSource[];
  /** Extra context in the head's feature vectors (see features.ts). Default "neighbourhood". */
  featureContext?: FeatureContext;
  warn?: (message: string) => void;
  /**
   * Facts a user should be able to check, one line each when they become known or change (the
   * ground plane the camera is projected onto). The live node prints them; default: not printed
   * (the summary's `supervisor` stats hold them too).
   */
  note?: (message: string) => void;
}

export interface Pipeline {
  readonly events$: Observable<PipelineEvent>;
  readonly taps: GraphTaps;
  readonly backbone: FeatureBackbone;
  readonly learner: PipelineLearner;
  /** Feeds one input. Replay: resolves when it is fully processed. Live: resolves at once for images. */
  push(event: BagEvent | CoreInput): Promise<void>;
  /**
   * Replay: announces an input that will be pushed later (in push order), so a camera frame's
   * features start computing now, while the inputs before it are processed. Every prefetched input
   * must then be pushed; `readAhead` does both. Returns the bytes of image data held for the frame
   * until it is pushed, 0 when no frame was started (other inputs, and live mode).
   */
  prefetch(event: BagEvent | CoreInput): number;
  /** Resolves when everything pushed so far has been handled (live: the frame in progress too). */
  idle(): Promise<void>;
  stats(): PipelineStats;
  /** Ground truth per cell of a frame's grid (NaN unknown) when evaluating a simulator bag. */
  truthFor(stamp: Stamp, grid: RoughnessGrid): { roughness: Float32Array } | undefined;
  /** The `reset` command: forgets the learned model and the costmap made from its predictions. */
  resetModel(): void;
  /** The head's input features of one frame (a copy), as the pipeline computes them; no training. */
  frameFeatures(frame: ImageFrame | CompressedFrame): Promise<FeatureMap>;
  /**
   * Evaluating: the run's knowledge probe set (probe-prepass.ts), before the first push. Its frames
   * are held out of training; unless `score` is false the model scores it every curve window.
   */
  useProbeSet(probe: ProbeSet, options?: { score?: boolean }): void;
  /** Waits for pending work, emits final stats and `done`, returns the summary. */
  finish(): Promise<PipelineSummary>;
  close(): Promise<void>;
}

export async function createPipeline(config: Config, options: PipelineOptions = {}): Promise<Pipeline> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const mode = options.mode ?? "replay";
  const context = options.featureContext ?? DEFAULT_CONTEXT;
  const backbone =
    options.backbone ??
    (config.learner.backbone_worker
      ? await FeatureWorker.start(config.learner, context, { warn })
      : await Backbone.fromConfig(config.learner, { warn }).catch((err: Error) => {
          // A model that will not load (missing, not ONNX, not a feature map): the user's to fix.
          throw new UserError(err.message);
        }));
  // What is started here is closed here when a later part fails (a learner that will not load, a
  // stage that rejects its settings): a worker thread left running keeps the process alive after
  // the error is printed.
  let learner: PipelineLearner | undefined;
  let perception: PerceptionStage | undefined;
  try {
    const channels = featureChannels(backbone.channels, context);
    learner = await createLearner(config, mode, channels, options.learner, warn, () => perception?.camera);
    const started = learner;
    let evaluator: PrequentialEvaluator | undefined;
    if (options.evaluate) {
      evaluator = new PrequentialEvaluator({
        minRange: config.association.min_distance,
        maxRange: config.association.max_distance,
        baseFrame: config.frames.base,
        ...(typeof options.evaluate === "object" ? options.evaluate : {}),
      });
      evaluator.setTerrains(parseSimWorld(options.simMetadata));
    }
    const graph = new StreamGraph(config, {
      mode,
      learner: started,
      perception: (sup, problem) => {
        perception = new PerceptionStage(config, backbone, started, sup.supervisor, context, warn, problem);
        return perception;
      },
      outputs: { overlay: options.overlay !== false, costmap: options.costmap !== false },
      evaluator,
      sampleSources: options.sampleSources ?? [],
      statsEvery: options.statsEvery ?? 5,
      warn,
      note: options.note,
    });
    return new PipelineImpl(config, options, graph, backbone, started);
  } catch (err) {
    // Every cleanup runs even if one throws; the construction error is the one reported.
    const started = learner;
    const stage = perception;
    const cleanups = [
      () => (options.learner || !started ? undefined : started.close()),
      () => (options.backbone ? undefined : backbone.close()),
      () => stage?.close(),
    ];
    for (const c of cleanups)
      await Promise.resolve()
        .then(c)
        .catch(() => {});
    throw err;
  }
}

class PipelineImpl implements Pipeline {
  readonly events$: Observable<PipelineEvent>;
  readonly taps: GraphTaps;
  #closed = false;
  // Replay: frames whose features were started ahead of their push (see prefetch).
  readonly #prefetched = new Map<object, GraphInput>();

  constructor(
    private readonly config: Config,
    private readonly options: PipelineOptions,
    private readonly graph: StreamGraph,
    readonly backbone: FeatureBackbone,
    readonly learner: PipelineLearner,
  ) {
    this.events$ = graph.events$.asObservable();
    this.taps = graph.taps;
  }

  prefetch(event: BagEvent | CoreInput): number {
    if (this.#closed || (this.options.mode ?? "replay") !== "replay" || this.#prefetched.has(event)) return 0;
    let input: GraphInput | null;
    if ("type" in event) {
      const t = this.config.topics;
      if (event.type !== "message" || (event.topic !== t.image && event.topic !== t.compressed_image))
        return 0;
      // A message that does not convert is left to push(), which reports it (once).
      try {
        const converted = fromBagStamped(event, t, false);
        // An unstamped frame is left to push(), which says that its log time is used.
        if (converted.unstamped) return 0;
        input = converted.input;
      } catch {
        return 0;
      }
    } else input = fromCore(event);
    if (input?.kind !== "frame") return 0;
    input.prefetched = this.graph.perception.prefetch(input);
    this.#prefetched.set(event, input);
    // A compressed frame is held compressed until its decode; at least 1 so that it counts.
    return Math.max(1, input.frame.data.byteLength);
  }

  push(event: BagEvent | CoreInput): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("pipeline is closed"));
    const pre = this.#prefetched.get(event);
    if (pre) this.#prefetched.delete(event);
    return this.graph.push(pre ?? event);
  }

  idle(): Promise<void> {
    return this.graph.idle();
  }

  stats(): PipelineStats {
    return this.graph.stats();
  }

  truthFor(stamp: Stamp, grid: RoughnessGrid) {
    return this.graph.truthFor(stamp, grid);
  }

  resetModel(): void {
    this.graph.resetModel();
  }

  async frameFeatures(frame: ImageFrame | CompressedFrame): Promise<FeatureMap> {
    const started = this.graph.perception.prefetch({ kind: "frame", stamp: frame.stamp, frame });
    const f = await started.features;
    try {
      return { ...f, data: f.data.slice() };
    } finally {
      this.graph.perception.release(f);
    }
  }

  useProbeSet(probe: ProbeSet, options?: { score?: boolean }): void {
    if (!this.graph.knowledge) throw new Error("useProbeSet needs a pipeline created with evaluate");
    this.graph.knowledge.useProbeSet(probe, options);
  }

  finish(): Promise<PipelineSummary> {
    return this.graph.finish();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#prefetched.clear();
    this.graph.close();
    const errors: unknown[] = [];
    // Every cleanup runs even if one throws.
    const cleanups = [
      () => (this.options.learner ? undefined : this.learner.close()),
      () => (this.options.backbone ? undefined : this.backbone.close()),
      () => this.graph.perception.close(),
    ];
    for (const c of cleanups) {
      try {
        await c();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  }
}
