// Builds models/mobilenetv2.onnx, a pretrained dense-feature backbone, from the ONNX Model Zoo's
// int8 MobileNetV2-1.0 (ImageNet, Apache-2.0; see models/MOBILENETV2-LICENSE.md).
//
// The classifier is cut after inverted-residual block 13 (tensor `426_quantized`: 96 channels at
// stride 16), which is dequantised and becomes the output `features`; everything after it (the
// last blocks, the 1280-channel conv, pooling and the classifier) is dropped, and the input's
// height and width are made dynamic so that any camera size runs. The runtime reads stride,
// channels and the ImageNet input normalisation from the metadata (src/learning/backbone.ts).
// `--upsample 2` adds a bilinear Resize to stride 8 (the bundled filter bank's grid).
//
// Usage: node --import tsx models/build-mobilenetv2.ts [--source mobilenetv2-12-int8.onnx]
//          [--out models/mobilenetv2.onnx] [--upsample 1|2]
// Deterministic: the same source and options give the same bytes (a test checks the committed file
// when the source is at hand).

import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const HERE = dirname(fileURLToPath(import.meta.url));
/**
 * Where the shared data folder keeps the source model: beside the checkout (<dir>/shared next to
 * <dir>/<checkout>), or one level further up.
 */
const SOURCE_PLACES = ["../../shared/data/models", "../../../shared/data/models"].map((d) =>
  resolve(HERE, d, "mobilenetv2-12-int8.onnx"),
);
export const DEFAULT_SOURCE = SOURCE_PLACES.find((p) => existsSync(p)) ?? (SOURCE_PLACES[0] as string);
const CUT = "426";

export function buildMobileNetV2(source: Uint8Array, upsample = 1): Uint8Array {
  if (upsample !== 1 && upsample !== 2) throw new Error(`--upsample ${upsample}: 1 or 2`);
  const model = onnx.ModelProto.decode(source);
  const g = model.graph;
  if (!g?.node || !g.initializer) throw new Error("source model has no graph");
  const graphNodes = g.node;
  const cut = `${CUT}_quantized`;
  const producers = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of graphNodes) for (const o of n.output ?? []) producers.set(o, n);
  if (!producers.has(cut))
    throw new Error(`source model has no tensor ${cut}: not the Model Zoo's int8 MobileNetV2`);
  // Keep the nodes the cut tensor depends on, in their original (topological) order.
  const needed = new Set<string>();
  const stack = [cut];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const n = producers.get(t);
    if (!n || needed.has(n.name ?? n.output![0]!)) continue;
    needed.add(n.name ?? n.output![0]!);
    for (const i of n.input ?? []) stack.push(i);
  }
  const nodes = graphNodes.filter((n) => needed.has(n.name ?? n.output![0]!));
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  used.add(`${CUT}_scale`);
  used.add(`${CUT}_zero_point`);
  const initializers = g.initializer.filter((t) => used.has(t.name ?? ""));
  const features = upsample === 1 ? "features" : "features_s16";
  nodes.push(
    onnx.NodeProto.create({
      name: "dequantize_features",
      opType: "DequantizeLinear",
      input: [cut, `${CUT}_scale`, `${CUT}_zero_point`],
      output: [features],
    }),
  );
  if (upsample === 2) {
    initializers.push(
      onnx.TensorProto.create({ name: "resize_roi", dims: [0], dataType: onnx.TensorProto.DataType.FLOAT }),
      onnx.TensorProto.create({
        name: "resize_scales",
        dims: [4],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: [1, 1, 2, 2],
      }),
    );
    nodes.push(
      onnx.NodeProto.create({
        name: "upsample_features",
        opType: "Resize",
        input: [features, "resize_roi", "resize_scales"],
        output: ["features"],
        attribute: [
          {
            name: "mode",
            type: onnx.AttributeProto.AttributeType.STRING,
            s: new TextEncoder().encode("linear"),
          },
          {
            name: "coordinate_transformation_mode",
            type: onnx.AttributeProto.AttributeType.STRING,
            s: new TextEncoder().encode("half_pixel"),
          },
        ],
      }),
    );
  }
  const dim = (v: number | string) => (typeof v === "number" ? { dimValue: v } : { dimParam: v });
  const tensor = (name: string, dims: (number | string)[], elemType: number) => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } },
  });
  const stride = 16 / upsample;
  const out = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    producerName: "terrain-learner",
    producerVersion: "1",
    modelVersion: 1,
    docString:
      "MobileNetV2-1.0 int8 (ONNX Model Zoo, ImageNet, Apache-2.0) cut after block 13: dense 96-channel features",
    graph: {
      name: "mobilenetv2_block13",
      node: nodes,
      initializer: initializers,
      input: [tensor("input", [1, 3, "height", "width"], onnx.TensorProto.DataType.FLOAT)],
      output: [tensor("features", [1, 96, "grid_height", "grid_width"], onnx.TensorProto.DataType.FLOAT)],
    },
    metadataProps: Object.entries({
      name: upsample === 1 ? "mobilenetv2" : "mobilenetv2-s8",
      stride: String(stride),
      channels: "96",
      // Model input = (pixel / 255 * input_scale − mean) / std: ImageNet normalisation.
      input_scale: "1",
      mean: "0.485,0.456,0.406",
      std: "0.229,0.224,0.225",
      layout: "NCHW",
      output: "features",
      generator: "models/build-mobilenetv2.ts",
      source: "onnx/models mobilenetv2-12-int8.onnx",
      source_sha256: createHash("sha256").update(source).digest("hex"),
      licence: "Apache-2.0 (ONNX Model Zoo)",
    }).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(out).finish();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  for (let i = 0; i < args.length; i += 2) {
    if (!["--source", "--out", "--upsample"].includes(args[i]!) || args[i + 1] === undefined) {
      console.error(
        "usage: build-mobilenetv2.ts [--source FILE.onnx] [--out models/mobilenetv2.onnx] [--upsample 1|2]",
      );
      process.exit(2);
    }
  }
  // Options first: a bad one is named whether or not the source model is at hand.
  const upsample = Number(opt("--upsample") ?? 1);
  if (upsample !== 1 && upsample !== 2) {
    console.error(`build-mobilenetv2: --upsample ${opt("--upsample")}: 1 or 2`);
    process.exit(2);
  }
  const source = resolve(opt("--source") ?? DEFAULT_SOURCE);
  if (!existsSync(source)) {
    console.error(
      `build-mobilenetv2: source model not found: ${source} (give --source mobilenetv2-12-int8.onnx)`,
    );
    process.exit(1);
  }
  const out = resolve(
    opt("--out") ?? resolve(HERE, upsample === 1 ? "mobilenetv2.onnx" : "mobilenetv2-s8.onnx"),
  );
  try {
    let bytes: Uint8Array;
    try {
      bytes = buildMobileNetV2(readFileSync(source), upsample);
    } catch (err) {
      // protobufjs names a wire type and an offset: the file is not a model at all.
      const msg = (err as Error).message;
      throw new Error(
        /wire type|index out of range/.test(msg)
          ? `${source}: not an ONNX model, or a truncated one (${msg})`
          : msg,
      );
    }
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
    console.log(`wrote ${out}: ${bytes.length} bytes, 96 channels, stride ${16 / upsample}`);
  } catch (err) {
    console.error(`build-mobilenetv2: ${(err as Error).message}`);
    process.exit(1);
  }
}
