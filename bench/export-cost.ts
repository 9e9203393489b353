// What `export` costs and what the exported model computes: for a checkpoint and a few camera sizes,
// the time to export and the file size, then on a bag's frames (scaled to each size) the exported
// graph in onnxruntime against the runtime's path (Backbone + head features + learner.predict):
// max |Δ| of the roughness and confidence grids and the time per frame of each (one CPU thread each).
//
// Usage: node --import tsx bench/export-cost.ts --checkpoint DIR --bag BAG [--sizes 320x240,640x480]
//        [--frames 20] [--config FILE]

import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { runExport } from "../src/cli/export.ts";
import { parseImageSize } from "../src/cli/export-command.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { imageFromRos } from "../src/io/ros/convert.ts";
import { Backbone } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { headFeatures } from "../src/runtime/features.ts";

const { values } = parseArgs({
  options: {
    checkpoint: { type: "string" },
    bag: { type: "string" },
    sizes: { type: "string", default: "320x240,640x480,800x600,1280x720" },
    frames: { type: "string", default: "20" },
    config: { type: "string", multiple: true },
  },
});
if (!values.checkpoint || !values.bag) throw new Error("--checkpoint DIR and --bag BAG are required");
const quiet = () => {};
const nFrames = Number(values.frames);

function scaled(img: ImageFrame, width: number, height: number): ImageFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const s = 3 * (Math.floor((y * img.height) / height) * img.width + Math.floor((x * img.width) / width));
      data.set(img.data.subarray(s, s + 3), 3 * (y * width + x));
    }
  return { ...img, width, height, data };
}

// Frames spread over the bag (rgb8), through the bag reader the pipeline uses.
const all: ImageFrame[] = [];
const source = await openBag(values.bag);
const config = loadConfig(values.config);
for await (const e of source.messages()) {
  if (e.type !== "message" || e.topic !== config.topics.image) continue;
  const img = imageFromRos(e.message);
  if (img.encoding === "rgb8") all.push(img);
}
await source.close();
const step = Math.max(1, Math.floor(all.length / nFrames));
const frames = all.filter((_, i) => i % step === 0).slice(0, nFrames);

const dir = mkdtempSync(join(tmpdir(), "tl-export-cost-"));
const rows: string[] = [];
try {
  for (const spec of values.sizes!.split(",")) {
    const { width, height } = parseImageSize(spec);
    const out = join(dir, `${width}x${height}.onnx`);
    const r = await runExport({ checkpoint: values.checkpoint, out, config, width, height, warn: quiet });
    const settings = JSON.parse(r.metadata.learner_settings!);
    const cfg = { ...config.learner, ...settings };
    const channels = Number(r.metadata.head_features);
    const learner = await OnlineLearner.create(cfg, channels, { warn: quiet });
    await learner.loadLatestCheckpoint(values.checkpoint);
    const backbone = await Backbone.fromConfig({ ...cfg, backbone_threads: 1 }, { warn: quiet });
    const session = await ort.InferenceSession.create(out, {
      intraOpNumThreads: 1,
      executionProviders: ["cpu"],
    });
    const images = frames.map((f) => scaled(f, width, height));
    let dr = 0;
    let dc = 0;
    let tExport = 0;
    let tRuntime = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const img of images) {
        const t0 = performance.now();
        const got = await session.run({ image: new ort.Tensor("uint8", img.data, [1, height, width, 3]) });
        const t1 = performance.now();
        const map = headFeatures(await backbone.extract(img), r.metadata.feature_context as "neighbourhood");
        const want = learner.predict(map.data, map.rows * map.cols);
        const t2 = performance.now();
        // The first pass warms both up; the second is timed.
        if (pass === 1) {
          tExport += t1 - t0;
          tRuntime += t2 - t1;
        }
        const gr = got.roughness!.data as Float32Array;
        const gc = got.confidence!.data as Float32Array;
        for (let i = 0; i < gr.length; i++) {
          dr = Math.max(dr, Math.abs(gr[i]! - want.roughness[i]!));
          dc = Math.max(dc, Math.abs(gc[i]! - want.confidence[i]!));
        }
      }
    }
    await session.release();
    await backbone.close();
    learner.dispose();
    rows.push(
      `| ${r.backbone} | ${width}×${height} | ${r.grid.rows}×${r.grid.cols} | ${r.seconds.toFixed(2)} | ${(r.bytes / 1024).toFixed(0)} | ${dr.toExponential(1)} | ${dc.toExponential(1)} | ${(tExport / images.length).toFixed(1)} | ${(tRuntime / images.length).toFixed(1)} |`,
    );
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `checkpoint ${values.checkpoint}, ${frames.length} frames of ${values.bag}; load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on this machine`,
);
console.log(
  "| backbone | camera | grid | export s | file KiB | max Δroughness | max Δconfidence | exported ms/frame | runtime ms/frame |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
