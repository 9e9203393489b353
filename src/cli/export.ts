// `terrain-learner export --checkpoint DIR --out model.onnx`: backbone + head + confidence of a
// checkpoint as one ONNX graph (learning/export-graph.ts) with what a user elsewhere needs in its
// metadata_props (docs/export.md). The file is written under a temporary name, loaded and run once
// with onnxruntime, and only then renamed into place.

import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { CALIBRATION_TAIL } from "../core/labeller.ts";
import { nextTick } from "../io/bag/common.ts";
import { checkOutputs, commitTemp, discardTemp, outputWriteError, tempPathFor } from "../io/safe-output.ts";
import { Backbone, modelIdentity, resolveBackbonePath } from "../learning/backbone.ts";
import { fixedInputMismatch } from "../learning/backbone-io.ts";
import { CHECKPOINT_FILE, type LoadedCheckpoint, readLatestCheckpoint } from "../learning/checkpoint.ts";
import { buildExportGraph, type ExportContext } from "../learning/export-graph.ts";
import { featureGridFor } from "../learning/feature-grid.ts";
import { OnlineLearner, PREDICTION_SETTINGS } from "../learning/learner.ts";
import { recordedCamera } from "../learning/learner-checkpoint.ts";
import type { ITensorProto } from "../learning/onnx-graph.ts";
import type { Config, LearnerConfig } from "../runtime/config.ts";
import { UserError } from "./errors.ts";
import { refuseNonModel } from "./export-out.ts";
import { interruptedError } from "./interrupt.ts";

export interface ExportOptions {
  checkpoint: string;
  out: string;
  /** Learner settings for checkpoints that do not record them (and everything else: defaults). */
  config: Config;
  /** The camera image size the model takes; without it, the size the checkpoint records. */
  width?: number;
  height?: number;
  /** Config files read (protected like the checkpoint). */
  inputs?: readonly string[];
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ExportResult {
  out: string;
  bytes: number;
  seconds: number;
  checkpoint: string;
  trainSteps: number;
  backbone: string;
  image: { width: number; height: number };
  /** Where the image size came from, and the camera size the checkpoint records (null: none). */
  imageSizeFrom: "checkpoint" | "--image-size";
  recordedImage: { width: number; height: number; frameId: string } | null;
  grid: { rows: number; cols: number; cellWidth: number; cellHeight: number };
  opset: number;
  ops: string[];
  metadata: Record<string, string>;
}

/** The learner settings the weights were trained with: the checkpoint's record over the config's. */
function learnerSettings(base: LearnerConfig, c: LoadedCheckpoint, warn: (m: string) => void): LearnerConfig {
  const recorded = c.manifest.info?.learner as Partial<LearnerConfig> | undefined;
  if (!recorded || typeof recorded !== "object") {
    warn(`export: ${c.path} does not record its learner settings; using the configuration's`);
    return base;
  }
  const cfg = { ...base } as Record<string, unknown>;
  for (const k of PREDICTION_SETTINGS) if (recorded[k] !== undefined) cfg[k] = recorded[k];
  return cfg as LearnerConfig;
}

/**
 * The image size to export at: the one given, or the camera size the checkpoint records (refused when
 * it records none: a guess would silently give a model for another camera). `note`: said once the
 * model is written (a failed export stays one line).
 */
function imageSize(o: ExportOptions, c: LoadedCheckpoint) {
  const cam = recordedCamera(c.manifest.info);
  const recorded = cam ? { width: cam.width, height: cam.height, frameId: cam.frameId ?? "" } : null;
  if (o.width !== undefined && o.height !== undefined) {
    const note =
      cam && (cam.width !== o.width || cam.height !== o.height)
        ? `export: --image-size ${o.width}x${o.height} differs from the ${cam.width}x${cam.height} camera frames ${basename(c.path)} was trained on; exported at ${o.width}x${o.height} (fine for the same camera at another resolution)`
        : null;
    return { width: o.width, height: o.height, from: "--image-size" as const, recorded, note };
  }
  if (!cam)
    throw new UserError(
      `${c.path} does not record the camera image size it was trained on (written by an older terrain-learner, or before any frame): give it with --image-size WxH`,
    );
  return { width: cam.width, height: cam.height, from: "checkpoint" as const, recorded, note: null };
}

/**
 * Reads an initializer's ONNX external data (location relative to the model's folder, offset, length),
 * so that a backbone saved with its weights beside it exports as one file.
 */
function externalDataReader(modelPath: string): (t: ITensorProto) => Uint8Array {
  let total = 0;
  return (t) => {
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const file = resolve(dirname(modelPath), kv.location ?? "");
    if (!kv.location || !existsSync(file))
      throw new UserError(
        `backbone ${modelPath}: the weights of ${t.name} are in '${kv.location ?? ""}', which is not next to the model`,
      );
    const offset = Number(kv.offset ?? 0);
    const length = kv.length !== undefined ? Number(kv.length) : statSync(file).size - offset;
    total += length;
    // A protobuf message (the exported file) cannot exceed 2 GiB.
    if (total >= 2 ** 31)
      throw new UserError(
        `backbone ${modelPath}: weights over 2 GiB do not fit one ONNX file; export cannot inline them`,
      );
    const out = new Uint8Array(length);
    const fd = openSync(file, "r");
    try {
      if (readSync(fd, out, 0, length, offset) !== length)
        throw new UserError(
          `backbone ${modelPath}: '${kv.location}' is shorter than the weights of ${t.name} need`,
        );
    } finally {
      closeSync(fd);
    }
    return out;
  };
}

/** A mid-grey image with a gradient: enough to see that the file loads and computes finite grids. */
function probeImage(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      px[i] = (x * 255) / width;
      px[i + 1] = (y * 255) / height;
      px[i + 2] = 128 + ((x ^ y) & 31);
    }
  return px;
}

export async function runExport(o: ExportOptions): Promise<ExportResult> {
  const warn = o.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const t0 = performance.now();
  const dir = o.checkpoint;
  if (!existsSync(dir)) throw new UserError(`--checkpoint ${dir}: no such folder`);
  if (!statSync(dir).isDirectory())
    throw new UserError(
      `--checkpoint ${dir}: not a folder (give the checkpoint folder, e.g. learner.checkpoint_dir)`,
    );
  // The checkpoints are inputs: the output may not replace any of them. Another file there (an
  // earlier export into this folder) may be replaced; one that is not a model is refused below.
  const checkpointFiles = readdirSync(dir)
    .filter((n) => CHECKPOINT_FILE.test(n))
    .map((n) => join(dir, n));
  try {
    await checkOutputs(
      [{ path: o.out, kind: "file", what: "--out" }],
      [...checkpointFiles, ...(o.inputs ?? [])],
    );
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  refuseNonModel(o.out);
  const skipped: string[] = [];
  const loaded = await readLatestCheckpoint(dir, (m) => {
    skipped.push(m);
    warn(`export: ${m}`);
  });
  if (!loaded)
    throw new UserError(
      skipped.length
        ? `--checkpoint ${dir}: no valid checkpoint (${skipped.length} skipped, see above)`
        : `--checkpoint ${dir}: no checkpoint in this folder (ckpt-*.json + .bin; written by run, ros, or replay --save-checkpoint)`,
    );

  const size = imageSize(o, loaded);
  const { width, height } = size;
  const sizeName =
    size.from === "--image-size"
      ? `--image-size ${width}x${height}`
      : `the checkpoint's image size ${width}x${height}`;
  const cfg = learnerSettings(o.config.learner, loaded, warn);
  const recordedSha = loaded.manifest.info?.backboneSha256;
  // A checkpoint moved to another machine records where its backbone was there: the configuration's
  // learner.backbone is used instead when it is the same model (same sha256) and the recorded one is not.
  const identity = (path: string) => {
    try {
      return modelIdentity(path);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  };
  // The .onnx alone: recorded before the hash covered external data (warned below).
  const fits = (path: string) =>
    existsSync(path) && [identity(path).sha256, identity(path).onnxSha256].includes(recordedSha as string);
  if (
    typeof recordedSha === "string" &&
    o.config.learner.backbone !== cfg.backbone &&
    !fits(resolveBackbonePath(cfg.backbone)) &&
    fits(resolveBackbonePath(o.config.learner.backbone))
  )
    cfg.backbone = o.config.learner.backbone;
  const backbonePath = resolveBackbonePath(cfg.backbone);
  if (!existsSync(backbonePath)) {
    // A --config that names a model, but another one, must not be told to name the model.
    const given = resolveBackbonePath(o.config.learner.backbone);
    throw new UserError(
      o.config.learner.backbone !== "" && o.config.learner.backbone !== cfg.backbone && existsSync(given)
        ? `the checkpoint's backbone ${backbonePath} (learner.backbone '${cfg.backbone}') not found, and the configuration's ${given} is another model (its sha256 is not the ${String(recordedSha).slice(0, 12)}… the head was trained on): give the place of the model the checkpoint was trained on with --config (learner.backbone: PATH)`
        : `the checkpoint's backbone ${backbonePath} (learner.backbone '${cfg.backbone}') not found: give the model's place here with --config (learner.backbone: PATH)`,
    );
  }
  const { sha256: backboneSha, onnxSha256, external } = identity(backbonePath);
  // The model's external data files are inputs too: writing over one would break the backbone.
  const backboneFiles = [backbonePath, ...external.map((l) => resolve(dirname(backbonePath), l))];
  await checkOutputs([{ path: o.out, kind: "file", what: "--out" }], backboneFiles).catch((err: Error) => {
    throw new UserError(err.message);
  });
  if (typeof recordedSha === "string" && recordedSha === onnxSha256 && external.length > 0)
    warn(
      `export: ${loaded.path} records the sha256 of ${backbonePath} alone (written by an older terrain-learner): the model's external data (${external.join(", ")}) cannot be checked`,
    );
  else if (typeof recordedSha === "string" && recordedSha !== backboneSha)
    throw new UserError(
      `${loaded.path} was trained on backbone sha256 ${recordedSha.slice(0, 12)}…, but ${backbonePath} is ${backboneSha.slice(0, 12)}…: the head does not fit these features`,
    );
  // A configuration naming another model does not change what the head was trained on: said, not obeyed.
  const configured = o.config.learner.backbone ? resolveBackbonePath(o.config.learner.backbone) : "";
  if (
    configured &&
    configured !== backbonePath &&
    existsSync(configured) &&
    identity(configured).sha256 !== backboneSha
  )
    warn(
      `export: the configuration's learner.backbone ${configured} is not used: the checkpoint exports with the model it was trained on, ${backbonePath}`,
    );
  const backbone = await Backbone.load(backbonePath, { inputWidth: cfg.input_width, warn });
  const channels = Number(loaded.manifest.info?.channels);
  const C = backbone.channels;
  let context: ExportContext;
  if (channels === 2 * C + 1) context = "neighbourhood";
  else if (channels === C) context = "none";
  else {
    await backbone.close();
    throw new UserError(
      `${loaded.path}: the head takes ${channels} features per cell, which backbone ${backbone.name} (${C} channels) does not give`,
    );
  }

  let learner: OnlineLearner | undefined;
  try {
    learner = await OnlineLearner.create(cfg, channels, { warn });
    try {
      learner.setWeights(loaded.data);
    } catch (err) {
      throw new UserError(`${loaded.path}: ${(err as Error).message}`);
    }
    let predictor: ReturnType<OnlineLearner["exportPredictor"]>;
    try {
      predictor = learner.exportPredictor();
    } catch (err) {
      throw new UserError(`${loaded.path}: ${(err as Error).message}`);
    }
    const cells = featureGridFor(backbone.info, width, height);
    if (cells.rows < 1 || cells.cols < 1)
      throw new UserError(
        `${sizeName}: smaller than one feature cell (${+cells.strideX.toFixed(2)} px square at this width)`,
      );
    // The runtime refuses such frames; in the composed graph the mismatch is an onnxruntime shape error.
    const fixed = backbone.fixedInputSize;
    const modelW = cells.cols * backbone.stride;
    const modelH = cells.rows * backbone.stride;
    if (fixed && (fixed.width !== modelW || fixed.height !== modelH))
      throw new UserError(
        `${sizeName}: ${fixedInputMismatch(backbone.name, fixed, modelW, modelH, { width, height }, backbone.stride, backbone.info.inputWidth)}`,
      );
    const bbBytes = new Uint8Array(await readFile(backbonePath));
    const cal = predictor.labelCalibration;
    let metadata: Record<string, string> = {};
    const final = buildExportGraph({
      backbone: {
        bytes: bbBytes,
        info: backbone.info,
        ...backbone.inputAffine,
        externalData: externalDataReader(backbonePath),
      },
      width: width,
      height: height,
      context,
      predictor,
      docString:
        "terrain-learner: terrain roughness (0 smooth .. 1 rough) and confidence (0..1) per image cell; see metadata_props",
      metadata: ({ grid, modelInput, pixelsRead, opset, ops }) => {
        metadata = {
          format: "terrain-learner-export",
          format_version: "1",
          input: "image",
          input_shape: `1,${height},${width},3`,
          input_dtype: "uint8",
          input_layout: "NHWC (packed rows, as a ROS rgb8 image)",
          input_color: "RGB (mono8: repeat the grey value in R, G and B; bgr8: swap R and B)",
          input_range: "0..255",
          preprocessing_in_graph: [
            `crop to the top-left ${pixelsRead.width}x${pixelsRead.height} px (whole cells)`,
            grid.strideX === backbone.stride
              ? "no downscale"
              : `area (box) downscale by ${width / backbone.info.inputWidth} to ${modelInput.width}x${modelInput.height}`,
            "model input = gain*pixel + offset per channel (backbone normalisation)",
            context === "neighbourhood"
              ? "head features = [cell, mean of its 3x3 cells inside the grid, (row+0.5)/rows]"
              : "head features = cell",
          ].join("; "),
          outputs: "roughness,confidence",
          output_shape: `${grid.rows},${grid.cols}`,
          grid_rows: String(grid.rows),
          grid_cols: String(grid.cols),
          cell_width_px: String(grid.strideX),
          cell_height_px: String(grid.strideY),
          cell_to_pixels:
            "cell (r, c) covers image pixels x in [c*cell_width_px, (c+1)*cell_width_px), y in [r*cell_height_px, (r+1)*cell_height_px); its centre, to project through the camera intrinsics (pixel centres at whole coordinates, as a ROS CameraInfo), is u = (c+0.5)*cell_width_px - 0.5, v = (r+0.5)*cell_height_px - 0.5; pixels right of / below the grid are not covered",
          roughness: "0 (smooth) .. 1 (rough), the learner's calibrated scale",
          confidence:
            "0..1: 1 where the cell looks like ground the robot has driven on, exp(-0.5*(z/confidence_sigma)^2) above, z = (log(novelty + 1e-8) - confidence_mean)/confidence_std",
          not_in_graph:
            "what the node adds after the head: outputs.prior_weight (unsure cells pulled towards the running label mean), outputs.smoothing (3x3 passes over ground cells), outputs.min_confidence masking, ground projection and costmap; a log-energy head's calibration follows the labeller's moving bounds there (the graph keeps the checkpoint's)",
          calibration_lo: cal ? String(cal.lo) : "",
          calibration_hi: cal ? String(cal.hi) : "",
          calibration_tail: String(CALIBRATION_TAIL),
          calibration_exponent: cal ? String(cal.exponent) : "",
          calibration:
            "roughness = m + (1-2m)*x for x in 0..1, hyperbolic tails beyond (m = calibration_tail); with g = calibration_exponent and E the vibration energy, x = (log10 E - lo)/(hi - lo) when g = 0, else x = (10^(g*(log10 E - lo)) - 1)/(10^(g*(hi - lo)) - 1); lo/hi: the labeler's bounds when the checkpoint was written",
          stride: String(backbone.stride),
          input_width: String(backbone.info.inputWidth),
          model_input_size: `${modelInput.width}x${modelInput.height}`,
          backbone: backbone.name,
          backbone_setting: cfg.backbone,
          backbone_sha256: backboneSha,
          backbone_channels: String(C),
          feature_context: context,
          head_features: String(channels),
          novelty: cfg.novelty,
          confidence_mean: String(predictor.confidence.mean),
          confidence_std: String(predictor.confidence.std),
          confidence_sigma: String(predictor.confidence.sigma),
          learner_settings: JSON.stringify(Object.fromEntries(PREDICTION_SETTINGS.map((k) => [k, cfg[k]]))),
          checkpoint: basename(loaded.path),
          camera_image_size: size.recorded ? `${size.recorded.width}x${size.recorded.height}` : "",
          camera_frame_id: size.recorded?.frameId ?? "",
          checkpoint_sha256: loaded.manifest.sha256,
          checkpoint_created: String(loaded.manifest.created ?? ""),
          train_steps: String(predictor.trainSteps),
          opset: String(opset),
          ops: ops.join(","),
        };
        return metadata;
      },
    });
    const { grid } = final;
    await backbone.close();
    // Building the graph and onnxruntime's run block the loop (seconds at a large size): a Ctrl-C's
    // handler runs only at its next turn, which must come before each abort check.
    await nextTick();
    if (o.signal?.aborted) throw interruptedError(o.signal.reason, `${o.out} not written`);

    const tmp = tempPathFor(resolve(o.out));
    try {
      await writeFile(tmp, final.bytes, { flag: "wx" }).catch((err: unknown) => {
        throw outputWriteError(o.out, err);
      });
      await verify(tmp, width, height, grid.rows, grid.cols);
      await nextTick();
      if (o.signal?.aborted) throw interruptedError(o.signal.reason, `${o.out} not written`);
      await commitTemp(tmp, resolve(o.out)).catch((err: unknown) => {
        throw outputWriteError(o.out, err);
      });
    } catch (err) {
      await discardTemp(tmp);
      throw err;
    }
    if (size.note) warn(size.note);
    return {
      out: resolve(o.out),
      bytes: final.bytes.byteLength,
      seconds: (performance.now() - t0) / 1000,
      checkpoint: loaded.path,
      trainSteps: predictor.trainSteps,
      backbone: backbone.name,
      image: { width, height },
      imageSizeFrom: size.from,
      recordedImage: size.recorded,
      grid: { rows: grid.rows, cols: grid.cols, cellWidth: grid.strideX, cellHeight: grid.strideY },
      opset: final.opset,
      ops: final.ops,
      metadata,
    };
  } finally {
    learner?.dispose();
    await backbone.close();
  }
}

/** Loads the written file with onnxruntime and runs it once: shapes and finite values in 0..1. */
async function verify(
  path: string,
  width: number,
  height: number,
  rows: number,
  cols: number,
): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { executionProviders: ["cpu"] });
  } catch (err) {
    throw new Error(`the exported model does not load in onnxruntime: ${(err as Error).message}`);
  }
  try {
    const image = new ort.Tensor("uint8", probeImage(width, height), [1, height, width, 3]);
    const out = await session.run({ image });
    for (const name of ["roughness", "confidence"]) {
      const t = out[name];
      if (!t || t.dims.join(",") !== `${rows},${cols}`)
        throw new Error(`the exported model's ${name} is [${t?.dims.join(",")}], expected [${rows},${cols}]`);
      for (const v of t.data as Float32Array)
        if (!(v >= 0 && v <= 1))
          throw new Error(`the exported model's ${name} has a value ${v} outside 0..1`);
    }
  } finally {
    await session.release();
  }
}
