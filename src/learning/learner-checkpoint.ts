// The learner's side of checkpoints (checkpoint.ts does the files): what a manifest records besides
// the weights, and resuming from the newest checkpoint whose weights load.

import { modelSha256, resolveBackbonePath } from "./backbone.ts";
import { type LoadedCheckpoint, readLatestCheckpoint } from "./checkpoint.ts";
import type { LearnerConfig } from "./config.ts";
import { PREDICTION_SETTINGS } from "./learner-types.ts";

/** The manifest's info: training state, the settings the weights depend on, and the backbone file. */
export function checkpointInfo(
  cfg: LearnerConfig,
  s: { trainSteps: number; samplesSeen: number; channels: number; backend: string; lastLoss: number },
): Record<string, unknown> {
  return {
    trainSteps: s.trainSteps,
    samplesSeen: s.samplesSeen,
    channels: s.channels,
    hiddenUnits: cfg.hidden_units,
    bottleneck: cfg.bottleneck,
    backend: s.backend,
    loss: Number.isFinite(s.lastLoss) ? s.lastLoss : null,
    learner: Object.fromEntries(PREDICTION_SETTINGS.map((k) => [k, cfg[k]])),
    backboneSha256: backboneSha256(cfg),
  };
}

/** sha256 of the backbone file the features come from (null when it cannot be read). */
function backboneSha256(cfg: LearnerConfig): string | null {
  try {
    return modelSha256(resolveBackbonePath(cfg.backbone));
  } catch {
    return null;
  }
}

/**
 * Hands the newest checkpoint in `dir` that `load` accepts (throws on nothing) to it; the others are
 * skipped with a warning. False when none loads.
 */
export async function loadLatestWeights(
  dir: string,
  warn: (m: string) => void,
  load: (data: Uint8Array) => void,
): Promise<boolean> {
  const accept = (c: LoadedCheckpoint): string | null => {
    try {
      load(c.data);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const loaded = await readLatestCheckpoint(dir, warn, accept);
  return loaded !== null;
}
