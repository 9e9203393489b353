// The knowledge probe on a real simulator bag through the real pipeline: the probe set is chosen from
// the whole bag before the first message is replayed, stratified per terrain type (never-driven types
// included), its frames never become keyframes (so no label is ever associated with them), and
// scoring it at every curve point leaves training bit-identical.

import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import type { ProbeSet } from "../src/eval/probe-set.ts";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { openBag } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type PipelineSummary, readAhead } from "../src/runtime/pipeline.ts";
import { chooseProbeSet } from "../src/runtime/probe-prepass.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-probe-"));
const bag = join(dir, "default.mcap");
const config = defaultConfig();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  probe: ProbeSet | undefined;
  /** Messages pushed before the probe set existed (must be 0). */
  pushedBeforeProbe: number;
  keyframeStamps: number[];
  /** sha256 over every prediction grid (roughness and confidence), in order. */
  digest: string;
  summary: PipelineSummary;
  start: number;
}

async function replay(probeMode: "score" | "holdOnly" | "none"): Promise<Run> {
  const source = await openBag(bag);
  const simMetadata = await readMcapMetadata(bag);
  const pipeline = await createPipeline(config, {
    mode: "replay",
    evaluate: true,
    simMetadata,
    overlay: false,
    warn: () => {},
  });
  let pushed = 0;
  let pushedBeforeProbe = -1;
  let probe: ProbeSet | undefined;
  if (probeMode !== "none") {
    probe = await chooseProbeSet(
      source,
      await source.info(),
      config,
      simMetadata,
      (f) => pipeline.frameFeatures(f),
      () => {},
    );
    pushedBeforeProbe = pushed;
    if (probe) pipeline.useProbeSet(probe, { score: probeMode === "score" });
  }
  const hash = createHash("sha256");
  const keyframeStamps: number[] = [];
  pipeline.events$.subscribe((e) => {
    if (e.type !== "prediction") return;
    if (e.keyframe) keyframeStamps.push(e.stamp);
    const g = e.outputs.grid;
    hash.update(new Uint8Array(g.roughness.buffer, g.roughness.byteOffset, g.roughness.byteLength));
    hash.update(new Uint8Array(g.confidence.buffer, g.confidence.byteOffset, g.confidence.byteLength));
  });
  for await (const e of readAhead(pipeline, source.messages())) {
    pushed++;
    await pipeline.push(e);
  }
  const summary = await pipeline.finish();
  await pipeline.close();
  const { start } = await source.info();
  await source.close();
  return { probe, pushedBeforeProbe, keyframeStamps, digest: hash.digest("hex"), summary, start };
}

let scored: Run;
let holdOnly: Run;
let none: Run;

beforeAll(async () => {
  // 7.5 Hz: half the frames of each of the three replays; still the keyframes and flicker pairs asserted.
  await generateWorldBag({ out: bag, seed: 1, duration: 35, camera: { width: 160, height: 120, rate: 7.5 } });
  scored = await replay("score");
  holdOnly = await replay("holdOnly");
  none = await replay("none");
}, 300_000);

describe("knowledge probe on a simulator bag", () => {
  it("is chosen from the whole bag before replay, the same number of cells per terrain type", () => {
    const p = scored.probe!;
    expect(scored.pushedBeforeProbe).toBe(0);
    expect(p.cellsPerType).toBeGreaterThan(0);
    const per = new Map<number, number>();
    for (const c of p.cells) per.set(c.type, (per.get(c.type) ?? 0) + 1);
    expect(new Set(per.values())).toEqual(new Set([p.cellsPerType]));
    expect(p.terrains.map((t) => t.index).sort()).toEqual([...per.keys()].sort());
    // Frames from the whole run, never-driven terrain included.
    expect(Math.min(...p.frameStamps) - scored.start).toBeLessThan(5);
    expect(Math.max(...p.frameStamps) - scored.start).toBeGreaterThan(30);
    expect(p.terrains.some((t) => !t.driven)).toBe(true);
    expect(p.terrains.filter((t) => t.driven).length).toBeGreaterThanOrEqual(3);
    expect(p.features.length).toBe(p.cells.length * p.channels);
    // Deterministic: the other run chose the same set.
    expect(holdOnly.probe!.cells).toEqual(p.cells);
  });

  it("never makes a probe frame a keyframe (no label can be associated with it)", () => {
    const probeFrames = new Set(scored.probe!.frameStamps);
    expect(scored.keyframeStamps.length).toBeGreaterThan(50);
    expect(scored.keyframeStamps.filter((s) => probeFrames.has(s))).toEqual([]);
    // Without the hold-out some of the same frames are keyframes: the check above can fail.
    expect(none.keyframeStamps.filter((s) => probeFrames.has(s)).length).toBeGreaterThan(0);
  });

  it("scoring the probe at every curve point leaves training bit-identical", () => {
    expect(scored.digest).toBe(holdOnly.digest);
    expect(scored.summary.trainSteps).toBe(holdOnly.summary.trainSteps);
    expect(scored.summary.lastLoss).toBe(holdOnly.summary.lastLoss);
    expect(scored.summary.labels).toBe(holdOnly.summary.labels);
    // The hold-out itself does change training (fewer keyframes), which the docs report.
    expect(none.digest).not.toBe(scored.digest);
    const k = scored.summary.eval!.knowledge!;
    expect(k.curve.map((c) => c.t)).toEqual([10, 20, 30, expect.closeTo(35, 0)]);
    expect(holdOnly.summary.eval!.knowledge).toBeUndefined();
  });

  it("reports the knowledge curve and the stability figures", () => {
    const ev = scored.summary.eval!;
    const last = ev.knowledge!.curve.at(-1)!;
    expect(last.drivenSoFar.length).toBeGreaterThanOrEqual(3);
    expect(last.terrainRho).not.toBeNull();
    expect(last.terrainRho!).toBeGreaterThanOrEqual(-1);
    expect(last.terrainRho!).toBeLessThanOrEqual(1);
    expect(ev.stability!.costmapFlicker).toBeGreaterThan(0);
    expect(ev.stability!.flickerPairs).toBeGreaterThan(100);
    // The costmap ranks the ground it shows: ρ is defined and pools at least the flicker's cells.
    expect(ev.stability!.costmapRho).not.toBeNull();
    expect(ev.stability!.costmapRho!).toBeGreaterThan(-1);
    expect(ev.stability!.costmapRhoSamples).toBeGreaterThan(ev.stability!.flickerPairs);
    // A 35-s run has no curve point from 90 s on.
    expect(ev.stability!.minTrailingRho).toBeNull();
  });
});
