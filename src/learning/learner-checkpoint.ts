// The learner's side of checkpoints (checkpoint.ts does the files): what a manifest records besides
// the weights, and resuming from the newest checkpoint whose weights load.

import { modelIdentity, resolveBackbonePath } from "./backbone.ts";
import { type LoadedCheckpoint, readLatestCheckpoint } from "./checkpoint.ts";
import type { LearnerConfig } from "./config.ts";
import { PREDICTION_SETTINGS, STATS_EVERY } from "./learner-types.ts";

/**
 * The camera frames the pipeline was seeing when it saved (the newest frame's size and frame id): the
 * learner sees only features, so the pipeline hands this down. Metadata for `export` only.
 */
export interface CheckpointCamera {
  width: number;
  height: number;
  frameId?: string;
}

/** The manifest's info: training state, the settings the weights depend on, and the backbone file. */
export function checkpointInfo(
  cfg: LearnerConfig,
  s: { trainSteps: number; samplesSeen: number; channels: number; backend: string; lastLoss: number },
  camera?: CheckpointCamera,
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
    ...(camera
      ? { camera: { width: camera.width, height: camera.height, frameId: camera.frameId ?? "" } }
      : {}),
  };
}

/** The camera size a checkpoint records (null: not recorded, as by an older terrain-learner, or garbled). */
export function recordedCamera(info: Record<string, unknown> | undefined): CheckpointCamera | null {
  const c = info?.camera as Partial<CheckpointCamera> | undefined;
  const whole = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
  if (!c || typeof c !== "object" || !whole(c.width) || !whole(c.height)) return null;
  return { width: c.width, height: c.height, frameId: typeof c.frameId === "string" ? c.frameId : "" };
}

/** The identity of the backbone the features come from (null when it cannot be read). */
function backboneIdentity(cfg: LearnerConfig): ReturnType<typeof modelIdentity> | null {
  try {
    return modelIdentity(resolveBackbonePath(cfg.backbone));
  } catch {
    return null;
  }
}

/** sha256 of the backbone model, its external data included (null when it cannot be read). */
const backboneSha256 = (cfg: LearnerConfig): string | null => backboneIdentity(cfg)?.sha256 ?? null;

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
  const id = backboneIdentity(cfg);
  if (id === null || id.sha256 === recorded) return null;
  // Recorded before the hash covered external data: the .onnx file matches (see backboneNote).
  if (id.onnxSha256 === recorded) return null;
  const current = id.sha256;
  const was = (c.manifest.info?.learner as { backbone?: unknown } | undefined)?.backbone;
  const path = resolveBackbonePath(cfg.backbone);
  const now = backboneName(cfg.backbone) + (path === cfg.backbone ? "" : ` (${path})`);
  return (
    `trained on backbone ${backboneName(was)} (sha256 ${recorded.slice(0, 12)}…), but learner.backbone is ` +
    `${now} (sha256 ${current.slice(0, 12)}…): set learner.backbone to the model it was trained on`
  );
}

/**
 * A warning for a loaded checkpoint whose recorded backbone hash is of the .onnx file alone while the
 * model keeps its weights in external data files (written before the hash covered them): the .onnx
 * matches, but the weights beside it cannot be checked.
 */
export function backboneNote(c: LoadedCheckpoint, cfg: LearnerConfig): string | null {
  const recorded = c.manifest.info?.backboneSha256;
  const id = backboneIdentity(cfg);
  if (!id || id.external.length === 0 || recorded !== id.onnxSha256) return null;
  return `checkpoint ${c.path} records the sha256 of ${resolveBackbonePath(cfg.backbone)} alone (written by an older terrain-learner): loaded, but the model's external data (${id.external.join(", ")}) cannot be checked`;
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

/** A learner setting as a checkpoint's manifest recorded it (undefined: not recorded). */
const recordedSetting = (c: LoadedCheckpoint, key: string): unknown =>
  (c.manifest.info?.learner as Record<string, unknown> | undefined)?.[key];

/**
 * Why a checkpoint cannot serve `cfg`'s kind of novelty, or null. A kNN checkpoint holds no trained
 * autoencoder (under knn it is not trained) and an autoencoder one holds no references, and the
 * confidence statistics are of the other score: confidence would be 0 everywhere or measured with
 * an untrained network, so it is skipped like another backbone.
 */
export function noveltyMismatch(c: LoadedCheckpoint, cfg: LearnerConfig): string | null {
  const was = recordedSetting(c, "novelty");
  if (typeof was !== "string" || was === cfg.novelty) return null;
  return `trained with learner.novelty ${was}, but it is ${cfg.novelty} now (the checkpoint holds no ${cfg.novelty === "knn" ? "kNN references" : "trained autoencoder"}): set learner.novelty: ${was}, or learn afresh in another learner.checkpoint_dir`;
}

/**
 * The kNN settings that shape the references and the confidence statistics (mean and spread of the
 * log novelty). Another value still loads (warned): the head and the references are valid and the
 * search is rebuilt from them under the new settings; only the statistics were measured with the
 * old distance (or the old number of references), until training draws references and measures
 * them again. confidence_sigma is not here: it is applied to the statistics at prediction, so a new
 * value takes effect at once (that is how it is tuned).
 */
const KNN_SETTINGS = [
  "novelty_metric",
  "novelty_ridge",
  "novelty_neighbors",
  "novelty_features",
  "novelty_references",
] as const satisfies readonly (keyof LearnerConfig)[];

/**
 * One warning for a loaded checkpoint whose kNN settings differ from `cfg`'s (naming both values),
 * or that does not record them (older terrain-learner: they cannot be checked); null when they match.
 */
export function noveltySettingsWarning(c: LoadedCheckpoint, cfg: LearnerConfig): string | null {
  const checked = cfg.novelty === "knn" ? (["novelty", ...KNN_SETTINGS] as const) : (["novelty"] as const);
  const unrecorded = checked.filter((k) => recordedSetting(c, k) === undefined);
  if (unrecorded.length > 0) {
    const what =
      unrecorded[0] === "novelty" ? "its novelty settings" : unrecorded.map((k) => `learner.${k}`).join(", ");
    return `checkpoint ${c.path} does not record ${what} (written by an older terrain-learner): loaded, but they cannot be checked against this configuration; if confidence looks wrong, learn afresh in another learner.checkpoint_dir`;
  }
  if (cfg.novelty !== "knn") return null;
  const changed = KNN_SETTINGS.filter((k) => recordedSetting(c, k) !== cfg[k]).map(
    (k) => `learner.${k} ${String(recordedSetting(c, k))} (now ${String(cfg[k])})`,
  );
  if (changed.length === 0) return null;
  return (
    `checkpoint ${c.path} was trained with ${changed.join(", ")}: loaded, but confidence uses its references ` +
    `and statistics measured under the old settings until training draws new ones (every ${STATS_EVERY} steps; never while learning is off)`
  );
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
  onCamera?: (recorded: CheckpointCamera | null) => void,
): Promise<boolean> {
  const accept = (c: LoadedCheckpoint): string | null => {
    const mismatch = cfg
      ? (backboneMismatch(c, cfg) ?? inputWidthMismatch(c, cfg) ?? noveltyMismatch(c, cfg))
      : null;
    if (mismatch) return mismatch;
    try {
      load(c.data);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const loaded = await readLatestCheckpoint(dir, warn, accept);
  if (loaded) onCamera?.(recordedCamera(loaded.manifest.info));
  if (loaded && cfg)
    for (const note of [backboneNote(loaded, cfg), noveltySettingsWarning(loaded, cfg)]) if (note) warn(note);
  return loaded !== null;
}
