// The JSON payloads of the MQTT telemetry topics: roughness summaries, labels, stats.

import type { RoughnessLabel, Stamp } from "../core/types.ts";
import type { FrameOutputs } from "../outputs/index.ts";

/** The `roughness` payload. */
export interface RoughnessSummary {
  robotId: string;
  /** Sensor time of the frame (s). */
  stamp: Stamp;
  /** Confidence-weighted roughness ahead (0..1), null when unknown. */
  ahead: number | null;
  aheadConfidence: number;
  /** Suggested speed limit (m/s). */
  speedLimit: number;
  /** Over the image's cells with a finite prediction. */
  mean: number | null;
  p10: number | null;
  p50: number | null;
  p90: number | null;
  /** Mean confidence over the cells. */
  confidence: number;
  cells: number;
}

function quantile(sorted: Float32Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
const finiteOrNull = (v: number) => (Number.isFinite(v) ? round4(v) : null);

/** Summary of one frame's outputs for the `roughness` topic. */
export function summarizeOutputs(robotId: string, o: FrameOutputs): RoughnessSummary {
  const g = o.grid;
  const finite = new Float32Array(g.roughness.length);
  let n = 0;
  let sum = 0;
  let conf = 0;
  for (let i = 0; i < g.roughness.length; i++) {
    const r = g.roughness[i]!;
    if (!Number.isFinite(r)) continue;
    finite[n++] = r;
    sum += r;
    const c = g.confidence[i]!;
    conf += Number.isFinite(c) ? c : 0;
  }
  const sorted = finite.subarray(0, n).sort();
  return {
    robotId,
    stamp: o.stamp,
    ahead: finiteOrNull(o.ahead),
    aheadConfidence: round4(Number.isFinite(o.aheadConfidence) ? o.aheadConfidence : 0),
    speedLimit: round4(o.speedLimit),
    mean: n ? round4(sum / n) : null,
    p10: n ? round4(quantile(sorted, 0.1)) : null,
    p50: n ? round4(quantile(sorted, 0.5)) : null,
    p90: n ? round4(quantile(sorted, 0.9)) : null,
    confidence: n ? round4(conf / n) : 0,
    cells: n,
  };
}

/** The `labels` payload: footprint as [[x, y], ...] in the label's frame. */
export function labelPayload(robotId: string, l: RoughnessLabel): Record<string, unknown> {
  const footprint: [number, number][] = [];
  for (let i = 0; i < l.footprint.xs.length; i++)
    footprint.push([round4(l.footprint.xs[i]!), round4(l.footprint.ys[i]!)]);
  return {
    robotId,
    stamp: l.stamp,
    t0: l.t0,
    t1: l.t1,
    frameId: l.footprint.frameId,
    x: round4(l.x),
    y: round4(l.y),
    roughness: round4(l.roughness),
    energy: l.energy,
    speed: round4(l.speed),
    footprint,
  };
}

/** JSON that survives typed arrays, bigints and NaN (→ null) in stats objects. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return Number(v);
    if (typeof v === "number" && !Number.isFinite(v)) return null;
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}
