// How `label` writes numbers, label lines and the calibration snippet.

import type { RoughnessLabel } from "../core/types.ts";
import type { LabelSummary } from "./label.ts";

export function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function sig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(5)) : x;
}

export function labelJson(l: RoughnessLabel): string {
  return JSON.stringify({
    t: round(l.stamp, 4),
    x: round(l.x, 4),
    y: round(l.y, 4),
    roughness: round(l.roughness, 4),
    energy: sig(l.energy),
    speed: round(l.speed, 4),
  });
}

/** "1 label", "2 labels". */
export function labelCount(n: number): string {
  return `${n} label${n === 1 ? "" : "s"}`;
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}

/**
 * The calibration as a params file of its own (later params files override earlier ones key by key):
 * pass it after the main one, or copy its `labeler:` block into the main file.
 */
export function statsYaml(s: LabelSummary): string {
  const { low: lo, high: hi, lowPercentile, highPercentile } = s.fit;
  return [
    `# ${labelCount(s.labels)} from ${s.bag}; speed-normalised energy percentiles:`,
    ...Object.entries(s.energyPercentiles).map(
      ([k, v]) => `#   ${k.padEnd(4)} ${v.toExponential(3)}  (log10 ${s.log10EnergyPercentiles[k]})`,
    ),
    `# Fixed calibration from the ${ordinal(lowPercentile)}/${ordinal(highPercentile)} percentiles (roughness 0.05 and 0.95), as a params file:`,
    "# pass it after your params file (`--params-file params.yaml --params-file THIS` for the node,",
    "# `--config params.yaml --config THIS` for replay/label/demo/run; later files win), or copy the",
    "# labeller block into your params file under terrain_learner: ros__parameters:.",
    "terrain_learner:",
    "  ros__parameters:",
    "    labeler:",
    "      calibration:",
    "        mode: fixed",
    `        low: ${lo}`,
    `        high: ${hi}`,
  ].join("\n");
}

/** 5 → "5th", 1 → "1st", 12.5 → "12.5th". */
export function ordinal(p: number): string {
  if (!Number.isInteger(p)) return `${p}th`;
  const tens = p % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][p % 10] ?? "th");
  return `${p}${suffix}`;
}

export function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "n/a" : x.toExponential(3);
}

/** The calibration in force, with its bounds when they are fixed (they decide every roughness). */
export function calibrationWords(cal: LabelSummary["calibration"]): string {
  return cal.mode === "fixed" ? `fixed, log10 energy ${cal.low} to ${cal.high}` : cal.mode;
}

/** Where the summary's vertical axis came from, in words. */
export function verticalSource(s: LabelSummary, base: string): string {
  if (s.vertical.source === "gravity")
    return `gravity in the data (TF has no ${base} → ${s.imuFrame || "IMU frame"})`;
  return s.imuFrame === base ? `the IMU's frame_id ${base} (mounted level)` : "TF";
}
