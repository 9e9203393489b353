import { describe, expect, it } from "vitest";
import { shrinkToPrior, smoothGrid } from "../src/runtime/features.ts";

describe("shrinkToPrior", () => {
  it("keeps confident cells, moves uncertain ones towards the prior in proportion to 1 − confidence", () => {
    const r = Float32Array.of(0.9, 0.9, 0.9, 0.1, 0.5);
    const c = Float32Array.of(1, 0.5, 0, 0.25, Number.NaN);
    const out = new Float32Array(5);
    shrinkToPrior(r, c, 0.3, 1, out);
    expect(out[0]).toBeCloseTo(0.9, 6);
    expect(out[1]).toBeCloseTo(0.6, 6);
    expect(out[2]).toBeCloseTo(0.3, 6);
    expect(out[3]).toBeCloseTo(0.1 + 0.75 * 0.2, 6);
    expect(out[4]).toBeCloseTo(0.3, 6); // no confidence → all prior
    shrinkToPrior(r, c, 0.3, 0.5, out);
    expect(out[2]).toBeCloseTo(0.6, 6);
    shrinkToPrior(r, c, 0.3, 0, out);
    expect(Array.from(out)).toEqual(Array.from(r));
  });

  it("keeps the order of cells that share a confidence", () => {
    const r = Float32Array.from({ length: 50 }, (_, i) => i / 49);
    const c = new Float32Array(50).fill(0.4);
    const out = new Float32Array(50);
    shrinkToPrior(r, c, 0.7, 1, out);
    for (let i = 1; i < 50; i++) expect(out[i]!).toBeGreaterThan(out[i - 1]!);
  });
});

describe("smoothGrid", () => {
  it("averages neighbouring ground cells by confidence and leaves masked cells alone", () => {
    // 3×3: a confident 0.2 everywhere except one unconfident outlier in the middle; one masked corner.
    const rough = Float32Array.of(0.2, 0.2, 0.9, 0.2, 1, 0.2, 0.2, 0.2, 0.2);
    const conf = Float32Array.of(1, 1, 1, 1, 0.01, 1, 1, 1, 1);
    const mask = Uint8Array.of(1, 1, 0, 1, 1, 1, 1, 1, 1);
    const r = new Float32Array(9);
    const c = new Float32Array(9);
    smoothGrid(3, 3, rough, conf, mask, r, c);
    expect(r[2]).toBe(rough[2]); // masked: untouched
    expect(r[4]!).toBeLessThan(0.25); // the outlier is outvoted by confident neighbours
    expect(r[0]!).toBeGreaterThan(0.19);
    expect(r[0]!).toBeLessThan(0.21);
  });
});
