// Evaluation taps beyond the prequential score: the knowledge probe (a fixed probe set scored by the
// current model every curve window, held out of training) and the stability figures (lowest trailing
// ρ late in the run, costmap flicker and how right the costmap is there, how steady the speed limit
// is). Read-only like every tap: scoring the probe calls the learner's predict(), which does not
// train, so a run trains exactly as it would without it.

import { type Observable, Subscription } from "rxjs";
import { CostmapAgreementMeter } from "../eval/costmap-agreement.ts";
import { cellsInView, FlickerMeter, type InViewCells } from "../eval/costmap-flicker.ts";
import type { EvalSummary, PrequentialEvaluator } from "../eval/evaluator.ts";
import { minTrailingRho } from "../eval/knowledge-metrics.ts";
import { KnowledgeProbe, type ProbeSet } from "../eval/probe-set.ts";
import { SpeedChangeMeter } from "../eval/speed-change.ts";
import type { PipelineEvent } from "./events.ts";
import type { PipelineLearner } from "./learners.ts";
import type { GraphTaps } from "./taps.ts";

/** minTrailingRho looks at curve points from this sensor time on (s). */
export const STABILITY_AFTER_S = 90;

export class KnowledgeTaps {
  readonly subscription = new Subscription();
  #probe: KnowledgeProbe | undefined;
  #score = true;
  #heldOut = new Set<number>();
  #nextPoint = 1;
  readonly #flicker = new FlickerMeter();
  readonly #agreement = new CostmapAgreementMeter();
  readonly #speed = new SpeedChangeMeter();
  #pending: { stamp: number; cells: InViewCells } | undefined;

  constructor(
    taps: GraphTaps,
    events$: Observable<PipelineEvent>,
    private readonly evaluator: PrequentialEvaluator,
    private readonly learner: PipelineLearner,
  ) {
    this.subscription.add(
      taps.labels$.subscribe((l) => this.#probe?.onLabelType(evaluator.terrainUnderRobot(l.stamp))),
    );
    // Subscribed after the evaluation tap: the evaluator has scored the frame (and kept its truth).
    this.subscription.add(
      taps.frames$.subscribe((f) => {
        this.#inView(f.stamp, f.xs, f.ys);
        this.#maybeScore(f.stamp);
      }),
    );
    this.subscription.add(
      events$.subscribe((e) => {
        if (e.type !== "prediction") return;
        this.#speed.observe(e.stamp, e.outputs.speedLimit);
        const p = this.#pending;
        this.#pending = undefined;
        if (p && p.stamp === e.stamp && e.outputs.costmap) {
          const inView = cellsInView(p.cells, e.outputs.costmap);
          this.#flicker.observeCells(e.stamp, inView);
          this.#agreement.observeCells(inView);
        }
      }),
    );
  }

  /**
   * The run's probe set (before the first input): its frames are held out of training and, unless
   * `score` is false, the model scores it every evaluation window.
   */
  useProbeSet(probe: ProbeSet, options: { score?: boolean } = {}): void {
    this.#probe = new KnowledgeProbe(probe);
    this.#score = options.score !== false;
    this.#heldOut = new Set(probe.frameStamps);
  }

  /** True for a probe frame: never a keyframe, so no label is ever associated with it. */
  isHeldOut(stamp: number): boolean {
    return this.#heldOut.has(stamp);
  }

  /** Adds the knowledge (a last point with the final model) and stability figures to the summary. */
  finish(ev: EvalSummary): void {
    const probe = this.#probe;
    if (probe && this.#score) {
      const last = probe.curve.at(-1)?.t ?? 0;
      if (ev.window.end > last + 1e-6) probe.score(ev.window.end, (f, n) => this.learner.predict(f, n));
      ev.knowledge = probe.summary();
    }
    ev.stability = {
      minTrailingRho: minTrailingRho(ev.curve, STABILITY_AFTER_S),
      minTrailingRhoDriven: minTrailingRho(
        ev.curve.map((p) => ({ t: p.t, trailingSpearman: p.trailingSpearmanDriven })),
        STABILITY_AFTER_S,
      ),
      after: STABILITY_AFTER_S,
      costmapFlicker: this.#flicker.flicker,
      flickerPairs: this.#flicker.pairs,
      costmapRho: this.#agreement.rho,
      costmapRhoSamples: this.#agreement.samples,
      speedLimitChange: this.#speed.change,
      meanSpeedLimit: this.#speed.mean,
    };
  }

  #maybeScore(stamp: number): void {
    const probe = this.#probe;
    const first = this.evaluator.firstStamp;
    if (!probe || !this.#score || !Number.isFinite(first)) return;
    const w = this.evaluator.options.window;
    while (stamp >= first + w * this.#nextPoint) {
      probe.score(round3(w * this.#nextPoint), (f, n) => this.learner.predict(f, n));
      this.#nextPoint++;
    }
  }

  /** The frame's scored ground points (copied: xs/ys are the perception stage's scratch). */
  #inView(stamp: number, xs: Float64Array, ys: Float64Array): void {
    this.#pending = undefined;
    const truth = this.evaluator.lastTruth(stamp);
    if (!truth) return;
    const { minRange, maxRange } = this.evaluator.options;
    const n = Math.min(xs.length, truth.terrain.length);
    const cx = new Float64Array(n);
    const cy = new Float64Array(n);
    const ct = new Int16Array(n);
    const cr = new Float32Array(n);
    let m = 0;
    for (let k = 0; k < n; k++) {
      const r = truth.range[k]!;
      if (truth.terrain[k]! < 0 || truth.boundary[k] || !(r >= minRange && r <= maxRange)) continue;
      if (!Number.isFinite(truth.roughness[k]!)) continue;
      cx[m] = xs[k]!;
      cy[m] = ys[k]!;
      ct[m] = truth.terrain[k]!;
      cr[m] = truth.roughness[k]!;
      m++;
    }
    this.#pending = { stamp, cells: { xs: cx, ys: cy, types: ct, roughness: cr, n: m } };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
