// Which backbone channels does a compressed camera stream change? The same drive stored twice (raw
// frames, and the demo's JPEG 95 frames), every Nth frame of each run through one backbone, cells of
// the lower half of the image (the ground) compared frame by frame: per channel the mean shift
// (JPEG − raw) and mean |difference| in units of the channel's spread over the raw cells. A channel
// shifted by many of its own standard deviations reads something JPEG removes. With --luminance,
// each channel's correlation with the cell's mean luminance (`mean_L`, present in banks built with
// --invariant 0) over the raw cells: a fine colour channel that follows brightness reads the
// camera's shot noise rather than the ground.
//
//   node --import tsx bench/jpeg-channels.ts RAW.mcap JPEG.mcap [--backbone FILE] [--every 30] [--luminance]
//
// Bags: `sim --out` (raw) and the demo's cache (.cache/<world>-world-seed<N>-jpeg95.mcap), the same
// world and seed. Results: docs/learning.md, "What JPEG frames take from the colour channels".

import { parseArgs } from "node:util";
import { pearson } from "../src/eval/metrics.ts";
import { openBag } from "../src/io/bag/index.ts";
import { compressedFromRos, imageFromRos } from "../src/io/ros/convert.ts";
import { decodeCompressed } from "../src/io/ros/decode-image.ts";
import { Backbone, resolveBackbonePath } from "../src/learning/backbone.ts";
import { readOnnxMetadata } from "../src/learning/onnx-metadata.ts";

const USAGE = `usage: node --import tsx bench/jpeg-channels.ts RAW.mcap JPEG.mcap [options]

  --backbone FILE   ONNX feature extractor (default: the bundled filter bank)
  --every N         use every Nth camera frame (default 30)
  --luminance       also each channel's correlation with mean_L over the raw cells
  --json            print JSON instead of a table`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backbone: { type: "string" },
    every: { type: "string", default: "30" },
    luminance: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [rawPath, jpegPath] = positionals;
const every = Number(values.every);
if (!rawPath || !jpegPath || !(every >= 1)) {
  console.error(USAGE);
  process.exit(2);
}

const modelPath = resolveBackbonePath(values.backbone ?? "");
const names = readOnnxMetadata(modelPath).channel_names?.split(",");
const backbone = await Backbone.load(modelPath, { intraOpThreads: 1 });
const C = backbone.channels;
if (names?.length !== C) throw new Error(`${modelPath}: no channel_names for its ${C} channels`);
if (values.luminance && !names.includes("mean_L")) {
  console.error(`${modelPath} has no mean_L channel: --luminance needs a bank built with --invariant 0`);
  process.exit(2);
}

/** Lower-half cells of every Nth frame, keyed by stamp (ms). */
async function ground(path: string): Promise<Map<number, Float32Array>> {
  const out = new Map<number, Float32Array>();
  const bag = await openBag(path);
  let i = 0;
  for await (const e of bag.messages({ topics: ["/camera/image_raw", "/camera/image_raw/compressed"] })) {
    if (e.type !== "message" || i++ % every) continue;
    const img = e.topic.endsWith("/compressed")
      ? await decodeCompressed(compressedFromRos(e.message))
      : imageFromRos(e.message);
    const f = await backbone.extract(img);
    const from = Math.floor(f.rows / 2) * f.cols * C;
    out.set(Math.round(img.stamp * 1000), f.data.slice(from));
  }
  await bag.close();
  return out;
}

let raw: Map<number, Float32Array>;
let jpeg: Map<number, Float32Array>;
try {
  raw = await ground(rawPath);
  jpeg = await ground(jpegPath);
} catch (err) {
  console.error(`jpeg-channels: ${(err as Error).message}`);
  process.exit(1);
} finally {
  await backbone.close();
}

const sum = new Float64Array(C);
const sumSq = new Float64Array(C);
const absDiff = new Float64Array(C);
const shift = new Float64Array(C);
const L = names.indexOf("mean_L");
const withL = values.luminance;
/** Raw cell values per channel, for the correlations with mean_L. */
const columns: number[][] = withL ? names.map(() => []) : [];
let n = 0;
let frames = 0;
for (const [stamp, a] of raw) {
  const b = jpeg.get(stamp);
  if (!b) continue;
  frames++;
  for (let o = 0; o < a.length; o += C, n++) {
    for (let k = 0; k < C; k++) {
      const x = a[o + k]!;
      const d = b[o + k]! - x;
      sum[k] = sum[k]! + x;
      sumSq[k] = sumSq[k]! + x * x;
      absDiff[k] = absDiff[k]! + Math.abs(d);
      shift[k] = shift[k]! + d;
      if (withL) columns[k]!.push(x);
    }
  }
}
if (!n) {
  console.error("no frame stamped alike in both bags: are they the same world and seed?");
  process.exit(1);
}

const rows = names.map((name, k) => {
  const mean = sum[k]! / n;
  const sd = Math.sqrt(Math.max(sumSq[k]! / n - mean * mean, 0));
  const row: Record<string, number | string | null> = {
    channel: name,
    rawSd: sd,
    shiftSd: shift[k]! / n / sd,
    absDiffSd: absDiff[k]! / n / sd,
  };
  if (withL) row.rWithMeanL = pearson(columns[k]!, columns[L]!);
  return row;
});

if (values.json) {
  console.log(
    JSON.stringify({ raw: rawPath, jpeg: jpegPath, backbone: modelPath, frames, cells: n, channels: rows }),
  );
} else {
  console.log(`${frames} frames, ${n} cells (lower half), ${modelPath}`);
  const f = (v: unknown) => (typeof v === "number" ? v.toFixed(3).padStart(8) : "");
  console.log(`${"channel".padEnd(14)} raw sd   shift/sd |diff|/sd${withL ? "  r(mean_L)" : ""}`);
  for (const r of rows)
    console.log(
      `${String(r.channel).padEnd(14)}${f(r.rawSd)}${f(r.shiftSd)}${f(r.absDiffSd)}${withL ? `  ${f(r.rWithMeanL)}` : ""}`,
    );
}
