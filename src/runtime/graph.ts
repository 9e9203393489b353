// The stream graph of a mission, the same for replay, demo, the ROS 2 node and serial input:
//
//   sources ─▶ fusion ─▶ sensor clock ─▶ in order: supervision ─▶ learning
//   (push)     (order,     (seconds,                     │            (buffer, training blocks)
//              late→       stats,                        └─▶ perception ─▶ outputs ─▶ events$ ─▶ sinks
//              problem)    drains)                           (frames; live: latest wins)
//
// Taps (evaluation, viewers, fleet) read inputs$, labels$, samples$ and frames$; sinks subscribe to
// events$. Back-pressure (see docs/design.md, "Stream graph"): replay awaits each input through the
// whole graph (`push` resolves when the sequencer is idle) and drops nothing; live never waits for
// a frame (latest wins, counted) nor for training (its worker), and IMU/odometry are never dropped.

import { Subject, type Subscription } from "rxjs";
import { tallyProblems } from "../core/fusion/tally-problems.ts";
import type { Problem, RoughnessGrid, RoughnessLabel, Stamp } from "../core/types.ts";
import type { PrequentialEvaluator } from "../eval/evaluator.ts";
import type { BagEvent } from "../io/bag/types.ts";
import type { Config } from "./config.ts";
import type { CoreInput, PipelineEvent, PipelineStats, PipelineSummary } from "./events.ts";
import type { PipelineLearner } from "./learners.ts";
import type { Tick } from "./stages/clock.ts";
import { SensorClock } from "./stages/clock.ts";
import { fusion } from "./stages/fusion.ts";
import { type FrameInput, fromBag, fromCore, type GraphInput } from "./stages/inputs.ts";
import { LearningStage, type SampleSource } from "./stages/learning.ts";
import { OutputStage } from "./stages/outputs.ts";
import type { FeatureBackbone, PerceivedFrame, PerceptionStage } from "./stages/perception.ts";
import { latestWins, Sequencer } from "./stages/queues.ts";
import { type SampleRows, SupervisionStage } from "./stages/supervision.ts";
import { evaluationTap, type GraphTaps } from "./taps.ts";

export interface GraphParts {
  mode: "replay" | "live";
  backbone: FeatureBackbone;
  learner: PipelineLearner;
  perception: (supervision: SupervisionStage, problem: (p: Problem) => void) => PerceptionStage;
  outputs: { overlay: boolean; costmap: boolean };
  evaluator: PrequentialEvaluator | undefined;
  sampleSources: readonly SampleSource[];
  statsEvery: number;
  warn: (m: string) => void;
}

export class StreamGraph {
  readonly events$: Subject<PipelineEvent> = new Subject();
  readonly taps: GraphTaps;
  readonly #input = new Subject<GraphInput>();
  readonly #flush = new Subject<void>();
  readonly #inputs = new Subject<GraphInput>();
  readonly #labels = new Subject<RoughnessLabel>();
  readonly #samples = new Subject<SampleRows>();
  readonly #frames = new Subject<PerceivedFrame>();
  readonly #liveFrames = new Subject<FrameInput>();
  readonly #problems: Record<string, number> = {};
  readonly #clock: SensorClock;
  readonly #supervision: SupervisionStage;
  readonly #learning: LearningStage;
  readonly perception: PerceptionStage;
  readonly #outputs: OutputStage;
  readonly #sequencer: Sequencer<GraphInput | Tick>;
  readonly #subs: Subscription;
  #framesIn = 0;
  #framesDropped = 0;
  #liveBusy = false;
  #liveIdle: (() => void)[] = [];
  readonly #wallStart = performance.now();

  constructor(
    private readonly config: Config,
    private readonly parts: GraphParts,
  ) {
    const { mode, learner } = parts;
    const report = (p: Problem) => this.#problem(p);
    this.#clock = new SensorClock(parts.statsEvery);
    this.#supervision = new SupervisionStage(
      config,
      learner.channels,
      learner.setLabelCalibration !== undefined,
    );
    this.#learning = new LearningStage(config, learner, mode, parts.sampleSources, report);
    this.perception = parts.perception(this.#supervision, report);
    this.#outputs = new OutputStage(config, this.#supervision.supervisor, parts.outputs);
    this.#sequencer = new Sequencer((e) => this.#step(e));
    this.taps = {
      inputs$: this.#inputs,
      labels$: this.#labels,
      samples$: this.#samples,
      frames$: this.#frames,
    };
    this.#subs = this.#input
      .pipe(
        fusion({ window: config.fusion.reorderWindow, mode, flush$: this.#flush }),
        tallyProblems(this.#problems, (p) => this.events$.next({ type: "problem", problem: p })),
        this.#clock.stage(),
        this.#sequencer.stage(),
      )
      .subscribe();
    const frames$ = this.#liveFrames.pipe(
      latestWins(
        (f) => {
          this.#liveBusy = true;
          return this.#frame(f);
        },
        () => this.#framesDropped++,
        () => this.#settleLive(),
      ),
    );
    if (mode === "live") this.#subs.add(frames$.subscribe());
    if (parts.evaluator) this.#subs.add(evaluationTap(this.taps, parts.evaluator));
  }

  /** One input from a source; resolves when the graph is idle again (replay: fully processed). */
  push(event: BagEvent | CoreInput | GraphInput): Promise<void> {
    const input = "type" in event ? this.#fromBag(event) : "stamp" in event ? event : fromCore(event);
    if (input) this.#input.next(input);
    return this.#sequencer.idle();
  }

  /** Resolves when the inputs taken so far are handled (live: the frame in progress too). */
  async idle(): Promise<void> {
    await this.#sequencer.idle();
    while (this.#liveBusy) await new Promise<void>((r) => this.#liveIdle.push(r));
  }

  /** Waits for everything taken so far, trains the block in flight, emits final stats and `done`. */
  async finish(): Promise<PipelineSummary> {
    this.#flush.next();
    await this.idle();
    await this.#learning.settle();
    // The last steps' labels (their analysis window runs past the end of the data).
    this.#drain(this.#clock.lastStamp, true);
    const stats = this.stats();
    const wallSeconds = (performance.now() - this.#wallStart) / 1000;
    const summary: PipelineSummary = {
      ...stats,
      eval: this.parts.evaluator?.summary(),
      wallSeconds,
      realtimeFactor: wallSeconds > 0 ? stats.sensorSeconds / wallSeconds : 0,
    };
    this.events$.next({ type: "stats", stamp: stats.stamp, stats });
    this.events$.next({ type: "done", summary });
    return summary;
  }

  truthFor(stamp: Stamp, grid: RoughnessGrid): { roughness: Float32Array } | undefined {
    return this.parts.evaluator?.truthFor(stamp, grid) ?? undefined;
  }

  /** Problems from outside the graph's own stages (bag reading, conversion): counted and emitted. */
  problem(p: Problem): void {
    this.#problem(p);
  }

  close(): void {
    this.#subs.unsubscribe();
    this.events$.complete();
    for (const s of [this.#inputs, this.#labels, this.#samples, this.#frames]) s.complete();
  }

  #step(e: GraphInput | Tick): Promise<void> | undefined {
    switch (e.kind) {
      case "second":
        // Labels up to this second go into the buffer before the block of steps that may use them.
        this.#drain(e.stamp);
        return this.#learning.second(e.stamp);
      case "drain":
        this.#drain(e.stamp);
        return undefined;
      case "stats":
        this.events$.next({ type: "stats", stamp: e.stamp, stats: this.stats() });
        return undefined;
      default:
        this.#inputs.next(e);
        this.#supervision.onInput(e);
        if (e.kind !== "frame") return undefined;
        this.#framesIn++;
        if (this.parts.mode === "live") {
          this.#liveFrames.next(e);
          return undefined;
        }
        return this.#frame(e);
    }
  }

  #drain(stamp: Stamp, final = false): void {
    const { labels, rows } = this.#supervision.drain(stamp, final);
    for (const label of labels) {
      this.perception.onLabel(label.roughness);
      this.#labels.next(label);
      this.events$.next({ type: "label", label });
    }
    if (!rows) return;
    this.#samples.next(rows);
    this.#learning.add(rows);
  }

  async #frame(f: FrameInput): Promise<void> {
    const p = await this.perception.perceive(f);
    if (!p) return;
    try {
      // Taps (the evaluator) see the frame now, before any label made after it is trained on.
      this.#frames.next(p);
      const outputs = this.#outputs.build(p);
      const keyframe = this.perception.keep(p);
      this.perception.processed(p);
      this.events$.next({ type: "prediction", stamp: p.stamp, image: p.image, keyframe, outputs });
    } catch (err) {
      this.perception.reportFailure(err);
    } finally {
      this.perception.release(p.features);
    }
  }

  #settleLive(): void {
    this.#liveBusy = false;
    const waiting = this.#liveIdle;
    this.#liveIdle = [];
    for (const w of waiting) w();
  }

  #fromBag(event: BagEvent): GraphInput | null {
    if (event.type === "problem") {
      this.#problem(event);
      return null;
    }
    try {
      return fromBag(event, this.config.topics, this.parts.evaluator !== undefined);
    } catch (err) {
      const message = `${event.topic}: ${(err as Error).message}`;
      this.#problem({ type: "problem", kind: "convert", message, topic: event.topic, stamp: event.logTime });
      return null;
    }
  }

  #problem(p: Problem): void {
    const count = (this.#problems[p.kind] ?? 0) + 1;
    this.#problems[p.kind] = count;
    // Failures of our own processing (not bad input) are worth one line each kind, even without a sink.
    if (count === 1 && (p.kind === "frame" || p.kind === "train"))
      this.parts.warn(`terrain-learner: ${p.message}`);
    this.events$.next({ type: "problem", problem: p });
  }

  stats(): PipelineStats {
    const { learner } = this.parts;
    const ls = learner.stats();
    const per = this.perception;
    const sup = this.#supervision;
    const n = per.counts.framesProcessed;
    return {
      stamp: this.#clock.lastStamp,
      sensorSeconds: this.#clock.sensorSeconds,
      framesIn: this.#framesIn,
      framesProcessed: n,
      framesDropped: this.#framesDropped,
      keyframes: per.counts.keyframes,
      ...sup.counts,
      trainSteps: learner.train ? this.#learning.trainSteps : ls.trainSteps,
      lastLoss: learner.train ? this.#learning.lastLoss : ls.lastLoss,
      backend: learner.backend,
      bufferSize: ls.bufferSize,
      problems: { ...this.#problems },
      supervisor: sup.supervisor.stats(),
      frameMs: n ? per.frameMsTotal / n : 0,
      featureWaitMs: n ? per.featureWaitMsTotal / n : 0,
      framesRecomputed: per.counts.framesRecomputed,
      diagnostics: { ...sup.diagnostics },
    };
  }
}
