import { describe, expect, it } from "vitest";
import { auroc, mae, midRanks, pearson, spearman } from "../src/eval/metrics.ts";

describe("metrics against hand-computed values", () => {
  it("mid-ranks share tied ranks", () => {
    expect(Array.from(midRanks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
  });

  it("mid-ranks of large arrays (the radix sort) equal the count of smaller values plus the mean position among equal ones", () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const kinds: Array<(i: number) => number> = [
      () => rnd() * 2 - 1, // distinct, both signs
      () => Math.round(rnd() * 20) / 4 - 2, // many ties, both signs
      (i) => [0, -0, 1e-300, -1e-300, 1e300, -1e300, 0.5][i % 7]!, // ±0 tie; extremes
      () => Math.fround(rnd()), // float32 predictions: low bits all zero
      (i) => (i % 11 === 0 ? (i % 2 ? 0 : -0) : Math.fround((rnd() - 0.5) * 4)), // float32, both signs, ±0
      (i) => (i % 2 ? 1 : -1) * (1 + (i % 97) * 2 ** -45), // differ only in the low 32 bits
    ];
    for (const make of kinds) {
      const n = 3000;
      const v = Float64Array.from({ length: n }, (_, i) => make(i));
      const got = midRanks(v);
      for (let i = 0; i < n; i += 7) {
        let below = 0;
        let equal = 0;
        for (let j = 0; j < n; j++) {
          if (v[j]! < v[i]!) below++;
          else if (v[j] === v[i]) equal++;
        }
        expect(got[i]).toBe(below + (equal + 1) / 2);
      }
    }
  });

  it("Spearman without ties equals 1 - 6Σd²/(n(n²-1))", () => {
    // x ranks 1..5, y ranks [2,1,4,3,5]: Σd² = 1+1+1+1+0 = 4 → 1 - 24/120 = 0.8
    expect(spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])).toBeCloseTo(0.8, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it("Spearman with ties is Pearson of mid-ranks", () => {
    // x = [1,2,2,3] → ranks [1,2.5,2.5,4]; y = [1,3,2,4] → ranks [1,3,2,4].
    // mean 2.5 both; dx = [-1.5,0,0,1.5], dy = [-1.5,.5,-.5,1.5]; Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5
    // ρ = 4.5 / sqrt(4.5·5) = 0.9486832980505138
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505138, 12);
    // Ties on both sides: ranks [1.5,1.5,3,4] and [1,2.5,2.5,4]: Σdxdy = 3.75, Σdx² = Σdy² = 4.5 → 5/6.
    expect(spearman([1, 1, 2, 3], [1, 2, 2, 3])).toBeCloseTo(5 / 6, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it("skips NaN pairs", () => {
    expect(spearman([1, Number.NaN, 2, 3], [1, 5, 2, 3])).toBeCloseTo(1, 12);
    expect(mae([0.5, Number.NaN, 0], [0, 1, 0.25])).toBeCloseTo(0.375, 12);
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
  });

  it("AUROC counts ties as half", () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    // pos {0.5, 0.5}, neg {0.5, 0.2}: pairs (0.5,0.5)=.5 ×2, (0.5,0.2)=1 ×2 → 3/4
    expect(auroc([0.5, 0.5, 0.5, 0.2], [1, 1, 0, 0])).toBeCloseTo(0.75, 12);
    // Ties across both classes: pos {0.5, 0.5, 0.9}, neg {0.2, 0.5}: each 0.5 gets 1 + ½, 0.9 gets 2 → 5/6.
    expect(auroc([0.2, 0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1, 1])).toBeCloseTo(5 / 6, 12);
    expect(auroc([1, 2, 3], [1, 1, 1])).toBeNaN();
    expect(auroc([3, 2, 1], [true, false, false])).toBe(1);
  });
});
