// Learning: training rows into the learner's buffer, and the sensor-time training blocks. In replay
// a block is awaited before the graph takes its next input (the results do not depend on machine
// speed); live, the learner trains in its worker on its own CPU budget and the graph never waits.

import type { Problem, Stamp } from "../../core/types.ts";
import type { Config } from "../config.ts";
import type { PipelineLearner } from "../learners.ts";
import type { SampleRows } from "./supervision.ts";

/** Extra training rows taken at each training tick (a fleet's peers), before the block runs. */
export interface SampleSource {
  take(stamp: Stamp): readonly SampleRows[] | undefined;
  /** Counters for the pipeline's stats (`fleet` in PipelineStats). */
  stats?(): Record<string, unknown>;
  /** The data ended (pipeline.finish), before the summary's stats are taken. */
  finish?(): void;
}

export class LearningStage {
  trainSteps = 0;
  lastLoss = Number.NaN;
  #training: Promise<void> = Promise.resolve();
  // Calibration bounds of the own labels and of the sources' rows (a fleet's shared scale): the
  // learner calibrates with both together, so own and peer rows never pull it back and forth.
  #own = { lo: Number.NaN, hi: Number.NaN };
  #extra = { lo: Number.NaN, hi: Number.NaN };

  constructor(
    private readonly config: Config,
    readonly learner: PipelineLearner,
    private readonly mode: "replay" | "live",
    private readonly sources: readonly SampleSource[],
    private readonly problem: (p: Problem) => void,
  ) {}

  /** Rows into the buffer (not while learning is paused: `learner.enabled` is read every time). */
  add(rows: SampleRows, fromSource = false): void {
    const l = this.learner;
    if (rows.targetKind === "logEnergy" && l.setLabelCalibration && rows.hi > rows.lo) {
      const b = fromSource ? this.#extra : this.#own;
      b.lo = rows.lo;
      b.hi = rows.hi;
      l.setLabelCalibration(
        either(Math.min, this.#own.lo, this.#extra.lo),
        either(Math.max, this.#own.hi, this.#extra.hi),
        this.config.labeler.calibration.exponent,
      );
    }
    if (this.config.learner.enabled) l.addSamples(rows.features, rows.targets, rows.weights);
  }

  /** One second of sensor time: the sources' rows, then a block of training. Replay: awaited. */
  second(stamp: Stamp): Promise<void> | undefined {
    for (const s of this.sources) for (const rows of s.take(stamp) ?? []) this.add(rows, true);
    const steps = Math.round(this.config.learner.steps_per_second);
    // A learner without train() (live: the worker trains on its own budget) needs no schedule.
    if (!this.learner.train || !this.config.learner.enabled || !(steps > 0)) return undefined;
    if (!(this.learner.stats().bufferSize > 0)) return undefined;
    if (this.mode === "replay") return this.#count(() => this.learner.train!(steps));
    this.#training = this.#training.then(() => this.#count(() => this.learner.train!(steps)));
    return undefined;
  }

  /** Training still running (live), then the lockstep block still in flight (end of a replay). */
  async settle(): Promise<void> {
    await this.#training;
    if (this.learner.settle) await this.#count(() => this.learner.settle!());
  }

  /** Runs a training call, counting its steps and loss; a failure becomes a problem. */
  async #count(run: () => Promise<{ loss: number; steps: number }>): Promise<void> {
    try {
      const r = await run();
      this.trainSteps += r.steps;
      if (Number.isFinite(r.loss)) this.lastLoss = r.loss;
    } catch (err) {
      this.problem({ type: "problem", kind: "train", message: `training failed: ${(err as Error).message}` });
    }
  }
}

/** f(a, b), or whichever of the two is a number (Math.min/max with NaN give NaN). */
function either(f: (a: number, b: number) => number, a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : f(a, b);
}
