// One roughness scale across robots whose IMUs feel the same ground differently.
//
// A label is log10 of the speed-normalised vibration energy. A different IMU mounting (stiffer or
// softer mount, another lever arm, another sensor) multiplies that energy by a robot-specific gain,
// i.e. ADDS a constant to every log10 label: the order of terrains is the same, the numbers are not.
// (The mounting's orientation alone changes nothing: the labeller rotates into the vertical.)
//
// So a peer's labels are moved onto our scale in one of two ways:
// 1. Offset by shared ground (preferred): where a peer's sample and one of ours are neighbours in
//    feature space (the same ground looks the same to the same backbone), the difference of their
//    labels estimates the offset between the two robots' energy scales. The running median of those
//    differences, once `minMatches` pairs agree, maps every peer label: raw_ours = raw_peer + offset.
// 2. Calibrated roughness (until then): the peer's label through its own calibration bounds to 0..1,
//    then back through ours to a log10 energy. Exact when both robots use fixed bounds fitted on
//    their own IMUs (docs/calibration.md); with running percentiles it is as good as the two robots'
//    driven ground is alike.

import { calibrateLogEnergy, logEnergyForRoughness } from "../core/label-calibration.ts";

/**
 * A peer's label moved onto our calibration's scale through both robots' bounds (way 2 above); the
 * robots of a fleet share the labels' scale (`labeler.calibration.exponent`).
 */
export function viaCalibration(
  raw: number,
  peer: { lo: number; hi: number },
  ours: { lo: number; hi: number },
  exponent: number,
): number {
  return logEnergyForRoughness(
    calibrateLogEnergy(raw, peer.lo, peer.hi, exponent),
    ours.lo,
    ours.hi,
    exponent,
  );
}

/** Running median of label differences (ours − peer's) over matched neighbours, per peer. */
export class OffsetEstimator {
  // Arrival order (to drop the oldest) and the same values kept sorted: an add is two binary
  // searches and a short move, a read is O(1). Sorting a copy on every read cost ~65 µs per peer
  // sample, most of the fleet's time per frame.
  readonly #diffs: number[] = [];
  readonly #sorted: number[] = [];

  constructor(
    private readonly window = 256,
    private readonly minMatches = 30,
  ) {}

  add(diff: number): void {
    if (!Number.isFinite(diff)) return;
    this.#diffs.push(diff);
    if (this.#diffs.length > this.window) {
      const old = this.#diffs.shift()!;
      this.#sorted.splice(lowerBound(this.#sorted, old), 1);
    }
    this.#sorted.splice(lowerBound(this.#sorted, diff), 0, diff);
  }

  get matches(): number {
    return this.#diffs.length;
  }

  /** The offset, or NaN until minMatches pairs have been seen. */
  get offset(): number {
    const s = this.#sorted;
    if (s.length < this.minMatches) return Number.NaN;
    const h = s.length >> 1;
    return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
  }
}

/** First index whose value is ≥ v in an ascending array. */
function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
