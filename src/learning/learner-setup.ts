// How the learner's settings become its parts' options: the head, the replay buffer, the kNN
// novelty's invariant projection and the onnxruntime predictor's graph.

import { resolveBackbonePath } from "./backbone.ts";
import type { LearnerConfig } from "./config.ts";
import { CLIP } from "./feature-normaliser.ts";
import type { HeadOptions } from "./head.ts";
import { backboneChannelNames, invariantProjection } from "./novelty-features.ts";
import type { OnnxPredictorOptions } from "./onnx-predictor.ts";
import type { ReplayBufferOptions } from "./replay-buffer.ts";

export function headOptions(cfg: LearnerConfig, channels: number, logHead: boolean): HeadOptions {
  return {
    channels,
    hidden: cfg.hidden_units,
    bottleneck: cfg.bottleneck,
    learningRate: cfg.learning_rate,
    seed: cfg.seed,
    trainReconstruction: cfg.novelty === "autoencoder",
    output: logHead ? "linear" : "sigmoid",
  };
}

export function bufferOptions(cfg: LearnerConfig, channels: number): ReplayBufferOptions {
  return {
    capacity: cfg.buffer_size,
    channels,
    balance: cfg.balance,
    bins: cfg.bins,
    seed: cfg.seed,
    recentShare: cfg.recent_share,
    recentSamples: cfg.recent_samples,
  };
}

/** The kNN novelty's projection onto invariant features (novelty_features "invariant"), or null. */
export function noveltyProjection(
  cfg: LearnerConfig,
  channels: number,
): { matrix: Float32Array; dims: number } | null {
  if (!(cfg.novelty === "knn" && cfg.novelty_features === "invariant")) return null;
  // The same file the pipeline's backbone is loaded from (Backbone.fromConfig).
  const path = resolveBackbonePath(cfg.backbone);
  // Null (all features, no warning: this is the default) for a backbone without channel names
  // or features that are not its head layout (a learner fed something else, as in tests).
  return invariantProjection(backboneChannelNames(path), channels);
}

/**
 * Search dimensions above which the local novelty metric's cost dominates: it inverts a D×D covariance
 * every STATS_EVERY training steps (O(D³), in JavaScript) and applies it to every cell of every frame
 * (O(D²)). A 512-channel backbone (D = 1025 head inputs) replayed at 1.1× real time against 5.3× with
 * "standardized" on 2 cores; 1024 channels at 0.18× against 2.4×.
 */
export const LOCAL_METRIC_MAX_DIMS = 1024;

/** One line when the kNN novelty's local metric will slow the learner down many times (else null). */
export function noveltyCostWarning(cfg: LearnerConfig, channels: number): string | null {
  if (cfg.novelty !== "knn" || cfg.novelty_metric !== "local") return null;
  const dims = noveltyProjection(cfg, channels)?.dims ?? channels;
  if (dims <= LOCAL_METRIC_MAX_DIMS) return null;
  return (
    `learner: novelty_metric local over ${dims} features per cell inverts a ${dims}×${dims} matrix every few training steps and applies it to every cell of every frame, ` +
    `many times slower than the head itself: set learner.novelty_metric: standardized, or give the backbone fewer channels (a 1×1 Conv at its end)`
  );
}

export function predictorOptions(
  cfg: LearnerConfig,
  channels: number,
  knn: boolean,
  logHead: boolean,
): OnnxPredictorOptions {
  return {
    channels,
    hidden: cfg.hidden_units,
    bottleneck: cfg.bottleneck,
    novelty: knn ? "knn" : "autoencoder",
    neighbours: cfg.novelty_neighbors,
    searchTransform: cfg.novelty_metric === "local" || cfg.novelty_features === "invariant",
    clip: CLIP,
    intraOpThreads: cfg.predict_threads,
    output: logHead ? "linear" : "sigmoid",
  };
}
