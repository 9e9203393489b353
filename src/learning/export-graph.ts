// One ONNX graph for running a trained learner elsewhere (a C++ node, TensorRT): camera image in,
// roughness and confidence grids out. It is the runtime's own pieces, composed:
//
//   image uint8 [1,H,W,3] RGB ─ Cast, NCHW ─ crop to whole cells ─ area downscale to input_width
//     (the same box weights as Backbone: AveragePool for a whole factor; for a fractional one p/q,
//     pixels repeated q times and averaged p at a time, or two constant MatMuls when q is large) ─ gain·p + offset (the backbone's normalisation) ─ the backbone's own nodes
//   ─ 3×3 neighbourhood mean (AveragePool, padding not counted) + row feature, as features.ts
//   ─ cells as rows [N, D] ─ non-finite → training mean ─ the head predictor's nodes (onnx-predictor.ts,
//     weights bound as constants) ─ roughness [rows, cols]
//                                 └ score ─ confidence map of OnlineLearner.confidenceOf ─ confidence
//
// The backbone's and the predictor's tensors keep their names under a prefix ("backbone/", "head/"),
// so the exported graph can be read against their sources.

import onnxProto from "onnx-proto";
import type * as ort from "onnxruntime-node";
import { CALIBRATION_TAIL } from "../core/label-calibration.ts";
import {
  type AreaTaps,
  areaTaps,
  type BackboneInfo,
  type FeatureGridSpec,
  featureGridFor,
} from "./backbone.ts";
import type { PredictorExport } from "./learner.ts";
import {
  attrInt,
  attrInts,
  attrString,
  FLOAT,
  type INodeProto,
  INT64,
  type ITensorProto,
  valueInfo,
} from "./onnx-graph.ts";
import { predictorGraph } from "./onnx-predictor.ts";
import type { HeadOutputCalibration } from "./output-calibration.ts";

const { onnx } = onnxProto;
const UINT8 = onnx.TensorProto.DataType.UINT8;

/** The default-domain opsets the composed graph is valid in (the predictor's ReduceMean takes `axes`). */
const MIN_OPSET = 13;
const MAX_OPSET = 17;
/** Fractional downscales p/q repeat pixels q times per axis up to this q; beyond, dense MatMuls. */
const MAX_REPEAT = 4;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export type ExportContext = "none" | "neighbourhood";

export interface ExportGraphOptions {
  /** The backbone's ModelProto bytes and what Backbone.load read from it. */
  backbone: {
    bytes: Uint8Array;
    info: Pick<BackboneInfo, "stride" | "channels" | "inputName" | "outputName" | "layout" | "inputWidth">;
    gain: Float32Array;
    offset: Float32Array;
    /** The bytes of an initializer stored outside the model file (ONNX external data). */
    externalData?: (t: ITensorProto) => Uint8Array;
  };
  /** Camera image size the graph takes (fixed). */
  width: number;
  height: number;
  context: ExportContext;
  predictor: PredictorExport;
  /** metadata_props, given what the graph came to be. */
  metadata: (g: Omit<ExportedGraph, "bytes">) => Record<string, string>;
  docString: string;
}

export interface ExportedGraph {
  bytes: Uint8Array;
  grid: FeatureGridSpec;
  /** Width × height of the backbone's input after cropping and downscaling. */
  modelInput: { width: number; height: number };
  /** The top-left part of the camera image the graph reads (whole pixels; the rest is cropped). */
  pixelsRead: { width: number; height: number };
  opset: number;
  /** Operator types in the graph (domain-qualified outside the default domain), sorted. */
  ops: string[];
}

function f32Tensor(name: string, dims: number[], data: Float32Array): ITensorProto {
  return {
    name,
    dims,
    dataType: FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  };
}

function i64Tensor(name: string, data: number[]): ITensorProto {
  return { name, dims: [data.length], dataType: INT64, int64Data: data };
}

/** A weight input of the predictor as a constant (float32 or int64 tensors). */
function tensorFromOrt(name: string, t: ort.Tensor): ITensorProto {
  const dims = t.dims.map(Number);
  if (t.type === "float32") return f32Tensor(name, dims, t.data as Float32Array);
  if (t.type === "int64") {
    const d = t.data as BigInt64Array;
    return {
      name,
      dims,
      dataType: INT64,
      rawData: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
    };
  }
  throw new Error(`predictor input ${name}: unsupported tensor type ${t.type}`);
}

/** Row-major [rows × cols] matrix of area weights: out = taps applied along the `src` axis. */
function tapMatrix(taps: AreaTaps, srcLen: number, outIsRows: boolean): Float32Array {
  const n = taps.start.length;
  const m = new Float32Array(n * srcLen);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < taps.count[j]!; k++) {
      const i = taps.start[j]! + k;
      const w = taps.weight[taps.offset[j]! + k]!;
      // Ay is [out, src] (left factor); Ax is [src, out] (right factor).
      if (outIsRows) m[j * srcLen + i] = w;
      else m[i * n + j] = w;
    }
  }
  return m;
}

/** Renames every tensor of a decoded graph under `prefix`, except those mapped explicitly. */
function renamer(prefix: string, fixed: Record<string, string>) {
  return (name: string | null | undefined): string => {
    if (!name) return "";
    return fixed[name] ?? `${prefix}${name}`;
  };
}

export function buildExportGraph(o: ExportGraphOptions): ExportedGraph {
  const { info } = o.backbone;
  const s = info.stride;
  const grid = featureGridFor(info, o.width, o.height);
  if (grid.rows < 1 || grid.cols < 1)
    throw new Error(`a ${o.width}×${o.height} image is smaller than one ${s}px feature cell`);
  const w = grid.cols * s;
  const h = grid.rows * s;
  const N = grid.rows * grid.cols;
  const C = info.channels;
  const D = o.context === "none" ? C : 2 * C + 1;
  if (o.predictor.options.channels !== D)
    throw new Error(
      `the head takes ${o.predictor.options.channels} features per cell; backbone ${C} channels with context ${o.context} give ${D}`,
    );

  const nodes: INodeProto[] = [];
  const inits: ITensorProto[] = [];
  let nodeId = 0;
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => {
    nodes.push({ name: `export/${opType}_${nodeId++}`, opType, input, output, attribute });
  };

  // --- image → the backbone's input ------------------------------------------------------------
  node("Cast", ["image"], ["image_f"], [attrInt("to", FLOAT)]);
  node("Transpose", ["image_f"], ["image_nchw"], [attrInts("perm", [0, 3, 1, 2])]);
  const crop = (srcH: number, srcW: number, out: string) => {
    if (srcH === o.height && srcW === o.width) return "image_nchw";
    inits.push(i64Tensor(`${out}_starts`, [0, 0]), i64Tensor(`${out}_ends`, [srcH, srcW]));
    inits.push(i64Tensor(`${out}_axes`, [2, 3]));
    node("Slice", ["image_nchw", `${out}_starts`, `${out}_ends`, `${out}_axes`], [out]);
    return out;
  };
  let pixels: string;
  let pixelsRead = { width: w, height: h };
  if (grid.strideX === s) {
    pixels = crop(h, w, "pixels");
  } else {
    const f = o.width / info.inputWidth;
    if (Number.isInteger(f)) {
      pixelsRead = { width: w * f, height: h * f };
      const src = crop(h * f, w * f, "image_crop");
      node("AveragePool", [src], ["pixels"], [attrInts("kernel_shape", [f, f]), attrInts("strides", [f, f])]);
    } else {
      const tx = areaTaps(w, f);
      const ty = areaTaps(h, f);
      const usedW = tx.start[w - 1]! + tx.count[w - 1]!;
      const usedH = ty.start[h - 1]! + ty.count[h - 1]!;
      if (usedW > o.width || usedH > o.height)
        throw new Error(`downscale of ${o.width}×${o.height} reads past the image (${usedW}×${usedH})`);
      pixelsRead = { width: usedW, height: usedH };
      const src = crop(usedH, usedW, "image_crop");
      // f = p/q: repeating every pixel q times and averaging p at a time gives exactly the box
      // weights, per axis, at a fraction of the dense MatMuls' cost (~15× less at 800→320).
      const g = gcd(o.width, info.inputWidth);
      const p = o.width / g;
      const q = info.inputWidth / g;
      if (q <= MAX_REPEAT) {
        const nearest = [
          attrString("mode", "nearest"),
          attrString("coordinate_transformation_mode", "asymmetric"),
          attrString("nearest_mode", "floor"),
        ];
        inits.push(f32Tensor("repeat_x", [4], Float32Array.of(1, 1, 1, q)));
        inits.push(f32Tensor("repeat_y", [4], Float32Array.of(1, 1, q, 1)));
        // Horizontal first, then vertical, as Backbone.downscaleInto.
        node("Resize", [src, "", "repeat_x"], ["pixels_rx"], nearest);
        node(
          "AveragePool",
          ["pixels_rx"],
          ["pixels_x"],
          [attrInts("kernel_shape", [1, p]), attrInts("strides", [1, p])],
        );
        node("Resize", ["pixels_x", "", "repeat_y"], ["pixels_ry"], nearest);
        node(
          "AveragePool",
          ["pixels_ry"],
          ["pixels"],
          [attrInts("kernel_shape", [p, 1]), attrInts("strides", [p, 1])],
        );
        pixels = "pixels";
      } else {
        inits.push(f32Tensor("area_x", [usedW, w], tapMatrix(tx, usedW, false)));
        inits.push(f32Tensor("area_y", [h, usedH], tapMatrix(ty, usedH, true)));
        // Horizontal first, then vertical, as Backbone.downscaleInto.
        node("MatMul", [src, "area_x"], ["pixels_x"]);
        node("MatMul", ["area_y", "pixels_x"], ["pixels"]);
      }
    }
    pixels = "pixels";
  }
  inits.push(f32Tensor("input_gain", [1, 3, 1, 1], o.backbone.gain));
  inits.push(f32Tensor("input_offset", [1, 3, 1, 1], o.backbone.offset));
  node("Mul", [pixels, "input_gain"], ["pixels_scaled"]);
  node("Add", ["pixels_scaled", "input_offset"], ["backbone_input"]);

  // --- the backbone's own graph ----------------------------------------------------------------
  const bb = onnx.ModelProto.decode(o.backbone.bytes);
  const bbGraph = bb.graph;
  if (!bbGraph?.node) throw new Error("the backbone model has no graph");
  let opset = MIN_OPSET;
  const opsets = new Map<string, number>();
  for (const imp of bb.opsetImport ?? []) {
    const v = Number(imp.version);
    if (!imp.domain || imp.domain === "ai.onnx") opset = Math.max(opset, v);
    else opsets.set(imp.domain, v);
  }
  if (opset > MAX_OPSET)
    throw new Error(
      `the backbone uses opset ${opset}; export composes graphs of opset ${MIN_OPSET}..${MAX_OPSET}`,
    );
  const bbName = renamer("backbone/", {
    [info.inputName]: "backbone_input",
    [info.outputName]: "features_raw",
  });
  const initNames = new Set((bbGraph.initializer ?? []).map((t) => t.name));
  for (const n of bbGraph.node) {
    for (const a of n.attribute ?? []) {
      if (a.g || (a.graphs && a.graphs.length > 0))
        throw new Error(`backbone node ${n.name} (${n.opType}) has a subgraph; not supported by export`);
    }
    nodes.push({
      ...n,
      name: `backbone/${n.name || `${n.opType}_${nodeId++}`}`,
      input: (n.input ?? []).map(bbName),
      output: (n.output ?? []).map(bbName),
    });
  }
  // Weights in a file next to the backbone (ONNX external data) are inlined: the export is one file.
  const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
  for (const t of bbGraph.initializer ?? []) {
    if (t.dataLocation !== EXTERNAL) {
      inits.push({ ...t, name: bbName(t.name) });
      continue;
    }
    if (!o.backbone.externalData)
      throw new Error(`backbone initializer ${t.name} is stored in an external file`);
    const rawData = o.backbone.externalData(t);
    inits.push({ ...t, name: bbName(t.name), dataLocation: 0, externalData: [], rawData });
  }
  // Graph inputs that are also initializers (older exporters) are constants: nothing to feed.
  const extraInputs = (bbGraph.input ?? []).filter(
    (i) => i.name !== info.inputName && !initNames.has(i.name),
  );
  if (extraInputs.length)
    throw new Error(`the backbone has more than one input (${extraInputs.map((i) => i.name).join(", ")})`);
  if (info.layout === "NHWC")
    node("Transpose", ["features_raw"], ["features"], [attrInts("perm", [0, 3, 1, 2])]);
  else node("Identity", ["features_raw"], ["features"]);

  // --- the head's feature vectors (features.ts) ----------------------------------------------------
  let headMap = "features";
  if (o.context === "neighbourhood") {
    // Mean over the in-bounds cells of the 3×3 neighbourhood: padding is not counted.
    node(
      "AveragePool",
      ["features"],
      ["features_mean3"],
      [
        attrInts("kernel_shape", [3, 3]),
        attrInts("strides", [1, 1]),
        attrInts("pads", [1, 1, 1, 1]),
        attrInt("count_include_pad", 0),
      ],
    );
    const row = new Float32Array(N);
    for (let r = 0; r < grid.rows; r++) row.fill((r + 0.5) / grid.rows, r * grid.cols, (r + 1) * grid.cols);
    inits.push(f32Tensor("row_feature", [1, 1, grid.rows, grid.cols], row));
    node("Concat", ["features", "features_mean3", "row_feature"], ["head_map"], [attrInt("axis", 1)]);
    headMap = "head_map";
  }
  node("Transpose", [headMap], ["head_cells"], [attrInts("perm", [0, 2, 3, 1])]);
  inits.push(i64Tensor("cells_shape", [N, D]));
  node("Reshape", ["head_cells", "cells_shape"], ["x_raw"]);

  // --- the predictor (onnx-predictor.ts), weights bound ------------------------------------------
  const pg = predictorGraph(o.predictor.options);
  const headName = renamer("head/", { x: "x" });
  // Non-finite features become the training mean (OnnxPredictor.exec does it by re-running): x − x
  // is 0 exactly for finite values.
  inits.push(f32Tensor("zero", [], new Float32Array(1)));
  node("Sub", ["x_raw", "x_raw"], ["x_diff"]);
  node("Equal", ["x_diff", "zero"], ["x_finite"]);
  node("Where", ["x_finite", "x_raw", headName("shift")], ["x"]);
  for (const n of pg.nodes) {
    nodes.push({
      ...n,
      name: `head/${n.name}`,
      input: (n.input ?? []).map(headName),
      output: (n.output ?? []).map(headName),
    });
  }
  for (const t of pg.initializers) inits.push({ ...t, name: headName(t.name) });
  for (const [name] of pg.inputs) {
    if (name === "x") continue;
    const t = o.predictor.inputs[name];
    if (!t) throw new Error(`predictor input ${name} has no value`);
    inits.push(tensorFromOrt(headName(name), t));
  }

  // --- outputs ------------------------------------------------------------------------------------
  const c = o.predictor.confidence;
  inits.push(i64Tensor("grid_shape", [grid.rows, grid.cols]));
  const headOut = o.predictor.logEnergyOutput;
  const roughnessCells =
    headOut === undefined ? headName("roughness") : logEnergyToRoughness(headName("roughness"), headOut);
  node("Reshape", [roughnessCells, "grid_shape"], ["roughness"]);
  /**
   * A log-energy head's output v → roughness, as LabelCalibration.toRoughness: calibrateLogEnergy of
   * log10 E = v·scale + offset, or v clamped to 0..1 when there was no calibration. Returns the tensor.
   */
  function logEnergyToRoughness(v: string, cal: HeadOutputCalibration | null): string {
    const constant = (name: string, value: number) => {
      if (!inits.some((t) => t.name === name)) inits.push(f32Tensor(name, [], Float32Array.of(value)));
      return name;
    };
    if (!cal) {
      node("Clip", [v, constant("cal_zero", 0), constant("cal_one", 1)], ["roughness_cells"]);
      return "roughness_cells";
    }
    // x, the position on the labels' scale: linear in log10 E, or (10^(g·(log10 E − lo)) − 1)/
    // (10^(g·(hi − lo)) − 1), the power of ten as Exp of an affine function of v.
    const { offset, scale, lo, hi, exponent: g } = cal;
    if (g > 0) {
      node("Mul", [v, constant("cal_a", Math.LN10 * g * scale)], ["cal_av"]);
      node("Add", ["cal_av", constant("cal_b", Math.LN10 * g * (offset - lo))], ["cal_ln"]);
      node("Exp", ["cal_ln"], ["cal_pow"]);
      node("Sub", ["cal_pow", constant("cal_one", 1)], ["cal_num"]);
      node("Div", ["cal_num", constant("cal_den", 10 ** (g * (hi - lo)) - 1)], ["cal_x"]);
    } else {
      node("Mul", [v, constant("cal_a", scale / (hi - lo))], ["cal_av"]);
      node("Add", ["cal_av", constant("cal_b", (offset - lo) / (hi - lo))], ["cal_x"]);
    }
    // m + (1 − 2m)·x on 0..1, hyperbolic tails m/(1 − x·k) below and 1 − m/(1 + (x − 1)·k) above.
    const m = CALIBRATION_TAIL;
    const k = (1 - 2 * m) / m;
    node("Mul", ["cal_x", constant("cal_span", 1 - 2 * m)], ["cal_mx"]);
    node("Add", ["cal_mx", constant("cal_tail", m)], ["cal_mid"]);
    node("Mul", ["cal_x", constant("cal_k", k)], ["cal_kx"]);
    node("Sub", [constant("cal_one", 1), "cal_kx"], ["cal_lo_den"]);
    node("Div", ["cal_tail", "cal_lo_den"], ["cal_below"]);
    node("Add", ["cal_kx", constant("cal_hi_shift", 1 - k)], ["cal_hi_den"]);
    node("Div", ["cal_tail", "cal_hi_den"], ["cal_hi_gap"]);
    node("Sub", ["cal_one", "cal_hi_gap"], ["cal_above"]);
    node("Less", ["cal_x", "zero"], ["cal_is_below"]);
    node("Greater", ["cal_x", "cal_one"], ["cal_is_above"]);
    node("Where", ["cal_is_above", "cal_above", "cal_mid"], ["cal_upper"]);
    node("Where", ["cal_is_below", "cal_below", "cal_upper"], ["roughness_cells"]);
    return "roughness_cells";
  }

  // OnlineLearner.confidenceOf: z = (log(score + eps) − mean)/std; 1 at z ≤ 0, else exp(−½(z/sigma)²).
  for (const [name, v] of [
    ["conf_eps", c.eps],
    ["conf_mean", c.mean],
    ["conf_std", c.std],
    ["conf_sigma", c.sigma],
    ["conf_half", -0.5],
  ] as const)
    inits.push(f32Tensor(name, [], Float32Array.of(v)));
  node("Add", [headName("score"), "conf_eps"], ["conf_score"]);
  node("Log", ["conf_score"], ["conf_log"]);
  node("Sub", ["conf_log", "conf_mean"], ["conf_centred"]);
  node("Div", ["conf_centred", "conf_std"], ["conf_z"]);
  node("Max", ["conf_z", "zero"], ["conf_zpos"]);
  node("Div", ["conf_zpos", "conf_sigma"], ["conf_u"]);
  node("Mul", ["conf_u", "conf_u"], ["conf_u2"]);
  node("Mul", ["conf_u2", "conf_half"], ["conf_exponent"]);
  node("Exp", ["conf_exponent"], ["conf_cells"]);
  node("Reshape", ["conf_cells", "grid_shape"], ["confidence"]);

  const outputs = ["roughness", "confidence"];
  const kept = prune(nodes, outputs);
  const used = new Set(kept.flatMap((n) => n.input ?? []));
  const keptInits = inits.filter((t) => used.has(t.name ?? ""));
  const ops = [
    ...new Set(kept.map((n) => (n.domain ? `${n.domain}.${n.opType}` : (n.opType as string)))),
  ].sort();

  const model = onnx.ModelProto.create({
    irVersion: 8,
    // Only the domains the kept nodes use (a backbone file may declare more).
    opsetImport: [
      { domain: "", version: opset },
      ...[...opsets]
        .filter(([d]) => kept.some((n) => n.domain === d))
        .map(([domain, version]) => ({ domain, version })),
    ],
    producerName: "terrain-learner",
    producerVersion: "1",
    modelVersion: 1,
    docString: o.docString,
    graph: {
      name: "terrain_learner",
      node: kept,
      initializer: keptInits,
      input: [valueInfo("image", [1, o.height, o.width, 3], UINT8)],
      output: outputs.map((name) => valueInfo(name, [grid.rows, grid.cols])),
    },
  });
  const parts = { grid, modelInput: { width: w, height: h }, pixelsRead, opset, ops };
  model.metadataProps = Object.entries(o.metadata(parts)).map(([key, value]) =>
    onnx.StringStringEntryProto.create({ key, value }),
  );
  return { bytes: onnx.ModelProto.encode(model).finish(), ...parts };
}

/** The nodes the outputs depend on, in their original (topological) order. */
function prune(nodes: INodeProto[], outputs: string[]): INodeProto[] {
  const needed = new Set(outputs);
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!(n.output ?? []).some((t) => needed.has(t))) continue;
    keep[i] = true;
    for (const t of n.input ?? []) if (t) needed.add(t);
  }
  return nodes.filter((_, i) => keep[i]);
}
