// Label calibration of raw targets (log10 vibration energy → roughness 0..1): the labeller's moving
// bounds, the replay buffer's target maps for them, and a log-energy head's outputs back to roughness.

import { calibrateLogEnergy } from "../core/labeller.ts";
import { calibrateHeadOutputs, logEnergyTarget, targetUnits } from "./output-calibration.ts";

type RawMap = (raw: number) => number;

export class LabelCalibration {
  /** Bounds on raw targets (NaN: targets are roughness already). */
  lo = Number.NaN;
  hi = Number.NaN;
  /** The labels' scale between the bounds (calibrateLogEnergy's exponent). */
  exponent = 0;
  /** Fixed target units of a log-energy head (set by the first calibration). */
  units: { offset: number; scale: number } | null = null;
  /** head_target log_energy: the head's output is a log-energy target, calibrated at the output. */
  readonly logHead: boolean;

  constructor(logHead: boolean) {
    this.logHead = logHead;
  }

  /**
   * Takes new bounds and returns the buffer's maps for them (target, then roughness bins), or null
   * when both moved less than 0.5 % of the range (re-binning the buffer would cost more than it is worth).
   */
  update(lo: number, hi: number, exponent: number): [RawMap, RawMap?] | null {
    if (!(hi > lo)) throw new Error(`label calibration needs lo < hi, got [${lo}, ${hi}]`);
    if (!(exponent >= 0)) throw new Error(`label calibration needs an exponent ≥ 0, got ${exponent}`);
    const tol = 0.005 * (hi - lo);
    if (Math.abs(lo - this.lo) <= tol && Math.abs(hi - this.hi) <= tol && exponent === this.exponent)
      return null;
    this.lo = lo;
    this.hi = hi;
    this.exponent = exponent;
    const calibrate = (raw: number) => calibrateLogEnergy(raw, lo, hi, exponent);
    if (!this.logHead) return [calibrate];
    // Units fixed once: later calibrations only move the output map and the roughness bins.
    this.units ??= targetUnits(lo, hi);
    const units = this.units;
    return [(raw) => logEnergyTarget(raw, units), calibrate];
  }

  /** The current bounds (null: targets are used as given). */
  get bounds(): { lo: number; hi: number; exponent: number } | null {
    return this.hi > this.lo ? { lo: this.lo, hi: this.hi, exponent: this.exponent } : null;
  }

  /** Head outputs → roughness in place (a log-energy head; a roughness head's are final). */
  toRoughness(values: Float32Array, n: number): Float32Array {
    if (!this.logHead) return values;
    const u = this.units;
    if (u && this.hi > this.lo)
      return calibrateHeadOutputs(values, n, { ...u, lo: this.lo, hi: this.hi, exponent: this.exponent });
    // Targets given as roughness (no calibration): the linear output is roughness already.
    for (let i = 0; i < n; i++) values[i] = Math.min(1, Math.max(0, values[i] as number));
    return values;
  }
}
