// Checkpoints: `ckpt-<seq>.bin` (weights + normaliser statistics, opaque bytes from the learner) and
// `ckpt-<seq>.json` (manifest: sequence, size, sha256 of the .bin, what produced it).
//
// Crash safety: each file is written to a temp name, fsync'ed, renamed into place, and the directory
// fsync'ed; the manifest is renamed LAST, so a checkpoint exists only once both halves are durable.
// A power cut mid-write leaves at worst a stray temp file (cleaned up later) and the previous
// checkpoints intact. Loading walks manifests newest first and takes the first whose .bin has the
// recorded size and checksum, so a truncated or garbled newest checkpoint falls back to the previous one.
//
// Saves to one folder from one process are serialised (a service call can land while a signal save
// or a periodic save is running); without that, two saves pick the same sequence number and the
// survivor's manifest can describe the other's weights. Two PROCESSES writing one folder are not
// supported: nothing arbitrates the sequence number between them.

import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";

export interface CheckpointManifest {
  format: "terrain-learner-checkpoint";
  version: 1;
  seq: number;
  created: string;
  bytes: number;
  sha256: string;
  /** Whatever the writer wants to record (train steps, backend, channels, config digest...). */
  info: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  path: string;
  data: Uint8Array;
}

const NAME = /^ckpt-(\d{8})\.json$/;
/** A checkpoint file's temporary name while it is written (writeDurable). */
const TEMP_NAME = /^ckpt-\d{8}\.(bin|json)\.tmp-/;
/** A checkpoint's own files (its manifest and weights), as opposed to anything else in the folder. */
export const CHECKPOINT_FILE = /^ckpt-\d{8}\.(bin|json)$/;

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const pad = (seq: number) => String(seq).padStart(8, "0");

async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  // Unique per write, not just per pid: worker threads share the pid, and a temp name shared by two
  // writes gets truncated under the other's feet.
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A disk-full write leaves a partial file: removed, or each retry would hold on to more of the
    // space the next save needs (stray temp files are otherwise only cleared after a save succeeds).
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the renames durable; not every platform/filesystem allows opening a directory.
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

async function listSeqs(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    // Callers name the folder (--checkpoint DIR: ...).
    if (code === "ENOTDIR") throw new Error("a file, not a folder: give the folder holding ckpt-*.json");
    throw err;
  }
  const seqs: number[] = [];
  for (const n of names) {
    const m = NAME.exec(n);
    if (m) seqs.push(Number(m[1]));
  }
  return seqs.sort((a, b) => b - a);
}

const pending = new Map<string, Promise<unknown>>();

/** Writes a new checkpoint and deletes all but the newest `keep`. Returns the manifest path. */
export function writeCheckpoint(
  dir: string,
  data: Uint8Array,
  info: Record<string, unknown>,
  keep: number,
): Promise<string> {
  const key = resolve(dir);
  const write = (pending.get(key) ?? Promise.resolve()).then(() => writeNow(dir, data, info, keep));
  // A failed save must not block the ones queued behind it.
  const settled = write.catch(() => undefined);
  pending.set(key, settled);
  void settled.then(() => {
    if (pending.get(key) === settled) pending.delete(key);
  });
  return write;
}

async function writeNow(
  dir: string,
  data: Uint8Array,
  info: Record<string, unknown>,
  keep: number,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seqs = await listSeqs(dir);
  const seq = (seqs[0] ?? 0) + 1;
  const base = join(dir, `ckpt-${pad(seq)}`);
  const manifest: CheckpointManifest = {
    format: "terrain-learner-checkpoint",
    version: 1,
    seq,
    created: new Date().toISOString(),
    bytes: data.byteLength,
    sha256: sha256(data),
    info,
  };
  await writeDurable(`${base}.bin`, data);
  await writeDurable(`${base}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  await syncDir(dir);
  await prune(dir, Math.max(1, keep));
  return `${base}.json`;
}

async function prune(dir: string, keep: number): Promise<void> {
  const seqs = await listSeqs(dir);
  for (const seq of seqs.slice(keep)) {
    const base = join(dir, `ckpt-${pad(seq)}`);
    // Manifest first: a half-pruned checkpoint must not look loadable.
    await rm(`${base}.json`, { force: true });
    await rm(`${base}.bin`, { force: true });
  }
  // Temp files left by a crash mid-write (older than a minute, so not a concurrent writer's). Only
  // a checkpoint's own: the folder may be the user's, holding other files with ".tmp-" in the name.
  for (const n of await readdir(dir)) {
    if (!TEMP_NAME.test(n)) continue;
    try {
      const st = await stat(join(dir, n));
      if (Date.now() - st.mtimeMs > 60_000) await rm(join(dir, n), { force: true });
    } catch {
      /* raced with another pruner */
    }
  }
}

/**
 * The newest checkpoint that passes validation (manifest parses, .bin has the recorded size and sha256
 * and, when given, `accept` returns null), or null if there is none. Each rejected one is reported
 * through `warn` with the reason.
 */
export async function readLatestCheckpoint(
  dir: string,
  warn: (message: string) => void = (m) => console.warn(m),
  accept?: (c: LoadedCheckpoint) => string | null,
): Promise<LoadedCheckpoint | null> {
  for (const seq of await listSeqs(dir)) {
    const base = join(dir, `ckpt-${pad(seq)}`);
    const reason = await (async (): Promise<string | LoadedCheckpoint> => {
      let manifest: CheckpointManifest;
      try {
        manifest = JSON.parse(await readFile(`${base}.json`, "utf8")) as CheckpointManifest;
      } catch (err) {
        return `manifest unreadable (${(err as Error).message.split("\n")[0]})`;
      }
      if (manifest?.format !== "terrain-learner-checkpoint" || typeof manifest.sha256 !== "string") {
        return "manifest is not a terrain-learner checkpoint";
      }
      let data: Uint8Array;
      try {
        data = new Uint8Array(await readFile(`${base}.bin`));
      } catch (err) {
        return `weights file unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      }
      if (data.byteLength !== manifest.bytes)
        return `weights file has ${data.byteLength} bytes, manifest says ${manifest.bytes} (truncated?)`;
      const sum = sha256(data);
      if (sum !== manifest.sha256)
        return `weights checksum ${sum.slice(0, 12)}… does not match manifest ${manifest.sha256.slice(0, 12)}…`;
      const loaded = { manifest, path: `${base}.json`, data };
      const rejected = accept?.(loaded);
      return rejected ? rejected : loaded;
    })();
    if (typeof reason !== "string") return reason;
    warn(`checkpoint ${base}.json skipped: ${reason}`);
  }
  return null;
}

/** Anything that can save itself: an OnlineLearner or a LiveTrainer. */
export interface Checkpointable {
  saveCheckpoint(dir: string): Promise<string>;
}

/**
 * Saves a checkpoint when the process gets SIGINT/SIGTERM, then lets the signal end the process
 * (re-raised once our handler is gone, so the exit status says "killed by SIGINT" as usual).
 * A second signal while saving exits at once. Returns a function that removes the handlers.
 */
export function installSignalSave(
  learner: Checkpointable,
  dir: string,
  opts: { signals?: NodeJS.Signals[]; log?: (m: string) => void; exit?: boolean } = {},
): () => void {
  const signals = opts.signals ?? ["SIGINT", "SIGTERM"];
  const log = opts.log ?? ((m: string) => console.error(m));
  let saving = false;
  const handler = (signal: NodeJS.Signals) => {
    if (saving) process.exit(130);
    saving = true;
    learner
      .saveCheckpoint(dir)
      .then((path) => log(`${signal}: checkpoint saved to ${path}`))
      .catch((err: Error) => log(`${signal}: checkpoint save failed: ${err.message}`))
      .finally(() => {
        uninstall();
        if (opts.exit !== false) process.kill(process.pid, signal);
      });
  };
  const uninstall = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.on(s, handler);
  return uninstall;
}
