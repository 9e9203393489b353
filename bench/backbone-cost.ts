// Backbone cost, back to back: ms per 320×240 frame of each backbone on the same real ground photos,
// interleaved in rounds so that a change in machine load hits all of them alike. One onnxruntime
// thread (learner.backbone_threads auto on 2 cores). Prints the median per backbone and the load.
//
// Run: node --import tsx bench/backbone-cost.ts [--backbones filterbank,mobilenetv2] [--rounds 5] [--frames 20] [--json]

import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { WORLDS_DIR } from "../sim/index.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { Backbone, resolveBackbonePath } from "../src/learning/backbone.ts";

const { values } = parseArgs({
  options: {
    backbones: { type: "string", default: "filterbank,mobilenetv2" },
    rounds: { type: "string", default: "5" },
    frames: { type: "string", default: "20" },
    width: { type: "string", default: "320" },
    height: { type: "string", default: "240" },
    json: { type: "boolean", default: false },
  },
});
const W = Number(values.width);
const H = Number(values.height);
const names = values.backbones!.split(",");
const photos = [
  "grass/grass_albedo.jpg",
  "gravel/Rocks002_2K_Color.jpg",
  "paving/cobblestone.jpg",
  "sand/sand_albedo.jpg",
];
const frames: ImageFrame[] = await Promise.all(
  photos.map(async (p) => {
    const { data } = await sharp(join(WORLDS_DIR, "photos", p))
      .resize(W, H, { fit: "cover" })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      stamp: 0,
      frameId: "cam",
      width: W,
      height: H,
      encoding: "rgb8" as const,
      data: new Uint8Array(data),
    };
  }),
);
const backbones = await Promise.all(
  names.map((n) => Backbone.load(resolveBackbonePath(n), { intraOpThreads: 1, inputWidth: 320 })),
);
const times: number[][] = names.map(() => []);
const loadStart = loadavg()[0]!;
for (const b of backbones) for (const f of frames) await b.extract(f); // warm-up
for (let round = 0; round < Number(values.rounds); round++) {
  for (const [i, b] of backbones.entries()) {
    const t0 = performance.now();
    for (let k = 0; k < Number(values.frames); k++) await b.extract(frames[k % frames.length]!);
    times[i]!.push((performance.now() - t0) / Number(values.frames));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const result = {
  size: `${W}x${H}`,
  loadAverage: [loadStart, loadavg()[0]!],
  msPerFrame: Object.fromEntries(names.map((n, i) => [n, median(times[i]!)])),
  rounds: Object.fromEntries(names.map((n, i) => [n, times[i]!.map((t) => Number(t.toFixed(2)))])),
  grid: Object.fromEntries(names.map((n, i) => [n, backbones[i]!.gridFor(W, H)])),
};
for (const b of backbones) await b.close();
if (values.json) console.log(JSON.stringify(result));
else {
  for (const n of names)
    console.log(
      `${n}: ${result.msPerFrame[n]!.toFixed(1)} ms/frame (rounds ${result.rounds[n]!.join(", ")})`,
    );
  console.log(`load average ${result.loadAverage.map((l) => l.toFixed(1)).join(" → ")}`);
}
