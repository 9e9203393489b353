// What fleet sharing costs a robot per second of sensor time and per frame: the fleet's own work on
// the pipeline's thread (src/fleet/exchange.ts + the payload codec), without the network:
//   own rows into the exchange (the samples$ tap), one outgoing batch encoded, a snapshot every 30 s,
//   the batches of `--peers` peers decoded and validated, and the learner's peer rows taken (each
//   checked against the nearest own sample).
// Rows per second and head channels are the pipeline's on the default world (320×240 @ 15 Hz).
// Memory: the exchange's preallocated arrays, and the heap growth over the run.
// Next to it, in the same loop (so both see the same machine load), the two per-frame costs every
// frame has: the backbone on a 320×240 frame and the head's prediction over its cells. The ratio is
// the fleet's share of that floor of the pipeline's time (of the whole pipeline it is less).
// Run: node --import tsx bench/fleet-cost.ts [--json] [--peers 3] [--rows 400]

import { encodeBatch, FLEET_LAYOUT_VERSION, type FleetModel } from "../src/fleet/codec.ts";
import { FleetExchange, type FleetRows } from "../src/fleet/exchange.ts";
import { Backbone, defaultBackbonePath } from "../src/learning/backbone.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { featureChannels, headFeatures } from "../src/runtime/features.ts";
import { textureImage } from "../tests/learning-textures.ts";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const peers = Number(arg("--peers", "3"));
const rowsPerSecond = Number(arg("--rows", "400"));
const fps = 15;
const seconds = 120;

const backbone = await Backbone.load(defaultBackbonePath());
const C = featureChannels(backbone.channels, "neighbourhood");
const image = textureImage({ rgb: [120, 110, 90], grain: 3, contrast: 40 }, 320, 240, 1);
const frame = headFeatures(await backbone.extract(image), "neighbourhood");
const cells = frame.rows * frame.cols;
const learner = await OnlineLearner.create({ ...defaultConfig().learner, buffer_size: 2000 }, C);
learner.addSamples(
  frame.data,
  new Float32Array(cells).map((_, i) => (i % 7) / 7),
);
await learner.train(20);
const model: FleetModel = {
  backboneHash: new Uint8Array(16).fill(1),
  channels: C,
  backboneChannels: backbone.channels,
  inputWidth: 320,
  layoutVersion: FLEET_LAYOUT_VERSION,
};
const cfg = defaultConfig().fleet;
const rand = seededRandom(5);
// Robots on one site see the same ground: every row is one of 24 kinds of ground plus noise, so
// peer samples find own neighbours (label offsets estimated, own labels compared) as on a site.
const grounds = Array.from({ length: 24 }, () => Float32Array.from({ length: C }, () => rand() * 2));
const rows = (n: number): FleetRows => ({
  stamp: 0,
  features: Float32Array.from(
    { length: n * C },
    (_, i) => grounds[Math.floor(i / C) % 24]![i % C]! + (rand() - 0.5) * 0.3,
  ),
  targets: Float32Array.from({ length: n }, () => rand() * 2 - 1),
  weights: new Float32Array(n).fill(1),
  n,
  channels: C,
  targetKind: "logEnergy",
  lo: -1,
  hi: 1,
});
// Peers' payloads, made once (their making is their cost, not ours).
const peerEx = Array.from({ length: peers }, (_, i) => new FleetExchange(`p${i}`, model, cfg, i + 2));
const payloads: Uint8Array[][] = [];
for (let t = 0; t <= seconds; t++) {
  const at: Uint8Array[] = [];
  for (const p of peerEx) {
    p.offerOwn(rows(rowsPerSecond));
    for (const b of p.outgoing(t, t)) at.push(encodeBatch(b));
  }
  payloads.push(at);
}
const own = Array.from({ length: 8 }, () => rows(Math.round(rowsPerSecond / 4)));

const ex = new FleetExchange("me", model, cfg, 1);
let frameMs = 0;
global.gc?.();
const heap0 = process.memoryUsage().heapUsed;
let ms = 0;
for (let t = 0; t <= seconds; t++) {
  const t0 = performance.now();
  // Labels drain about four times a second.
  for (let k = 0; k < 4; k++) ex.offerOwn(own[(t * 4 + k) % own.length]!);
  for (const b of ex.outgoing(t, t)) encodeBatch(b);
  for (const [i, p] of payloads[t]!.entries()) ex.receive(p, `p${i % peers}`, t);
  ex.take(t);
  const dt = performance.now() - t0;
  if (t >= 10) ms += dt; // the first 10 s warm up the JIT
  // One second of the pipeline's per-frame floor, sampled on 3 of its 15 frames.
  const f0 = performance.now();
  for (let k = 0; k < 3; k++) {
    await backbone.extract(image);
    learner.predict(frame.data, cells);
  }
  if (t >= 10) frameMs += (performance.now() - f0) / 3;
}
await backbone.close();
learner.dispose();
global.gc?.();
const heapGrowthMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
const perSecond = ms / (seconds - 9);
const arraysMB =
  ((cfg.pool_size + cfg.own_samples + cfg.publish_rate * cfg.batch_period) * (C + 5) * 4) / 2 ** 20;
const result = {
  peers,
  rowsPerSecond,
  headChannels: C,
  msPerSensorSecond: perSecond,
  msPerFrame: perSecond / fps,
  fps,
  arraysMB,
  heapGrowthMB,
  pipelineFloorMsPerFrame: frameMs / (seconds - 9),
  shareOfPipelineFloor: perSecond / fps / (frameMs / (seconds - 9)),
  used: ex.stats().used,
  overridden: ex.stats().overridden,
  matchedPairs: Object.values(ex.stats().perPeer).reduce((a, p) => a + p.matches, 0),
};
if (args.includes("--json")) console.log(JSON.stringify(result));
else
  console.log(
    `fleet: ${perSecond.toFixed(2)} ms per sensor second (${(perSecond / fps).toFixed(3)} ms/frame at ${fps} Hz) with ${peers} peers = ${(100 * result.shareOfPipelineFloor).toFixed(1)} % of backbone + head (${result.pipelineFloorMsPerFrame.toFixed(2)} ms/frame); arrays ${arraysMB.toFixed(1)} MB, heap growth ${heapGrowthMB.toFixed(1)} MB`,
  );
