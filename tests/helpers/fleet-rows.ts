// A small fleet model, random own rows and one-sample payloads for the tests that drive FleetLinks
// through a broker.

import { seededRandom } from "../../src/core/random.ts";
import { encodeBatch, type FleetModel } from "../../src/fleet/codec.ts";
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

/** A valid one-sample batch (or snapshot) claiming to come from `robotId`, as a payload. */
export function oneSampleBatch(
  robotId: string,
  model: FleetModel = TEST_MODEL,
  kind: "samples" | "snapshot" = "samples",
): Buffer {
  return Buffer.from(
    encodeBatch({
      kind,
      robotId,
      model,
      targetKind: "logEnergy",
      n: 1,
      seq: 0,
      stamp: 1,
      sent: Date.now() / 1000,
      lo: -1,
      hi: 1,
      targets: new Float32Array([0.1]),
      weights: new Float32Array([1]),
      features: new Float32Array(model.channels).fill(0.5),
    }),
  );
}
