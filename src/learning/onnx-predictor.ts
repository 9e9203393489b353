// The learner's per-frame prediction as one onnxruntime session: standardise + clip, the roughness MLP
// and the novelty score (kNN mean distance or autoencoder reconstruction error) in a single native
// call, instead of a JS loop per cell plus tfjs round-trips.
//
// Every weight is a graph INPUT, not an initializer: the session is built once per learner (graph
// construction and session creation take tens of ms) and a new set of weights — after a training
// step, or a live hand-over from the worker — is just different input tensors on the next run.
//
//   x[N,D] raw features ─ non-finite → shift ─ (x − shift)·scale ─ clip ±8 ─┬─ MLP ─ roughness[N]
//                                                                          └─ novelty ─ score[N]
//   kNN:          nearest k by ‖r‖² − 2·z·rᵀ (one Gemm) and TopK(k, smallest); then the mean of
//                 those k distances, each summed directly as Σ(z − r)²
//   autoencoder:  mean over channels of (tanh(z·e1 + c1)·e2 + c2 − z)²
//
// The kNN result equals KnnNovelty.score (without leave-one-out) up to float32 summation: the same k
// smallest distances, duplicates counted as often as they occur and at exactly 0, k = min(k, M) when
// there are fewer references than neighbours. (Near-ties may be picked in another order; their
// distances are equal to the rounding.)
//
// onnxruntime-node's public `InferenceSession.run` is asynchronous only because it defers the call
// with setImmediate; the native session underneath runs synchronously. predict() is synchronous for
// its callers (the pipeline's frame loop, the live predictor), so this uses that native session
// directly (onnxruntime-node/dist/binding, documented there as "a simple synchronized inference
// session object wrap") with the same session options the public API would pass. That path is not
// public API: it is loaded when a predictor is created, so that a release which moves it makes
// create() throw (and the learner fall back) instead of failing to import the learner at all.

import { createRequire } from "node:module";
import * as ort from "onnxruntime-node";
import type * as NativeBinding from "onnxruntime-node/dist/binding.js";

import {
  encodeModel,
  FLOAT,
  attrFloat as float,
  type INodeProto,
  INT64,
  type ITensorProto,
  attrInt as int,
  attrInts as ints,
  valueInfo,
} from "./onnx-graph.ts";

export type NoveltyKind = "knn" | "autoencoder";

export interface OnnxPredictorOptions {
  channels: number;
  hidden: number;
  bottleneck: number;
  novelty: NoveltyKind;
  /** kNN neighbours averaged (KnnNovelty.k). */
  neighbours: number;
  /**
   * kNN distances in a linear map of the standardised rows (KnnNovelty.searchTransform(): a
   * projection and/or the local metric): rows are multiplied by the C×S input `transform` before the
   * search, and references come already mapped (KnnNovelty.searchReferences(), M×S).
   */
  searchTransform?: boolean;
  /** Standardised inputs are clipped to ±clip. */
  clip: number;
  /** The roughness head's output: "sigmoid" (default) or "linear" (the learner maps it after). */
  output?: "sigmoid" | "linear";
  /** CPU intra-op threads (0 = onnxruntime's default); the learner passes learner.predict_threads. */
  intraOpThreads: number;
}

/** A graph's parts before encoding: what buildPredictorModel encodes and the export composes. */
export interface GraphParts {
  nodes: INodeProto[];
  initializers: ITensorProto[];
  inputs: Array<[name: string, dims: (number | string)[], elemType: number]>;
  outputs: Array<[name: string, dims: (number | string)[], elemType: number]>;
}

/** The ONNX graph (ModelProto bytes) for these options; weights are inputs, see the file comment. */
export function buildPredictorModel(opts: OnnxPredictorOptions): Uint8Array {
  const g = predictorGraph(opts);
  return encodeModel({
    docString: `terrain-learner head predictor (${opts.novelty} novelty); weights are inputs`,
    graphName: "head_predictor",
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: g.inputs.map(([name, dims, type]) => valueInfo(name, dims, type)),
    outputs: g.outputs.map(([name, dims, type]) => valueInfo(name, dims, type)),
  });
}

/**
 * The predictor's nodes, constants and graph inputs/outputs. Export (learning/export-graph.ts)
 * binds the weight inputs to the learner's current values: both run the same graph.
 */
export function predictorGraph(opts: OnnxPredictorOptions): GraphParts {
  const { channels: D, hidden: H, bottleneck: K } = opts;
  const nodes: INodeProto[] = [];
  const inits: ITensorProto[] = [];
  let nodeId = 0;
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => {
    nodes.push({ name: `${opType}_${nodeId++}`, opType, input, output, attribute });
  };
  inits.push({ name: "clip_lo", dims: [], dataType: FLOAT, floatData: [-opts.clip] });
  inits.push({ name: "clip_hi", dims: [], dataType: FLOAT, floatData: [opts.clip] });
  inits.push({ name: "axis1", dims: [1], dataType: INT64, int64Data: [1] });

  // Non-finite features (a broken backbone output) must become the training mean, as in the JS
  // path. Replacing them here would cost four passes over x on every frame for something that
  // almost never happens; a row sum (one pass) is non-finite whenever the row has a NaN or ±Inf, and
  // run() redoes such a frame with the values replaced (a finite row that overflows the sum is
  // merely redone unchanged).
  node("ReduceSum", ["x", "axis1"], ["row_sum"], [int("keepdims", 0)]);
  node("Sub", ["x", "shift"], ["x_centred"]);
  node("Mul", ["x_centred", "scale"], ["x_scaled"]);
  node("Clip", ["x_scaled", "clip_lo", "clip_hi"], ["z"]);

  node("Gemm", ["z", "w1", "b1"], ["h_pre"]);
  node("Relu", ["h_pre"], ["h"]);
  node("Gemm", ["h", "w2", "b2"], ["r_pre"]);
  if (opts.output === "linear") node("Identity", ["r_pre"], ["r_col"]);
  else node("Sigmoid", ["r_pre"], ["r_col"]);
  node("Squeeze", ["r_col", "axis1"], ["roughness"]);

  const inputs: Array<[string, (number | string)[], number]> = [
    ["x", ["N", D], FLOAT],
    ["shift", [D], FLOAT],
    ["scale", [D], FLOAT],
    ["w1", [D, H], FLOAT],
    ["b1", [H], FLOAT],
    ["w2", [H, 1], FLOAT],
    ["b2", [1], FLOAT],
  ];
  if (opts.novelty === "knn") {
    // ‖r‖² is fixed per reference set: setReferences computes it once instead of every frame.
    const S = opts.searchTransform ? "S" : D;
    inputs.push(["refs", ["M", S], FLOAT], ["refs_sq", ["M"], FLOAT], ["k", [1], INT64]);
    inits.push({ name: "axis2", dims: [1], dataType: INT64, int64Data: [2] });
    let zs = "z";
    if (opts.searchTransform) {
      inputs.push(["transform", [D, "S"], FLOAT]);
      node("MatMul", ["z", "transform"], ["z_search"]);
      zs = "z_search";
    }
    // Which references are nearest: ‖r‖² − 2·z·rᵀ (one Gemm; ‖z‖² is the same for a whole row, so
    // it cannot change the order) and TopK. The expanded square loses the small distances to
    // rounding (a cell equal to a reference would come out at √(ε·‖z‖²), not 0), so the k winners'
    // distances are then summed directly: the same values as KnnNovelty, duplicates at exactly 0.
    node(
      "Gemm",
      [zs, "refs", "refs_sq"],
      ["d2_part"],
      [float("alpha", -2), float("beta", 1), int("transB", 1)],
    );
    node(
      "TopK",
      ["d2_part", "k"],
      ["d2_part_near", "near_idx"],
      [int("axis", 1), int("largest", 0), int("sorted", 1)],
    );
    node("Gather", ["refs", "near_idx"], ["near_refs"], [int("axis", 0)]);
    node("Unsqueeze", [zs, "axis1"], ["z_row"]);
    node("Sub", ["near_refs", "z_row"], ["near_diff"]);
    node("Mul", ["near_diff", "near_diff"], ["near_diff_sq"]);
    node("ReduceSum", ["near_diff_sq", "axis2"], ["d2_near"], [int("keepdims", 0)]);
    node("Sqrt", ["d2_near"], ["d_near"]);
    node("ReduceMean", ["d_near"], ["score"], [ints("axes", [1]), int("keepdims", 0)]);
  } else {
    inputs.push(["e1", [D, K], FLOAT], ["c1", [K], FLOAT], ["e2", [K, D], FLOAT], ["c2", [D], FLOAT]);
    node("Gemm", ["z", "e1", "c1"], ["code_pre"]);
    node("Tanh", ["code_pre"], ["code"]);
    node("Gemm", ["code", "e2", "c2"], ["recon"]);
    node("Sub", ["recon", "z"], ["recon_diff"]);
    node("Mul", ["recon_diff", "recon_diff"], ["recon_sq"]);
    node("ReduceMean", ["recon_sq"], ["score"], [ints("axes", [1]), int("keepdims", 0)]);
  }

  return {
    nodes,
    initializers: inits,
    inputs,
    outputs: [
      ["roughness", ["N"], FLOAT],
      ["score", ["N"], FLOAT],
      ["row_sum", ["N"], FLOAT],
      ...(opts.novelty === "knn" ? [["near_idx", ["N", "K"], INT64] as [string, string[], number]] : []),
    ],
  };
}

type NativeSession = InstanceType<typeof NativeBinding.binding.InferenceSession>;
const require = createRequire(import.meta.url);

/** Head weights in TerrainHead's serialisation order: w1, b1, w2, b2, e1, c1, e2, c2. */
const HEAD_INPUTS = ["w1", "b1", "w2", "b2", "e1", "c1", "e2", "c2"] as const;

export class OnnxPredictor {
  readonly opts: OnnxPredictorOptions;
  private session: NativeSession | null;
  private readonly feeds: Record<string, ort.Tensor> = {};
  /** Rows copied out of shared memory for the native binding (see exec). */
  private unshared = new Float32Array(0);
  private readonly fetches: Record<string, null> = { roughness: null, score: null, row_sum: null };
  private refCount = 0;
  private readonly required: readonly string[];

  private constructor(opts: OnnxPredictorOptions, session: NativeSession) {
    this.opts = opts;
    this.session = session;
    const head =
      opts.novelty === "knn"
        ? ["w1", "b1", "w2", "b2", "refs", "refs_sq", "k", ...(opts.searchTransform ? ["transform"] : [])]
        : HEAD_INPUTS;
    this.required = ["x", "shift", "scale", ...head];
  }

  /** Builds the graph and the session (synchronous; throws what onnxruntime throws). */
  static create(opts: OnnxPredictorOptions): OnnxPredictor {
    const { binding, initOrt } = require("onnxruntime-node/dist/binding.js") as typeof NativeBinding;
    initOrt();
    const session = new binding.InferenceSession();
    const bytes = buildPredictorModel(opts);
    session.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
      // A frame's run is ~1 ms: with spinning on, the pool's threads busy-wait after each one and
      // measured twice the CPU time for the same latency (1200 cells, 2 threads), CPU that the
      // training worker and the backbone need on a small robot computer.
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    });
    return new OnnxPredictor(opts, session);
  }

  /**
   * The normaliser. The arrays are wrapped, not copied: the learner refreshes them in place, and
   * every run reads their current values.
   */
  setNormaliser(shift: Float32Array, scale: Float32Array): void {
    const D = this.opts.channels;
    this.feeds.shift = new ort.Tensor("float32", shift.subarray(0, D), [D]);
    this.feeds.scale = new ort.Tensor("float32", scale.subarray(0, D), [D]);
  }

  /** TerrainHead.getWeights() arrays (copied by the caller's getWeights; wrapped here). */
  setHead(arrays: readonly Float32Array[], shapes: readonly number[][]): void {
    const used = this.opts.novelty === "knn" ? 4 : HEAD_INPUTS.length;
    for (let i = 0; i < used; i++) {
      const a = arrays[i];
      const shape = shapes[i];
      if (!a || !shape) throw new Error(`head predictor: weight ${HEAD_INPUTS[i]} missing`);
      this.feeds[HEAD_INPUTS[i] as string] = new ort.Tensor("float32", a, shape);
    }
  }

  /**
   * kNN references: m rows in the space distances are measured in (row-major m×S), i.e.
   * KnnNovelty.searchReferences(), and with searchTransform its searchTransform() (C×S; identity,
   * S = C, when null).
   */
  setReferences(refs: Float32Array, m: number, transform: Float32Array | null = null, dims = 0): void {
    if (this.opts.novelty !== "knn") return;
    const C = this.opts.channels;
    let D = C;
    if (this.opts.searchTransform) {
      D = transform ? dims : C;
      const T = transform ? transform.slice(0, C * D) : new Float32Array(C * C);
      if (!transform) for (let c = 0; c < C; c++) T[c * C + c] = 1;
      this.feeds.transform = new ort.Tensor("float32", T, [C, D]);
    }
    this.refCount = m;
    // An empty reference set still needs a well-formed input; its scores are replaced by NaN.
    const rows = Math.max(m, 1);
    const data = m > 0 ? refs.slice(0, m * D) : new Float32Array(D);
    const sq = new Float32Array(rows);
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += (data[j * D + c] as number) ** 2;
      sq[j] = s;
    }
    this.feeds.refs = new ort.Tensor("float32", data, [rows, D]);
    this.feeds.refs_sq = new ort.Tensor("float32", sq, [rows]);
    this.feeds.k = new ort.Tensor(
      "int64",
      BigInt64Array.of(BigInt(Math.min(this.opts.neighbours, rows))),
      [1],
    );
  }

  /**
   * Indices into the references of the kk = min(k, M) nearest references of each of n raw feature
   * rows (row-major n×kk, nearest first by the expanded square), for KnnNovelty.scoreCandidates.
   */
  nearest(x: Float32Array, n: number, k: number): { idx: BigInt64Array; kk: number } {
    if (this.opts.novelty !== "knn") throw new Error("head predictor: nearest() needs the kNN graph");
    const kk = Math.min(k, this.refCount);
    if (n === 0 || kk === 0) return { idx: new BigInt64Array(0), kk };
    const kTensor = new ort.Tensor("int64", BigInt64Array.of(BigInt(kk)), [1]);
    const out = this.exec(x, n, { k: kTensor }, { near_idx: null, row_sum: null });
    return { idx: out.near_idx?.data as BigInt64Array, kk };
  }

  /** Roughness and raw novelty score of n raw feature rows (row-major n×C). */
  run(x: Float32Array, n: number): { roughness: Float32Array; score: Float32Array } {
    if (n === 0) return { roughness: new Float32Array(0), score: new Float32Array(0) };
    const out = this.exec(x, n, {}, this.fetches);
    const roughness = out.roughness?.data as Float32Array;
    const score = out.score?.data as Float32Array;
    if (this.opts.novelty === "knn" && this.refCount === 0) score.fill(Number.NaN);
    return { roughness, score };
  }

  /** One run on x (n rows); again on a copy with non-finite values replaced when there are any. */
  private exec(
    x: Float32Array,
    n: number,
    extra: Record<string, ort.Tensor>,
    fetches: Record<string, null>,
  ): Record<string, ort.Tensor> {
    if (!this.session) throw new Error("head predictor used after dispose()");
    const D = this.opts.channels;
    const feeds: Record<string, ort.Tensor> = { ...this.feeds, ...extra };
    for (const name of this.required) {
      if (name !== "x" && !feeds[name]) throw new Error(`head predictor: input ${name} not set`);
    }
    if (x.buffer instanceof SharedArrayBuffer) {
      // The native binding refuses shared memory ("Invalid argument"): the backbone worker's maps.
      if (this.unshared.length < n * D) this.unshared = new Float32Array(n * D);
      this.unshared.set(x.subarray(0, n * D));
      x = this.unshared;
    }
    feeds.x = new ort.Tensor("float32", x.subarray(0, n * D), [n, D]);
    let out = this.session.run(feeds, fetches, {}) as Record<string, ort.Tensor>;
    const rowSum = out.row_sum?.data as Float32Array;
    let fixed: Float32Array | null = null;
    for (let i = 0; i < n; i++) {
      if (Number.isFinite(rowSum[i] as number)) continue;
      fixed ??= x.slice(0, n * D);
      const shift = feeds.shift?.data as Float32Array;
      for (let c = 0; c < D; c++) {
        if (!Number.isFinite(fixed[i * D + c] as number)) fixed[i * D + c] = shift[c] as number;
      }
    }
    if (fixed) {
      feeds.x = new ort.Tensor("float32", fixed, [n, D]);
      out = this.session.run(feeds, fetches, {}) as Record<string, ort.Tensor>;
    }
    return out;
  }

  /** The weight inputs as they are now (not x), for binding them into an exported graph. */
  inputs(): Record<string, ort.Tensor> {
    for (const name of this.required) {
      if (name !== "x" && !this.feeds[name]) throw new Error(`head predictor: input ${name} not set`);
    }
    return { ...this.feeds };
  }

  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
