// The near-view map that teaches far keyframe cells (src/core/near-view-teacher.ts), on hand-made
// ground points with known answers, and the option in a real replay of a simulator bag.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { calibrateLogEnergy, logEnergyForRoughness } from "../src/core/label-calibration.ts";
import { NearViewMap } from "../src/core/near-view-teacher.ts";
import { openBag } from "../src/io/bag/index.ts";
import { configFromObject } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";

/** Ground points along +x from the robot at the origin, one per distance. */
const along = (ds: number[]) => ({
  xs: Float64Array.from(ds),
  ys: new Float64Array(ds.length).fill(0.1),
});

describe("logEnergyForRoughness", () => {
  it("inverts the label calibration on every scale, tails included", () => {
    for (const [lo, hi] of [
      [-1.5, 1.5],
      [-0.8, 0.3],
    ] as const) {
      for (const exponent of [0, 0.25, 0.5]) {
        // Far below lo on a power scale the energy is all but zero and the tail flattens out.
        const from = exponent > 0 ? lo - 1 : lo - 3;
        for (let e = from; e <= hi + 3; e += 0.137) {
          const r = calibrateLogEnergy(e, lo, hi, exponent);
          expect(logEnergyForRoughness(r, lo, hi, exponent), `γ ${exponent}, e ${e}`).toBeCloseTo(e, 4);
        }
      }
    }
    expect(logEnergyForRoughness(0.5, 1, 1, 0)).toBeNaN();
    expect(logEnergyForRoughness(Number.NaN, -1, 1, 0.25)).toBeNaN();
  });
});

describe("NearViewMap", () => {
  it("remembers only near views, and teaches far cells on that ground their confidence-weighted mean", () => {
    const map = new NearViewMap({ minObservations: 2 });
    // Near views of the ground at x = 2.1 m (robot at 0) and a far one at 6.1 m, which must not count.
    const seen = along([2.1, 6.1]);
    map.observe(0, seen.xs, seen.ys, Float32Array.of(0.2, 0.9), Float32Array.of(1, 1), 0, 0);
    map.observe(0.1, seen.xs, seen.ys, Float32Array.of(0.8, 0.9), Float32Array.of(0.5, 1), 0, 0);
    expect(map.size).toBe(1);
    // A keyframe 3 m behind that ground, and one 8 m behind it: its cell is 5 m away, then 8 m.
    const fromBehind = along([2.1, 2.1, 6.1]);
    const taught = map.teach(fromBehind.xs, fromBehind.ys, -3, 0);
    // 2.1 m is 5.1 m from (−3, 0): far, on remembered ground; 6.1 m is 9.1 m away: beyond farMax.
    expect(taught.map((t) => t.cell)).toEqual([0, 1]);
    expect(taught[0]!.roughness).toBeCloseTo((0.2 * 1 + 0.8 * 0.5) / 1.5, 6);
    expect(taught[0]!.confidence).toBeCloseTo(0.75, 6);
    // Seen from 3 m away the same ground is a near view, not a far one: nothing to teach.
    expect(map.teach(fromBehind.xs, fromBehind.ys, -0.9, 0)).toEqual([]);
  });

  it("teaches nothing before enough near views, caps the rows evenly, and forgets old ground", () => {
    const map = new NearViewMap({ minObservations: 3, rowsPerKeyframe: 4, horizon: 10 });
    const ds = Array.from({ length: 8 }, (_, i) => 1.2 + 0.25 * i); // 1.2 .. 2.95 m: near
    const seen = along(ds);
    const r = Float32Array.from(ds, (_, i) => i / 10);
    const c = new Float32Array(ds.length).fill(1);
    map.observe(0, seen.xs, seen.ys, r, c, 0, 0);
    map.observe(0.1, seen.xs, seen.ys, r, c, 0, 0);
    expect(map.teach(seen.xs, seen.ys, -4, 0)).toEqual([]);
    map.observe(0.2, seen.xs, seen.ys, r, c, 0, 0);
    const taught = map.teach(seen.xs, seen.ys, -4, 0);
    expect(taught.map((t) => t.cell)).toEqual([0, 2, 4, 6]);
    for (const [i, v] of [0, 0.2, 0.4, 0.6].entries()) expect(taught[i]!.roughness).toBeCloseTo(v, 6);
    // Ground last seen more than the horizon ago is dropped when the map next prunes.
    const elsewhere = along([2]);
    map.observe(30, elsewhere.xs, Float64Array.of(50), Float32Array.of(0.5), Float32Array.of(1), 0, 48);
    expect(map.size).toBe(1);
    expect(map.teach(seen.xs, seen.ys, -4, 0)).toEqual([]);
  });

  it("skips cells without ground, without a finite prediction or without confidence", () => {
    const map = new NearViewMap({ minObservations: 1 });
    const xs = Float64Array.of(Number.NaN, 2, 2.5, 1.5);
    const ys = Float64Array.of(0, 0, 0, 0);
    map.observe(0, xs, ys, Float32Array.of(0.5, Number.NaN, 0.5, 0.5), Float32Array.of(1, 1, 0, 1), 0, 0);
    expect(map.size).toBe(1);
    expect(map.teach(xs, ys, -4, 0).map((t) => t.cell)).toEqual([3]);
  });
});

describe("association.near_teacher_weight in the pipeline", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-near-view-"));
  const bag = join(dir, "world.mcap");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function replay(weight: number) {
    const pipeline = await createPipeline(
      configFromObject({ association: { near_teacher_weight: weight } }),
      {
        mode: "replay",
        warn: () => {},
      },
    );
    const source = await openBag(bag);
    for await (const event of source.messages()) await pipeline.push(event);
    const summary = await pipeline.finish();
    await pipeline.close();
    await source.close();
    return summary;
  }

  it("adds far keyframe cells to what the learner is given, and nothing when off", async () => {
    await generateWorldBag({
      out: bag,
      world: "sim/worlds/stripes.yaml",
      seed: 1,
      duration: 30,
      camera: { width: 160, height: 120 },
    });
    const off = await replay(0);
    const on = await replay(0.5);
    expect(off.taughtRows).toBe(0);
    expect(on.labels).toBe(off.labels);
    expect(on.samples).toBe(off.samples);
    expect(on.taughtRows).toBeGreaterThan(100);
    expect(on.rows - on.taughtRows).toBe(off.rows);
  }, 120_000);
});
