// Simulator throughput: world build, render time per frame, IMU model rate, and end-to-end
// generation speed as a multiple of real time (320×240@15 and 640×480@30, raw rgb8, zstd).
// Run: node --import tsx bench/sim.ts [--json]   (BENCH_SECONDS=… sets the generated duration)
//
// Numbers on a shared machine depend on its load: the CPU time (user+sys of this process) is
// reported next to wall time, and the best of several render repetitions is kept.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildWorld,
  cameraSetup,
  DEFAULT_WORLD,
  GroundRenderer,
  generateWorldBag,
  ImuModel,
  type ImuReading,
  loadWorldFile,
  newState,
  RouteDriver,
} from "../sim/index.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 30);
const json = process.argv.includes("--json");
const results: Record<string, number> = {};

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

let t0 = performance.now();
const file = loadWorldFile(DEFAULT_WORLD);
const world = buildWorld(file, 1);
results.worldBuildMs = performance.now() - t0;

for (const [w, h] of [
  [320, 240],
  [640, 480],
] as const) {
  const renderer = new GroundRenderer(world, cameraSetup(world, w, h), 1);
  const out = new Uint8Array(w * h * 3);
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 5; rep++) {
    t0 = performance.now();
    for (let i = 0; i < 20; i++) renderer.render(i * 0.05, rep, 0.1 * i, i / 15, out);
    best = Math.min(best, (performance.now() - t0) / 20);
  }
  results[`render${w}x${h}Ms`] = best;
}

{
  const route = new RouteDriver(world, 1, 0);
  const imu = new ImuModel(world, 1, 200);
  const s = newState();
  const r: ImuReading = { ax: 0, ay: 0, az: 0, gx: 0, gy: 0, gz: 0, roughness: 0 };
  const n = 200 * 300;
  t0 = performance.now();
  for (let k = 0; k < n; k++) imu.sample(route.sample(k / 200, s), r);
  results.imuSamplesPerSecond = n / ((performance.now() - t0) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), "bench-sim-"));
try {
  for (const [label, camera] of [
    ["320x240@15", { width: 320, height: 240, rate: 15 }],
    ["640x480@30", { width: 640, height: 480, rate: 30 }],
  ] as const) {
    const out = join(dir, "b.mcap");
    const c0 = cpuSeconds();
    t0 = performance.now();
    await generateWorldBag({ out, seed: 1, duration: seconds, camera });
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds() - c0;
    results[`realTime${label}`] = seconds / wall;
    results[`realTimeCpu${label}`] = seconds / cpu;
    results[`mibPerMinute${label}`] = (statSync(out).size / 2 ** 20) * (60 / seconds);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (json) {
  process.stdout.write(`${JSON.stringify({ seconds, ...results })}\n`);
} else {
  const r = results;
  const f = (v: number | undefined, d = 1) => (v ?? Number.NaN).toFixed(d);
  process.stdout.write(
    [
      `world build (default, uncached): ${f(r.worldBuildMs, 0)} ms`,
      `render 320x240: ${f(r.render320x240Ms, 2)} ms/frame, 640x480: ${f(r.render640x480Ms, 2)} ms/frame`,
      `IMU model: ${f((r.imuSamplesPerSecond ?? 0) / 1e6, 2)} M samples/s`,
      `generate ${seconds} s at 320x240@15: ${f(r["realTime320x240@15"])}× real time (wall), ${f(r["realTimeCpu320x240@15"])}× per CPU second, ${f(r["mibPerMinute320x240@15"], 0)} MiB/min`,
      `generate ${seconds} s at 640x480@30: ${f(r["realTime640x480@30"])}× real time (wall), ${f(r["realTimeCpu640x480@30"])}× per CPU second, ${f(r["mibPerMinute640x480@30"], 0)} MiB/min`,
    ].join("\n") + "\n",
  );
}
