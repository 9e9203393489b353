// Backbone runner: an ONNX model (onnxruntime-node) that turns a camera image into a dense feature
// map, one C-vector per grid cell of `stride` pixels.
//
// Any model with this layout works: input float32 [1,3,H,W] (RGB), output float32 [1,C,H/s,W/s]
// (NCHW; `layout=NHWC` in the metadata is accepted too). What the runtime needs beyond the shapes
// lives in the model's metadata_props (see models/build-backbone.ts): `stride`, and the input
// normalisation `input_scale`, `mean`, `std` (model input = (pixel/255·input_scale − mean)/std).
// Without `stride` it is measured from probe runs; without normalisation keys 0..1 RGB is fed.
//
// The image is cropped to a whole number of cells (cols·stride × rows·stride, top-left anchored), so
// patch-based models (ViT/14) accept any camera size and the grid maps to pixels exactly.
//
// Working resolution (`input_width`): an image wider than it is box-filtered down to that width (aspect
// kept) before the model sees it, so a 640×480 camera costs what a 320×240 one does instead of 4×.
// The grid returned is still in the ORIGINAL image's pixels: a model cell of `stride` px is
// stride·(width/inputWidth) camera pixels wide (strideX/strideY, possibly fractional), which is what
// association, evaluation and the costmap project through the camera intrinsics.
//
// onnxruntime-node runs a session synchronously on the calling thread once `run` starts; calls are
// serialised here because the input buffer is reused between frames.

import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import type { ImageFrame } from "../core/types.ts";
import { InputEncoder } from "./backbone-input.ts";
import { checkBackboneIO, fixedInputMismatch } from "./backbone-io.ts";
import { resolveBackbonePath } from "./backbone-models.ts";
import { type FeatureGridSpec, type FeatureMap, featureGridFor } from "./feature-grid.ts";
import { parseTriple, readOnnxMetadata } from "./onnx-metadata.ts";

// Re-exported so importers keep one entry point for everything backbone-related.
export {
  type AreaTaps,
  areaTaps,
  blockDownscaleInto,
  blockDownscaleLoopsInto,
} from "./backbone-input.ts";
export {
  BUNDLED_BACKBONES,
  defaultBackbonePath,
  modelIdentity,
  modelSha256,
  resolveBackbonePath,
} from "./backbone-models.ts";
export { type FeatureGridSpec, type FeatureMap, featureGridFor, gatherCells } from "./feature-grid.ts";
export { readOnnxMetadata } from "./onnx-metadata.ts";

export interface BackboneOptions {
  /** onnxruntime execution providers in preference order, e.g. ["cuda", "cpu"]. Default ["cpu"]. */
  executionProviders?: readonly string[];
  /** Where warnings (provider fallback, missing metadata) go. Default console.warn. */
  warn?: (message: string) => void;
  /** Threads for the CPU provider (0 = onnxruntime's default). */
  intraOpThreads?: number;
  /** Working width: wider images are downscaled to it (area filter, aspect kept). 0/absent = native. */
  inputWidth?: number;
}

export interface BackboneInfo {
  path: string;
  name: string;
  stride: number;
  channels: number;
  inputName: string;
  outputName: string;
  layout: "NCHW" | "NHWC";
  /** Execution providers the session was created with (after any fallback). */
  executionProviders: string[];
  /** Images wider than this are downscaled to it before the model (0 = native resolution). */
  inputWidth: number;
  metadata: Record<string, string>;
}

/**
 * learner.backbone_threads 0 (auto): one core fewer than the machine has, at least one. The training
 * worker (replay and live) keeps about one core busy; letting onnxruntime spread over every core made
 * both fight: on 2 cores, 1 backbone thread gave 6.2× real time at 320×240 against 5.4× with 2, and a
 * live p99 latency at 640×480 of 23 ms against 24–34 ms.
 */
export function defaultBackboneThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** What the metadata likely gets wrong when the output is not the grid expected (else ""). */
function outputHint(
  d: readonly number[],
  w: number,
  h: number,
  grid: { rows: number; cols: number },
  C: number,
  nchw: boolean,
): string {
  if (d.length !== 4) return "";
  const [a, b, c] = [d[1]!, d[2]!, d[3]!];
  const other = nchw ? { rows: a, cols: b, ch: c } : { rows: b, cols: c, ch: a };
  if (other.rows === grid.rows && other.cols === grid.cols)
    return `: the output is ${nchw ? "channels last" : "channels first"}, set metadata layout=${nchw ? "NHWC" : "NCHW"}`;
  const [rows, cols, ch] = nchw ? [b, c, a] : [a, b, c];
  if (ch !== C || !(rows > 0 && cols > 0)) return "";
  // The input is cropped to whole cells of the configured stride, not of the model's: its grid is
  // floor(w/s) (unpadded) or ceil(w/s) (padded) cells of s on both axes, e.g. 45×34 for stride 7 on
  // 320×240. Several s may fit one grid (31 and 32 for 10×7 on 320×240): one that divides the input
  // is the likelier.
  const gives = (round: (x: number) => number, s: number) => round(w / s) === cols && round(h / s) === rows;
  let found: number[] = [];
  for (let s = 1; s <= Math.max(w, h); s++) if (gives(Math.floor, s) || gives(Math.ceil, s)) found.push(s);
  const exact = found.filter((s) => w % s === 0 || h % s === 0);
  if (found.length > 1 && exact.length > 0) found = exact;
  if (found.length === 1) return `: the model's stride is ${found[0]}, set metadata stride=${found[0]}`;
  if (found.length > 1 && found.length <= 3)
    return `: the model's stride is one of ${found.join(", ")}; set metadata stride to it`;
  return "";
}

/** onnxruntime's error as one line: its messages end in blank lines. */
function ortMessage(err: unknown): string {
  return ((err as Error).message ?? String(err)).trim().split("\n")[0] ?? "";
}

export class Backbone {
  readonly info: BackboneInfo;
  private readonly session: ort.InferenceSession;
  private readonly input: InputEncoder;
  private inputBuf = new Float32Array(0);
  private inputTensor: ort.Tensor | null = null;
  private inputW = 0;
  private inputH = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The input size a model exported without dynamic height/width takes (null: any). */
  private fixedInput: { width: number; height: number } | null = null;

  private constructor(
    session: ort.InferenceSession,
    info: BackboneInfo,
    scale: number,
    mean: number[],
    std: number[],
  ) {
    this.session = session;
    this.info = info;
    this.input = new InputEncoder(scale, mean, std);
  }

  get channels(): number {
    return this.info.channels;
  }
  /** The input normalisation as model input = gain·pixel + offset per RGB channel (pixel 0..255). */
  get inputAffine(): { gain: Float32Array; offset: Float32Array } {
    return { gain: this.input.gain.slice(), offset: this.input.offset.slice() };
  }
  get stride(): number {
    return this.info.stride;
  }
  /** The input size a model exported without dynamic height/width takes (null: any). */
  get fixedInputSize(): { width: number; height: number } | null {
    return this.fixedInput ? { ...this.fixedInput } : null;
  }
  get name(): string {
    return this.info.name;
  }

  /** Loads `learner.backbone` (empty → the bundled model) with `learner.execution_providers`. */
  static fromConfig(
    learner: {
      backbone: string;
      execution_providers: readonly string[];
      backbone_threads?: number;
      input_width?: number;
    },
    opts: Omit<BackboneOptions, "executionProviders"> = {},
  ): Promise<Backbone> {
    const path = resolveBackbonePath(learner.backbone);
    return Backbone.load(path, {
      intraOpThreads: learner.backbone_threads || defaultBackboneThreads(),
      inputWidth: learner.input_width,
      ...opts,
      executionProviders: learner.execution_providers,
    });
  }

  /**
   * Creates the session once. Providers other than cpu that cannot be created (not installed, no
   * GPU) fall back to cpu with a warning naming the provider and the onnxruntime error.
   */
  static async load(path: string, opts: BackboneOptions = {}): Promise<Backbone> {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new Error(`backbone model not found: ${abs}`);
    // onnxruntime calls an empty file a model without a graph (a copy or download that wrote nothing).
    const file = statSync(abs);
    if (file.isFile() && file.size === 0)
      throw new Error(`backbone model ${abs} is an empty file: copy or export the model again`);
    const warn = opts.warn ?? ((m: string) => console.warn(m));
    let metadata: Record<string, string>;
    try {
      metadata = readOnnxMetadata(abs);
    } catch (err) {
      throw new Error(`cannot read ONNX model ${abs}: ${(err as Error).message}`);
    }
    const inputWidth = opts.inputWidth ?? 0;
    if (!(Number.isInteger(inputWidth) && inputWidth >= 0))
      throw new Error(`backbone inputWidth ${inputWidth} must be a whole number of pixels ≥ 0 (0 = native)`);
    const requested = [...(opts.executionProviders ?? ["cpu"])].map((p) => p.toLowerCase());
    if (requested.length === 0) requested.push("cpu");
    const sessionOptions = (eps: string[]): ort.InferenceSession.SessionOptions => ({
      executionProviders: eps,
      graphOptimizationLevel: "all",
      // onnxruntime's own log would print every failed run in red before the error we throw, which
      // names the model, the image size and onnxruntime's message (one frame problem, not 50 lines).
      logSeverityLevel: 4,
      ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    });
    // A provider that cannot be created is logged by onnxruntime itself (its red multi-line C++
    // error, whatever the session's log level) before the one line below names it.
    if (requested.some((p) => p !== "cpu")) ort.env.logLevel = "fatal";
    let session: ort.InferenceSession;
    let used = requested;
    try {
      session = await ort.InferenceSession.create(abs, sessionOptions(requested));
    } catch (err) {
      const nonCpu = requested.filter((p) => p !== "cpu");
      if (nonCpu.length === 0) throw new Error(`cannot load backbone ${abs}: ${ortMessage(err)}`);
      const available = ort
        .listSupportedBackends()
        .map((b) => `${b.name}${b.bundled ? "" : " (needs install)"}`)
        .join(", ");
      warn(
        `backbone: execution provider(s) ${nonCpu.join(", ")} unavailable (${(err as Error).message.split("\n")[0]}); ` +
          `falling back to cpu. onnxruntime-node providers: ${available}`,
      );
      used = ["cpu"];
      try {
        session = await ort.InferenceSession.create(abs, sessionOptions(used));
      } catch (err2) {
        throw new Error(`cannot load backbone ${abs}: ${ortMessage(err2)}`);
      }
    }

    const inputName = session.inputNames[0];
    if (!inputName) throw new Error(`backbone ${abs} has no inputs`);
    const outputName =
      metadata.output ?? (session.outputNames.includes("features") ? "features" : session.outputNames[0]);
    if (!outputName || !session.outputNames.includes(outputName)) {
      throw new Error(`backbone ${abs}: output "${outputName}" not among ${session.outputNames.join(", ")}`);
    }
    const metaStride = metadata.stride;
    if (metaStride !== undefined && !(Number.isInteger(Number(metaStride)) && Number(metaStride) > 0))
      throw new Error(
        `backbone ${abs}: metadata stride="${metaStride}" must be a whole number of pixels (or absent)`,
      );
    const layout = (metadata.layout ?? "NCHW").toUpperCase();
    if (layout !== "NCHW" && layout !== "NHWC")
      throw new Error(`backbone ${abs}: metadata layout="${layout}" must be NCHW or NHWC`);
    const io = checkBackboneIO(
      `backbone ${abs}`,
      session.inputMetadata,
      session.outputMetadata,
      outputName,
      layout,
    );
    const scale = metadata.input_scale !== undefined ? Number(metadata.input_scale) : 1;
    if (!Number.isFinite(scale))
      throw new Error(`backbone ${abs}: metadata input_scale="${metadata.input_scale}" is not a number`);
    const mean = parseTriple(metadata.mean, 0, "mean", abs);
    const std = parseTriple(metadata.std, 1, "std", abs);
    if (std.some((s) => s === 0)) throw new Error(`backbone ${abs}: metadata std has a zero`);
    // ImageNet statistics written for 0..255 pixels (123.675, ...) with the default input_scale 1
    // would feed the model a near-constant image.
    if (scale > 0 && mean.some((m) => m > scale))
      throw new Error(
        `backbone ${abs}: metadata mean="${metadata.mean}" lies above the pixel range 0..input_scale (${scale}); for a mean and std in 0..255 units set input_scale=255`,
      );

    const info: BackboneInfo = {
      path: abs,
      name: metadata.name ?? basename(abs),
      stride: Number(metadata.stride ?? 0),
      channels: Number(metadata.channels ?? 0),
      inputName,
      outputName,
      layout,
      executionProviders: used,
      inputWidth,
      metadata,
    };
    // Channels from the declared output shape when it is static.
    const outMeta = session.outputMetadata.find((m) => m.name === outputName);
    if (outMeta?.isTensor) {
      const c = outMeta.shape[layout === "NCHW" ? 1 : 3];
      if (typeof c === "number" && c > 0) info.channels = c;
    }
    const backbone = new Backbone(session, info, scale, mean, std);
    backbone.fixedInput = io.fixedInput;
    if (!(info.stride > 0) || !(info.channels > 0)) {
      // Probe with a 224×224 frame (divisible by 8, 14, 16, 32), or the model's fixed input size:
      // stride = probe size / grid size.
      if (!(info.stride > 0))
        warn(`backbone ${abs}: no "stride" in metadata_props; measuring it with probe runs`);
      const pw = io.fixedInput?.width ?? 224;
      const ph = io.fixedInput?.height ?? 224;
      let probe: [number, number, number];
      try {
        probe = await backbone.runRaw(pw, ph);
      } catch (err) {
        const first = ((err as Error).message ?? String(err)).split("\n")[0];
        throw new Error(
          `backbone ${abs}: the probe run on a ${pw}×${ph} image failed (${first}); set metadata stride`,
        );
      }
      const [gh, gw, c] = probe;
      info.channels = c;
      if (!(info.stride > 0)) {
        if (gh <= 0 || gw <= 0)
          throw new Error(`backbone ${abs}: probe output grid ${gh}×${gw} for a ${pw}×${ph} input`);
        info.stride = Math.round(pw / gw);
        // One probe cannot tell every stride: 224 px in 9 cells read stride 24 as 25, in 4 cells 48 as
        // 56, a grid silently off by pixels per cell on images small enough to pass. A dynamic model's
        // stride is the width between two steps of its column count.
        if (!io.fixedInput) {
          try {
            info.stride = await backbone.stepWidth(pw, ph, gw);
          } catch (err) {
            throw new Error(
              `backbone ${abs}: measuring the stride with probes wider than ${pw} px failed (${ortMessage(err)}); set metadata stride`,
            );
          }
        }
        const s = info.stride;
        if (Math.floor(ph / s) !== gh && Math.ceil(ph / s) !== gh && Math.round(ph / gh) !== s) {
          throw new Error(
            `backbone ${abs}: non-square stride (${pw}×${ph} → ${gh}×${gw}); set metadata stride`,
          );
        }
      }
    }
    if (inputWidth > 0 && inputWidth < info.stride) {
      throw new Error(`backbone ${abs}: inputWidth ${inputWidth} is narrower than one ${info.stride}px cell`);
    }
    return backbone;
  }

  /** The feature grid of a width×height camera image (featureGridFor). */
  gridFor(width: number, height: number): FeatureGridSpec {
    return featureGridFor(this.info, width, height);
  }

  /**
   * Features of one image. The result's `data` is written into `out` when given (length
   * rows·cols·channels; lets a caller pool buffers), else into a new array the caller owns (safe to keep
   * as keyframe data). The input tensor is reused between frames of the same size.
   */
  extract(img: ImageFrame, out?: Float32Array): Promise<FeatureMap> {
    const run = this.queue.then(() => this.extractNow(img, out));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.session.release();
  }

  private prepareInput(w: number, h: number): void {
    if (w !== this.inputW || h !== this.inputH || !this.inputTensor) {
      this.inputBuf = new Float32Array(3 * w * h);
      this.inputTensor = new ort.Tensor("float32", this.inputBuf, [1, 3, h, w]);
      this.inputW = w;
      this.inputH = h;
    }
  }

  /** Runs on a zero image of w×h; returns [gridH, gridW, channels]. */
  private async runRaw(w: number, h: number): Promise<[number, number, number]> {
    this.prepareInput(w, h);
    this.inputBuf.fill(0);
    const result = await this.session.run({ [this.info.inputName]: this.inputTensor as ort.Tensor });
    const t = result[this.info.outputName] as ort.Tensor;
    const d = t.dims;
    t.dispose();
    if (d.length !== 4)
      throw new Error(`backbone ${this.info.path}: output has ${d.length} dims [${d.join(",")}], expected 4`);
    return this.info.layout === "NCHW"
      ? [d[2] ?? 0, d[3] ?? 0, d[1] ?? 0]
      : [d[1] ?? 0, d[2] ?? 0, d[3] ?? 0];
  }

  /**
   * The model's stride measured from two steps of its column count (pixels per column gained):
   * probes of h rows and widths growing from w (cols columns), found by doubling then bisecting.
   */
  private async stepWidth(w: number, h: number, cols: number): Promise<number> {
    const colsAt = async (width: number) => (await this.runRaw(width, h))[1];
    /** The smallest width above `from` that gives more than `c` columns. */
    const nextStep = async (from: number, c: number): Promise<number> => {
      let lo = from;
      let hi = from + 1;
      while ((await colsAt(hi)) <= c) {
        if (hi - from > 4096) throw new Error(`no more columns from ${from} to ${hi} px wide`);
        lo = hi;
        hi = from + 2 * (hi - from);
      }
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((await colsAt(mid)) > c) hi = mid;
        else lo = mid;
      }
      return hi;
    };
    const first = await nextStep(w, cols);
    const atFirst = await colsAt(first);
    const second = await nextStep(first, atFirst);
    // An upsampled map gains several columns per step (MobileNetV2 ×2: 2 every 16 px, stride 8).
    const stride = (second - first) / ((await colsAt(second)) - atFirst);
    if (!Number.isInteger(stride)) throw new Error(`${second - first} px per step of its grid`);
    return stride;
  }

  private async extractNow(img: ImageFrame, out?: Float32Array): Promise<FeatureMap> {
    if (this.closed) throw new Error("backbone is closed");
    const grid = this.gridFor(img.width, img.height);
    if (grid.rows < 1 || grid.cols < 1) {
      throw new Error(
        `image ${img.width}×${img.height} is smaller than one ${this.info.stride}px feature cell`,
      );
    }
    const nch = img.encoding === "mono8" ? 1 : 3;
    if (img.data.length < img.width * img.height * nch) {
      throw new Error(
        `image data has ${img.data.length} bytes, expected ${img.width * img.height * nch} for ${img.width}×${img.height} ${img.encoding}`,
      );
    }
    const w = grid.cols * this.info.stride;
    const h = grid.rows * this.info.stride;
    const fixed = this.fixedInput;
    if (fixed && (fixed.width !== w || fixed.height !== h))
      throw new Error(
        fixedInputMismatch(this.info.name, fixed, w, h, img, this.info.stride, this.info.inputWidth),
      );
    this.prepareInput(w, h);
    if (grid.strideX !== this.info.stride)
      this.input.downscaleInto(img, nch, w, h, this.info.inputWidth, this.inputBuf);
    else this.input.copyInto(img, nch, w, h, this.inputBuf);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.info.inputName]: this.inputTensor as ort.Tensor });
    } catch (err) {
      // onnxruntime names the node, not the cause a user can act on (e.g. an image too small for the
      // model's padding or pooling).
      const first = ((err as Error).message ?? String(err)).split("\n")[0];
      throw new Error(
        `backbone ${this.info.name} failed on a ${img.width}×${img.height} image (model input ${w}×${h}): ${first}`,
      );
    }
    const t = result[this.info.outputName] as ort.Tensor;
    try {
      const d = t.dims;
      const C = this.info.channels;
      const nchw = this.info.layout === "NCHW";
      const [gh, gw, gc] = nchw ? [d[2], d[3], d[1]] : [d[1], d[2], d[3]];
      if (d.length !== 4 || gh !== grid.rows || gw !== grid.cols || gc !== C) {
        throw new Error(
          `backbone ${this.info.name}: output [${d.join(",")}] for input ${w}×${h}; expected ${grid.rows}×${grid.cols} cells of ${C} channels (stride ${this.info.stride})${outputHint(d, w, h, grid, C, nchw)}`,
        );
      }
      const n = grid.rows * grid.cols;
      const data = out ?? new Float32Array(n * C);
      if (data.length !== n * C) throw new Error(`output buffer has ${data.length} floats, need ${n * C}`);
      const raw = t.data as Float32Array;
      if (nchw) {
        // CHW → HWC: walk the source linearly (cache-friendly reads), strided writes.
        for (let k = 0; k < C; k++) {
          const base = k * n;
          for (let i = 0, o = k; i < n; i++, o += C) data[o] = raw[base + i] as number;
        }
      } else {
        data.set(raw.subarray(0, n * C));
      }
      return {
        rows: grid.rows,
        cols: grid.cols,
        channels: C,
        strideX: grid.strideX,
        strideY: grid.strideY,
        data,
      };
    } finally {
      t.dispose();
    }
  }
}
