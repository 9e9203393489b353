// The learner's section of the configuration (`learner.*`): the learning layer owns its schema, the
// runtime's config (src/runtime/config.ts) composes it with the others.

import { z } from "zod";

const positive = () => z.number().positive();

export const LearnerSchema = z
  .strictObject({
    /**
     * The ONNX backbone: a path, or a bundled one by name: "filterbank" (also "", the default:
     * models/backbone.onnx) or "mobilenetv2" (models/mobilenetv2.onnx, ImageNet-pretrained).
     */
    backbone: z.string().default("").meta({
      description: "ONNX feature backbone: a path, or bundled filterbank (empty, default) or mobilenetv2",
    }),
    execution_providers: z
      .array(z.string())
      .default(["cpu"])
      .meta({ description: "onnxruntime execution providers, e.g. [cuda, cpu] on a Jetson" }),
    /**
     * onnxruntime intra-op threads for the backbone. 0 = auto: one per core minus the one the
     * training worker needs (at least 1).
     */
    backbone_threads: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .meta({ unit: "threads", description: "onnxruntime threads of the backbone (0: cores - 1)" }),
    /**
     * onnxruntime intra-op threads for the per-frame head (MLP + novelty): 1 by default, because a
     * 1200-cell head is ~1 ms and a second thread only adds hand-off and contention with the backbone
     * and the training worker (0 = onnxruntime's default).
     */
    predict_threads: z.number().int().nonnegative().default(1).meta({
      unit: "threads",
      description: "onnxruntime threads of the per-frame head (0: onnxruntime's default)",
    }),
    /**
     * Working resolution: camera images wider than this many pixels are box-filtered down to it (aspect
     * kept) before the backbone, so a bigger camera does not multiply the backbone and head cost; the
     * feature grid stays in camera pixels. 0 = feed the native resolution.
     */
    input_width: z.number().int().nonnegative().default(320).meta({
      unit: "px",
      description: "wider camera images are downscaled to this width first (0: native size)",
    }),
    /**
     * Run the backbone (and the head's neighbourhood features) in a worker thread, so frame inference
     * overlaps bag reading, labelling, the head and the outputs instead of blocking them; a replay
     * also starts the next frames' features early. false = on the pipeline's own thread.
     */
    backbone_worker: z
      .boolean()
      .default(true)
      .meta({ description: "run the backbone in a worker thread (false: inline)" }),
    /** tfjs backend: auto picks tfjs-node if installed, else wasm, else cpu. */
    backend: z
      .enum(["auto", "node", "wasm", "cpu"])
      .default("auto")
      .meta({ description: "tfjs backend: auto picks node if installed, else wasm, else cpu" }),
    hidden_units: z
      .number()
      .int()
      .positive()
      .default(64)
      .meta({ unit: "units", description: "hidden layer width of the head" }),
    learning_rate: positive().default(0.003).meta({ unit: "1", description: "Adam learning rate" }),
    batch_size: z
      .number()
      .int()
      .positive()
      .default(64)
      .meta({ unit: "samples", description: "training batch size" }),
    buffer_size: z
      .number()
      .int()
      .positive()
      .default(20000)
      .meta({ unit: "cells", description: "replay buffer size" }),
    balance: z
      .enum(["reservoir", "per-bin"])
      .default("per-bin")
      .meta({ description: "replay sampling: per-bin (balanced over roughness) or reservoir" }),
    /**
     * Share of every training batch drawn from the samples stored last (recent_samples of them); the
     * rest is balanced over everything stored. New ground is learned within seconds even in a large
     * buffer, and ground driven long ago stays in every batch (0.25: default world seed 1 from
     * ρ 0.868 to 0.888, time to rank 90 → 30 s; docs/learning.md). 0 = balanced replay only.
     */
    recent_share: z
      .number()
      .min(0)
      .max(1)
      .default(0.25)
      .meta({ unit: "1", description: "share of each batch drawn from the samples stored last" }),
    recent_samples: z
      .number()
      .int()
      .positive()
      .default(2048)
      .meta({ unit: "cells", description: "how many of the last stored samples count as recent" }),
    /**
     * The published model (predictions, live hand-over, checkpoints) is an exponential moving average
     * of the trained weights with this half-life in training steps: single steps on a batch of one
     * terrain no longer move every prediction. 0 = the trained weights as they are.
     */
    weight_average_half_life: z.number().nonnegative().default(0).meta({
      unit: "steps",
      description: "half-life of the moving average of head weights that predicts (0: off)",
    }),
    /**
     * What the head learns when labels come as vibration energy: "log_energy" (log10 energy, mapped
     * to 0..1 by the label calibration only at the output, so a moving calibration never changes
     * what was learned) or "roughness" (the calibrated label, re-mapped under the head as it moves).
     */
    head_target: z
      .enum(["log_energy", "roughness"])
      .default("roughness")
      .meta({ description: "head learns log_energy (calibrated at the output) or calibrated roughness" }),
    /** Replay mode: training steps per second of sensor time (deterministic). */
    steps_per_second: positive()
      .default(20)
      .meta({ unit: "1/s", description: "training steps per second of sensor time" }),
    /**
     * Replay mode: "worker" trains in a worker thread in lockstep with sensor time (each block's
     * weights take effect one block later: deterministic, and inference overlaps training on a
     * second core); "inline" trains on the pipeline's thread before the next frame.
     */
    replay_training: z
      .enum(["worker", "inline"])
      .default("worker")
      .meta({ description: "replay: worker (lockstep thread, deterministic) or inline" }),
    /** Live mode: the share of one core the training worker may use. */
    cpu_budget: z
      .number()
      .min(0.05)
      .max(1)
      .default(0.5)
      .meta({ unit: "cores", description: "live: share of one core the training worker may use" }),
    enabled: z
      .boolean()
      .default(true)
      .meta({ description: "learning on at start (service ~/pause_learning toggles it)" }),
    checkpoint_dir: z
      .string()
      .default("")
      .meta({ description: "where checkpoints are written; empty: no checkpoints" }),
    checkpoint_keep: z
      .number()
      .int()
      .positive()
      .default(3)
      .meta({ unit: "files", description: "checkpoints kept" }),
    checkpoint_every: positive()
      .default(60)
      .meta({ unit: "s", description: "live: seconds between checkpoints" }),
    /**
     * Novelty score behind the confidence: distance to the k nearest training samples ("knn") or the
     * reconstruction error of an autoencoder trained on them ("autoencoder").
     */
    novelty: z
      .enum(["knn", "autoencoder"])
      .default("knn")
      .meta({ description: "confidence from knn (distance to driven ground) or autoencoder" }),
    /** kNN novelty: reference rows drawn from the replay buffer, and neighbours averaged. */
    novelty_references: z
      .number()
      .int()
      .positive()
      .default(128)
      .meta({ unit: "rows", description: "kNN: reference rows drawn from the replay buffer" }),
    novelty_neighbors: z
      .number()
      .int()
      .positive()
      .default(3)
      .meta({ unit: "rows", description: "kNN: neighbours averaged" }),
    /**
     * kNN novelty distances: "standardised" (Euclidean between standardised features) or "local"
     * (Mahalanobis under the spread between neighbouring references; see learning/novelty-metric.ts).
     * Never-driven ground that mixes driven ground's traits (patchwork's rubble: asphalt's colour,
     * cobbles' texture) stands out under "local"; see novelty_ridge for how far it goes.
     */
    novelty_metric: z
      .enum(["standardized", "local"])
      .default("local")
      .meta({ description: "kNN distance: local (Mahalanobis, neighbour spread) or standardised" }),
    /**
     * novelty_metric local: ridge added to the neighbour-difference covariance (standardised units²).
     * Small ridges weight quiet directions most and also flag driven ground whose look varies in
     * them (grass and sand seen again later); 0.5 kept every simulated world's confidence AUROC
     * above 0.8 where 0.05 did not (default world seed 2: 0.83 vs 0.89).
     */
    novelty_ridge: positive()
      .default(0.5)
      .meta({ unit: "1", description: "local metric: ridge added to the covariance (standardised units^2)" }),
    /**
     * kNN novelty features: "all" head inputs, or "invariant": the backbone's channels pooled over
     * orientation and without mean luminance, so that driven ground seen from another heading or
     * under another exposure does not look new (from the backbone's channel_names metadata; a
     * backbone without them gets "all"; see learning/novelty-features.ts).
     */
    novelty_features: z
      .enum(["all", "invariant"])
      .default("invariant")
      .meta({ description: "kNN features: invariant (heading/exposure-invariant) or all" }),
    /** Autoencoder bottleneck width of the novelty (confidence) head. */
    bottleneck: z
      .number()
      .int()
      .positive()
      .default(8)
      .meta({ unit: "units", description: "width of the novelty autoencoder" }),
    /**
     * Confidence falls off as exp(-½(z/confidence_sigma)²) where z is the reconstruction error in
     * standard deviations (of log error) above the mean of the training samples' errors.
     */
    confidence_sigma: positive()
      .default(2)
      .meta({ unit: "1", description: "confidence falls off as exp(-z^2 / (2 sigma^2))" }),
    /** Roughness bins for balance=per-bin. */
    bins: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(5)
      .meta({ unit: "bins", description: "roughness bins for balance: per-bin" }),
    /** Seed of weight initialisation and replay sampling (replay runs are reproducible). */
    seed: z
      .number()
      .int()
      .nonnegative()
      .default(1)
      .meta({ unit: "seed", description: "seed of weight initialisation and replay sampling" }),
    /** Training starts once the replay buffer holds this many samples. */
    min_samples: z
      .number()
      .int()
      .positive()
      .default(64)
      .meta({ unit: "samples", description: "training starts with this many samples buffered" }),
    /** Live mode: seconds between weight hand-overs from the training worker to the predictor. */
    publish_every: positive()
      .default(2)
      .meta({ unit: "s", description: "live: seconds between weight hand-overs from the worker" }),
  })
  .prefault({});

export type LearnerConfig = z.infer<typeof LearnerSchema>;
