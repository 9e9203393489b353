// A world's terrain types: built-in or given, procedural or photographed, with their textures baked
// (and cached, since tests and the CLI build the same terrains over and over) and their recorded
// vibration attached.

import type { WorldAssets } from "./assets.ts";
import { bakePhoto, type PhotoTile } from "./photo.ts";
import type { Recording } from "./recording.ts";
import { deriveSeed } from "./rng.ts";
import { builtinTerrain } from "./terrains.ts";
import { type Appearance, type BakedTexture, bakeTexture } from "./texture.ts";
import type { VibrationEntry, WorldFile } from "./world-schema.ts";

/** Ground one photo covers when the world file gives no `photoSize` (m). */
export const DEFAULT_PHOTO_SIZE = 2;

export interface WorldTerrain {
  index: number;
  name: string;
  /** Built-in type it derives from, if any. */
  type: string | undefined;
  roughness: number;
  driven: boolean;
  weight: number;
  /** Procedural appearance (built-in or given); photo terrains keep their type's, unused. */
  appearance: Appearance | undefined;
  /** The terrain's first texture (procedural, or its first photo). */
  texture: BakedTexture;
  /** Indices into World.textures: one procedural texture, or one per photo. */
  slots: number[];
  /** Photo paths, when the terrain is photographed. */
  photos: string[] | undefined;
  /** Recorded vibration, when the terrain has it. */
  vibration: VibrationEntry | undefined;
  recordings: Recording[] | undefined;
}

const textureCache = new Map<string, BakedTexture>();

function cachedTexture(appearance: Appearance, seed: number): BakedTexture {
  const key = `${seed}:${JSON.stringify(appearance)}`;
  let tex = textureCache.get(key);
  if (!tex) {
    tex = bakeTexture(appearance, seed);
    // A handful of worlds per process at most; keep the cache from growing without bound in tests.
    if (textureCache.size > 48) textureCache.clear();
    textureCache.set(key, tex);
  }
  return tex;
}

// By tile, not path: a photo edited under the same name is a new tile (see assets.ts).
const photoTextureCache = new WeakMap<PhotoTile, Map<number, BakedTexture>>();

function cachedPhotoTexture(tile: PhotoTile, photoSize: number): BakedTexture {
  let bySize = photoTextureCache.get(tile);
  if (!bySize) {
    bySize = new Map();
    photoTextureCache.set(tile, bySize);
  }
  let tex = bySize.get(photoSize);
  if (!tex) {
    tex = bakePhoto(tile, photoSize);
    bySize.set(photoSize, tex);
  }
  return tex;
}

export function resolveTerrains(
  file: WorldFile,
  layoutSeed: number,
  assets: WorldAssets,
): { terrains: WorldTerrain[]; textures: BakedTexture[] } {
  const seen = new Set<string>();
  const extra: BakedTexture[] = [];
  const T = file.terrains.length;
  const terrains = file.terrains.map((entry, index): WorldTerrain => {
    const base = entry.type !== undefined ? builtinTerrain(entry.type) : undefined;
    if (entry.type !== undefined && !base) {
      throw new Error(`terrains.${index}.type: unknown terrain type '${entry.type}'`);
    }
    const name = entry.name ?? entry.type!;
    if (seen.has(name)) throw new Error(`terrains.${index}.name: duplicate terrain name '${name}'`);
    seen.add(name);
    const recordings = entry.vibration?.recordings.map((p) => {
      const r = assets.recordings.get(p);
      if (!r) throw new Error(`terrain '${name}': recording ${p} not loaded (load the world's assets first)`);
      return r;
    });
    const common = {
      index,
      name,
      type: entry.type,
      roughness: entry.roughness ?? base!.roughness,
      driven: entry.driven,
      weight: entry.weight,
      vibration: entry.vibration,
      recordings,
    };
    if (entry.photos) {
      const textures = entry.photos.map((p) => {
        const tile = assets.photos.get(p);
        if (!tile)
          throw new Error(`terrain '${name}': photo ${p} not loaded (load the world's assets first)`);
        return cachedPhotoTexture(tile, entry.photoSize ?? DEFAULT_PHOTO_SIZE);
      });
      const slots = [index];
      for (let k = 1; k < textures.length; k++) slots.push(T + extra.push(textures[k]!) - 1);
      return {
        ...common,
        appearance: base?.appearance,
        texture: textures[0]!,
        slots,
        photos: entry.photos,
      };
    }
    const appearance = entry.appearance ?? base!.appearance;
    return {
      ...common,
      appearance,
      texture: cachedTexture(appearance, deriveSeed(layoutSeed, `texture:${name}`)),
      slots: [index],
      photos: undefined,
    };
  });
  return { terrains, textures: [...terrains.map((t) => t.texture), ...extra] };
}
