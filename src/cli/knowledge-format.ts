// Human lines for the knowledge probe and the stability figures (replay --eval, demo).

import type { EvalSummary } from "../eval/evaluator.ts";
import { RANK_THRESHOLD } from "../eval/probe-set.ts";

const f = (x: number | null | undefined, d = 3) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d);

export function formatKnowledge(k: EvalSummary["knowledge"], s: EvalSummary["stability"]): string[] {
  const lines: string[] = [];
  if (k) {
    const last = k.curve.at(-1);
    const p = k.probe;
    lines.push(
      `  knowledge probe: ${p.cells} cells (${p.cellsPerType} per terrain type, ${p.terrains.length} types) from ${p.frames} frames held out of training`,
    );
    if (last)
      lines.push(
        `    at ${f(last.t, 0)} s: terrain ρ ${f(last.terrainRho)} (driven so far, ${last.drivenSoFar.length} types), ${f(last.terrainRhoAll)} (all driven types); pairs ordered ${f(last.pairAccuracyAll)}; cell ρ ${f(last.cellRho)}; confidence AUROC ${f(last.confidenceAuroc)}`,
      );
    lines.push(
      `    time to rank (driven-so-far terrain ρ stays ≥ ${RANK_THRESHOLD}): ${k.timeToRank === null ? "never" : `${f(k.timeToRank, 0)} s`}`,
    );
    const pts = k.curve.filter((_, i) => i % 3 === 2 || i === k.curve.length - 1);
    lines.push(
      `    knowledge curve (t: terrain ρ so far | all driven): ${pts.map((c) => `${f(c.t, 0)} s ${f(c.terrainRho, 2)}|${f(c.terrainRhoAll, 2)}`).join(", ")}`,
    );
  }
  if (s)
    lines.push(
      `  stability: lowest trailing-60-s ρ from ${s.after} s ${f(s.minTrailingRho)} (${f(s.minTrailingRhoDriven)} on ground already driven); speed limit changes ${f(s.speedLimitChange, 3)} m/s per s (mean ${f(s.meanSpeedLimit, 2)} m/s)`,
      `  costmap in view: flicker ${f(s.costmapFlicker, 2)} cost points/s; ρ against the true roughness ${f(s.costmapRho)}`,
    );
  return lines;
}
