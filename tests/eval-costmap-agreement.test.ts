import { describe, expect, it } from "vitest";
import { CostmapAgreementMeter } from "../src/eval/costmap-agreement.ts";
import { CONFLICT, cellsInView } from "../src/eval/costmap-flicker.ts";
import { spearman } from "../src/eval/metrics.ts";

const res = 0.5;
const map = (values: number[], originX = 0) => ({
  resolution: res,
  originX,
  originY: 0,
  width: values.length,
  height: 1,
  data: Int8Array.from(values),
});
// Ground points at x = 0.25, 0.75, 1.25, 1.75: costmap cells 0..3 of a window at the origin.
const points = (types: number[], roughness: number[]) => ({
  xs: types.map((_, i) => 0.25 + 0.5 * i),
  ys: types.map(() => 0.1),
  types,
  roughness,
  n: types.length,
});

describe("cells in view", () => {
  it("carries each cell's truth and published value, and marks a cell of two types", () => {
    const cells = cellsInView(
      {
        xs: [0.25, 0.75, 0.8, 1.25],
        ys: [0.1, 0.1, 0.1, 0.1],
        types: [1, 2, 3, 4],
        roughness: [0.1, 0.2, 0.3, 0.4],
        n: 4,
      },
      map([10, 20, -1, 40]),
    );
    const byValue = [...cells.values()].sort((a, b) => a.value - b.value);
    // Cell 2 is unknown (−1): not in view; cell 1 holds types 2 and 3.
    expect(byValue).toEqual([
      { type: 1, truth: 0.1, value: 10 },
      { type: CONFLICT, truth: 0.2, value: 20 },
    ]);
  });

  it("gives NaN truth when the points carry none", () => {
    const cells = cellsInView({ xs: [0.25], ys: [0.1], types: [1], n: 1 }, map([10]));
    expect([...cells.values()][0]!.truth).toBeNaN();
  });
});

describe("costmap agreement", () => {
  it("is Spearman's ρ of value against truth over every (cell, frame) sample", () => {
    const m = new CostmapAgreementMeter();
    expect(m.rho).toBeNull();
    const truth = [0.1, 0.3, 0.5, 0.7];
    // Frame 1 ranks the four cells right; frame 2 swaps the middle two.
    m.observeCells(cellsInView(points([1, 2, 3, 4], truth), map([5, 20, 40, 90])));
    expect(m.rho).toBeCloseTo(1, 12);
    m.observeCells(cellsInView(points([1, 2, 3, 4], truth), map([5, 40, 20, 90])));
    expect(m.samples).toBe(8);
    const expected = spearman([5, 20, 40, 90, 5, 40, 20, 90], [...truth, ...truth]);
    expect(m.rho).toBeCloseTo(expected, 12);
    expect(m.rho!).toBeLessThan(1);
  });

  it("is −1 for a costmap that ranks the ground the wrong way round", () => {
    const m = new CostmapAgreementMeter();
    m.observeCells(cellsInView(points([1, 2, 3], [0.1, 0.5, 0.9]), map([80, 50, 10])));
    expect(m.rho).toBeCloseTo(-1, 12);
  });

  it("skips cells of two types and cells without truth, and keeps samples past its first buffer", () => {
    const m = new CostmapAgreementMeter();
    m.observeCells(
      cellsInView(
        {
          xs: [0.25, 0.75, 0.8, 1.25],
          ys: [0.1, 0.1, 0.1, 0.1],
          types: [1, 2, 3, 4],
          roughness: [0.1, 0.2, 0.3, Number.NaN],
          n: 4,
        },
        map([10, 20, 30, 40]),
      ),
    );
    expect(m.samples).toBe(1);
    expect(m.rho).toBeNull();
    // 70 000 frames of two cells: past the 65 536 samples the meter starts with.
    for (let i = 0; i < 70_000; i++) m.observeCells(cellsInView(points([1, 2], [0.2, 0.6]), map([30, 70])));
    expect(m.samples).toBe(140_001);
    expect(m.rho).toBeCloseTo(1, 9);
  });

  it("is null when the costmap shows one value everywhere", () => {
    const m = new CostmapAgreementMeter();
    m.observeCells(cellsInView(points([1, 2, 3], [0.1, 0.5, 0.9]), map([40, 40, 40])));
    expect(m.rho).toBeNull();
  });
});
