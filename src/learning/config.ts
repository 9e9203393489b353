// The learner's section of the configuration (`learner.*`): the learning layer owns its schema, the
// runtime's config (src/runtime/config.ts) composes it with the others.

import { z } from "zod";

const positive = () => z.number().positive();

export const LearnerSchema = z
  .strictObject({
    /** Path of the ONNX backbone; empty means the bundled models/backbone.onnx. */
    backbone: z.string().default(""),
    executionProviders: z.array(z.string()).default(["cpu"]),
    /**
     * onnxruntime intra-op threads for the backbone. 0 = auto: one per core minus the one the
     * training worker needs (at least 1).
     */
    backboneThreads: z.number().int().nonnegative().default(0),
    /**
     * onnxruntime intra-op threads for the per-frame head (MLP + novelty): 1 by default, because a
     * 1200-cell head is ~1 ms and a second thread only adds hand-off and contention with the backbone
     * and the training worker (0 = onnxruntime's default).
     */
    predictThreads: z.number().int().nonnegative().default(1),
    /**
     * Working resolution: camera images wider than this many pixels are box-filtered down to it (aspect
     * kept) before the backbone, so a bigger camera does not multiply the backbone and head cost; the
     * feature grid stays in camera pixels. 0 = feed the native resolution.
     */
    inputWidth: z.number().int().nonnegative().default(320),
    /**
     * Run the backbone (and the head's neighbourhood features) in a worker thread, so frame inference
     * overlaps bag reading, labelling, the head and the outputs instead of blocking them; a replay
     * also starts the next frames' features early. false = on the pipeline's own thread.
     */
    backboneWorker: z.boolean().default(true),
    /** tfjs backend: auto picks tfjs-node if installed, else wasm, else cpu. */
    backend: z.enum(["auto", "node", "wasm", "cpu"]).default("auto"),
    hiddenUnits: z.number().int().positive().default(64),
    learningRate: positive().default(0.003),
    batchSize: z.number().int().positive().default(64),
    bufferSize: z.number().int().positive().default(20000),
    balance: z.enum(["reservoir", "per-bin"]).default("per-bin"),
    /** Replay mode: training steps per second of sensor time (deterministic). */
    stepsPerSecond: positive().default(20),
    /**
     * Replay mode: "worker" trains in a worker thread in lockstep with sensor time (each block's
     * weights take effect one block later: deterministic, and inference overlaps training on a
     * second core); "inline" trains on the pipeline's thread before the next frame.
     */
    replayTraining: z.enum(["worker", "inline"]).default("worker"),
    /** Live mode: the share of one core the training worker may use. */
    cpuBudget: z.number().min(0.05).max(1).default(0.5),
    enabled: z.boolean().default(true),
    checkpointDir: z.string().default(""),
    checkpointKeep: z.number().int().positive().default(3),
    checkpointEvery: positive().default(60),
    /**
     * Novelty score behind the confidence: distance to the k nearest training samples ("knn") or the
     * reconstruction error of an autoencoder trained on them ("autoencoder").
     */
    novelty: z.enum(["knn", "autoencoder"]).default("knn"),
    /** kNN novelty: reference rows drawn from the replay buffer, and neighbours averaged. */
    noveltyReferences: z.number().int().positive().default(128),
    noveltyNeighbours: z.number().int().positive().default(3),
    /**
     * kNN novelty distances: "standardised" (Euclidean between standardised features) or "local"
     * (Mahalanobis under the spread between neighbouring references; see learning/novelty.ts).
     * Never-driven ground that mixes driven ground's traits (patchwork's rubble: asphalt's colour,
     * cobbles' texture) stands out under "local"; see noveltyRidge for how far it goes.
     */
    noveltyMetric: z.enum(["standardised", "local"]).default("local"),
    /**
     * noveltyMetric local: ridge added to the neighbour-difference covariance (standardised units²).
     * Small ridges weight quiet directions most and also flag driven ground whose look varies in
     * them (grass and sand seen again later); 0.5 kept every simulated world's confidence AUROC
     * above 0.8 where 0.05 did not (default world seed 2: 0.83 vs 0.89).
     */
    noveltyRidge: positive().default(0.5),
    /**
     * kNN novelty features: "all" head inputs, or "invariant": the backbone's channels pooled over
     * orientation and without mean luminance, so that driven ground seen from another heading or
     * under another exposure does not look new (from the backbone's channel_names metadata; a
     * backbone without them gets "all"; see learning/novelty-features.ts).
     */
    noveltyFeatures: z.enum(["all", "invariant"]).default("invariant"),
    /** Autoencoder bottleneck width of the novelty (confidence) head. */
    bottleneck: z.number().int().positive().default(8),
    /**
     * Confidence falls off as exp(-½(z/confidenceSigma)²) where z is the reconstruction error in
     * standard deviations (of log error) above the mean of the training samples' errors.
     */
    confidenceSigma: positive().default(2),
    /** Roughness bins for balance=per-bin. */
    bins: z.number().int().min(1).max(100).default(5),
    /** Seed of weight initialisation and replay sampling (replay runs are reproducible). */
    seed: z.number().int().nonnegative().default(1),
    /** Training starts once the replay buffer holds this many samples. */
    minSamples: z.number().int().positive().default(64),
    /** Live mode: seconds between weight hand-overs from the training worker to the predictor. */
    publishEvery: positive().default(2),
  })
  .prefault({});

export type LearnerConfig = z.infer<typeof LearnerSchema>;
