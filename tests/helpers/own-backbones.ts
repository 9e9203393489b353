// Small ONNX backbones as a user would bring them (written with onnx-proto, as models/ does): one
// strided convolution, `[1,3,H,W] → [1,C,H/s,W/s]`, plus the variations users get wrong.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { attrInt, attrInts, encodeModel, FLOAT, valueInfo } from "../../src/learning/onnx-graph.ts";

const { onnx } = onnxProto;
export const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
export const UINT8 = onnx.TensorProto.DataType.UINT8;

function weights(name: string, dims: number[], seed: number) {
  const n = dims.reduce((a, b) => a * b, 1);
  const v: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    v.push((s / 2147483647 - 0.5) * 0.2);
  }
  return { name, dims, dataType: FLOAT, floatData: v };
}

export interface OwnBackbone {
  stride?: number;
  channels?: number;
  /** Weight seed: two seeds give two different models of the same shape. */
  seed?: number;
  /** Declared input dims (default [1,3,"height","width"]). */
  input?: (number | string)[];
  /** Channels-last input [1,H,W,3] (a Transpose after it). */
  nhwcInput?: boolean;
  /** Channels-last output [1,H/s,W/s,C] (a Transpose before it). */
  nhwcOutput?: boolean;
  inputType?: number;
  outputType?: number;
  /** A second output, a pooled [1,C] vector, declared before the feature map. */
  logitsFirst?: boolean;
  outputName?: string;
  metadata?: Record<string, string>;
  /** writeOwnBackbone: the convolution's weights in `<file>.data` beside it (ONNX external data). */
  externalWeights?: boolean;
}

export function ownBackbone(o: OwnBackbone = {}): Uint8Array {
  const s = o.stride ?? 8;
  const C = o.channels ?? 16;
  const out = o.outputName ?? "features";
  const nodes: object[] = [];
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) =>
    nodes.push({ name: `n${nodes.length}`, opType, input, output, attribute });
  let x = "image";
  if (o.nhwcInput) {
    node("Transpose", [x], ["x_nchw"], [attrInts("perm", [0, 3, 1, 2])]);
    x = "x_nchw";
  }
  if (o.inputType !== undefined && o.inputType !== FLOAT) {
    node("Cast", [x], ["x_f32"], [attrInt("to", FLOAT)]);
    x = "x_f32";
  }
  node("Conv", [x, "W", "B"], ["conv"], [attrInts("kernel_shape", [s, s]), attrInts("strides", [s, s])]);
  let y = "conv";
  if (o.nhwcOutput) {
    node("Transpose", [y], ["conv_nhwc"], [attrInts("perm", [0, 2, 3, 1])]);
    y = "conv_nhwc";
  }
  if (o.outputType !== undefined && o.outputType !== FLOAT)
    node("Cast", [y], [out], [attrInt("to", o.outputType)]);
  else node("Identity", [y], [out]);
  const outputs = [
    valueInfo(out, o.nhwcOutput ? [1, "rows", "cols", C] : [1, C, "rows", "cols"], o.outputType ?? FLOAT),
  ];
  if (o.logitsFirst) {
    node("ReduceMean", ["conv"], ["logits"], [attrInts("axes", [2, 3]), attrInt("keepdims", 0)]);
    outputs.unshift(valueInfo("logits", [1, C]));
  }
  const seed = o.seed ?? 1;
  return encodeModel({
    docString: "",
    graphName: "own",
    nodes,
    initializers: [weights("W", [C, 3, s, s], seed), weights("B", [C], seed + 6)],
    inputs: [
      valueInfo(
        "image",
        o.input ?? (o.nhwcInput ? [1, "height", "width", 3] : [1, 3, "height", "width"]),
        o.inputType ?? FLOAT,
      ),
    ],
    outputs,
    metadata: o.metadata ?? { stride: String(s) },
  });
}

export function writeOwnBackbone(dir: string, name: string, o: OwnBackbone = {}): string {
  const path = join(dir, name);
  let bytes = ownBackbone(o);
  if (o.externalWeights) {
    const model = onnx.ModelProto.decode(bytes);
    const w = model.graph!.initializer!.find((t) => t.name === "W")!;
    const data = new Uint8Array(Float32Array.from(w.floatData!).buffer);
    // Some padding first, so that the offset is read.
    writeFileSync(`${path}.data`, Buffer.concat([Buffer.alloc(64), data]));
    w.floatData = [];
    w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    w.externalData = [
      { key: "location", value: `${name}.data` },
      { key: "offset", value: "64" },
      { key: "length", value: String(data.byteLength) },
    ];
    bytes = onnx.ModelProto.encode(model).finish();
  }
  writeFileSync(path, bytes);
  return path;
}
