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

import { Observable, type OperatorFunction, Subject, type Subscription } from "rxjs";
import { tallyProblems } from "../core/fusion/tally-problems.ts";
import type { Problem, RoughnessGrid, RoughnessLabel, Stamp } from "../core/types.ts";
import { type PrequentialEvaluator, truthLogEnergy } from "../eval/evaluator.ts";
import type { BagEvent } from "../io/bag/types.ts";
import type { Config } from "./config.ts";
import type { CoreInput, PipelineEvent, PipelineStats, PipelineSummary } from "./events.ts";
import { KnowledgeTaps } from "./knowledge-taps.ts";
import type { PipelineLearner } from "./learners.ts";
import type { ClockJump, Tick } from "./stages/clock.ts";
import { SensorClock } from "./stages/clock.ts";
import { fusion } from "./stages/fusion.ts";
import { type FrameInput, type GraphInput, graphInput } from "./stages/inputs.ts";
import { LearningStage, type SampleSource } from "./stages/learning.ts";
import { OutputStage } from "./stages/outputs.ts";
import type { PerceivedFrame, PerceptionStage } from "./stages/perception.ts";
import { ProblemLog } from "./stages/problems.ts";
import { LiveFrames, Sequencer } from "./stages/queues.ts";
import { pipelineStats, pipelineSummary } from "./stages/stats.ts";
import { type SampleRows, SupervisionStage } from "./stages/supervision.ts";
import { evaluationTap, type GraphTaps } from "./taps.ts";

export interface GraphParts {
  mode: "replay" | "live";
  learner: PipelineLearner;
  perception: (supervision: SupervisionStage, problem: (p: Problem) => void) => PerceptionStage;
  outputs: { overlay: boolean; costmap: boolean };
  evaluator: PrequentialEvaluator | undefined;
  sampleSources: readonly SampleSource[];
  statsEvery: number;
  warn: (m: string) => void;
  /** One line on a fact worth checking, e.g. which ground plane is used (PipelineOptions.note). */
  note?: ((m: string) => void) | undefined;
}

/** After fusion's `clockJump` problem (counted and reported as any), its mark in the stream. */
function markClockJumps(): OperatorFunction<GraphInput | Problem, GraphInput | ClockJump | Problem> {
  return (source) =>
    new Observable((out) =>
      source.subscribe({
        next: (x) => {
          out.next(x);
          if ("type" in x && x.type === "problem" && x.kind === "clockJump")
            out.next({ kind: "clockJump", stamp: x.stamp ?? Number.NaN });
        },
        error: (err) => out.error(err),
        complete: () => out.complete(),
      }),
    );
}

export class StreamGraph {
  readonly events$: Subject<PipelineEvent> = new Subject();
  readonly #input = new Subject<GraphInput>();
  readonly #flush = new Subject<void>();
  readonly #inputs = new Subject<GraphInput>();
  readonly #labels = new Subject<RoughnessLabel>();
  readonly #samples = new Subject<SampleRows>();
  readonly #frames = new Subject<PerceivedFrame>();
  readonly taps: GraphTaps = {
    inputs$: this.#inputs,
    labels$: this.#labels,
    samples$: this.#samples,
    frames$: this.#frames,
  };
  readonly #problems: ProblemLog;
  readonly #clock: SensorClock;
  readonly #supervision: SupervisionStage;
  readonly #learning: LearningStage;
  readonly perception: PerceptionStage;
  readonly #outputs: OutputStage;
  readonly #sequencer: Sequencer<GraphInput | Tick>;
  readonly #subs: Subscription;
  #live: LiveFrames<FrameInput> | undefined;
  /** With an evaluator: the knowledge probe and stability figures. */
  readonly knowledge: KnowledgeTaps | undefined;
  #framesIn = 0;
  readonly #wallStart = performance.now();

  constructor(
    private readonly config: Config,
    private readonly parts: GraphParts,
  ) {
    const { mode, learner, evaluator } = parts;
    this.#problems = new ProblemLog(this.events$, parts.warn);
    const report = (p: Problem) => this.#problems.report(p);
    this.#clock = new SensorClock(parts.statsEvery);
    this.#supervision = new SupervisionStage(
      config,
      learner.channels,
      learner.setLabelCalibration !== undefined,
      evaluator?.options.truthLabels ? (t0, t1) => evaluator.truthLabelEnergy(t0, t1) : undefined,
      parts.note,
    );
    this.#learning = new LearningStage(config, learner, mode, parts.sampleSources, report);
    this.perception = parts.perception(this.#supervision, report);
    this.#outputs = new OutputStage(config, this.#supervision.supervisor, parts.outputs);
    this.#sequencer = new Sequencer((e) => this.#step(e));
    this.#subs = this.#input
      .pipe(
        fusion({
          window: config.fusion.reorder_window,
          cameraDelay: config.fusion.camera_delay,
          mode,
          flush$: this.#flush,
          // The odometry after a frame, while fusion still holds it (SelfSupervisor.framePose).
          onHeld: (e) => {
            if (e.kind === "odom") this.#supervision.supervisor.onOdomAhead(e.sample);
          },
        }),
        markClockJumps(),
        tallyProblems(this.#problems.counts, (p) => this.#problems.emit(p)),
        this.#clock.stage(),
        this.#sequencer.stage(),
      )
      .subscribe();
    if (mode === "live") {
      this.#live = new LiveFrames((f) => this.#frame(f));
      this.#subs.add(this.#live.subscription);
    }
    if (parts.evaluator) {
      this.#subs.add(evaluationTap(this.taps, parts.evaluator));
      this.knowledge = new KnowledgeTaps(this.taps, this.events$, parts.evaluator, learner);
      this.#subs.add(this.knowledge.subscription);
    }
  }

  /** One input from a source; resolves when the graph is idle again (replay: fully processed). */
  push(event: BagEvent | CoreInput | GraphInput): Promise<void> {
    const input = graphInput(event, this.config.topics, this.parts.evaluator !== undefined, this.#problems);
    if (input) this.#input.next(input);
    return this.#sequencer.idle();
  }

  /** Resolves when the inputs taken so far are handled (live: the frame in progress too). */
  async idle(): Promise<void> {
    await this.#sequencer.idle();
    await this.#live?.idle();
  }

  /** Waits for everything taken so far, trains the block in flight, emits final stats and `done`. */
  async finish(): Promise<PipelineSummary> {
    this.#flush.next();
    await this.idle();
    await this.#learning.settle();
    // The last steps' labels (their analysis window runs past the end of the data).
    this.#drain(this.#clock.lastStamp, true);
    // A fleet's last batch and snapshot go out here, so the summary counts them.
    for (const s of this.parts.sampleSources) s.finish?.();
    const stats = this.stats();
    const ev = this.parts.evaluator?.summary();
    if (ev) this.knowledge?.finish(ev);
    const summary = pipelineSummary(stats, ev, this.#wallStart);
    this.events$.next({ type: "stats", stamp: stats.stamp, stats });
    this.events$.next({ type: "done", summary });
    return summary;
  }

  truthFor(stamp: Stamp, grid: RoughnessGrid): { roughness: Float32Array } | undefined {
    return this.parts.evaluator?.truthFor(stamp, grid) ?? undefined;
  }

  /** The learner forgets what it learned, and the costmap the cells it predicted. */
  resetModel(): void {
    this.parts.learner.reset();
    this.#outputs.reset();
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
      case "clockJump":
        this.#restartTime(e.stamp);
        return undefined;
      default:
        this.#inputs.next(e);
        this.#supervision.onInput(e);
        if (e.kind !== "frame") return undefined;
        this.#framesIn++;
        if (!this.#live) return this.#frame(e);
        this.#live.offer(e);
        return undefined;
    }
  }

  /**
   * The stamps went back: the timeline before ends as a run does (its last labels made and
   * associated with its own keyframes), then what is kept by stamp starts afresh. The model and its
   * training buffer stay: the robot is the same.
   */
  #restartTime(lastBefore: Stamp): void {
    if (Number.isFinite(lastBefore)) this.#drain(lastBefore, true);
    this.#supervision.restartTime();
    this.#outputs.restartTime();
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
      const outputs = this.#outputs.build(
        this.parts.evaluator?.options.truthOutputs ? this.#truthFrame(p) : p,
      );
      // A knowledge-probe frame is never a keyframe: no label is associated with it, so it is never trained on.
      const heldOut = this.knowledge?.isHeldOut(p.stamp) ?? false;
      const keyframe = heldOut ? false : this.perception.keep(p);
      if (keyframe && this.parts.evaluator && this.parts.evaluator.options.truthCells !== "off")
        this.#teachTruth(p);
      if (p.grounded && !heldOut)
        this.#supervision.observePredictions(p.stamp, p.pose, p.xs, p.ys, p.raw.roughness, p.raw.confidence);
      this.perception.processed(p);
      this.events$.next({ type: "prediction", stamp: p.stamp, image: p.image, keyframe, outputs });
    } catch (err) {
      this.perception.reportFailure(err);
    } finally {
      this.perception.release(p.features);
    }
  }

  /** A keyframe's scored cells taught their true roughness (EvalOptions.truthCells, a diagnostic). */
  #teachTruth(p: PerceivedFrame): void {
    const ev = this.parts.evaluator!;
    const truth = ev.truthFor(p.stamp, p.grid);
    if (!truth) return;
    const { minRange, maxRange, truthCells } = ev.options;
    const driven = ev.drivenByTrajectory;
    const cells: number[] = [];
    const logEnergy: number[] = [];
    for (let k = 0; k < truth.roughness.length; k++) {
      const r = truth.roughness[k]!;
      const d = truth.range[k]!;
      if (!Number.isFinite(r) || !(d >= minRange && d <= maxRange) || truth.boundary[k]) continue;
      if (truthCells === "driven" && !driven.has(truth.terrain[k]!)) continue;
      cells.push(k);
      logEnergy.push(truthLogEnergy(r));
    }
    const rows = this.#supervision.truthRows(p.stamp, p.features.data, cells, logEnergy);
    if (rows) this.#learning.add(rows);
  }

  /** The frame with the ground truth in place of the prediction where known (EvalOptions.truthOutputs). */
  #truthFrame(p: PerceivedFrame): PerceivedFrame {
    const truth = this.parts.evaluator?.truthFor(p.stamp, p.grid);
    if (!truth) return p;
    const roughness = p.grid.roughness.slice();
    const confidence = p.grid.confidence.slice();
    for (let i = 0; i < roughness.length; i++) {
      const t = truth.roughness[i]!;
      if (!Number.isFinite(t)) continue;
      roughness[i] = t;
      confidence[i] = 1;
    }
    return { ...p, grid: { ...p.grid, roughness, confidence } };
  }

  stats(): PipelineStats {
    const fleet = this.parts.sampleSources.find((s) => s.stats)?.stats?.();
    const stats = pipelineStats({
      clock: this.#clock,
      supervision: this.#supervision,
      learning: this.#learning,
      perception: this.perception,
      learner: this.parts.learner,
      frames: { framesIn: this.#framesIn, framesDropped: this.#live?.dropped ?? 0 },
      problems: this.#problems.counts,
    });
    return fleet ? { ...stats, fleet } : stats;
  }
}
