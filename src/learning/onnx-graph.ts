// Building ONNX graphs in code (onnx-proto): the default backbone (models/build-backbone.ts) and the
// head predictor (onnx-predictor.ts) share these pieces, so both write models the same way.

import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

export function attrInt(name: string, value: number) {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}
export function attrInts(name: string, values: number[]) {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}
export function attrFloat(name: string, value: number) {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}
export function attrString(name: string, value: string) {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

/** A graph input/output: its element type and shape (numbers are fixed sizes, strings named dimensions). */
export function valueInfo(name: string, dims: (number | string)[], elemType: number = FLOAT) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((v) => (typeof v === "number" ? { dimValue: v } : { dimParam: v })) },
      },
    },
  };
}

/** Encodes a one-graph model (IR 7, opset 13) as terrain-learner writes them. */
export function encodeModel(m: {
  docString: string;
  graphName: string;
  nodes: INodeProto[];
  initializers: ITensorProto[];
  inputs: ReturnType<typeof valueInfo>[];
  outputs: ReturnType<typeof valueInfo>[];
  metadata?: Record<string, string>;
}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "terrain-learner",
    producerVersion: "1",
    modelVersion: 1,
    docString: m.docString,
    graph: {
      name: m.graphName,
      node: m.nodes,
      initializer: m.initializers,
      input: m.inputs,
      output: m.outputs,
    },
    ...(m.metadata
      ? { metadataProps: Object.entries(m.metadata).map(([key, value]) => ({ key, value })) }
      : {}),
  });
  return onnx.ModelProto.encode(model).finish();
}
