// The fleet's model key: which backbone and feature layout a robot's samples were made with
// (src/fleet/codec.ts refuses peers whose key differs).

import { FLEET_LAYOUT_VERSION, type FleetModel } from "../fleet/codec.ts";
import { resolveBackbonePath } from "../learning/backbone.ts";
import { modelSha256 } from "../learning/backbone-models.ts";
import type { Config } from "../runtime/config.ts";

/**
 * The model key of a backbone: the first 16 bytes of its model SHA-256 (the .onnx file, and its
 * external data files when it has any: new weights in a side file are another model).
 */
export function backboneHash(path: string): Uint8Array {
  return new Uint8Array(Buffer.from(modelSha256(path), "hex").subarray(0, 16));
}

export function fleetModel(config: Config, backboneChannels: number, headChannels: number): FleetModel {
  return {
    backboneHash: backboneHash(resolveBackbonePath(config.learner.backbone)),
    channels: headChannels,
    backboneChannels,
    inputWidth: config.learner.input_width,
    layoutVersion: FLEET_LAYOUT_VERSION,
  };
}
