// Training rows as they travel from supervision to the learner, and between robots of a fleet.

import type { Stamp } from "../core/types.ts";

/** Training rows from one drain (borrowed arrays: a consumer copies what it keeps). */
export interface SampleRows {
  stamp: Stamp;
  features: Float32Array;
  targets: Float32Array;
  weights: Float32Array;
  n: number;
  channels: number;
  /** "logEnergy": log10(label energy), mapped to roughness by [lo, hi]; "roughness": 0..1. */
  targetKind: "logEnergy" | "roughness";
  lo: number;
  hi: number;
}
