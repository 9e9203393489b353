import { afterAll, describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT, tuneHeap } from "../src/runtime/heap-tuning.ts";

describe("tuneHeap", () => {
  // The flag is process-wide: leave V8's own heuristic to the test files that run after this one.
  afterAll(() => {
    tuneHeap({ TERRAIN_LEARNER_HEAP_GROWING_PERCENT: "0" });
  });

  it("sets the default growing factor, or the one the environment names", () => {
    expect(tuneHeap({})).toBe(HEAP_GROWING_PERCENT);
    expect(tuneHeap({ TERRAIN_LEARNER_HEAP_GROWING_PERCENT: "0" })).toBe(0);
    expect(tuneHeap({ TERRAIN_LEARNER_HEAP_GROWING_PERCENT: "50" })).toBe(50);
    expect(tuneHeap({ TERRAIN_LEARNER_HEAP_GROWING_PERCENT: "" })).toBe(HEAP_GROWING_PERCENT);
  });

  it("refuses a value that is not a percentage, naming the variable", () => {
    for (const bad of ["abc", "-5", "2.5", "5000"]) {
      expect(() => tuneHeap({ TERRAIN_LEARNER_HEAP_GROWING_PERCENT: bad })).toThrow(
        /TERRAIN_LEARNER_HEAP_GROWING_PERCENT=.*integer percentage/,
      );
    }
  });
});
