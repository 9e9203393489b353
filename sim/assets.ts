// The files a world refers to (ground photos, vibration recordings), loaded once before the world is
// built. Decoding photos is asynchronous (sharp); building the world stays synchronous and cheap to
// repeat, in this thread or in the render worker, which gets the loaded assets passed to it.

import { statSync } from "node:fs";
import { loadPhoto, type PhotoTile } from "./photo.ts";
import { loadRecording, type Recording } from "./recording.ts";
import type { WorldFile } from "./world-schema.ts";

export interface WorldAssets {
  /** Decoded photo tiles by absolute path. */
  photos: Map<string, PhotoTile>;
  /** Parsed recordings by absolute path. */
  recordings: Map<string, Recording>;
}

export const NO_ASSETS: WorldAssets = { photos: new Map(), recordings: new Map() };

export function needsAssets(file: WorldFile): boolean {
  return file.terrains.some((t) => t.photos !== undefined || t.vibration !== undefined);
}

const photoCache = new Map<string, Promise<PhotoTile>>();

const recordingCache = new Map<string, Recording>();

/**
 * Cache key of a photo or recording: its path and the file's size and modification time, so that a
 * file edited under the same name is read again (the world digest reads its new bytes; the bag must
 * match). Asset objects are new exactly when their file changed: buildWorld keys on them.
 */
function fileKey(path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${path}\0${st.size}\0${st.mtimeNs}\0${st.ino}`;
  } catch {
    return path; // the loader says what is wrong with it
  }
}

/** Loads every photo and recording the world's terrains name; errors name the file and the terrain. */
export async function loadWorldAssets(file: WorldFile): Promise<WorldAssets> {
  const assets: WorldAssets = { photos: new Map(), recordings: new Map() };
  for (const [index, t] of file.terrains.entries()) {
    const name = t.name ?? t.type ?? `#${index}`;
    for (const p of t.photos ?? []) {
      if (assets.photos.has(p)) continue;
      const key = fileKey(p);
      let pending = photoCache.get(key);
      if (!pending) {
        pending = loadPhoto(p, name);
        // A few worlds per process: tests and the CLI load the same photos more than once.
        if (photoCache.size > 64) photoCache.clear();
        photoCache.set(key, pending);
      }
      try {
        assets.photos.set(p, await pending);
      } catch (err) {
        photoCache.delete(key);
        throw err;
      }
    }
    for (const r of t.vibration?.recordings ?? []) {
      if (assets.recordings.has(r)) continue;
      const key = fileKey(r);
      let rec = recordingCache.get(key);
      if (!rec) {
        rec = loadRecording(r, name);
        if (recordingCache.size > 64) recordingCache.clear();
        recordingCache.set(key, rec);
      }
      assets.recordings.set(r, rec);
    }
  }
  return assets;
}
