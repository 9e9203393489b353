// A built world: terrain types with baked textures, and a raster of terrain patches over the ground
// plane (odom frame) that the renderer, the wheels and the ground truth all read, so the three can
// never disagree about what lies where.

import { basename } from "node:path";
import type { Costmap } from "../src/core/types.ts";
import { NO_ASSETS, type WorldAssets } from "./assets.ts";
import { deriveSeed, hash2, hash32, Rng } from "./rng.ts";
import type { BakedTexture } from "./texture.ts";
import type { WorldFile } from "./world-schema.ts";
import { resolveTerrains, type WorldTerrain } from "./world-terrains.ts";

export { DEFAULT_PHOTO_SIZE, type WorldTerrain } from "./world-terrains.ts";

export interface World {
  file: WorldFile;
  name: string;
  layoutSeed: number;
  terrains: WorldTerrain[];
  /** Raster: cell (c, r) covers [originX + c·res, +res) × [originY + r·res, +res). */
  originX: number;
  originY: number;
  resolution: number;
  cols: number;
  rows: number;
  /** Patch id per raster cell. */
  patchId: Uint16Array;
  /** Within-patch brightness per cell, 128 = 1.0 (gain = shade / 128). */
  shade: Uint8Array;
  patchCount: number;
  /** Per patch: terrain index. */
  patchTerrain: Uint8Array;
  /** Per patch: colour gains r, g, b. */
  patchGain: Float32Array;
  /** Per patch: texture mapping (cos/texel, sin/texel, u offset, v offset). */
  patchTex: Float64Array;
  /** Every texture of the world (terrain i's first texture is slot i) and each patch's slot. */
  textures: BakedTexture[];
  patchSlot: Uint16Array;
  roughnessOf: Float32Array;
  drivenOf: Uint8Array;
}

/** Smooth non-periodic value noise, −0.5..0.5. */
function valueNoise(x: number, y: number, seed: number): number {
  const ix = Math.floor(x);
  const iy = Math.floor(y);
  let fx = x - ix;
  let fy = y - iy;
  fx = fx * fx * (3 - 2 * fx);
  fy = fy * fy * (3 - 2 * fy);
  const a = hash2(ix, iy, seed);
  const b = hash2(ix + 1, iy, seed);
  const c = hash2(ix, iy + 1, seed);
  const d = hash2(ix + 1, iy + 1, seed);
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy - 0.5;
}

function fbm(x: number, y: number, seed: number, octaves: number): number {
  let sum = 0;
  let amp = 1;
  let f = 1;
  let norm = 0;
  for (let o = 0; o < octaves; o++) {
    sum += amp * valueNoise(x * f, y * f, hash32((seed + o * 101) >>> 0));
    norm += amp;
    amp *= 0.5;
    f *= 2;
  }
  return sum / norm;
}

/** Picks terrain indices in proportion to weight, each terrain at least once when n allows. */
function terrainBag(terrains: WorldTerrain[], n: number, rng: Rng): number[] {
  const total = terrains.reduce((s, t) => s + t.weight, 0);
  const bag: number[] = [];
  for (const t of terrains) {
    const k = Math.max(1, Math.round((t.weight / total) * n));
    for (let i = 0; i < k; i++) bag.push(t.index);
  }
  rng.shuffle(bag);
  while (bag.length < n) bag.push(rng.pick(terrains).index);
  return bag;
}

const assetIds = new WeakMap<object, number>();
let nextAssetId = 1;

function assetId(asset: object | undefined): number {
  if (asset === undefined) return 0;
  let id = assetIds.get(asset);
  if (id === undefined) {
    id = nextAssetId++;
    assetIds.set(asset, id);
  }
  return id;
}

// The last few built worlds, keyed by what the ground depends on: tests and the CLI build the same
// world for several seeds or camera settings, and the raster takes most of a second.
const worldCache: { key: string; world: World }[] = [];

/**
 * Builds (or reuses) the world for `file`. The ground (terrains, layout, lighting jitter) depends only
 * on the layout seed; the returned object carries `file` as given, so camera/IMU overrides apply.
 */
export function buildWorld(file: WorldFile, seed: number, assets: WorldAssets = NO_ASSETS): World {
  const layoutSeed = file.layout.seed ?? seed;
  // Photos and recordings by the loaded objects, not their paths: loadWorldAssets gives a new object
  // when a file changed, so a world built from an edited photo is built again.
  const loaded = file.terrains.map((t) => [
    ...(t.photos ?? []).map((p) => assetId(assets.photos.get(p))),
    ...(t.vibration?.recordings ?? []).map((r) => assetId(assets.recordings.get(r))),
  ]);
  const key = JSON.stringify([layoutSeed, file.bounds, file.layout, file.terrains, file.lighting, loaded]);
  const hit = worldCache.find((e) => e.key === key);
  if (hit) return { ...hit.world, file, name: file.name };
  const world = buildWorldUncached(file, layoutSeed, assets);
  worldCache.push({ key, world });
  if (worldCache.length > 3) worldCache.shift();
  return world;
}

function buildWorldUncached(file: WorldFile, layoutSeed: number, assets: WorldAssets): World {
  const { terrains, textures } = resolveTerrains(file, layoutSeed, assets);
  if (terrains.length > 255) throw new Error(`terrains: at most 255 types, found ${terrains.length}`);
  if (!terrains.some((t) => t.driven)) throw new Error("terrains: at least one terrain must be driven");
  const { bounds, layout, lighting } = file;
  const res = layout.resolution;
  const originX = bounds.xMin - layout.margin;
  const originY = bounds.yMin - layout.margin;
  const cols = Math.ceil((bounds.xMax + layout.margin - originX) / res);
  const rows = Math.ceil((bounds.yMax + layout.margin - originY) / res);
  if (cols * rows > 40_000_000) {
    throw new Error(
      `layout: raster of ${cols}×${rows} cells is too large; raise layout.resolution (${res} m) or shrink bounds/margin`,
    );
  }
  const rng = Rng.stream(layoutSeed, "layout");
  const warpSeedX = deriveSeed(layoutSeed, "warp-x");
  const warpSeedY = deriveSeed(layoutSeed, "warp-y");
  const shadeSeed = deriveSeed(layoutSeed, "shade");

  // Warp and shade are smooth over metres: evaluate them on a coarse grid, interpolate per cell.
  const coarse = 0.5;
  const cc = Math.ceil((cols * res) / coarse) + 2;
  const cr = Math.ceil((rows * res) / coarse) + 2;
  const warpX = new Float32Array(cc * cr);
  const warpY = new Float32Array(cc * cr);
  const shadeC = new Float32Array(cc * cr);
  const warpScale = Math.max(2, layout.cellSize * 0.4);
  for (let j = 0; j < cr; j++) {
    for (let i = 0; i < cc; i++) {
      const x = originX + i * coarse;
      const y = originY + j * coarse;
      warpX[j * cc + i] = 2 * layout.warp * fbm(x / warpScale, y / warpScale, warpSeedX, 3);
      warpY[j * cc + i] = 2 * layout.warp * fbm(x / warpScale, y / warpScale, warpSeedY, 3);
      shadeC[j * cc + i] = fbm(x / 3, y / 3, shadeSeed, 3) * 2;
    }
  }

  // Patch sites / ids per layout kind.
  let patchCount: number;
  let patchTerrainList: number[];
  let classify: (x: number, y: number) => number;
  const nameToIndex = new Map(terrains.map((t) => [t.name, t.index]));
  if (layout.kind === "voronoi") {
    const s = layout.cellSize;
    let sitesX: number[];
    let sitesY: number[];
    if (layout.patches && layout.patches.length > 0) {
      sitesX = layout.patches.map((p) => p.x);
      sitesY = layout.patches.map((p) => p.y);
      patchTerrainList = layout.patches.map((p, i) => {
        const idx = nameToIndex.get(p.terrain);
        if (idx === undefined)
          throw new Error(`layout.patches.${i}.terrain: no terrain named '${p.terrain}' in terrains`);
        return idx;
      });
      patchCount = sitesX.length;
      classify = (x, y) => {
        let best = 0;
        let bd = Infinity;
        for (let k = 0; k < patchCount; k++) {
          const d = (x - sitesX[k]!) ** 2 + (y - sitesY[k]!) ** 2;
          if (d < bd) {
            bd = d;
            best = k;
          }
        }
        return best;
      };
    } else {
      // Jittered grid of sites (±0.4 cell): the nearest site is almost always in the 3×3
      // neighbourhood; the rare miss only bends a boundary a little, deterministically.
      const gx0 = Math.floor(originX / s) - 1;
      const gy0 = Math.floor(originY / s) - 1;
      const gnx = Math.ceil((cols * res) / s) + 3;
      const gny = Math.ceil((rows * res) / s) + 3;
      patchCount = gnx * gny;
      if (patchCount > 65535)
        throw new Error(`layout.cellSize ${s} m gives ${patchCount} patches (max 65535)`);
      sitesX = new Array(patchCount);
      sitesY = new Array(patchCount);
      for (let j = 0; j < gny; j++) {
        for (let i = 0; i < gnx; i++) {
          sitesX[j * gnx + i] = (gx0 + i + 0.5 + 0.8 * (rng.next() - 0.5)) * s;
          sitesY[j * gnx + i] = (gy0 + j + 0.5 + 0.8 * (rng.next() - 0.5)) * s;
        }
      }
      patchTerrainList = terrainBag(terrains, patchCount, rng);
      classify = (x, y) => {
        const gi = Math.floor(x / s) - gx0;
        const gj = Math.floor(y / s) - gy0;
        let best = 0;
        let bd = Infinity;
        for (let dj = -1; dj <= 1; dj++) {
          const j = gj + dj;
          if (j < 0 || j >= gny) continue;
          for (let di = -1; di <= 1; di++) {
            const i = gi + di;
            if (i < 0 || i >= gnx) continue;
            const k = j * gnx + i;
            const d = (x - sitesX[k]!) ** 2 + (y - sitesY[k]!) ** 2;
            if (d < bd) {
              bd = d;
              best = k;
            }
          }
        }
        return best;
      };
    }
  } else if (layout.kind === "stripes") {
    const a = (layout.angle * Math.PI) / 180;
    const ca = Math.cos(a);
    const sa = Math.sin(a);
    // Distance across the stripes spans at most the raster diagonal.
    const span = Math.hypot(cols * res, rows * res) + 2 * layout.cellSize;
    const d0 = Math.min(
      ...[
        [originX, originY],
        [originX + cols * res, originY],
        [originX, originY + rows * res],
        [originX + cols * res, originY + rows * res],
      ].map(([x, y]) => x! * ca + y! * sa),
    );
    const bandMin = Math.floor(d0 / layout.cellSize) - 1;
    patchCount = Math.ceil(span / layout.cellSize) + 3;
    // Stripes cycle through the terrain list in order: a predictable test pattern.
    patchTerrainList = Array.from(
      { length: patchCount },
      (_, k) => (k + bandMin + 1_000_000 * terrains.length) % terrains.length,
    );
    classify = (x, y) => {
      const k = Math.floor((x * ca + y * sa) / layout.cellSize) - bandMin;
      return Math.min(patchCount - 1, Math.max(0, k));
    };
  } else {
    const s = layout.cellSize;
    const gx0 = Math.floor(originX / s) - 1;
    const gy0 = Math.floor(originY / s) - 1;
    const gnx = Math.ceil((cols * res) / s) + 3;
    const gny = Math.ceil((rows * res) / s) + 3;
    patchCount = gnx * gny;
    if (patchCount > 65535) throw new Error(`layout.cellSize ${s} m gives ${patchCount} patches (max 65535)`);
    patchTerrainList = terrainBag(terrains, patchCount, rng);
    classify = (x, y) => {
      const i = Math.min(gnx - 1, Math.max(0, Math.floor(x / s) - gx0));
      const j = Math.min(gny - 1, Math.max(0, Math.floor(y / s) - gy0));
      return j * gnx + i;
    };
  }

  const patchId = new Uint16Array(cols * rows);
  const shade = new Uint8Array(cols * rows);
  const shadeAmp = lighting.shade;
  const scale = res / coarse;
  for (let r = 0; r < rows; r++) {
    const y = originY + (r + 0.5) * res;
    const fy = (r + 0.5) * scale;
    const j0 = Math.floor(fy);
    const ty = fy - j0;
    for (let c = 0; c < cols; c++) {
      const x = originX + (c + 0.5) * res;
      const fx = (c + 0.5) * scale;
      const i0 = Math.floor(fx);
      const tx = fx - i0;
      const k = j0 * cc + i0;
      const w00 = (1 - tx) * (1 - ty);
      const w10 = tx * (1 - ty);
      const w01 = (1 - tx) * ty;
      const w11 = tx * ty;
      const wx = w00 * warpX[k]! + w10 * warpX[k + 1]! + w01 * warpX[k + cc]! + w11 * warpX[k + cc + 1]!;
      const wy = w00 * warpY[k]! + w10 * warpY[k + 1]! + w01 * warpY[k + cc]! + w11 * warpY[k + cc + 1]!;
      const sh = w00 * shadeC[k]! + w10 * shadeC[k + 1]! + w01 * shadeC[k + cc]! + w11 * shadeC[k + cc + 1]!;
      const idx = r * cols + c;
      patchId[idx] = classify(x + wx, y + wy);
      shade[idx] = Math.max(0, Math.min(255, Math.round(128 * (1 + shadeAmp * sh))));
    }
  }

  const patchTerrain = Uint8Array.from(patchTerrainList);
  const patchGain = new Float32Array(patchCount * 3);
  const patchTex = new Float64Array(patchCount * 4);
  const jit = lighting.patchJitter;
  const prng = Rng.stream(layoutSeed, "patches");
  const patchSlot = choosePatchSlots(terrains, patchTerrain, layoutSeed);
  for (let p = 0; p < patchCount; p++) {
    const bright = 1 + jit * Math.max(-2, Math.min(2, prng.gauss()));
    for (let ch = 0; ch < 3; ch++) {
      patchGain[3 * p + ch] = bright * (1 + 0.4 * jit * Math.max(-2, Math.min(2, prng.gauss())));
    }
    const tex = textures[patchSlot[p]!]!;
    const ang = prng.uniform(0, 2 * Math.PI);
    patchTex[4 * p] = Math.cos(ang) / tex.texel;
    patchTex[4 * p + 1] = Math.sin(ang) / tex.texel;
    // Large positive offsets keep texture coordinates positive, so `| 0` truncation is a floor.
    patchTex[4 * p + 2] = (1 << 22) + prng.next() * tex.size;
    patchTex[4 * p + 3] = (1 << 22) + prng.next() * tex.size;
  }

  return {
    file,
    name: file.name,
    layoutSeed,
    terrains,
    originX,
    originY,
    resolution: res,
    cols,
    rows,
    patchId,
    shade,
    patchCount,
    patchTerrain,
    patchGain,
    patchTex,
    textures,
    patchSlot,
    roughnessOf: Float32Array.from(terrains.map((t) => t.roughness)),
    drivenOf: Uint8Array.from(terrains.map((t) => (t.driven ? 1 : 0))),
  };
}

/**
 * Texture slot per patch. A terrain with several photos deals them out in turn over its patches
 * (in patch order, from a random first photo), so each photo covers about the same share and
 * neighbouring patches of one terrain rarely show the same photo. Its own random stream: worlds
 * without photos draw nothing from it.
 */
function choosePatchSlots(
  terrains: WorldTerrain[],
  patchTerrain: Uint8Array,
  layoutSeed: number,
): Uint16Array {
  const slots = new Uint16Array(patchTerrain.length);
  const rng = Rng.stream(layoutSeed, "photos");
  const next = terrains.map((t) => (t.slots.length > 1 ? rng.int(t.slots.length) : 0));
  for (let p = 0; p < patchTerrain.length; p++) {
    const t = terrains[patchTerrain[p]!]!;
    const k = next[t.index]!;
    slots[p] = t.slots[k]!;
    next[t.index] = (k + 1) % t.slots.length;
  }
  return slots;
}

/** Terrain index at (x, y) in odom, or −1 outside the raster. */
export function terrainAt(world: World, x: number, y: number): number {
  const c = Math.floor((x - world.originX) / world.resolution);
  const r = Math.floor((y - world.originY) / world.resolution);
  if (c < 0 || r < 0 || c >= world.cols || r >= world.rows) return -1;
  return world.patchTerrain[world.patchId[r * world.cols + c]!]!;
}

/** True roughness at (x, y); outside the raster the roughest value (unknown ground is not safe). */
export function roughnessAt(world: World, x: number, y: number): number {
  const t = terrainAt(world, x, y);
  return t < 0 ? 1 : world.roughnessOf[t]!;
}

/** Ground-truth grids (roughness ×100 and terrain index) over the bounds plus margin. */
export function groundTruthGrids(world: World, stamp: number): { roughness: Costmap; terrain: Costmap } {
  const { bounds, groundTruth } = world.file;
  const res = groundTruth.resolution;
  const ox = bounds.xMin - groundTruth.margin;
  const oy = bounds.yMin - groundTruth.margin;
  const width = Math.ceil((bounds.xMax + groundTruth.margin - ox) / res);
  const height = Math.ceil((bounds.yMax + groundTruth.margin - oy) / res);
  const rough = new Int8Array(width * height);
  const terr = new Int8Array(width * height);
  for (let r = 0; r < height; r++) {
    const y = oy + (r + 0.5) * res;
    for (let c = 0; c < width; c++) {
      const t = terrainAt(world, ox + (c + 0.5) * res, y);
      rough[r * width + c] = t < 0 ? -1 : Math.round(world.roughnessOf[t]! * 100);
      terr[r * width + c] = t;
    }
  }
  const base = { stamp, frameId: "odom", resolution: res, width, height, originX: ox, originY: oy };
  return { roughness: { ...base, data: rough }, terrain: { ...base, data: terr } };
}

/** The world as recorded in the bag's `terrain_learner_sim` metadata. */
export function worldSummary(world: World): Record<string, unknown> {
  return {
    name: world.name,
    description: world.file.description,
    layoutSeed: world.layoutSeed,
    bounds: world.file.bounds,
    terrains: world.terrains.map((t) => ({
      index: t.index,
      name: t.name,
      type: t.type,
      roughness: t.roughness,
      driven: t.driven,
      meanColor: t.texture.mean.map((v) => Math.round(v)),
      ...(t.photos ? { photos: t.photos.map((p) => basename(p)) } : {}),
      ...(t.recordings ? { recordings: t.recordings.map((r) => basename(r.path)) } : {}),
    })),
    robot: world.file.robot,
    camera: world.file.camera,
    imu: world.file.imu,
    odometry: world.file.odometry,
    groundTruth: world.file.groundTruth,
  };
}

/**
 * A world of one terrain with the given roughness everywhere (no texture to speak of): what the IMU
 * model needs to measure its own vibration level at a roughness.
 */
export function uniformWorld(file: WorldFile, roughness: number): World {
  const texture: BakedTexture = {
    size: 1,
    log2Size: 0,
    texel: 1,
    levels: 1,
    offsets: new Int32Array(1),
    data: new Uint8Array(3),
    mean: [0, 0, 0],
  };
  const terrain: WorldTerrain = {
    index: 0,
    name: "uniform",
    type: undefined,
    roughness,
    driven: true,
    weight: 1,
    appearance: undefined,
    texture,
    slots: [0],
    photos: undefined,
    vibration: undefined,
    recordings: undefined,
  };
  return {
    file: { ...file, terrains: [{ name: "uniform", roughness, driven: true, weight: 1 }] },
    name: "uniform",
    layoutSeed: 0,
    terrains: [terrain],
    originX: -1e7,
    originY: -1e7,
    resolution: 2e7,
    cols: 1,
    rows: 1,
    patchId: new Uint16Array(1),
    shade: new Uint8Array(1).fill(128),
    patchCount: 1,
    patchTerrain: new Uint8Array(1),
    patchGain: new Float32Array([1, 1, 1]),
    patchTex: new Float64Array([1, 0, 0, 0]),
    textures: [texture],
    patchSlot: new Uint16Array(1),
    roughnessOf: Float32Array.of(roughness),
    drivenOf: Uint8Array.of(1),
  };
}
