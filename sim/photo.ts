// Photographs of real ground as terrain textures.
//
// A photo is decoded and resampled (sharp, Lanczos) to a square power-of-two tile once, when the
// world's assets are loaded. Baking then makes the tile wrap without a visible seam and builds the
// same mip pyramid as the procedural textures, so the renderer maps photos and procedural ground
// through one path: perspective ray-ground hits, a mip level chosen from each pixel's footprint
// (distant ground averages many texels instead of aliasing), per-patch random offset and rotation,
// and the camera model's exposure, clouds, vignetting and noise on top.

import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import sharp from "sharp";
import { readErrorText } from "../src/core/read-error.ts";
import { type BakedTexture, fillPyramid, pyramidStorage } from "./texture.ts";

/** A decoded photo, already resampled to a square power-of-two tile. */
export interface PhotoTile {
  path: string;
  /** Size of the file as decoded (before resampling). */
  sourceWidth: number;
  sourceHeight: number;
  size: number;
  /** RGB, size × size × 3. */
  data: Uint8Array;
}

/** Smallest photo accepted: below this a "photo" carries no texture to learn from. */
export const MIN_PHOTO_PIXELS = 16;
/** Largest tile side; bigger photos are downsampled (the shipped ones are ≤ 1024 px). */
export const MAX_PHOTO_TILE = 1024;

/** Tile side for a w×h photo: the power of two nearest its geometric-mean side, 16..1024. */
export function photoTileSize(width: number, height: number): number {
  const s = 2 ** Math.round(Math.log2(Math.sqrt(width * height)));
  return Math.max(MIN_PHOTO_PIXELS, Math.min(MAX_PHOTO_TILE, s));
}

/** libvips' messages can run to many lines (a corrupt HEIF gives one per seek): the first says it. */
function firstLine(err: unknown): string {
  return (err as Error).message.split("\n")[0]!.trim().replace(/:$/, "");
}

/** A phone's HEIC (an ISO box file, `ftyp` at byte 4) is a photo sharp's build cannot decode. */
function heifHint(bytes: Buffer): string {
  return bytes.subarray(4, 8).toString("latin1") === "ftyp"
    ? "; a HEIC/HEIF photo: convert it to JPEG or PNG"
    : "";
}

/**
 * Reads and decodes a photo (any format sharp reads: JPEG, PNG, WebP, TIFF…) into a square tile.
 * Errors name the file and the terrain that uses it.
 */
export async function loadPhoto(path: string, terrain: string): Promise<PhotoTile> {
  const where = `terrain '${terrain}': photo ${path}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    // A folder of photos is what one has; the world lists the files.
    const folder = (err as NodeJS.ErrnoException).code === "EISDIR";
    throw new Error(
      `${where}: cannot read: ${readErrorText(err)}${folder ? `; list its photos one by one (photos: [${basename(path)}/a.jpg, ...])` : ""}`,
    );
  }
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (err) {
    throw new Error(`${where}: not an image (${firstLine(err)})${heifHint(bytes)}`);
  }
  const w = meta.autoOrient?.width ?? meta.width;
  const h = meta.autoOrient?.height ?? meta.height;
  if (!w || !h) throw new Error(`${where}: not an image (no size in its header)`);
  if (w < MIN_PHOTO_PIXELS || h < MIN_PHOTO_PIXELS) {
    throw new Error(
      `${where}: ${w}×${h} pixels is too small; a ground photo needs at least ${MIN_PHOTO_PIXELS}×${MIN_PHOTO_PIXELS}`,
    );
  }
  const size = photoTileSize(w, h);
  let raw: Buffer;
  try {
    // Non-square photos are stretched to the square tile: `photoSize` is the ground both sides cover.
    raw = await sharp(bytes)
      .autoOrient()
      .removeAlpha()
      .toColourspace("srgb")
      .resize(size, size, { fit: "fill", kernel: "lanczos3" })
      .raw()
      .toBuffer();
  } catch (err) {
    throw new Error(`${where}: cannot decode (${firstLine(err)})${heifHint(bytes)}`);
  }
  if (raw.length !== size * size * 3) throw new Error(`${where}: decoded to ${raw.length} bytes, not RGB`);
  return {
    path,
    sourceWidth: w,
    sourceHeight: h,
    size,
    data: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
  };
}

/**
 * How much a tile's wrap-around edge jumps compared with the photo next to it: the mean absolute step
 * across the seam (last column → first column, or last row → first row) divided by the mean step
 * between the two pixels on either side of it, inside the photo. ≈1 for a photo that wraps; ≫1 where
 * tiling would show lines.
 */
export function seamRatio(data: Uint8Array, size: number, axis: "x" | "y"): number {
  const at = (a: number, b: number) => 3 * (axis === "x" ? a * size + b : b * size + a);
  const step = (a: number, b0: number, b1: number) => {
    const i = at(a, b0);
    const j = at(a, b1);
    return (
      Math.abs(data[i]! - data[j]!) +
      Math.abs(data[i + 1]! - data[j + 1]!) +
      Math.abs(data[i + 2]! - data[j + 2]!)
    );
  };
  let seam = 0;
  let inner = 0;
  for (let a = 0; a < size; a++) {
    seam += step(a, size - 1, 0);
    inner += (step(a, size - 3, size - 2) + step(a, size - 2, size - 1) + step(a, 0, 1) + step(a, 1, 2)) / 4;
  }
  return seam / Math.max(1e-9, inner);
}

/** Seam ratios above this are blended (seamless photos are left untouched). */
export const SEAM_RATIO_LIMIT = 1.5;

/**
 * Makes a tile wrap without a seam along one axis: near its edges it cross-fades into a copy of
 * itself shifted by half a tile, whose own cut lies in the middle where only the original shows.
 * The fade keeps the local contrast (variance-preserving weights around the mean colour), so the
 * blended band does not look smoother than the rest of the photo. `band` is the fade width as a
 * fraction of the tile.
 */
export function blendSeam(src: Uint8Array, size: number, axis: "x" | "y", band = 0.15): Uint8Array {
  const out = new Uint8Array(src.length);
  const mean = [0, 0, 0];
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) mean[c]! += src[3 * i + c]!;
  for (let c = 0; c < 3; c++) mean[c]! /= size * size;
  const half = size >> 1;
  const width = Math.max(1, band * size);
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) {
      // Distance to the nearest edge across `axis`, in pixels from the pixel centre.
      const d = Math.min(b + 0.5, size - b - 0.5);
      const x = Math.min(1, d / width);
      const w = x * x * (3 - 2 * x);
      const norm = 1 / Math.sqrt(w * w + (1 - w) * (1 - w));
      const bs = (b + half) % size;
      const i = axis === "x" ? a * size + b : b * size + a;
      const j = axis === "x" ? a * size + bs : bs * size + a;
      for (let c = 0; c < 3; c++) {
        const m = mean[c]!;
        const v = m + (w * (src[3 * i + c]! - m) + (1 - w) * (src[3 * j + c]! - m)) * norm;
        out[3 * i + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return out;
}

/** Bakes a photo tile covering `photoSize` metres into a texture with its mip pyramid. */
export function bakePhoto(tile: PhotoTile, photoSize: number): BakedTexture {
  const size = tile.size;
  const log2Size = Math.round(Math.log2(size));
  if (1 << log2Size !== size) throw new Error(`photo tile ${size} is not a power of two`);
  let level0 = tile.data;
  // Separable: the y pass keeps the x wrap the x pass made (each column gets the same operation).
  if (seamRatio(level0, size, "x") > SEAM_RATIO_LIMIT) level0 = blendSeam(level0, size, "x");
  if (seamRatio(level0, size, "y") > SEAM_RATIO_LIMIT) level0 = blendSeam(level0, size, "y");
  const { levels, offsets, data } = pyramidStorage(log2Size);
  data.set(level0.subarray(0, size * size * 3), 0);
  fillPyramid(data, offsets, size);
  let sr = 0;
  let sg = 0;
  let sb = 0;
  for (let i = 0; i < size * size; i++) {
    sr += data[3 * i]!;
    sg += data[3 * i + 1]!;
    sb += data[3 * i + 2]!;
  }
  const n = size * size;
  return {
    size,
    log2Size,
    texel: photoSize / size,
    levels,
    offsets,
    data,
    mean: [sr / n, sg / n, sb / n],
  };
}
