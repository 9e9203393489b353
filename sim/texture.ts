// Procedural ground textures, baked once per terrain type into a tileable RGB image with a mip
// pyramid. Rendering then costs one texel lookup per pixel; the pyramid level is chosen from the
// pixel's footprint on the ground, so distant gravel does not alias into random noise.
//
// A texture is a scalar field t (sum of pattern layers) mapped through a colour palette. Every layer
// is periodic over the tile, so tiles join without seams.

import { hash2, hash32 } from "./rng.ts";

export type LayerKind = "fbm" | "cells" | "stripes" | "speckle" | "blades" | "ripples" | "strokes";

export interface TextureLayer {
  kind: LayerKind;
  /** Feature size in metres (noise lattice spacing, cell size, stripe period, speck size). */
  scale: number;
  /** Contribution to t; layers output roughly −0.5..0.5. Negative inverts. */
  weight: number;
  /** fbm/blades: octaves (default 4) and per-octave gain (default 0.5). */
  octaves?: number;
  gain?: number;
  /** cells: lattice jitter 0..1 (default 0.9) and the gap between cells as a fraction of the cell. */
  jitter?: number;
  mortar?: number;
  /** speckle: fraction of specks lit (default 0.1). */
  density?: number;
  /** stripes/ripples: direction in degrees (0 = along x), snapped so the tile stays periodic. */
  angle?: number;
  /** stripes: exponent that thins the lines (1 = sine, 8 = thin joints). */
  sharpness?: number;
  /** blades/ripples/strokes: elongation of the features (default 4). */
  aspect?: number;
}

export interface Appearance {
  /** 2..8 sRGB colours; t ∈ [0, 1] is mapped linearly across them. */
  palette: readonly (readonly [number, number, number])[];
  layers: readonly TextureLayer[];
  /** Metres per texel at full resolution. */
  texel: number;
  /** Added to t before the palette lookup (default 0.5: layers are centred on zero). */
  bias?: number;
}

/** A baked texture: RGB levels concatenated, level k is (size >> k)² texels. */
export interface BakedTexture {
  size: number;
  log2Size: number;
  texel: number;
  levels: number;
  /** Byte offset of each level in `data`. */
  offsets: Int32Array;
  data: Uint8Array;
  /** Mean colour (for the report and the tests that check colours are not the giveaway). */
  mean: [number, number, number];
}

function smooth(t: number): number {
  return t * t * (3 - 2 * t);
}

function mod(a: number, n: number): number {
  const r = a % n;
  return r < 0 ? r + n : r;
}

/** Lattice values of a wrapping value-noise field: `cx` × `cy` hashes, computed once per octave. */
function latticeTable(cx: number, cy: number, seed: number): Float64Array {
  const tab = new Float64Array(cx * cy);
  for (let j = 0; j < cy; j++) for (let i = 0; i < cx; i++) tab[j * cx + i] = hash2(i, j, seed);
  return tab;
}

/** Value noise over a wrapping lattice table; (u, v) ≥ 0 in lattice units. Output −0.5..0.5. */
function periodicValueNoise(u: number, v: number, cx: number, cy: number, tab: Float64Array): number {
  const iu = Math.floor(u);
  const iv = Math.floor(v);
  const fu = smooth(u - iu);
  const fv = smooth(v - iv);
  const x0 = iu % cx;
  const x1 = x0 + 1 === cx ? 0 : x0 + 1;
  const y0 = (iv % cy) * cx;
  const y1 = (iv % cy) + 1 === cy ? 0 : y0 + cx;
  const a = tab[y0 + x0]!;
  const b = tab[y0 + x1]!;
  const c = tab[y1 + x0]!;
  const d = tab[y1 + x1]!;
  return a + (b - a) * fu + (c - a) * fv + (a - b - c + d) * fu * fv - 0.5;
}

interface LayerContext {
  /** Tile period in metres. */
  period: number;
  seed: number;
}

type LayerFn = (x: number, y: number) => number;

function makeFbm(layer: TextureLayer, ctx: LayerContext, stretchX = 1, stretchY = 1): LayerFn {
  const octaves = layer.octaves ?? 4;
  const gain = layer.gain ?? 0.5;
  const base = Math.max(1, Math.round(ctx.period / layer.scale));
  const cellsX = Math.max(1, Math.round(base / stretchX));
  const cellsY = Math.max(1, Math.round(base / stretchY));
  let norm = 0;
  for (let o = 0, a = 1; o < octaves; o++, a *= gain) norm += a;
  const tables = Array.from({ length: octaves }, (_, o) =>
    latticeTable(cellsX << o, cellsY << o, hash32((ctx.seed + o * 977) >>> 0)),
  );
  return (x, y) => {
    let sum = 0;
    let amp = 1;
    let f = 1;
    for (let o = 0; o < octaves; o++) {
      const cx = cellsX * f;
      const cy = cellsY * f;
      sum += amp * periodicValueNoise((x / ctx.period) * cx, (y / ctx.period) * cy, cx, cy, tables[o]!);
      amp *= gain;
      f *= 2;
    }
    // Sums of value noise cluster around 0; scale so the typical range is about ±0.5.
    return (sum / norm) * 1.6;
  };
}

function makeCells(layer: TextureLayer, ctx: LayerContext): LayerFn {
  const n = Math.max(1, Math.round(ctx.period / layer.scale));
  const cell = ctx.period / n;
  const jitter = layer.jitter ?? 0.9;
  const mortar = layer.mortar ?? 0;
  const sx = hash32(ctx.seed);
  const sy = hash32((ctx.seed + 1) >>> 0);
  // Site offsets per lattice cell, hashed once.
  const offX = new Float64Array(n * n);
  const offY = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      offX[j * n + i] = 0.5 + jitter * (hash2(i, j, sx) - 0.5);
      offY[j * n + i] = 0.5 + jitter * (hash2(i, j, sy) - 0.5);
    }
  }
  return (x, y) => {
    const gx = Math.floor(x / cell);
    const gy = Math.floor(y / cell);
    let f1 = Infinity;
    let f2 = Infinity;
    let id = 0;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const cx = gx + dx;
        const cy = gy + dy;
        const wx = mod(cx, n);
        const wy = mod(cy, n);
        const px = (cx + offX[wy * n + wx]!) * cell;
        const py = (cy + offY[wy * n + wx]!) * cell;
        const d = Math.sqrt((x - px) * (x - px) + (y - py) * (y - py));
        if (d < f1) {
          f2 = f1;
          f1 = d;
          id = wx * 65599 + wy;
        } else if (d < f2) {
          f2 = d;
        }
      }
    }
    if (mortar > 0 && f2 - f1 < mortar * cell) return -0.5;
    // Each stone has its own tone, brighter towards its middle (a cheap bump shading).
    const tone = hash32((id + ctx.seed) >>> 0) / 4294967296 - 0.5;
    return 0.75 * tone + 0.35 * (0.5 - Math.min(1, f1 / cell));
  };
}

/** Integer wave vector closest to the requested period and angle, so the pattern tiles. */
function waveVector(period: number, scale: number, angleDeg: number): [number, number] {
  const k = period / scale;
  const a = (angleDeg * Math.PI) / 180;
  let m = Math.round(k * Math.cos(a));
  let n = Math.round(k * Math.sin(a));
  if (m === 0 && n === 0) m = 1;
  if (!Number.isFinite(m) || !Number.isFinite(n)) [m, n] = [1, 0];
  return [m, n];
}

function makeStripes(layer: TextureLayer, ctx: LayerContext): LayerFn {
  const [m, n] = waveVector(ctx.period, layer.scale, layer.angle ?? 0);
  const sharp = layer.sharpness ?? 1;
  return (x, y) => {
    const phase = (2 * Math.PI * (m * x + n * y)) / ctx.period;
    if (sharp === 1) return 0.5 * Math.sin(phase);
    // Thin bright lines on 0: |cos|^sharp peaks narrowly.
    return Math.abs(Math.cos(phase / 2)) ** sharp - 0.5 / Math.sqrt(sharp);
  };
}

function makeRipples(layer: TextureLayer, ctx: LayerContext): LayerFn {
  const [m, n] = waveVector(ctx.period, layer.scale, layer.angle ?? 0);
  // Wind ripples: stripes whose phase wanders with low-frequency noise.
  const wobble = makeFbm(
    { kind: "fbm", scale: layer.scale * (layer.aspect ?? 4), weight: 1, octaves: 2 },
    ctx,
  );
  return (x, y) => 0.5 * Math.sin((2 * Math.PI * (m * x + n * y)) / ctx.period + 6 * wobble(x, y));
}

function makeSpeckle(layer: TextureLayer, ctx: LayerContext): LayerFn {
  const n = Math.max(1, Math.round(ctx.period / layer.scale));
  const cell = ctx.period / n;
  const density = layer.density ?? 0.1;
  const s1 = hash32(ctx.seed);
  const s2 = hash32((ctx.seed + 7) >>> 0);
  return (x, y) => {
    const ix = mod(Math.floor(x / cell), n);
    const iy = mod(Math.floor(y / cell), n);
    const h = hash2(ix, iy, s1);
    if (h >= density) return 0;
    return hash2(ix, iy, s2) - 0.5;
  };
}

/**
 * Short straight strokes in random directions (grass blades, pine needles, straw): one per lattice
 * cell, `aspect` times longer than wide, each with its own tone; where strokes overlap the brighter
 * wins, between strokes the value is the darkest (shadow under the blades).
 */
function makeStrokes(layer: TextureLayer, ctx: LayerContext): LayerFn {
  const n = Math.max(1, Math.round(ctx.period / layer.scale));
  const cell = ctx.period / n;
  const aspect = layer.aspect ?? 4;
  // At most one cell long from its site, so the 3×3 neighbourhood holds every stroke that can reach.
  const halfLen = cell * 0.95;
  const halfWidth = halfLen / aspect;
  const sx = new Float64Array(n * n);
  const sy = new Float64Array(n * n);
  const ca = new Float64Array(n * n);
  const sa = new Float64Array(n * n);
  const tone = new Float64Array(n * n);
  const h = [0, 1, 2, 3, 4].map((k) => hash32((ctx.seed + k * 131) >>> 0));
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const k = j * n + i;
      sx[k] = hash2(i, j, h[0]!);
      sy[k] = hash2(i, j, h[1]!);
      const a = Math.PI * hash2(i, j, h[2]!);
      ca[k] = Math.cos(a);
      sa[k] = Math.sin(a);
      tone[k] = hash2(i, j, h[3]!) - 0.5;
    }
  }
  return (x, y) => {
    const gx = Math.floor(x / cell);
    const gy = Math.floor(y / cell);
    let best = -0.5;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const cx = gx + dx;
        const cy = gy + dy;
        const k = mod(cy, n) * n + mod(cx, n);
        const px = (cx + sx[k]!) * cell;
        const py = (cy + sy[k]!) * cell;
        const along = (x - px) * ca[k]! + (y - py) * sa[k]!;
        const across = -(x - px) * sa[k]! + (y - py) * ca[k]!;
        if (Math.abs(along) < halfLen && Math.abs(across) < halfWidth * (1 - Math.abs(along) / halfLen)) {
          // Tapered blade, a little brighter towards its tip on one side.
          const v = tone[k]! * 0.8 + 0.2 * (along / halfLen);
          if (v > best) best = v;
        }
      }
    }
    return best;
  };
}

function makeLayer(layer: TextureLayer, ctx: LayerContext): LayerFn {
  switch (layer.kind) {
    case "strokes":
      return makeStrokes(layer, ctx);
    case "fbm":
      return makeFbm(layer, ctx);
    case "cells":
      return makeCells(layer, ctx);
    case "stripes":
      return makeStripes(layer, ctx);
    case "ripples":
      return makeRipples(layer, ctx);
    case "speckle":
      return makeSpeckle(layer, ctx);
    case "blades": {
      // Grass-like: noise stretched along x, and a second family along y, crossing.
      const aspect = layer.aspect ?? 4;
      const a = makeFbm(layer, ctx, aspect, 1);
      const b = makeFbm(layer, { ...ctx, seed: ctx.seed + 31 }, 1, aspect);
      return (x, y) => {
        const va = a(x, y);
        const vb = b(x, y);
        return Math.abs(va) > Math.abs(vb) ? va : vb;
      };
    }
  }
}

/** Storage for an RGB mip pyramid of a (1 << log2Size)² tile: level k starts at offsets[k]. */
export function pyramidStorage(log2Size: number): { levels: number; offsets: Int32Array; data: Uint8Array } {
  const size = 1 << log2Size;
  const levels = log2Size + 1;
  const offsets = new Int32Array(levels);
  let total = 0;
  for (let k = 0; k < levels; k++) {
    offsets[k] = total;
    const s = size >> k;
    total += s * s * 3;
  }
  return { levels, offsets, data: new Uint8Array(total) };
}

/** Fills levels 1.. of a pyramid from level 0 with a 2×2 box filter (rounded). */
export function fillPyramid(data: Uint8Array, offsets: Int32Array, size: number): void {
  for (let k = 1; k < offsets.length; k++) {
    const s = size >> k;
    const ps = s * 2;
    const src = offsets[k - 1]!;
    const dst = offsets[k]!;
    for (let j = 0; j < s; j++) {
      for (let i = 0; i < s; i++) {
        const a = src + 3 * (2 * j * ps + 2 * i);
        const b = a + 3 * ps;
        for (let c = 0; c < 3; c++) {
          data[dst + 3 * (j * s + i) + c] =
            (data[a + c]! + data[a + 3 + c]! + data[b + c]! + data[b + 3 + c]! + 2) >> 2;
        }
      }
    }
  }
}

/** Bakes `appearance` into a `size`×`size` tile (size a power of two) with its mip pyramid. */
export function bakeTexture(appearance: Appearance, seed: number, size = 512): BakedTexture {
  const log2Size = Math.round(Math.log2(size));
  if (1 << log2Size !== size) throw new Error(`texture size ${size} is not a power of two`);
  const palette = appearance.palette;
  if (palette.length < 2)
    throw new Error(`texture palette needs at least 2 colours, found ${palette.length}`);
  const period = size * appearance.texel;
  const fns = appearance.layers.map((l, i) => ({
    fn: makeLayer(l, { period, seed: hash32((seed + i * 7919) >>> 0) }),
    w: l.weight,
  }));
  const bias = appearance.bias ?? 0.5;
  const { levels, offsets, data } = pyramidStorage(log2Size);
  const segs = palette.length - 1;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  for (let j = 0; j < size; j++) {
    const y = (j + 0.5) * appearance.texel;
    for (let i = 0; i < size; i++) {
      const x = (i + 0.5) * appearance.texel;
      let t = bias;
      for (const { fn, w } of fns) t += w * fn(x, y);
      t = Math.max(0, Math.min(1, t));
      const p = t * segs;
      const k = Math.min(segs - 1, Math.floor(p));
      const f = p - k;
      const c0 = palette[k]!;
      const c1 = palette[k + 1]!;
      const o = 3 * (j * size + i);
      const r = c0[0] + (c1[0] - c0[0]) * f;
      const g = c0[1] + (c1[1] - c0[1]) * f;
      const b = c0[2] + (c1[2] - c0[2]) * f;
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
      sr += r;
      sg += g;
      sb += b;
    }
  }
  fillPyramid(data, offsets, size);
  const n = size * size;
  return { size, log2Size, texel: appearance.texel, levels, offsets, data, mean: [sr / n, sg / n, sb / n] };
}

/** Fraction of a texture's energy at fine scale: mean |level0 − level2 upsampled| (for tests). */
export function textureContrast(tex: BakedTexture): number {
  let sum = 0;
  const s = tex.size;
  const s2 = s >> 2;
  for (let j = 0; j < s; j++) {
    for (let i = 0; i < s; i++) {
      const a = 3 * (j * s + i);
      const b = tex.offsets[2]! + 3 * ((j >> 2) * s2 + (i >> 2));
      for (let c = 0; c < 3; c++) sum += Math.abs(tex.data[a + c]! - tex.data[b + c]!);
    }
  }
  return sum / (s * s * 3);
}
