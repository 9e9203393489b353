// The learner's public shapes: its statistics, its export for a standalone predictor, its options,
// and the settings a checkpoint's weights depend on.

import type * as ort from "onnxruntime-node";
import type { LearnerConfig } from "./config.ts";
import type { OnnxPredictorOptions } from "./onnx-predictor.ts";
import type { HeadOutputCalibration } from "./output-calibration.ts";
import type { BackendName } from "./tf-backend.ts";

export interface LearnerStats {
  backend: BackendName;
  bufferSize: number;
  samplesSeen: number;
  trainSteps: number;
  lastLoss: number;
  lastReconLoss: number;
  numTensors: number;
  binSizes: number[];
  /** Log reconstruction error of training samples: mean and std (NaN before training). */
  errorMean: number;
  errorStd: number;
}

/**
 * What a standalone predictor needs to compute predict() (learning/export-graph.ts): the onnxruntime
 * predictor's graph options and weight inputs, and the confidence map
 * exp(−½(max(0, (log(score + eps) − mean)/std)/sigma)²).
 */
export interface PredictorExport {
  options: OnnxPredictorOptions;
  inputs: Record<string, ort.Tensor>;
  confidence: { eps: number; mean: number; std: number; sigma: number };
  labelCalibration: { lo: number; hi: number; exponent: number } | null;
  /**
   * head_target log_energy: the head's linear output → roughness (headOutputToRoughness); null when
   * no calibration was ever set (the output is clamped to 0..1). Absent for a roughness head.
   */
  logEnergyOutput?: HeadOutputCalibration | null;
  trainSteps: number;
}

/** Training steps between refreshes of the novelty references and statistics. */
export const STATS_EVERY = 20;

/** The learner settings a checkpoint's weights are only meaningful with (recorded in its manifest). */
export const PREDICTION_SETTINGS = [
  "backbone",
  "input_width",
  "hidden_units",
  "bottleneck",
  "novelty",
  "novelty_references",
  "novelty_neighbors",
  "novelty_metric",
  "novelty_ridge",
  "novelty_features",
  "confidence_sigma",
  "head_target",
] as const satisfies readonly (keyof LearnerConfig)[];

export interface LearnerOptions {
  warn?: (message: string) => void;
  /**
   * Per-frame prediction: "onnx" (default) runs it as one onnxruntime session (onnx-predictor.ts),
   * falling back to "tfjs" (the tfjs head + KnnNovelty in JS) when that session cannot be built.
   */
  predictor?: "onnx" | "tfjs";
}
