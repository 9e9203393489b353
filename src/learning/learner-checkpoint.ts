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

/** `learner.backbone` as a user wrote it ("" is the bundled filter bank). */
const backboneName = (b: unknown) => (typeof b === "string" && b.trim() !== "" ? b : "filterbank (bundled)");

/**
 * Why a checkpoint's weights do not fit the backbone `cfg` loads, or null. Another model with as many
 * channels loads without a shape error and predicts from features it never saw, so the file's sha256
 * recorded at save decides (checkpoints that do not record it are taken as they are).
 */
export function backboneMismatch(c: LoadedCheckpoint, cfg: LearnerConfig): string | null {
  const recorded = c.manifest.info?.backboneSha256;
  if (typeof recorded !== "string") return null;
  const current = backboneSha256(cfg);
  if (current === null || current === recorded) return null;
  const was = (c.manifest.info?.learner as { backbone?: unknown } | undefined)?.backbone;
  const path = resolveBackbonePath(cfg.backbone);
  const now = backboneName(cfg.backbone) + (path === cfg.backbone ? "" : ` (${path})`);
  return (
    `trained on backbone ${backboneName(was)} (sha256 ${recorded.slice(0, 12)}…), but learner.backbone is ` +
    `${now} (sha256 ${current.slice(0, 12)}…): set learner.backbone to the model it was trained on`
  );
}

/**
 * Why a checkpoint's weights do not fit `cfg`'s working resolution, or null: the backbone sees the
 * image downscaled to `learner.input_width`, so at another width every texture has another scale and
 * the head reads features it was never taught.
 */
export function inputWidthMismatch(c: LoadedCheckpoint, cfg: LearnerConfig): string | null {
  const was = (c.manifest.info?.learner as { input_width?: unknown } | undefined)?.input_width;
  if (typeof was !== "number" || was === cfg.input_width) return null;
  return `trained at learner.input_width ${was}, but it is ${cfg.input_width} now (features of another scale): set learner.input_width: ${was}, or learn afresh in another learner.checkpoint_dir`;
}

/**
 * Hands the newest checkpoint in `dir` that fits `cfg`'s backbone and that `load` accepts (throws on
 * nothing) to it; the others are skipped with a warning. False when none loads.
 */
export async function loadLatestWeights(
  dir: string,
  warn: (m: string) => void,
  load: (data: Uint8Array) => void,
  cfg?: LearnerConfig,
): Promise<boolean> {
  const accept = (c: LoadedCheckpoint): string | null => {
    const mismatch = cfg ? (backboneMismatch(c, cfg) ?? inputWidthMismatch(c, cfg)) : null;
    if (mismatch) return mismatch;
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
