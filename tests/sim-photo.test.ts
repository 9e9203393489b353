// Photo terrains: loading errors, the ground-plane mapping (a marker in a photo lands where the
// geometry says), filtering of distant ground, seam blending, several photos per class, determinism,
// and the procedural worlds' pixels left as they were.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bakePhoto,
  buildWorld,
  cameraSetup,
  GroundRenderer,
  generateWorldBag,
  loadWorldAssets,
  loadWorldFile,
  type PhotoTile,
  parseWorld,
  seamRatio,
  WORLDS_DIR,
  type World,
} from "../sim/index.ts";
import { SEAM_RATIO_LIMIT } from "../sim/photo.ts";
import { pixelToGround, projectPoint } from "../src/core/camera.ts";
import { mat34, mat34ApplyPoint, mat34Invert } from "../src/core/geometry.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-photo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writePng(name: string, w: number, h: number, pixel: (x: number, y: number) => number[]) {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(pixel(x, y), 3 * (y * w + x));
  await sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(join(dir, name));
  return join(dir, name);
}

/** Random but fixed values (LCG). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const STILL = {
  lighting: { exposureAmplitude: 0, clouds: 0, patchJitter: 0, shade: 0, visibility: 1e9 },
  camera: { noise: 0, shotNoise: 0, vignetting: 0, shakeDeg: 0 },
};

async function photoWorld(
  photos: string[],
  photoSize: number,
  extra: Record<string, unknown> = {},
): Promise<World> {
  const file = parseWorld(
    {
      bounds: { xMin: -12, xMax: 12, yMin: -12, yMax: 12 },
      layout: { kind: "stripes", seed: 1, cellSize: 50, margin: 10 },
      terrains: [{ name: "ground", roughness: 0.2, photos, photoSize }],
      ...STILL,
      ...extra,
    },
    "test",
    dir,
  );
  return buildWorld(file, 1, await loadWorldAssets(file));
}

describe("photo loading", () => {
  beforeAll(async () => {
    writeFileSync(join(dir, "notimage.jpg"), "this is not a JPEG\n");
    await writePng("tiny.png", 1, 1, () => [10, 20, 30]);
  });

  for (const [file, message] of [
    ["missing.jpg", /terrain 'lawn': photo .*missing\.jpg: cannot read: no such file \(ENOENT\)/],
    ["notimage.jpg", /terrain 'lawn': photo .*notimage\.jpg: not an image/],
    [
      "tiny.png",
      /terrain 'lawn': photo .*tiny\.png: 1×1 pixels is too small; a ground photo needs at least 16×16/,
    ],
  ] as const) {
    it(`${file}: a clear error naming the file and the terrain`, async () => {
      const world = parseWorld({ terrains: [{ name: "lawn", roughness: 0.3, photos: [file] }] }, "w", dir);
      await expect(loadWorldAssets(world)).rejects.toThrow(message);
    });
  }

  it("paths are relative to the world file; schema errors name the terrain key", () => {
    const w = loadWorldFile(join(WORLDS_DIR, "photo.yaml"));
    expect(w.terrains[0]!.photos![0]).toBe(join(WORLDS_DIR, "photos/concrete/concrete.jpg"));
    expect(() => parseWorld({ terrains: [{ name: "x", roughness: 0.1 }] })).toThrow(
      /terrains\.0: a terrain without `type` needs `name`, `roughness` and `appearance` or `photos`/,
    );
    expect(() => parseWorld({ terrains: [{ type: "grass", photoSize: 2 }] })).toThrow(
      /terrains\.0: `photoSize` needs `photos`/,
    );
    expect(() => parseWorld({ terrains: [{ type: "grass", photos: [] }] })).toThrow(/terrains\.0\.photos/);
    expect(() =>
      parseWorld({ terrains: [{ type: "grass", vibration: { recordings: ["a.csv"], up: [0, 0, 0] } }] }),
    ).toThrow(/terrains\.0\.vibration\.up: `up` must not be the zero vector/);
  });
});

describe("photos of other kinds", () => {
  it("EXIF-rotated, grayscale, CMYK, 16-bit and alpha images load as 8-bit RGB tiles", async () => {
    const src = await writePng("src.png", 64, 32, (x, y) => [4 * x, 8 * y, 100]);
    const cases: [string, sharp.Sharp, number, number][] = [
      ["exif.jpg", sharp(src).jpeg().withMetadata({ orientation: 6 }), 32, 64],
      ["gray.jpg", sharp(src).grayscale().jpeg(), 64, 32],
      ["cmyk.jpg", sharp(src).toColourspace("cmyk").jpeg(), 64, 32],
      ["rgb16.png", sharp(src).toColourspace("rgb16").png(), 64, 32],
      ["alpha.png", sharp(src).ensureAlpha(0.2).png(), 64, 32],
    ];
    for (const [name, image, w, h] of cases) {
      await image.toFile(join(dir, name));
      const file = parseWorld({ terrains: [{ name: "lawn", roughness: 0.3, photos: [name] }] }, "w", dir);
      const tile = (await loadWorldAssets(file)).photos.get(join(dir, name))!;
      expect([tile.sourceWidth, tile.sourceHeight, tile.size, tile.data.length], name).toEqual([
        w,
        h,
        64,
        64 * 64 * 3,
      ]);
    }
  });
});

describe("a photo or recording edited under the same name", () => {
  it("is read again, so the world (and a bag's pixels) match the digest of its new bytes", async () => {
    const png = (rgb: [number, number, number]) => writePng("edited.png", 32, 32, () => rgb);
    const csv = join(dir, "edited.csv");
    const recording = (az: number) =>
      writeFileSync(
        csv,
        `t,ax,ay,az,speed\n${Array.from({ length: 400 }, (_, i) => `${i / 100},0,0,${az + (i % 3) * 0.1},1`).join("\n")}\n`,
      );
    const file = parseWorld(
      {
        terrains: [
          { name: "lawn", roughness: 0.3, photos: ["edited.png"], vibration: { recordings: ["edited.csv"] } },
        ],
      },
      "w",
      dir,
    );
    const build = async () => buildWorld(file, 1, await loadWorldAssets(file)).terrains[0]!;
    await png([200, 0, 0]);
    recording(9.8);
    const before = await build();
    expect(before.texture.mean.map(Math.round)).toEqual([200, 0, 0]);
    await png([0, 0, 200]);
    recording(9.6);
    const after = await build();
    expect(after.texture.mean.map(Math.round)).toEqual([0, 0, 200]);
    expect(after.recordings![0]!.az[0]).toBeCloseTo(9.6);
    // Unchanged files are not read again.
    expect((await build()).texture).toBe(after.texture);
  });
});

describe("ground-plane mapping", () => {
  it("a marker in a photo lands where the geometry says", async () => {
    // 256 px photo covering 16 m (one instance in view): a red 8×8-texel square (0.5 m) centred on
    // texel (44, 16).
    const photo = await writePng("marker.png", 256, 256, (x, y) =>
      x >= 40 && x < 48 && y >= 12 && y < 20 ? [255, 0, 0] : [20, 20, 20],
    );
    const world = await photoWorld([photo], 16);
    const texel = 16 / 256;
    // The instance of the marker nearest (10, 0), through the patch's offset and rotation.
    const col = Math.floor((10 - world.originX) / world.resolution);
    const row = Math.floor((0 - world.originY) / world.resolution);
    const p = world.patchId[row * world.cols + col]!;
    const [ca, sa, offU, offV] = Array.from(world.patchTex.subarray(4 * p, 4 * p + 4)) as [
      number,
      number,
      number,
      number,
    ];
    const tu = ca * 10 + offU;
    const tv = sa * 10 + offV;
    const mu = 44 + 256 * Math.round((tu - 44) / 256);
    const mv = 16 + 256 * Math.round((tv - 16) / 256);
    const a = (mu - offU) * texel;
    const b = (mv - offV) * texel;
    const c = ca * texel;
    const s = sa * texel;
    const wx = c * a + s * b;
    const wy = -s * a + c * b;
    expect(Math.hypot(wx - 10, wy)).toBeLessThan(12); // within one photo of the aim point
    // Look at it from 3 m behind; it stays inside the stripe (one patch) that starts at x = 0.
    expect(wx - 3).toBeGreaterThan(0);
    const setup = cameraSetup(world, 320, 240);
    const img = new GroundRenderer(world, setup, 1).render(wx - 3, wy, 0, 0);
    const opt = mat34Invert(setup.baseFromOptical, mat34());
    const q = new Float64Array(3);
    mat34ApplyPoint(opt, 3, 0, 0, q);
    const px = new Float64Array(2);
    expect(projectPoint(setup.model, q[0]!, q[1]!, q[2]!, px)).toBe(true);
    // The red square's projected corners bound its pixels; its centre projects near their centroid.
    let su = 0;
    let sv = 0;
    let n = 0;
    for (let v = 0; v < 240; v++) {
      for (let u = 0; u < 320; u++) {
        const o = 3 * (v * 320 + u);
        if (img[o]! > 150 && img[o + 1]! < 60 && img[o + 2]! < 60) {
          su += u;
          sv += v;
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(50);
    expect(Math.abs(su / n - px[0]!)).toBeLessThan(1.5);
    expect(Math.abs(sv / n - px[1]!)).toBeLessThan(1.5);
  });
});

describe("distant ground", () => {
  it("a far patch's mean colour is the photo's mean, without aliasing noise", async () => {
    // Per-texel random colours (2 mm texels): an unfiltered lookup would be as noisy as the photo.
    const rnd = lcg(5);
    const photo = await writePng("noise.png", 256, 256, () => [
      100 + 150 * rnd(),
      20 + 100 * rnd(),
      60 * rnd(),
    ]);
    const world = await photoWorld([photo], 0.5, {
      bounds: { xMin: -40, xMax: 40, yMin: -40, yMax: 40 },
      // A coarse raster: one stripe covers everything, and the raster does not shape the texture.
      layout: { kind: "stripes", seed: 1, cellSize: 200, margin: 40, resolution: 0.25 },
    });
    const tex = world.textures[0]!;
    const setup = cameraSetup(world, 320, 240);
    const img = new GroundRenderer(world, setup, 1).render(0, 0, 0, 0);
    const ground = new Float64Array(3);
    const sums = [0, 0, 0];
    const sq = [0, 0, 0];
    let n = 0;
    for (let v = 0; v < 240; v++) {
      for (let u = 0; u < 320; u++) {
        const t = pixelToGround(setup.model, setup.baseFromOptical, u, v, ground);
        const range = Math.hypot(ground[0]!, ground[1]!);
        if (!(t > 0) || range < 12 || range > 30) continue;
        for (let ch = 0; ch < 3; ch++) {
          const x = img[3 * (v * 320 + u) + ch]!;
          sums[ch]! += x;
          sq[ch]! += x * x;
        }
        n++;
      }
    }
    expect(n).toBeGreaterThan(2000);
    const mean = sums.map((x) => x / n);
    const std = sq.map((x, ch) => Math.sqrt(x / n - mean[ch]! ** 2));
    // Photo per-texel spread is ~43, 29, 17 DN; filtered far ground keeps a few DN of it.
    for (let ch = 0; ch < 3; ch++) {
      expect(Math.abs(mean[ch]! / tex.mean[ch]! - 1)).toBeLessThan(0.05);
      expect(std[ch]!).toBeLessThan(6);
    }
    // Exposure-free check of the colour itself.
    expect(mean[0]! / mean[1]!).toBeCloseTo(tex.mean[0] / tex.mean[1], 1);
  });
});

describe("tile seams", () => {
  const size = 64;
  const tile = (f: (x: number, y: number) => number[]): PhotoTile => {
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data.set(f(x, y), 3 * (y * size + x));
    return { path: "t", sourceWidth: size, sourceHeight: size, size, data };
  };

  it("blends a photo that does not wrap, so tiling shows no seam lines", () => {
    // A ramp left→right and top→bottom with texture: a hard seam on both axes when tiled.
    const rnd = lcg(9);
    const t = tile((x, y) => {
      const v = 40 + 2 * x + y + 20 * rnd();
      return [v, v, v];
    });
    expect(seamRatio(t.data, size, "x")).toBeGreaterThan(5);
    expect(seamRatio(t.data, size, "y")).toBeGreaterThan(2);
    const baked = bakePhoto(t, 1);
    const level0 = baked.data.subarray(0, size * size * 3);
    expect(seamRatio(level0, size, "x")).toBeLessThan(SEAM_RATIO_LIMIT);
    expect(seamRatio(level0, size, "y")).toBeLessThan(SEAM_RATIO_LIMIT);
  });

  it("leaves a photo that already wraps untouched", () => {
    const t = tile((x, y) => {
      const v = 128 + 60 * Math.sin((2 * Math.PI * x) / size) * Math.cos((4 * Math.PI * y) / size);
      return [v, v / 2, 30];
    });
    const baked = bakePhoto(t, 1);
    expect(Buffer.compare(Buffer.from(baked.data.subarray(0, size * size * 3)), Buffer.from(t.data))).toBe(0);
  });
});

describe("several photos of one class", () => {
  it("are dealt out over the class's patches", async () => {
    const photos = await Promise.all(
      [
        [200, 40, 40],
        [40, 200, 40],
        [40, 40, 200],
      ].map((c, i) => writePng(`solid${i}.png`, 32, 32, (x, y) => c.map((v) => v + ((x * 7 + y * 3) % 5)))),
    );
    const file = parseWorld(
      {
        bounds: { xMin: -40, xMax: 40, yMin: -40, yMax: 40 },
        layout: { kind: "voronoi", seed: 2, cellSize: 10, margin: 5, resolution: 0.2 },
        terrains: [{ name: "mixed", roughness: 0.3, photos, photoSize: 1 }, { type: "gravel" }],
      },
      "w",
      dir,
    );
    const world = buildWorld(file, 1, await loadWorldAssets(file));
    expect(world.textures.length).toBe(4); // three photos + gravel
    const counts = new Map<number, number>();
    let total = 0;
    for (let p = 0; p < world.patchCount; p++) {
      if (world.patchTerrain[p] !== 0) continue;
      counts.set(world.patchSlot[p]!, (counts.get(world.patchSlot[p]!) ?? 0) + 1);
      total++;
    }
    expect([...counts.keys()].sort()).toEqual(world.terrains[0]!.slots.slice().sort());
    for (const c of counts.values()) expect(c / total).toBeGreaterThan(0.3);
    // Gravel keeps its one procedural texture.
    expect(world.terrains[1]!.slots).toEqual([1]);
  });
});

describe("determinism", () => {
  it("same world and seed give the same bag bytes, in-thread or with the render worker", async () => {
    const world = join(WORLDS_DIR, "photo-recorded.yaml");
    const hash = async (name: string, seed: number, renderWorker: boolean) => {
      const out = join(dir, name);
      await generateWorldBag({ out, world, seed, duration: 1.5, renderWorker });
      return createHash("sha256").update(readFileSync(out)).digest("hex");
    };
    const a = await hash("a.mcap", 4, false);
    expect(await hash("b.mcap", 4, false)).toBe(a);
    expect(await hash("c.mcap", 4, true)).toBe(a);
    expect(await hash("d.mcap", 5, false)).not.toBe(a);
  }, 240_000);
});

describe("procedural worlds", () => {
  it("render exactly as before photo terrains existed", async () => {
    // Hashes of frames rendered before photo support was added (fixed poses, seed 1).
    const expected: Record<string, string> = {
      default: "3a363ff162067018",
      campus: "9ae41ff3986140ac",
      patchwork: "255f201f45483a9c",
      stripes: "7eca969cfcc42623",
    };
    const got: Record<string, string> = {};
    for (const name of Object.keys(expected)) {
      // A world's textures take seconds to bake on a busy machine: let the test runner's messages through.
      await new Promise((r) => setImmediate(r));
      const world = buildWorld(loadWorldFile(join(WORLDS_DIR, `${name}.yaml`)), 1);
      const r = new GroundRenderer(world, cameraSetup(world, 160, 120), 1);
      const h = createHash("sha256");
      for (let k = 0; k < 6; k++) h.update(r.render(-20 + 8 * k, 5 - 3 * k, 0.7 * k, k / 3, undefined, 0.8));
      got[name] = h.digest("hex").slice(0, 16);
    }
    expect(got).toEqual(expected);
  }, 240_000);
});
