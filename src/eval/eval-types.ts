// Options and result shapes of the prequential evaluation (evaluator.ts).

import type { TerrainInfo } from "./ground-truth.ts";
import type { KnowledgeSummary } from "./probe-set.ts";

export interface EvalOptions {
  /** Range along the camera ray (m) of the cells that are scored. */
  minRange: number;
  maxRange: number;
  /** Ground truth at or above this is "rough" for the AUROC. */
  roughThreshold: number;
  /** Learning-curve window (s). */
  window: number;
  /** Final metrics are over the last `finalWindow` seconds. */
  finalWindow: number;
  /** Score only cells whose footprint lies on a single terrain type. */
  excludeBoundaries: boolean;
  /** Base frame of the robot (the true pose's child frame). */
  baseFrame: string;
  /**
   * Diagnostic: the outputs (grid, costmap) carry the ground truth where it is known, at confidence
   * 1, instead of the model's prediction; the model is still what is scored. What is left of the
   * costmap flicker is then the outputs' own (projection, rasterising, evidence decay).
   */
  truthOutputs: boolean;
  /**
   * Diagnostic: each label's energy is made from the true roughness under the robot during its step
   * (10^(2·r − 1.2), through the labeller's own calibration), not from the vibration. What the learner
   * still gets wrong is then not the labels' fault. Labels whose step has no truth keep the measurement.
   */
  truthLabels: boolean;
  /**
   * Diagnostic (with truthLabels): every keyframe also teaches the true roughness of each cell the
   * evaluation scores (1–8 m, one terrain), as labels would if they covered every view: "all" of
   * them, or only those of terrain types the robot has been on so far ("driven"). A bound on what
   * labels could teach, not a learner.
   */
  truthCells: "off" | "driven" | "all";
}

export const DEFAULT_EVAL_OPTIONS: EvalOptions = {
  minRange: 1,
  maxRange: 8,
  roughThreshold: 0.5,
  window: 10,
  finalWindow: 60,
  excludeBoundaries: true,
  baseFrame: "base_link",
  truthOutputs: false,
  truthLabels: false,
  truthCells: "off",
};

export interface MetricSet {
  spearman: number;
  mae: number;
  auroc: number;
  cells: number;
}

export interface StabilitySummary {
  /** Lowest trailing prequential ρ at curve points t ≥ `after` s; null when none. */
  minTrailingRho: number | null;
  /**
   * The same over ground of types already driven when seen (curve trailingSpearmanDriven): what is
   * left of the dips without the ground the robot has not felt yet.
   */
  minTrailingRhoDriven: number | null;
  after: number;
  /** Mean |Δ cost| per second of costmap cells in view on unchanged ground (costmap-flicker.ts). */
  costmapFlicker: number | null;
  /** Cell-frame pairs the flicker pools. */
  flickerPairs: number;
  /**
   * Spearman ρ of the costmap's value against the true roughness of the same in-view cells, pooled
   * over (cell, frame) samples (costmap-agreement.ts): a steadier costmap must not be a wronger one.
   */
  costmapRho: number | null;
  /** (cell, frame) samples costmapRho pools. */
  costmapRhoSamples: number;
  /** Mean |Δ speed limit| per second between consecutive frames (m/s per s; speed-change.ts). */
  speedLimitChange: number | null;
  /** Mean published speed limit (m/s). */
  meanSpeedLimit: number | null;
}

export interface EvalSummary {
  /** Learner metrics over the final window. */
  spearman: number;
  mae: number;
  auroc: number;
  /** AUROC of (1 − confidence) for cells on never-driven terrain vs driven terrain; NaN if the world has none in view. */
  confidenceAuroc: number;
  cells: number;
  window: { start: number; end: number };
  baseline: MetricSet;
  /** Same metrics including cells on terrain boundaries. */
  allCells: MetricSet & { baseline: MetricSet };
  /** Over the whole run. */
  overall: MetricSet & { baseline: MetricSet; confidenceAuroc: number };
  /**
   * Per `window` seconds: metrics of that window, and over the trailing `finalWindow` seconds ending
   * there (the goal's "last minute", as it develops).
   */
  curve: {
    t: number;
    spearman: number;
    mae: number;
    auroc: number;
    baselineSpearman: number;
    baselineMae: number;
    cells: number;
    trailingSpearman: number;
    /** The same over cells whose terrain type had been driven (3 labels) when the cell was seen. */
    trailingSpearmanDriven: number;
    trailingMae: number;
    trailingBaselineSpearman: number;
  }[];
  /** Final window, per terrain type in view: what the learner predicts for each. */
  byTerrain: {
    index: number;
    name: string;
    truth: number;
    driven: boolean;
    cells: number;
    mean: number;
    std: number;
    confidence: number;
  }[];
  /** Labels against the true roughness under the robot: how good the supervision itself is. */
  labels: {
    count: number;
    spearman: number;
    mae: number;
    pearson: number;
    /** Per terrain type under the robot: label mean/std vs the true roughness. */
    byTerrain: { index: number; name: string; truth: number; count: number; mean: number; std: number }[];
  };
  /** What a fixed probe set says the model knows, per curve point (probe-set.ts; with a probe set). */
  knowledge?: KnowledgeSummary;
  /** How steady the learner and its costmap are (added by the stream graph's evaluation taps). */
  stability?: StabilitySummary;
  frames: number;
  framesScored: number;
  terrains: (TerrainInfo & { drivenSource: "world" | "trajectory" })[];
  options: EvalOptions;
  warnings: string[];
}
