// The head's output → roughness 0..1, for a head that learns log10 vibration energy.
//
// The head is trained on (log10 energy − offset) / scale, with offset and scale fixed once (from the
// label calibration in force when the first labels arrived), so what it learned never depends on
// where the labeller's running percentiles are now. Only the output is calibrated, with the
// labeller's current bounds: the same calibrateLogEnergy the labels themselves go through, so a
// prediction and a label of the same energy get the same roughness. An exported model reproduces
// it with these six numbers (see HeadOutputCalibration) and calibrateLogEnergy's formula.

import { calibrateLogEnergy } from "../core/labeller.ts";

export interface HeadOutputCalibration {
  /** Training targets are (log10 energy − offset) / scale. */
  offset: number;
  scale: number;
  /** Label calibration bounds on log10 energy (lo → 0.05, hi → 0.95; see calibrateLogEnergy). */
  lo: number;
  hi: number;
  /** The labels' scale between the bounds (calibrateLogEnergy's exponent). */
  exponent: number;
}

/** Fixed target units from the label calibration in force when learning starts. */
export function targetUnits(lo: number, hi: number): { offset: number; scale: number } {
  if (!(hi > lo)) throw new Error(`target units need lo < hi, got [${lo}, ${hi}]`);
  return { offset: (lo + hi) / 2, scale: hi - lo };
}

/** Training target of a stored log10 energy. */
export function logEnergyTarget(
  logEnergy: number,
  c: Pick<HeadOutputCalibration, "offset" | "scale">,
): number {
  return (logEnergy - c.offset) / c.scale;
}

/** Roughness 0..1 of a head output v (a log-energy target): calibrateLogEnergy(v·scale + offset, lo, hi, exponent). */
export function headOutputToRoughness(v: number, c: HeadOutputCalibration): number {
  return calibrateLogEnergy(v * c.scale + c.offset, c.lo, c.hi, c.exponent);
}

/** In place over n head outputs. */
export function calibrateHeadOutputs(
  values: Float32Array,
  n: number,
  c: HeadOutputCalibration,
): Float32Array {
  for (let i = 0; i < n; i++) values[i] = headOutputToRoughness(values[i] as number, c);
  return values;
}
