// The replay's result: the `--json` object built from a pipeline summary, the human summary and the
// JSON line the command prints (the demo prints them too).

import { resolve } from "node:path";
import { describeGround, type SelfSupervisorStats } from "../core/self-supervisor.ts";
import type { Problem } from "../core/types.ts";
import type { EvalSummary } from "../eval/evaluator.ts";
import { type ReportFiles, toJson } from "../eval/report.ts";
import type { Config } from "../runtime/config.ts";
import type { PipelineSummary } from "../runtime/pipeline.ts";
import { stampRemedy } from "../runtime/stages/problems.ts";
import { formatKnowledge } from "./knowledge-format.ts";
import type { ReplayRunOptions } from "./replay.ts";

/** The `--json` object (also the demo's report core). */
export interface ReplayResult {
  frames: number;
  labels: number;
  samples: number;
  trainSteps: number;
  backend: string;
  /** The final-window figures of the evaluation (the baseline without its cell count). */
  eval?: Pick<EvalSummary, "spearman" | "mae" | "auroc" | "confidenceAuroc" | "cells" | "window"> & {
    baseline: Pick<EvalSummary["baseline"], "spearman" | "mae" | "auroc">;
    knowledge?: EvalSummary["knowledge"];
    stability?: EvalSummary["stability"];
  };
  curve?: EvalSummary["curve"];
  realtimeFactor: number;
  sensorSeconds: number;
  wallSeconds: number;
  framesDropped: number;
  keyframes: number;
  rows: number;
  frameMs: number;
  problems: Record<string, number>;
  bag: string;
  record?: string;
  report?: ReportFiles;
  /** The checkpoint manifest written with saveCheckpoint. */
  checkpoint?: string;
  /** Everything the evaluator computed (over all cells, whole run, terrain table, options). */
  evalDetails?: EvalSummary;
  supervisor: unknown;
  /** Human summary only: the ground plane the camera was projected onto (also `supervisor.ground`). */
  ground?: string;
  /** Fleet sharing counters (with fleet.url). */
  fleet?: Record<string, unknown>;
  /**
   * Why the run used no camera frame, learned from none (learner enabled), or had no model at all
   * (learner disabled, no checkpoint): the command prints
   * the result, then this, and exits non-zero. Not in the JSON (stderr carries it).
   */
  idle?: string;
  /**
   * A run that did not fail but whose model says less than it seems (stderr, not the JSON): the
   * bag ended before the first training step, or its own data taught nothing and the model trained
   * on the fleet's samples only.
   */
  warning?: string;
}

/** What the run saw besides the summary, for `idleReason`. */
export interface ReplayClues {
  /** The first conversion or decode problem of each topic. */
  firstProblem: ReadonlyMap<string, string>;
  /** The first frame the perception stage could not use (a backbone error, say). */
  frameProblem?: string;
  /** The camera frame of the first prediction. */
  cameraFrame?: string;
  /** Messages fusion dropped for their stamps (`late`) per stream ("image", "imu", …). */
  late?: ReadonlyMap<string, { count: number; first: Problem }>;
  /** The model was loaded from a checkpoint (--checkpoint). */
  fromCheckpoint?: boolean;
}

/**
 * Why a replay did nothing useful, or undefined: no camera frame converted (an unsupported
 * encoding, a depth topic), or, with learning enabled, not one training sample (no intrinsics, no
 * TF from the camera to the robot, no labels, labels out of every keyframe's view).
 */
export function idleReason(s: PipelineSummary, config: Config, clues: ReplayClues): string | undefined {
  const t = config.topics;
  const problemOn = (...topics: string[]) =>
    topics.map((x) => clues.firstProblem.get(x)).find((m) => m !== undefined);
  // Most frames dropped for their stamps: that is the reason, whatever else went wrong after.
  const lost = clues.late?.get("image");
  if (
    lost &&
    lost.count > s.framesProcessed &&
    (s.framesProcessed === 0 || (config.learner.enabled && s.samples === 0))
  )
    return `${s.framesProcessed === 0 ? "no camera frame could be used" : `nothing learned from ${s.framesProcessed} frames`}: ${lost.count} camera frames were dropped for their stamps (the first: ${lost.first.message})${stampRemedy(lost.first)}`;
  if (s.framesProcessed === 0) {
    const why = problemOn(t.image, t.compressed_image) ?? clues.frameProblem;
    return `no camera frame could be used${why ? `: ${why}` : ` (${t.image}, ${t.compressed_image})`}`;
  }
  // Learning off is for judging a trained model: without one, every prediction is an empty head's.
  if (!config.learner.enabled)
    return clues.fromCheckpoint
      ? undefined
      : `learning is off (learner.enabled: false) and no --checkpoint was given: every prediction came from an untrained model`;
  if (s.samples > 0) return undefined;
  const sup = s.supervisor as Partial<SelfSupervisorStats> | undefined;
  if (!sup) return undefined;
  let why: string;
  if (sup.cameraKnown === false) {
    const mismatch = sup.cameraInfo?.mismatch;
    const p = mismatch ? `its size is not a resize of the images': ${mismatch}` : problemOn(t.camera_info);
    why = `no usable camera info on ${t.camera_info}${p ? ` (${p})` : ""}`;
  } else if (sup.extrinsicsKnown === false) {
    why = `TF (${t.tf}, ${t.tf_static}) never linked the camera frame${clues.cameraFrame ? ` '${clues.cameraFrame}'` : ""} to '${config.frames.base}' (frames.base)`;
  } else if (s.labels === 0) {
    why = `no vibration labels (try \`terrain-learner label\` on this bag for the reason)`;
  } else if ((sup.keyframes?.added ?? 0) === 0) {
    why = `no keyframe: odometry (${t.odom}) did not cover the camera frames' stamps`;
  } else {
    const skipped = Object.entries(sup.association?.skipped ?? {})
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    why = `none of the ${s.labels} labels fell in a keyframe's view${skipped ? ` (${skipped})` : ""}`;
  }
  return `nothing learned from ${s.framesProcessed} frames: ${why}`;
}

/** The bag ended before the first training step: every prediction is an empty head's. */
export function untrainedReason(
  s: PipelineSummary,
  config: Config,
  fromCheckpoint: boolean,
): string | undefined {
  if (!config.learner.enabled || fromCheckpoint || s.samples === 0 || s.trainSteps > 0) return undefined;
  const l = config.learner;
  return `the bag ended before the first training step, so every prediction came from an untrained model (${s.samples} samples; training starts once learner.min_samples = ${l.min_samples} cells are stored, then takes learner.steps_per_second = ${l.steps_per_second} steps per second of sensor time)`;
}

export function toResult(s: PipelineSummary, opts: ReplayRunOptions, clues?: ReplayClues): ReplayResult {
  let idle = clues
    ? idleReason(s, opts.config, { ...clues, fromCheckpoint: opts.checkpoint !== undefined })
    : undefined;
  // Frames used, none of its own samples, yet trained: the fleet taught it. A warning, not a failure.
  let warning: string | undefined;
  if (idle && s.framesProcessed > 0 && s.samples === 0 && s.trainSteps > 0) {
    warning = `${idle.replace(/^nothing learned from (\d+) frames/, "this bag taught nothing from its $1 frames")}; the model trained on the fleet's samples only`;
    idle = undefined;
  } else if (!idle) warning = untrainedReason(s, opts.config, opts.checkpoint !== undefined);
  const e = s.eval;
  const ground = (s.supervisor as Partial<SelfSupervisorStats> | undefined)?.ground;
  return {
    frames: s.framesProcessed,
    labels: s.labels,
    samples: s.samples,
    trainSteps: s.trainSteps,
    backend: s.backend,
    ...(e
      ? {
          eval: {
            spearman: e.spearman,
            mae: e.mae,
            auroc: e.auroc,
            confidenceAuroc: e.confidenceAuroc,
            cells: e.cells,
            window: e.window,
            baseline: { spearman: e.baseline.spearman, mae: e.baseline.mae, auroc: e.baseline.auroc },
            knowledge: e.knowledge,
            stability: e.stability,
          },
          curve: e.curve,
        }
      : {}),
    realtimeFactor: s.realtimeFactor,
    sensorSeconds: s.sensorSeconds,
    wallSeconds: s.wallSeconds,
    framesDropped: s.framesDropped,
    keyframes: s.keyframes,
    rows: s.rows,
    frameMs: s.frameMs,
    problems: s.problems,
    bag: resolve(opts.bag),
    ...(opts.record ? { record: resolve(opts.record) } : {}),
    ...(e ? { evalDetails: e } : {}),
    supervisor: s.supervisor,
    ...(ground ? { ground: describeGround(ground, opts.config.frames) } : {}),
    ...(s.fleet ? { fleet: s.fleet } : {}),
    ...(idle ? { idle } : {}),
    ...(warning ? { warning } : {}),
  };
}

const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d));

/** Human summary (stdout). */
export function formatSummary(r: ReplayResult): string {
  const lines = [
    `frames ${r.frames} (dropped ${r.framesDropped}), keyframes ${r.keyframes}, labels ${r.labels}, samples ${r.samples} (${r.rows} cells)`,
    `learner: ${r.trainSteps} training steps on ${r.backend}; ${f(r.sensorSeconds, 1)} s of data in ${f(r.wallSeconds, 1)} s (${f(r.realtimeFactor, 2)}× real time, ${f(r.frameMs, 1)} ms/frame)`,
  ];
  if (r.ground) lines.push(r.ground);
  if (r.eval && r.curve) {
    const e = r.eval;
    lines.push(
      `prequential evaluation over t = ${f(e.window.start, 0)}..${f(e.window.end, 0)} s (${e.cells} cells):`,
      `  Spearman ρ   ${f(e.spearman)}   (baseline ${f(e.baseline.spearman)})`,
      `  MAE          ${f(e.mae)}   (baseline ${f(e.baseline.mae)})`,
      `  AUROC rough  ${f(e.auroc)}   (baseline ${f(e.baseline.auroc)})`,
      `  confidence AUROC, never-driven vs driven terrain: ${f(e.confidenceAuroc)}`,
      ...(r.evalDetails
        ? [
            `  labels vs true roughness under the robot: ρ ${f(r.evalDetails.labels.spearman)}, MAE ${f(r.evalDetails.labels.mae)} (${r.evalDetails.labels.count} labels)`,
          ]
        : []),
      ...formatKnowledge(e.knowledge, e.stability),
      "  learning curve (t: ρ and MAE over the trailing minute | ρ of that 10 s window):",
    );
    const step = Math.max(1, Math.ceil(r.curve.length / 12));
    const pts = r.curve.filter((_, i) => i % step === step - 1 || i === r.curve!.length - 1);
    for (const c of pts) {
      lines.push(
        `    ${f(c.t, 0).padStart(5)} s: ρ ${f(c.trailingSpearman, 2).padStart(5)}  MAE ${f(c.trailingMae, 3)}  (baseline ρ ${f(c.trailingBaselineSpearman, 2).padStart(5)}) | ${f(c.spearman, 2).padStart(5)}`,
      );
    }
  }
  for (const w of r.evalDetails?.warnings ?? []) lines.push(`eval: ${w}`);
  if (r.report)
    lines.push(
      `report: ${r.report.json}${r.report.curve ? `, ${r.report.curve}` : ""}${r.report.frames ? `, ${r.report.frames}` : ""}`,
    );
  if (r.record) lines.push(`recording: ${r.record}`);
  if (r.checkpoint) lines.push(`checkpoint: ${r.checkpoint}`);
  if (r.fleet) {
    const q = r.fleet as Record<string, number> & { rejected: Record<string, number> };
    const rejected = Object.entries(q.rejected).map(([k, v]) => `${k} ${v}`);
    lines.push(
      `fleet: ${q.peers} peers; received ${q.received} samples, used ${q.used} (${q.overridden} down-weighted by own labels), rejected ${rejected.length ? rejected.join(", ") : "none"}; sent ${q.sent}; ${f((q.bytesOutPerSec ?? 0) / 1000, 1)} kB/s out, ${f((q.bytesInPerSec ?? 0) / 1000, 1)} kB/s in`,
    );
  }
  const problems = Object.entries(r.problems);
  if (problems.length) lines.push(`problems: ${problems.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** The --json object: the documented keys first, then the extras. */
export function jsonResult(r: ReplayResult): string {
  // `ground` is the human line; the JSON has it as data in supervisor.ground.
  const { evalDetails, supervisor, ground, idle, warning, ...rest } = r;
  return toJson({
    ...rest,
    curve: r.curve?.map((c) => ({
      t: c.t,
      spearman: c.spearman,
      mae: c.mae,
      baselineSpearman: c.baselineSpearman,
      baselineMae: c.baselineMae,
      trailingSpearman: c.trailingSpearman,
      trailingSpearmanDriven: c.trailingSpearmanDriven,
      trailingMae: c.trailingMae,
    })),
    evalAllCells: evalDetails?.allCells,
    evalOverall: evalDetails?.overall,
    terrains: evalDetails?.terrains,
    supervisor,
  });
}
