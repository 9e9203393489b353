// Backbone runner: an ONNX model (onnxruntime-node) that turns a camera image into a dense feature
// map, one C-vector per grid cell of `stride` pixels.
//
// Any model with this layout works: input float32 [1,3,H,W] (RGB), output float32 [1,C,H/s,W/s]
// (NCHW; `layout=NHWC` in the metadata is accepted too). What the runtime needs beyond the shapes
// lives in the model's metadata_props (see models/build-backbone.ts): `stride`, and the input
// normalisation `input_scale`, `mean`, `std` (model input = (pixel/255·input_scale − mean)/std).
// Without `stride` it is inferred from one probe run; without normalisation keys 0..1 RGB is fed.
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

import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import type { ImageFrame } from "../core/types.ts";

export interface FeatureGridSpec {
  rows: number;
  cols: number;
  strideX: number;
  strideY: number;
}

export interface FeatureMap {
  rows: number;
  cols: number;
  channels: number;
  strideX: number;
  strideY: number;
  /** Cell-major HWC: data[(r*cols+c)*channels + k]. */
  data: Float32Array;
}

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
 * Area (box) resampling weights along one axis: output pixel j averages source pixels over
 * [j·f, (j+1)·f), the edge pixels weighted by their overlap. Flat arrays: source start, tap count and
 * the taps' weights (summing to 1) from offset[j].
 */
export interface AreaTaps {
  start: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weight: Float32Array;
}

export function areaTaps(outLen: number, factor: number): AreaTaps {
  const start = new Int32Array(outLen);
  const count = new Int32Array(outLen);
  const offset = new Int32Array(outLen);
  const w: number[] = [];
  for (let j = 0; j < outLen; j++) {
    const a = j * factor;
    const b = (j + 1) * factor;
    // Integer factors land exactly on pixel edges; the epsilon keeps float error from adding a tap of ~0.
    const i0 = Math.floor(a + 1e-9);
    const i1 = Math.ceil(b - 1e-9);
    start[j] = i0;
    count[j] = i1 - i0;
    offset[j] = w.length;
    for (let i = i0; i < i1; i++) w.push((Math.min(b, i + 1) - Math.max(a, i)) / factor);
  }
  return { start, count, offset, weight: Float32Array.from(w) };
}

/**
 * The feature grid of a width×height camera image, in that image's pixels. Downscaled images
 * (wider than `input_width`) have cells of stride·width/inputWidth pixels; the grid covers the top-left
 * cols·strideX × rows·strideY pixels.
 */
export function featureGridFor(
  info: Pick<BackboneInfo, "stride" | "inputWidth">,
  width: number,
  height: number,
): FeatureGridSpec {
  const s = info.stride;
  const iw = info.inputWidth;
  if (!(iw > 0 && width > iw)) {
    return { rows: Math.floor(height / s), cols: Math.floor(width / s), strideX: s, strideY: s };
  }
  // Integer arithmetic for the rows: floor(height·iw/width / s) without a float rounding below a whole.
  const cell = (s * width) / iw;
  return {
    rows: Math.floor((height * iw) / (width * s)),
    cols: Math.floor(iw / s),
    strideX: cell,
    strideY: cell,
  };
}

/** Rows of a feature map for the given cells (r*cols+c), row-major cells.length × channels. */
export function gatherCells(map: FeatureMap, cells: ArrayLike<number>, out?: Float32Array): Float32Array {
  const C = map.channels;
  const n = cells.length;
  const dst = out && out.length >= n * C ? out : new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const cell = cells[i] as number;
    if (!(cell >= 0 && cell < map.rows * map.cols))
      throw new Error(`cell ${cell} outside the ${map.rows}×${map.cols} grid`);
    dst.set(map.data.subarray(cell * C, cell * C + C), i * C);
  }
  return dst;
}

/** A file in the package's models/ folder, found relative to this file or the package root. */
function bundledModelPath(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "models", file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../models", file);
}

/** The bundled filter-bank backbone (models/backbone.onnx). */
export function defaultBackbonePath(): string {
  return bundledModelPath("backbone.onnx");
}

/**
 * Backbones shipped in models/, selectable by name as `learner.backbone`: the filter bank (also the
 * empty string) and MobileNetV2 cut after block 13 (models/build-mobilenetv2.ts).
 */
export const BUNDLED_BACKBONES: Record<string, string> = {
  filterbank: "backbone.onnx",
  mobilenetv2: "mobilenetv2.onnx",
};

/** `learner.backbone` → model path: "" or a bundled name → that file in models/, anything else as given. */
export function resolveBackbonePath(backbone: string): string {
  const name = backbone.trim();
  if (name === "") return defaultBackbonePath();
  const file = BUNDLED_BACKBONES[name];
  return file ? bundledModelPath(file) : name;
}

const hashes = new Map<string, { mtimeMs: number; size: number; sha256: string }>();

/** sha256 of a model file (hex), cached per path while its size and mtime stay the same. */
export function modelSha256(path: string): string {
  const abs = resolve(path);
  const st = statSync(abs);
  const cached = hashes.get(abs);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.sha256;
  const sha256 = createHash("sha256").update(readFileSync(abs)).digest("hex");
  hashes.set(abs, { mtimeMs: st.mtimeMs, size: st.size, sha256 });
  return sha256;
}

// --- metadata_props without loading the whole model -------------------------------------------
// ModelProto.metadata_props is field 14 (StringStringEntryProto: key=1, value=2). onnxruntime-node
// does not expose custom metadata, and decoding a 100 MB ViT just to read a few strings is wasteful,
// so scan the top-level fields and skip everything else by length.

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) throw new Error(`varint runs past end at ${pos + i}`);
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos + i + 1];
    mul *= 128;
  }
  throw new Error(`varint longer than 10 bytes at ${pos}`);
}

function parseStringEntry(buf: Uint8Array): [string, string] {
  let key = "";
  let value = "";
  let pos = 0;
  const dec = new TextDecoder();
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    if ((tag & 7) !== 2) throw new Error(`unexpected wire type ${tag & 7} in metadata entry`);
    const [len, p2] = readVarint(buf, p1);
    const s = dec.decode(buf.subarray(p2, p2 + len));
    if (tag >>> 3 === 1) key = s;
    else if (tag >>> 3 === 2) value = s;
    pos = p2 + len;
  }
  return [key, value];
}

/** Reads an ONNX file's metadata_props (key → value). Throws if the file is not a protobuf ModelProto. */
export function readOnnxMetadata(path: string): Record<string, string> {
  const fd = openSync(path, "r");
  try {
    const out: Record<string, string> = {};
    const head = new Uint8Array(20);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, head, 0, head.length, pos);
      if (n === 0) break;
      const view = head.subarray(0, n);
      const [tag, p1] = readVarint(view, 0);
      const field = tag >>> 3;
      const wire = tag & 7;
      let next: number;
      if (wire === 0) {
        next = pos + readVarint(view, p1)[1];
      } else if (wire === 2) {
        const [len, p2] = readVarint(view, p1);
        if (field === 14) {
          const entry = new Uint8Array(len);
          readSync(fd, entry, 0, len, pos + p2);
          const [k, v] = parseStringEntry(entry);
          out[k] = v;
        }
        next = pos + p2 + len;
      } else if (wire === 1) {
        next = pos + p1 + 8;
      } else if (wire === 5) {
        next = pos + p1 + 4;
      } else {
        throw new Error(`${path}: not an ONNX model (protobuf wire type ${wire} at byte ${pos})`);
      }
      pos = next;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function parseTriple(
  s: string | undefined,
  fallback: number,
  key: string,
  path: string,
): [number, number, number] {
  if (s === undefined || s.trim() === "") return [fallback, fallback, fallback];
  const parts = s.split(",").map((x) => Number(x.trim()));
  if (parts.length === 1 && Number.isFinite(parts[0]))
    return [parts[0] as number, parts[0] as number, parts[0] as number];
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
    throw new Error(`${path}: metadata ${key}="${s}" must be one number or three comma-separated numbers`);
  }
  return parts as [number, number, number];
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

export class Backbone {
  readonly info: BackboneInfo;
  private readonly session: ort.InferenceSession;
  /** Per-channel lookup table pixel byte → model input value (3 × 256). */
  private readonly lut = new Float32Array(768);
  /** The same normalisation as an affine map (gain, offset) per channel, for averaged (downscaled) pixels. */
  private readonly gain = new Float32Array(3);
  private readonly offset = new Float32Array(3);
  /** Downscaling state, rebuilt when the camera size changes. */
  private area: { srcW: number; srcH: number; x: AreaTaps; y: AreaTaps; rows: Float32Array } | null = null;
  private inputBuf = new Float32Array(0);
  private inputTensor: ort.Tensor | null = null;
  private inputW = 0;
  private inputH = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    session: ort.InferenceSession,
    info: BackboneInfo,
    scale: number,
    mean: number[],
    std: number[],
  ) {
    this.session = session;
    this.info = info;
    for (let c = 0; c < 3; c++) {
      for (let v = 0; v < 256; v++)
        this.lut[c * 256 + v] = ((v / 255) * scale - (mean[c] ?? 0)) / (std[c] ?? 1);
      this.gain[c] = scale / 255 / (std[c] ?? 1);
      this.offset[c] = -(mean[c] ?? 0) / (std[c] ?? 1);
    }
  }

  get channels(): number {
    return this.info.channels;
  }
  /** The input normalisation as model input = gain·pixel + offset per RGB channel (pixel 0..255). */
  get inputAffine(): { gain: Float32Array; offset: Float32Array } {
    return { gain: this.gain.slice(), offset: this.offset.slice() };
  }
  get stride(): number {
    return this.info.stride;
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
      ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    });
    let session: ort.InferenceSession;
    let used = requested;
    try {
      session = await ort.InferenceSession.create(abs, sessionOptions(requested));
    } catch (err) {
      const nonCpu = requested.filter((p) => p !== "cpu");
      if (nonCpu.length === 0) throw new Error(`cannot load backbone ${abs}: ${(err as Error).message}`);
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
        throw new Error(`cannot load backbone ${abs}: ${(err2 as Error).message}`);
      }
    }

    const inputName = session.inputNames[0];
    if (!inputName) throw new Error(`backbone ${abs} has no inputs`);
    const outputName =
      metadata.output ?? (session.outputNames.includes("features") ? "features" : session.outputNames[0]);
    if (!outputName || !session.outputNames.includes(outputName)) {
      throw new Error(`backbone ${abs}: output "${outputName}" not among ${session.outputNames.join(", ")}`);
    }
    const layout = (metadata.layout ?? "NCHW").toUpperCase();
    if (layout !== "NCHW" && layout !== "NHWC")
      throw new Error(`backbone ${abs}: metadata layout="${layout}" must be NCHW or NHWC`);
    const scale = metadata.input_scale !== undefined ? Number(metadata.input_scale) : 1;
    if (!Number.isFinite(scale))
      throw new Error(`backbone ${abs}: metadata input_scale="${metadata.input_scale}" is not a number`);
    const mean = parseTriple(metadata.mean, 0, "mean", abs);
    const std = parseTriple(metadata.std, 1, "std", abs);
    if (std.some((s) => s === 0)) throw new Error(`backbone ${abs}: metadata std has a zero`);

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
    if (!(info.stride > 0) || !(info.channels > 0)) {
      // Probe with a 224×224 frame (divisible by 8, 14, 16, 32): stride = 224 / grid size.
      if (!(info.stride > 0))
        warn(`backbone ${abs}: no "stride" in metadata_props; inferring it from a probe run`);
      const probe = await backbone.runRaw(224, 224);
      const [gh, gw, c] = probe;
      info.channels = c;
      if (!(info.stride > 0)) {
        if (gh <= 0 || gw <= 0)
          throw new Error(`backbone ${abs}: probe output grid ${gh}×${gw} for a 224×224 input`);
        info.stride = Math.round(224 / gw);
        if (Math.round(224 / gh) !== info.stride) {
          throw new Error(`backbone ${abs}: non-square stride (224×224 → ${gh}×${gw}); set metadata stride`);
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

  /** Planar CHW fill of the top-left w×h crop at native resolution; mono8 is replicated to R=G=B. */
  private copyInto(img: ImageFrame, nch: number, w: number, h: number): void {
    const buf = this.inputBuf;
    const lut = this.lut;
    const plane = w * h;
    const src = img.data;
    if (nch === 3 && w === img.width) {
      // Whole rows: one flat pass (half the time of the row-by-row loop).
      const p2 = 2 * plane;
      for (let di = 0, si = 0; di < plane; di++, si += 3) {
        buf[di] = lut[src[si]!]!;
        buf[di + plane] = lut[256 + src[si + 1]!]!;
        buf[di + p2] = lut[512 + src[si + 2]!]!;
      }
      return;
    }
    for (let y = 0; y < h; y++) {
      let si = y * img.width * nch;
      let di = y * w;
      if (nch === 3) {
        for (let x = 0; x < w; x++, si += 3, di++) {
          buf[di] = lut[src[si] as number] as number;
          buf[di + plane] = lut[256 + (src[si + 1] as number)] as number;
          buf[di + 2 * plane] = lut[512 + (src[si + 2] as number)] as number;
        }
      } else {
        for (let x = 0; x < w; x++, si++, di++) {
          const v = src[si] as number;
          buf[di] = lut[v] as number;
          buf[di + plane] = lut[256 + v] as number;
          buf[di + 2 * plane] = lut[512 + v] as number;
        }
      }
    }
  }

  /**
   * Planar CHW fill of the model input from the image box-filtered by f = width/inputWidth: model pixel
   * (x, y) is the mean of camera pixels [x·f, (x+1)·f) × [y·f, (y+1)·f) (fractional edges weighted), so
   * model cell (r, c) is exactly camera cell (r, c) of the grid gridFor() reports. Separable: every
   * camera row is filtered horizontally once into `rows`, then the rows are combined vertically.
   * Normalisation is affine, so it is applied to the averaged bytes.
   */
  private downscaleInto(img: ImageFrame, nch: number, w: number, h: number): void {
    const f = img.width / this.info.inputWidth;
    if (Number.isInteger(f)) {
      // A whole factor (640→320, 1280→320, 1920→320): plain f×f block sums.
      blockDownscaleInto(img.data, img.width, nch, f, w, h, this.gain, this.offset, this.inputBuf);
      return;
    }
    let a = this.area;
    if (
      !a ||
      a.srcW !== img.width ||
      a.srcH !== img.height ||
      a.x.start.length !== w ||
      a.y.start.length !== h
    ) {
      const x = areaTaps(w, f);
      const y = areaTaps(h, f);
      const srcRows = (y.start[h - 1] ?? 0) + (y.count[h - 1] ?? 0);
      if (srcRows > img.height)
        throw new Error(`downscale of ${img.width}×${img.height} reads row ${srcRows - 1}`);
      a = { srcW: img.width, srcH: img.height, x, y, rows: new Float32Array(3 * srcRows * w) };
      this.area = a;
    }
    const { x: tx, rows } = a;
    const src = img.data;
    const srcRows = rows.length / (3 * w);
    const plane = srcRows * w;
    for (let sy = 0; sy < srcRows; sy++) {
      const rowBase = sy * img.width * nch;
      let o = sy * w;
      for (let ox = 0; ox < w; ox++, o++) {
        const x0 = tx.start[ox]!;
        const n = tx.count[ox]!;
        const wo = tx.offset[ox]!;
        let r = 0;
        let g = 0;
        let b = 0;
        if (nch === 3) {
          for (let k = 0, si = rowBase + 3 * x0; k < n; k++, si += 3) {
            const wk = tx.weight[wo + k]!;
            r += wk * src[si]!;
            g += wk * src[si + 1]!;
            b += wk * src[si + 2]!;
          }
        } else {
          for (let k = 0, si = rowBase + x0; k < n; k++, si++) r += tx.weight[wo + k]! * src[si]!;
          g = b = r;
        }
        rows[o] = r;
        rows[o + plane] = g;
        rows[o + 2 * plane] = b;
      }
    }
    const ty = a.y;
    const buf = this.inputBuf;
    const out = w * h;
    for (let c = 0; c < 3; c++) {
      const gain = this.gain[c]!;
      const off = this.offset[c]!;
      const rc = c * plane;
      const bc = c * out;
      for (let oy = 0; oy < h; oy++) {
        const y0 = ty.start[oy]!;
        const n = ty.count[oy]!;
        const wo = ty.offset[oy]!;
        const d = bc + oy * w;
        const first = rc + y0 * w;
        const w0 = ty.weight[wo]!;
        for (let ox = 0; ox < w; ox++) buf[d + ox] = w0 * rows[first + ox]!;
        for (let k = 1; k < n; k++) {
          const wk = ty.weight[wo + k]!;
          const s = rc + (y0 + k) * w;
          for (let ox = 0; ox < w; ox++) buf[d + ox]! += wk * rows[s + ox]!;
        }
        for (let ox = 0; ox < w; ox++) buf[d + ox] = gain * buf[d + ox]! + off;
      }
    }
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
    this.prepareInput(w, h);
    if (grid.strideX !== this.info.stride) this.downscaleInto(img, nch, w, h);
    else this.copyInto(img, nch, w, h);
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
          `backbone ${this.info.name}: output [${d.join(",")}] for input ${w}×${h}; expected ${grid.rows}×${grid.cols} cells of ${C} channels (stride ${this.info.stride})`,
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

/**
 * Planar CHW model input (w×h, `gain`·mean + `offset` per channel) from k×k pixel blocks of a packed
 * rgb8 or mono8 image `srcWidth` pixels wide: the working-resolution downscale for a whole factor.
 */
export function blockDownscaleInto(
  src: Uint8Array,
  srcWidth: number,
  nch: number,
  k: number,
  w: number,
  h: number,
  gain: Float32Array,
  offset: Float32Array,
  buf: Float32Array,
): void {
  if (k !== 2 || nch !== 3) {
    blockDownscaleLoopsInto(src, srcWidth, nch, k, w, h, gain, offset, buf);
    return;
  }
  // The common case (640×480 → 320): 2×2 RGB blocks unrolled, ~2× faster than the loops. The sums
  // are of integers, exact in any order, so the result is the same to the bit (tested).
  const plane = w * h;
  const p2 = 2 * plane;
  const gr = gain[0]! / 4;
  const gg = gain[1]! / 4;
  const gb = gain[2]! / 4;
  const or = offset[0]!;
  const og = offset[1]!;
  const ob = offset[2]!;
  const rowStride = srcWidth * 3;
  for (let oy = 0; oy < h; oy++) {
    let s = 2 * oy * rowStride;
    let t = s + rowStride;
    for (let ox = 0, di = oy * w; ox < w; ox++, di++, s += 6, t += 6) {
      const r = src[s]! + src[s + 3]! + src[t]! + src[t + 3]!;
      const g = src[s + 1]! + src[s + 4]! + src[t + 1]! + src[t + 4]!;
      const b = src[s + 2]! + src[s + 5]! + src[t + 2]! + src[t + 5]!;
      buf[di] = gr * r + or;
      buf[di + plane] = gg * g + og;
      buf[di + p2] = gb * b + ob;
    }
  }
}

/** blockDownscaleInto for any whole factor and rgb8/mono8 (exported for the test of the fast path). */
export function blockDownscaleLoopsInto(
  src: Uint8Array,
  srcWidth: number,
  nch: number,
  k: number,
  w: number,
  h: number,
  gain: Float32Array,
  offset: Float32Array,
  buf: Float32Array,
): void {
  const plane = w * h;
  const inv = 1 / (k * k);
  const gr = gain[0]! * inv;
  const gg = gain[1]! * inv;
  const gb = gain[2]! * inv;
  const or = offset[0]!;
  const og = offset[1]!;
  const ob = offset[2]!;
  const rowStride = srcWidth * nch;
  const step = k * nch;
  for (let oy = 0; oy < h; oy++) {
    const rowBase = oy * k * rowStride;
    let di = oy * w;
    for (let ox = 0; ox < w; ox++, di++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const base = rowBase + ox * step;
      for (let dy = 0; dy < k; dy++) {
        let si = base + dy * rowStride;
        if (nch === 3) {
          for (let dx = 0; dx < k; dx++, si += 3) {
            r += src[si]!;
            g += src[si + 1]!;
            b += src[si + 2]!;
          }
        } else {
          for (let dx = 0; dx < k; dx++, si++) r += src[si]!;
        }
      }
      if (nch === 1) g = b = r;
      buf[di] = gr * r + or;
      buf[di + plane] = gg * g + og;
      buf[di + 2 * plane] = gb * b + ob;
    }
  }
}
