// The stability lines replay --eval and demo print: every figure of eval.stability, n/a where null.

import { describe, expect, it } from "vitest";
import { formatKnowledge } from "../src/cli/knowledge-format.ts";

const stability = {
  minTrailingRho: 0.182,
  minTrailingRhoDriven: 0.278,
  after: 90,
  costmapFlicker: 1.9834,
  flickerPairs: 560_000,
  costmapRho: 0.5312,
  costmapRhoSamples: 700_000,
  speedLimitChange: 0.2431,
  meanSpeedLimit: 0.9512,
};

describe("formatKnowledge: stability", () => {
  it("prints the trailing ρ, the speed limit, and the costmap's flicker beside its ρ", () => {
    expect(formatKnowledge(undefined, stability)).toEqual([
      "  stability: lowest trailing-60-s ρ from 90 s 0.182 (0.278 on ground already driven); speed limit changes 0.243 m/s per s (mean 0.95 m/s)",
      "  costmap in view: flicker 1.98 cost points/s; ρ against the true roughness 0.531",
    ]);
  });

  it("says n/a for figures a short run does not have", () => {
    const lines = formatKnowledge(undefined, {
      ...stability,
      minTrailingRho: null,
      minTrailingRhoDriven: null,
      costmapFlicker: null,
      costmapRho: null,
    });
    expect(lines[0]).toContain("from 90 s n/a (n/a on ground already driven)");
    expect(lines[1]).toBe("  costmap in view: flicker n/a cost points/s; ρ against the true roughness n/a");
  });
});
