// Builds the bundled default backbone, models/backbone.onnx: a fixed multi-scale filter bank written
// as an ONNX graph, so that the runtime treats it exactly like a user's exported CNN/ViT.
//
// Why a filter bank and not a trained CNN: the repo must rebuild its model byte for byte from source,
// offline, in seconds, and a random-weight CNN carries no texture information. Hand-designed filters
// (colour-opponent channels, oriented Gabor pairs and a Laplacian-of-Gaussian over an image pyramid,
// rectified and pooled to local energy, plus local mean colour and contrast) are the classic texture
// descriptor and separate terrain like grass/gravel/asphalt well enough for an online head to learn
// from. A user with a GPU can swap in DINOv2/ResNet features (see the learning notes in the README).
//
// Cost is what shaped the graph (the whole pipeline must run ≥ 10× real time at 320×240 on 2 cores):
// the 7×7 bank starts at half resolution, the finest octave comes from 3×3 filters evaluated at every
// other pixel, and pooling windows are summed in two stages (see poolTo).
//
// Usage: node --import tsx models/build-backbone.ts [--out models/backbone.onnx] [--stride 8] [--levels 3]
//        [--invariant 0] (the 44 raw channels, oriented Gabor energies and mean luminance included)
// The output is deterministic: same options → same bytes (a test checks the committed file).

import { renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { invariantChannelGroups } from "../src/learning/invariant-channels.ts";
import {
  attrString,
  encodeModel,
  FLOAT,
  type INodeProto,
  INT64,
  type ITensorProto,
  attrInt as int,
  attrInts as ints,
  valueInfo,
} from "../src/learning/onnx-graph.ts";

export interface BackboneBuildOptions {
  /** Output stride in pixels (power of two, ≥ 2^(firstLevel + levels − 1)). */
  stride: number;
  /**
   * Pyramid octave the Gabor/LoG bank starts at: 0 = full resolution, 1 = half. At 1 the 7×7 bank
   * runs on a quarter of the pixels (the full-resolution bank was ~3/4 of the model's time) and the
   * finest octave is covered by the cheap 3×3 `fineFilters` instead.
   */
  firstLevel: number;
  /** Pyramid levels (octaves) the bank runs at: level l sees the image downsampled by 2^l. */
  levels: number;
  /** Gabor/LoG kernel size (odd). */
  kernelSize: number;
  /** Gabor orientations per level (each gives an even and an odd filter). */
  orientations: number;
  /** 3×3 Laplacian and x/y derivative energies of full-resolution luminance (the finest texture). */
  fineFilters: boolean;
  /** Also 3×3 Laplacian energies of the two full-resolution colour-opponent channels. */
  fineChroma: boolean;
  /** Mean colour and std from full-resolution pixels even when the bank starts at half resolution. */
  fullResStats: boolean;
  /** Energies are reported as log(energy + eps): filter energies vary multiplicatively with contrast. */
  logEps: number;
  /** Pooling window in cells (window = poolCells·stride, step = stride). */
  poolCells: number;
  /** When > 0, every channel is also pooled over this wider window (context), doubling the channels. */
  contextCells: number;
  /**
   * Output only what does not change with the robot's heading or the camera's exposure: each scale's
   * Gabor log energies averaged over orientations and phases, the x/y derivative energies averaged,
   * mean luminance dropped (21 channels instead of 44). Oriented texture seen from another heading
   * otherwise reads as other ground, to the head as to the novelty; docs/learning.md has the
   * measurements.
   */
  invariant: boolean;
}

export const DEFAULT_BUILD_OPTIONS: BackboneBuildOptions = {
  stride: 8,
  firstLevel: 1,
  levels: 3,
  kernelSize: 7,
  orientations: 4,
  fineFilters: true,
  fineChroma: true,
  fullResStats: true,
  logEps: 1e-3,
  poolCells: 4,
  contextCells: 0,
  invariant: true,
};

function floatTensor(name: string, dims: number[], values: Float32Array): ITensorProto {
  // raw_data little-endian float32 (every platform onnxruntime-node ships for is little-endian).
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { name, dims, dataType: FLOAT, rawData: bytes.slice() };
}

/** Unit-L2 kernel so that white noise of variance σ² gives responses of variance σ² at every filter. */
function normaliseL2(k: Float64Array): Float64Array {
  let s = 0;
  for (const v of k) s += v * v;
  const n = Math.sqrt(s) || 1;
  for (let i = 0; i < k.length; i++) k[i] = (k[i] ?? 0) / n;
  return k;
}

function zeroMean(k: Float64Array): Float64Array {
  let s = 0;
  for (const v of k) s += v;
  const m = s / k.length;
  for (let i = 0; i < k.length; i++) k[i] = (k[i] ?? 0) - m;
  return k;
}

/** Even (cos) or odd (sin) Gabor at angle theta; wavelength ≈ 4 px gives one octave per pyramid level. */
function gabor(size: number, theta: number, odd: boolean): Float64Array {
  const half = (size - 1) / 2;
  const sigma = size / 4.4;
  const wavelength = 4;
  const k = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x - half;
      const dy = y - half;
      const xr = dx * Math.cos(theta) + dy * Math.sin(theta);
      const env = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      const phase = (2 * Math.PI * xr) / wavelength;
      k[y * size + x] = env * (odd ? Math.sin(phase) : Math.cos(phase));
    }
  }
  // An even Gabor has a DC component; remove it so flat colour gives zero texture energy.
  return normaliseL2(zeroMean(k));
}

function laplacianOfGaussian(size: number, sigma: number): Float64Array {
  const half = (size - 1) / 2;
  const k = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r2 = (x - half) ** 2 + (y - half) ** 2;
      k[y * size + x] = (r2 / (sigma * sigma) - 2) * Math.exp(-r2 / (2 * sigma * sigma));
    }
  }
  return normaliseL2(zeroMean(k));
}

export interface BackboneGraph {
  bytes: Uint8Array;
  channels: number;
  channelNames: string[];
}

export function buildBackbone(opts: BackboneBuildOptions = DEFAULT_BUILD_OPTIONS): BackboneGraph {
  const { stride, firstLevel, levels, kernelSize: ks, orientations, logEps } = opts;
  const lastLevel = firstLevel + levels - 1;
  if (!Number.isInteger(Math.log2(stride)) || stride < 2 ** lastLevel || stride < 2) {
    throw new Error(`stride ${stride} must be a power of two ≥ 2^(firstLevel+levels−1) = ${2 ** lastLevel}`);
  }
  if (ks % 2 !== 1) throw new Error(`kernelSize ${ks} must be odd`);
  if (!(Number.isInteger(firstLevel) && firstLevel >= 0 && Number.isInteger(levels) && levels >= 1))
    throw new Error(`firstLevel ${firstLevel} / levels ${levels}: whole numbers, ≥ 0 / ≥ 1`);
  // 0 pooling cells or a fractional orientation count built a graph onnxruntime refuses to load.
  for (const [name, v, min] of [
    ["poolCells", opts.poolCells, 1],
    ["contextCells", opts.contextCells, 0],
    ["orientations", orientations, 0],
  ] as const)
    if (!(Number.isInteger(v) && v >= min)) throw new Error(`${name} ${v} must be a whole number ≥ ${min}`);

  const nodes: INodeProto[] = [];
  const inits: ITensorProto[] = [];
  const outputs: string[] = [];
  const names: string[] = [];
  let nodeId = 0;
  const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => {
    nodes.push({ name: `${opType}_${nodeId++}`, opType, input, output, attribute });
  };
  const constant = (name: string, value: number) => {
    inits.push(floatTensor(name, [], Float32Array.of(value)));
    return name;
  };
  const reflect = attrString("mode", "reflect");
  const padInit = (name: string, p: number) => {
    inits.push({ name, dims: [8], dataType: INT64, int64Data: [0, 0, p, p, 0, 0, p, p] });
    return name;
  };

  // Pooling to the output grid: a window of poolCells cells at a step of one cell, centred on the cell.
  // Texture energy averaged over 8×8 px is noisy; 4 cells (32×32 px) roughly doubled the ranking
  // quality of the learned roughness on the simulator's default world (Spearman 0.35 → 0.56 over the
  // last minute, offline replay of the pipeline's own training rows), at the price of blurrier terrain
  // boundaries. count_include_pad=0 keeps border cells unbiased. Output = floor(H/stride) at every
  // level because floor(floor(H/2)/…) = floor(H/2^k).
  // Done in two stages when a cell spans an even number of pixels p: a non-overlapping (p/2)² mean to
  // half cells, then the window over half cells. Same numbers as one (cells·p)² window (every half
  // cell is whole, so the pad-excluding counts agree), but each pixel is added once instead of
  // cells² times: the single large window cost as much as the level's filters.
  const poolTo = (input: string, output: string, level: number, cells = opts.poolCells) => {
    const p = stride / 2 ** level;
    const window = (src: string, dst: string, k: number, step: number, pad: number) =>
      node(
        "AveragePool",
        [src],
        [dst],
        [
          ints("kernel_shape", [k, k]),
          ints("strides", [step, step]),
          ints("pads", [pad, pad, pad, pad]),
          int("count_include_pad", 0),
        ],
      );
    if (p % 2 === 0) {
      const q = p / 2;
      window(input, `${output}_half`, q, q, 0);
      window(`${output}_half`, output, 2 * cells, 2, cells - 1);
      return;
    }
    // One pixel per cell: an even window cannot be centred on a cell, so it grows by one cell.
    const k = ((cells - 1) * p) % 2 === 0 ? cells : cells + 1;
    window(input, output, k * p, p, ((k - 1) * p) / 2);
  };
  const logEnergy = (input: string, output: string) => {
    node("Add", [input, constant(`eps_${output}`, logEps)], [`${output}_eps`]);
    node("Log", [`${output}_eps`], [output]);
  };

  // Colour-opponent transform: luminance, red–green, blue–yellow. Separates "what texture" from "what
  // colour", which is what lets the head tell dry grass from green grass at the same roughness.
  const opponent = [1 / 3, 1 / 3, 1 / 3, 1, -1, 0, 0.5, 0.5, -1];
  // Binomial [1 3 3 1]/8 anti-alias kernel of the pyramid (4×4, stride 2, reflect pad 1: output pixel j
  // is centred on input pixels 2j, 2j+1, so the grid stays aligned with the cells).
  const b = [1, 3, 3, 1];
  const binomial = (y: number, x: number) => ((b[y] ?? 0) * (b[x] ?? 0)) / 64;
  // Reflect padding instead of the convolutions' zero padding: zeros would put a strong artificial
  // edge (texture energy) into every border cell.
  padInit("pads_blur", 1);
  padInit("pads_filter", (ks - 1) / 2);

  // Half resolution straight from the image: opponent transform and anti-alias blur folded into one
  // stride-2 conv (linear, so the order does not matter), plus, with fineFilters, 3×3 Laplacian and
  // x/y-derivative filters on luminance (and Laplacians of the opponent channels) for the finest
  // octave (2–4 px periods: gravel grain, grass blades at a distance). They are evaluated at every
  // other pixel only: a mean energy over a 32×32 px window needs 256 samples no more than 1024, and
  // they cost a quarter.
  const fine = opts.fineFilters && firstLevel > 0;
  const fineKernels = [
    [0, 1, 0, 1, -4, 1, 0, 1, 0],
    [-1, 0, 1, -2, 0, 2, -1, 0, 1],
    [-1, -2, -1, 0, 0, 0, 1, 2, 1],
  ].map((k) => normaliseL2(Float64Array.from(k)));
  const fineChroma = fine && opts.fineChroma;
  const nFine = fine ? (fineChroma ? 5 : 3) : 0;
  const stage1Out = 3 + nFine;
  const wStage1 = new Float32Array(stage1Out * 3 * 16);
  for (let o = 0; o < 3; o++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++)
          wStage1[(o * 3 + c) * 16 + y * 4 + x] = (opponent[o * 3 + c] ?? 0) * binomial(y, x);
  if (fine) {
    // Top-left 3×3 of the 4×4 window: centred on input pixel 2j, half a pixel off the blur's centre,
    // which a 32 px pooling window does not notice.
    for (const [f, k] of fineKernels.entries())
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 3; y++)
          for (let x = 0; x < 3; x++) wStage1[((3 + f) * 3 + c) * 16 + y * 4 + x] = (k[y * 3 + x] ?? 0) / 3;
    // Colour-opponent Laplacians: fine colour texture (leaf litter, flowers in grass).
    if (fineChroma)
      for (let f = 0; f < 2; f++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < 3; y++)
            for (let x = 0; x < 3; x++)
              wStage1[((6 + f) * 3 + c) * 16 + y * 4 + x] =
                (opponent[(1 + f) * 3 + c] ?? 0) * (fineKernels[0]?.[y * 3 + x] ?? 0);
  }
  inits.push(floatTensor("w_stage1", [stage1Out, 3, 4, 4], wStage1));
  node("Pad", ["image", "pads_blur"], ["image_pad"], [reflect]);
  if (fine) {
    node("Conv", ["image_pad", "w_stage1"], ["stage1"], [ints("strides", [2, 2])]);
    inits.push({ name: "split_stage1", dims: [2], dataType: INT64, int64Data: [3, nFine] });
    node("Split", ["stage1", "split_stage1"], ["opp1", "fine_resp"], [int("axis", 1)]);
  } else {
    node("Conv", ["image_pad", "w_stage1"], ["opp1"], [ints("strides", [2, 2])]);
  }

  // Local mean colour and local contrast (std) per cell, from full-resolution pixels unless told
  // otherwise: the std then carries the energy of every octave, colour included. Both this and the
  // chroma fine filters cost little, and without them (half-resolution std, luminance-only fine
  // filters) the confidence AUROC on the default sim world fell from 0.83 (first version) to 0.76;
  // with them it was 0.82 (ρ 0.80 vs 0.79).
  const statsLevel = firstLevel > 0 && !opts.fullResStats ? 1 : 0;
  if (statsLevel === 0) {
    inits.push(floatTensor("w_opponent", [3, 3, 1, 1], Float32Array.from(opponent)));
    node("Conv", ["image", "w_opponent"], ["opp0"]);
  }
  const statsIn = `opp${statsLevel}`;
  poolTo(statsIn, "mean_colour", statsLevel);
  outputs.push("mean_colour");
  names.push("mean_L", "mean_RG", "mean_BY");
  node("Mul", [statsIn, statsIn], ["opp_sq"]);
  poolTo("opp_sq", "mean_sq", statsLevel);
  node("Mul", ["mean_colour", "mean_colour"], ["mean_colour_sq"]);
  node("Sub", ["mean_sq", "mean_colour_sq"], ["var_raw"]);
  node("Relu", ["var_raw"], ["var"]); // rounding can make E[x²]−E[x]² slightly negative
  node("Sqrt", ["var"], ["std"]);
  logEnergy("std", "log_std");
  outputs.push("log_std");
  names.push("logstd_L", "logstd_RG", "logstd_BY");

  if (fine) {
    node("Abs", ["fine_resp"], ["fine_rect"]);
    poolTo("fine_rect", "fine_energy", 1);
    logEnergy("fine_energy", "log_fine");
    outputs.push("log_fine");
    names.push("fine_lap", "fine_dx", "fine_dy");
    if (fineChroma) names.push("fine_lap_RG", "fine_lap_BY");
  }

  // Filter weights, identical at every level (the pyramid provides the scales).
  const lumFilters: Float64Array[] = [];
  const lumNames: string[] = [];
  for (let o = 0; o < orientations; o++) {
    const theta = (Math.PI * o) / orientations;
    const deg = Math.round((180 * o) / orientations);
    lumFilters.push(gabor(ks, theta, false), gabor(ks, theta, true));
    lumNames.push(`gabor${deg}e`, `gabor${deg}o`);
  }
  lumFilters.push(laplacianOfGaussian(ks, ks / 6));
  lumNames.push("log_L");
  const wLum = new Float32Array(lumFilters.length * ks * ks);
  for (const [i, f] of lumFilters.entries()) wLum.set(f, i * ks * ks);
  inits.push(floatTensor("w_lum", [lumFilters.length, 1, ks, ks], wLum));
  const logC = laplacianOfGaussian(ks, ks / 6);
  const wChroma = new Float32Array(2 * ks * ks);
  wChroma.set(logC, 0);
  wChroma.set(logC, ks * ks);
  inits.push(floatTensor("w_chroma", [2, 1, ks, ks], wChroma));
  const wBlur = new Float32Array(3 * 16);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) wBlur[c * 16 + y * 4 + x] = binomial(y, x);
  inits.push(floatTensor("w_blur", [3, 1, 4, 4], wBlur));
  inits.push({ name: "split_lc", dims: [2], dataType: INT64, int64Data: [1, 2] });

  for (let l = 2; l <= lastLevel; l++) {
    node("Pad", [`opp${l - 1}`, "pads_blur"], [`opp${l - 1}_blurpad`], [reflect]);
    node("Conv", [`opp${l - 1}_blurpad`, "w_blur"], [`opp${l}`], [int("group", 3), ints("strides", [2, 2])]);
  }
  for (let l = firstLevel; l <= lastLevel; l++) {
    const opp = `opp${l}`;
    node("Pad", [opp, "pads_filter"], [`opp${l}_padded`], [reflect]);
    node("Split", [`opp${l}_padded`, "split_lc"], [`lum${l}`, `chroma${l}`], [int("axis", 1)]);
    node("Conv", [`lum${l}`, "w_lum"], [`lum_resp${l}`]);
    node("Conv", [`chroma${l}`, "w_chroma"], [`chroma_resp${l}`], [int("group", 2)]);
    node("Concat", [`lum_resp${l}`, `chroma_resp${l}`], [`resp${l}`], [int("axis", 1)]);
    node("Abs", [`resp${l}`], [`rect${l}`]);
    poolTo(`rect${l}`, `energy${l}`, l);
    logEnergy(`energy${l}`, `log_energy${l}`);
    outputs.push(`log_energy${l}`);
    for (const n of [...lumNames, "log_RG", "log_BY"]) names.push(`${n}_s${l}`);
    if (opts.contextCells > 0) {
      poolTo(`rect${l}`, `ctx_energy${l}`, l, opts.contextCells);
      logEnergy(`ctx_energy${l}`, `ctx_log_energy${l}`);
      outputs.push(`ctx_log_energy${l}`);
      for (const n of [...lumNames, "log_RG", "log_BY"]) names.push(`${n}_s${l}_ctx`);
    }
  }
  if (opts.contextCells > 0) {
    poolTo(statsIn, "ctx_mean_colour", statsLevel, opts.contextCells);
    outputs.push("ctx_mean_colour");
    names.push("mean_L_ctx", "mean_RG_ctx", "mean_BY_ctx");
  }
  let outNames = names;
  if (opts.invariant) {
    node("Concat", outputs, ["raw_features"], [int("axis", 1)]);
    const { groups, names: groupNames } = invariantChannelGroups(names);
    const w = new Float32Array(groups.length * names.length);
    groups.forEach((g, d) => {
      for (const c of g) w[d * names.length + c] = 1 / g.length;
    });
    inits.push(floatTensor("w_invariant", [groups.length, names.length, 1, 1], w));
    node("Conv", ["raw_features", "w_invariant"], ["features"]);
    outNames = groupNames;
  } else {
    node("Concat", outputs, ["features"], [int("axis", 1)]);
  }

  const channels = outNames.length;
  const metadata: Record<string, string> = {
    stride: String(stride),
    channels: String(channels),
    // Model input = (pixel / 255 * input_scale − mean) / std, per RGB channel.
    input_scale: "1",
    mean: "0,0,0",
    std: "1,1,1",
    layout: "NCHW",
    channel_names: outNames.join(","),
    generator: "models/build-backbone.ts",
    options: JSON.stringify(opts),
  };
  const bytes = encodeModel({
    docString:
      "Multi-scale colour-opponent Gabor/LoG filter-bank texture features (terrain-learner default backbone)",
    graphName: "filterbank",
    nodes,
    initializers: inits,
    inputs: [valueInfo("image", [1, 3, "height", "width"])],
    outputs: [valueInfo("features", [1, channels, "grid_height", "grid_width"])],
    metadata,
  });
  return { bytes, channels, channelNames: outNames };
}

const USAGE =
  "usage: build-backbone.ts [--out FILE] [--stride 8] [--first-level 1] [--levels 3] [--fine 1] [--fine-chroma 1] [--full-res-stats 1] [--kernel 7] [--orientations 4] [--pool 4] [--context 0] [--invariant 1]";

function parseArgs(argv: string[]): { out: string; opts: BackboneBuildOptions } {
  const here = dirname(fileURLToPath(import.meta.url));
  let out = resolve(here, "backbone.onnx");
  const opts = { ...DEFAULT_BUILD_OPTIONS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--out" && v) out = resolve(v);
    else if (a === "--stride" && v) opts.stride = Number(v);
    else if (a === "--levels" && v) opts.levels = Number(v);
    else if (a === "--first-level" && v) opts.firstLevel = Number(v);
    else if (a === "--fine" && v) opts.fineFilters = v === "1" || v === "true";
    else if (a === "--fine-chroma" && v) opts.fineChroma = v === "1" || v === "true";
    else if (a === "--full-res-stats" && v) opts.fullResStats = v === "1" || v === "true";
    else if (a === "--kernel" && v) opts.kernelSize = Number(v);
    else if (a === "--orientations" && v) opts.orientations = Number(v);
    else if (a === "--pool" && v) opts.poolCells = Number(v);
    else if (a === "--context" && v) opts.contextCells = Number(v);
    else if (a === "--invariant" && v) opts.invariant = v === "1" || v === "true";
    else
      throw new Error(
        `unknown argument ${a}${v === undefined && a?.startsWith("--") ? " (or no value)" : ""}; ${USAGE}`,
      );
    i++;
  }
  return { out, opts };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    process.exit(0);
  }
  try {
    const { out, opts } = parseArgs(argv);
    const { bytes, channels } = buildBackbone(opts);
    // A temporary name first: an interrupted or failed write leaves the previous model.
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
    console.log(`wrote ${out}: ${bytes.length} bytes, ${channels} channels, stride ${opts.stride}`);
  } catch (err) {
    console.error(`build-backbone: ${(err as Error).message}`);
    process.exit(2);
  }
}
