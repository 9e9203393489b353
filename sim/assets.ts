// The files a world refers to (ground photos, vibration recordings), loaded once before the world is
// built. Decoding photos is asynchronous (sharp); building the world stays synchronous and cheap to
// repeat, in this thread or in the render worker, which gets the loaded assets passed to it.

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

/** Loads every photo and recording the world's terrains name; errors name the file and the terrain. */
export async function loadWorldAssets(file: WorldFile): Promise<WorldAssets> {
  const assets: WorldAssets = { photos: new Map(), recordings: new Map() };
  for (const [index, t] of file.terrains.entries()) {
    const name = t.name ?? t.type ?? `#${index}`;
    for (const p of t.photos ?? []) {
      if (assets.photos.has(p)) continue;
      let pending = photoCache.get(p);
      if (!pending) {
        pending = loadPhoto(p, name);
        // A few worlds per process: tests and the CLI load the same photos more than once.
        if (photoCache.size > 64) photoCache.clear();
        photoCache.set(p, pending);
      }
      try {
        assets.photos.set(p, await pending);
      } catch (err) {
        photoCache.delete(p);
        throw err;
      }
    }
    for (const r of t.vibration?.recordings ?? []) {
      if (!assets.recordings.has(r)) assets.recordings.set(r, loadRecording(r, name));
    }
  }
  return assets;
}
