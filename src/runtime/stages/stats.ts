// The pipeline's stats: every stage's counters in one `PipelineStats` (the `stats` events, MQTT's
// learner topic, the ROS diagnostics, the replay summary).

import type { EvalSummary } from "../../eval/evaluator.ts";
import type { PipelineStats, PipelineSummary } from "../events.ts";
import type { PipelineLearner } from "../learners.ts";
import type { SensorClock } from "./clock.ts";
import type { LearningStage } from "./learning.ts";
import type { PerceptionStage } from "./perception.ts";
import type { SupervisionStage } from "./supervision.ts";

export interface StatsSources {
  clock: SensorClock;
  supervision: SupervisionStage;
  learning: LearningStage;
  perception: PerceptionStage;
  learner: PipelineLearner;
  frames: { framesIn: number; framesDropped: number };
  problems: Record<string, number>;
}

export function pipelineStats(s: StatsSources): PipelineStats {
  const { learner, perception: per, supervision: sup } = s;
  const ls = learner.stats();
  const n = per.counts.framesProcessed;
  return {
    stamp: s.clock.lastStamp,
    sensorSeconds: s.clock.sensorSeconds,
    framesIn: s.frames.framesIn,
    framesProcessed: n,
    framesDropped: s.frames.framesDropped,
    keyframes: per.counts.keyframes,
    ...sup.counts,
    // A learner that trains itself (live worker) counts its own steps.
    trainSteps: learner.train ? s.learning.trainSteps : ls.trainSteps,
    lastLoss: learner.train ? s.learning.lastLoss : ls.lastLoss,
    backend: learner.backend,
    bufferSize: ls.bufferSize,
    problems: { ...s.problems },
    supervisor: sup.supervisor.stats(),
    frameMs: n ? per.frameMsTotal / n : 0,
    featureWaitMs: n ? per.featureWaitMsTotal / n : 0,
    framesRecomputed: per.counts.framesRecomputed,
    diagnostics: { ...sup.diagnostics },
  };
}

/** The end-of-run summary: the final stats, the evaluation, and wall time since `wallStart` (ms). */
export function pipelineSummary(
  stats: PipelineStats,
  evaluation: EvalSummary | undefined,
  wallStart: number,
): PipelineSummary {
  const wallSeconds = (performance.now() - wallStart) / 1000;
  return {
    ...stats,
    eval: evaluation,
    wallSeconds,
    realtimeFactor: wallSeconds > 0 ? stats.sensorSeconds / wallSeconds : 0,
  };
}
