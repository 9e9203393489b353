// What a backbone model declares at its input and output, checked when it loads: a model the runtime
// cannot feed or read is refused with one line naming the fix, instead of failing on every frame
// (onnxruntime's multi-line shape errors) or, worse, running and handing on wrong features (a float16
// output read as float32 bits).

import type * as ort from "onnxruntime-node";

type Meta = ort.InferenceSession.ValueMetadata;

const shapeText = (m: Meta) =>
  m.isTensor ? `[${m.shape.map((d) => (d === -1 ? "?" : d)).join(",")}]` : "a non-tensor";

/** A fixed input size the model was exported with, or null when height and width are dynamic. */
export interface BackboneIO {
  fixedInput: { width: number; height: number } | null;
}

/**
 * Checks the one image input (float32 [1,3,H,W]) and the feature output `outputName` (float32, 4-D,
 * channels where `layout` says when its shape tells).
 * `where` names the model in the errors.
 */
export function checkBackboneIO(
  where: string,
  inputs: readonly Meta[],
  outputs: readonly Meta[],
  outputName: string,
  layout: "NCHW" | "NHWC",
): BackboneIO {
  if (inputs.length !== 1)
    throw new Error(
      `${where} has ${inputs.length} inputs (${inputs.map((m) => m.name).join(", ")}); a backbone takes one image [1,3,H,W]`,
    );
  const input = inputs[0] as Meta;
  if (!input.isTensor) throw new Error(`${where}: input '${input.name}' is not a tensor`);
  if (input.type !== "float32")
    throw new Error(
      `${where}: input '${input.name}' is ${input.type}; terrain-learner feeds float32 images: export the model with a float32 input (a float16 or quantised model needs a Cast or QuantizeLinear after it)`,
    );
  let fixedInput: BackboneIO["fixedInput"] = null;
  const s = input.shape;
  if (s.length > 0) {
    if (s.length !== 4)
      throw new Error(
        `${where}: input '${input.name}' is ${shapeText(input)}; a backbone takes one image [1,3,H,W]`,
      );
    if (s[1] !== 3 && s[3] === 3)
      throw new Error(
        `${where}: input '${input.name}' is ${shapeText(input)} (channels last, NHWC); terrain-learner feeds [1,3,H,W]: export with a channels-first input or put a Transpose(perm=[0,3,1,2]) after it (metadata layout=NHWC describes the output only)`,
      );
    if (typeof s[1] === "number" && s[1] !== 3)
      throw new Error(
        `${where}: input '${input.name}' is ${shapeText(input)}; terrain-learner feeds 3 channels (RGB), [1,3,H,W]`,
      );
    if (typeof s[2] === "number" && s[2] > 0 && typeof s[3] === "number" && s[3] > 0)
      fixedInput = { width: s[3], height: s[2] };
  }
  const output = outputs.find((m) => m.name === outputName);
  if (!output?.isTensor) throw new Error(`${where}: output '${outputName}' is not a tensor`);
  if (output.type !== "float32")
    throw new Error(
      `${where}: output '${outputName}' is ${output.type}; terrain-learner reads float32 features: end the model with a Cast to float32 (DequantizeLinear for a quantised one)`,
    );
  if (output.shape.length > 0 && output.shape.length !== 4) {
    const maps = outputs.filter((m) => m.isTensor && m.shape.length === 4).map((m) => m.name);
    throw new Error(
      `${where}: output '${outputName}' is ${shapeText(output)}, not a feature map [1,C,H/s,W/s]; ` +
        (maps.length
          ? `select one with metadata output=<name> (4-D outputs: ${maps.join(", ")})`
          : "export the model's feature map as an output"),
    );
  }
  // A dynamic grid with a fixed channel count says where the channels are.
  const [o1, o3] = [output.shape[1], output.shape[3]];
  const channelsAt =
    typeof o1 === "number" && typeof o3 !== "number"
      ? "NCHW"
      : typeof o3 === "number" && typeof o1 !== "number"
        ? "NHWC"
        : null;
  if (output.shape.length === 4 && channelsAt && channelsAt !== layout)
    throw new Error(
      `${where}: output '${outputName}' is ${shapeText(output)}, ${channelsAt === "NHWC" ? "channels last" : "channels first"}: set metadata layout=${channelsAt}`,
    );
  return { fixedInput };
}

/** The one-line error for a frame whose model input is not the size a fixed-size model takes. */
export function fixedInputMismatch(
  name: string,
  fixed: { width: number; height: number },
  w: number,
  h: number,
  img: { width: number; height: number },
  stride: number,
  inputWidth: number,
): string {
  const how =
    w === img.width && h === img.height
      ? ""
      : ` (cropped to whole ${stride}px cells${inputWidth > 0 && img.width > inputWidth ? ` after the downscale to learner.input_width ${inputWidth}` : ""})`;
  return (
    `backbone ${name} takes a fixed ${fixed.width}×${fixed.height} input, but a ${img.width}×${img.height} camera image gives ${w}×${h}${how}: ` +
    `export the model with dynamic height and width, or at ${w}×${h}` +
    (how && inputWidth > 0 && img.width > inputWidth
      ? ", or set learner.input_width (0 = the camera's own size)"
      : "")
  );
}
