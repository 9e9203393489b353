// A small fleet model and random own rows for the tests that drive FleetLinks through a broker.

import { seededRandom } from "../../src/core/random.ts";
import type { FleetModel } from "../../src/fleet/codec.ts";
import type { FleetRows } from "../../src/fleet/exchange.ts";

export const TEST_CHANNELS = 8;

export const TEST_MODEL: FleetModel = {
  backboneHash: new Uint8Array(16).fill(3),
  channels: TEST_CHANNELS,
  backboneChannels: 4,
  inputWidth: 320,
  layoutVersion: 1,
};

/** n own rows of uniform features and labels in [-1, 1], on the bounds [-1, 1]. */
export function randomRows(n: number, seed: number, channels = TEST_CHANNELS): FleetRows {
  const rand = seededRandom(seed);
  return {
    stamp: 0,
    features: Float32Array.from({ length: n * channels }, () => rand()),
    targets: Float32Array.from({ length: n }, () => rand() * 2 - 1),
    weights: new Float32Array(n).fill(1),
    n,
    channels,
    targetKind: "logEnergy",
    lo: -1,
    hi: 1,
  };
}
