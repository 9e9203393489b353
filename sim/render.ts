// Camera renderer: each pixel's ray is intersected with the ground plane and coloured from the
// terrain texture under it.
//
// The ground is flat and the camera is rigidly mounted, so where each pixel's ray meets the ground
// IN base_link never changes: that point, its range, its footprint (→ mip level), vignetting and the
// sky colour are computed once per camera. A frame is then one loop: rotate/translate the
// precomputed base_link point by the robot pose, look up the patch and its texture, apply lighting,
// haze and sensor noise. No allocation per pixel.

import { cameraModelFromFov, mountedOpticalMat34, pixelRay } from "../src/core/camera.ts";
import { type Mat34, mat34, mat34ApplyVector } from "../src/core/geometry.ts";
import type { CameraModel, ImageFrame } from "../src/core/types.ts";
import { deriveSeed, hash2, hash32, Rng } from "./rng.ts";
import { roughnessAt, type World } from "./world.ts";

const SKY_ZENITH = [88, 134, 206] as const;
const SKY_HORIZON = [196, 210, 226] as const;
const NOISE_BITS = 18;

export interface CameraSetup {
  model: CameraModel;
  /** base_link ← camera_optical_frame. */
  baseFromOptical: Mat34;
  /** base_link ← camera_link: translation and rotation, for /tf_static. */
  linkTranslation: { x: number; y: number; z: number };
  linkPitch: number;
}

export function cameraSetup(world: World, width: number, height: number): CameraSetup {
  const cam = world.file.camera;
  const model = cameraModelFromFov({
    width,
    height,
    hfovDeg: cam.hfovDeg,
    D: cam.distortion,
    frameId: "camera_optical_frame",
  });
  const m = cam.mount;
  const pitch = (m.pitchDeg * Math.PI) / 180;
  const linkTranslation = { x: m.x, y: m.y, z: m.z };
  const baseFromOptical = mountedOpticalMat34({ x: m.x, y: m.y, z: m.z, pitchDown: pitch }, mat34());
  return { model, baseFromOptical, linkTranslation, linkPitch: pitch };
}

export class GroundRenderer {
  readonly setup: CameraSetup;
  readonly width: number;
  readonly height: number;
  #world: World;
  #rng: Rng;
  // Per pixel, constant.
  /** Ray direction per ground pixel in base_link (for camera shake). */
  #dx: Float32Array;
  #dy: Float32Array;
  #dz: Float32Array;
  #cam: [number, number, number];
  #shakeP = 0;
  #shakeR = 0;
  #bx: Float32Array;
  #by: Float32Array;
  /** log2 of the pixel footprint on the ground (m); NaN for sky. */
  #lod: Float32Array;
  /** vig·(1 − haze) and vig·haze: ground and haze weights. */
  #groundW: Float32Array;
  #hazeW: Float32Array;
  #vig: Float32Array;
  /** Sky (or haze) colour × vignetting, RGB. */
  #skyRgb: Float32Array;
  // All textures of the world in one array, with per-slot offsets (World.textures).
  #texData: Uint8Array;
  #texBase: Int32Array;
  #texLevelOffset: Int32Array;
  #texLog2Size: Int32Array;
  #texLog2Texel: Float32Array;
  // Lighting.
  #clouds: Float32Array;
  #cloudDir: [number, number];
  #noise: Float32Array;
  #ae = 1;
  /** Per terrain: sampled ground pixels of the last frame (every 16th pixel). */
  readonly terrainPixels: Uint32Array;
  /** Sampled pixels of the last frame (ground, sky and haze). */
  sampledPixels = 0;
  #exposurePhase: number;
  #drift = 0;

  constructor(world: World, setup: CameraSetup, seed: number) {
    this.#world = world;
    this.setup = setup;
    const { model, baseFromOptical } = setup;
    const W = model.width;
    const H = model.height;
    this.width = W;
    this.height = H;
    this.#rng = Rng.stream(seed, "camera");
    this.terrainPixels = new Uint32Array(world.terrains.length);
    const cam = world.file.camera;
    const light = world.file.lighting;
    const n = W * H;
    this.#dx = new Float32Array(n);
    this.#dy = new Float32Array(n);
    this.#dz = new Float32Array(n);
    this.#bx = new Float32Array(n);
    this.#by = new Float32Array(n);
    this.#lod = new Float32Array(n);
    this.#groundW = new Float32Array(n);
    this.#hazeW = new Float32Array(n);
    this.#vig = new Float32Array(n);
    this.#skyRgb = new Float32Array(3 * n);

    const camZ = baseFromOptical[11]!;
    const camX = baseFromOptical[3]!;
    const camY = baseFromOptical[7]!;
    this.#cam = [camX, camY, camZ];
    const dirX = new Float64Array((W + 1) * (H + 1));
    const dirY = new Float64Array((W + 1) * (H + 1));
    const dirZ = new Float64Array((W + 1) * (H + 1));
    // The ground is rendered up to where the terrain raster ends; farther rays see haze.
    const maxRange = Math.max(20, Math.min(world.file.layout.margin + 10, 150) * 1.5);
    // Ground hit per pixel in base_link (with one extra column/row to get footprints by difference).
    const ray = new Float64Array(3);
    const dir = new Float64Array(3);
    const hitX = new Float64Array((W + 1) * (H + 1));
    const hitY = new Float64Array((W + 1) * (H + 1));
    const hitR = new Float64Array((W + 1) * (H + 1));
    const elev = new Float64Array((W + 1) * (H + 1));
    for (let v = 0; v <= H; v++) {
      for (let u = 0; u <= W; u++) {
        const k = v * (W + 1) + u;
        pixelRay(model, u, v, ray);
        mat34ApplyVector(baseFromOptical, ray[0]!, ray[1]!, ray[2]!, dir);
        elev[k] = Math.asin(Math.max(-1, Math.min(1, dir[2]!)));
        dirX[k] = dir[0]!;
        dirY[k] = dir[1]!;
        dirZ[k] = dir[2]!;
        if (dir[2]! < -1e-9) {
          const t = camZ / -dir[2]!;
          hitX[k] = camX + t * dir[0]!;
          hitY[k] = camY + t * dir[1]!;
          hitR[k] = t;
        } else {
          hitR[k] = Number.POSITIVE_INFINITY;
        }
      }
    }
    const cx = model.K[2]!;
    const cy = model.K[5]!;
    const rMax2 = cx * cx + cy * cy;
    for (let v = 0; v < H; v++) {
      for (let u = 0; u < W; u++) {
        const i = v * W + u;
        const k = v * (W + 1) + u;
        const r2 = ((u - cx) ** 2 + (v - cy) ** 2) / rMax2;
        // cos⁴-like fall-off towards the corners.
        const vig = 1 - cam.vignetting * r2 * (0.6 + 0.4 * r2);
        this.#vig[i] = vig;
        const e = Math.max(0, elev[k]!);
        const sh = 1 - Math.exp(-e / 0.25);
        for (let ch = 0; ch < 3; ch++) {
          this.#skyRgb[3 * i + ch] = vig * (SKY_HORIZON[ch]! + (SKY_ZENITH[ch]! - SKY_HORIZON[ch]!) * sh);
        }
        const range = hitR[k]!;
        if (range > maxRange) {
          this.#lod[i] = Number.NaN;
          continue;
        }
        this.#bx[i] = hitX[k]!;
        this.#dx[i] = dirX[k]!;
        this.#dy[i] = dirY[k]!;
        this.#dz[i] = dirZ[k]!;
        this.#by[i] = hitY[k]!;
        // Footprint from the neighbouring pixels' hits (geometric mean of the two extents, which
        // keeps the oblique direction from blurring everything).
        const kr = k + 1;
        const kd = k + W + 1;
        const du = Number.isFinite(hitR[kr]!)
          ? Math.hypot(hitX[kr]! - hitX[k]!, hitY[kr]! - hitY[k]!)
          : range / model.K[0]!;
        const dv = Number.isFinite(hitR[kd]!)
          ? Math.hypot(hitX[kd]! - hitX[k]!, hitY[kd]! - hitY[k]!)
          : du * 4;
        this.#lod[i] = Math.log2(Math.max(1e-6, Math.sqrt(du * dv)));
        const haze = 1 - Math.exp(-range / light.visibility);
        this.#groundW[i] = vig * (1 - haze);
        this.#hazeW[i] = vig * haze;
      }
    }

    // Pack the textures.
    const T = world.textures.length;
    this.#texBase = new Int32Array(T);
    this.#texLevelOffset = new Int32Array(T * 16);
    this.#texLog2Size = new Int32Array(T);
    this.#texLog2Texel = new Float32Array(T);
    let total = 0;
    for (const tex of world.textures) total += tex.data.length;
    this.#texData = new Uint8Array(total);
    let off = 0;
    for (const [slot, tex] of world.textures.entries()) {
      this.#texData.set(tex.data, off);
      this.#texBase[slot] = off;
      for (let l = 0; l < tex.levels; l++) this.#texLevelOffset[slot * 16 + l] = off + tex.offsets[l]!;
      this.#texLog2Size[slot] = tex.log2Size;
      this.#texLog2Texel[slot] = Math.log2(tex.texel);
      off += tex.data.length;
    }

    // Cloud shadow map: 512×512 cells of 0.5 m, periodic, smooth over ~20 m.
    const cs = deriveSeed(world.layoutSeed, "clouds");
    this.#clouds = new Float32Array(512 * 512);
    for (let j = 0; j < 512; j++) {
      for (let i = 0; i < 512; i++) {
        let s = 0;
        let a = 0.6;
        for (let o = 0, period = 16; o < 3; o++, period *= 2, a *= 0.5) {
          s += a * periodicNoise((i / 512) * period, (j / 512) * period, period, hash32((cs + o) >>> 0));
        }
        // Sharpen into distinct clouds: only the brighter half of the field casts shadow.
        const cover = Math.max(0, Math.min(1, (s + 0.05) * 4));
        this.#clouds[j * 512 + i] = 1 - light.clouds * cover;
      }
    }
    const ca = this.#rng.uniform(0, 2 * Math.PI);
    this.#cloudDir = [Math.cos(ca) * light.cloudSpeed, Math.sin(ca) * light.cloudSpeed];
    this.#exposurePhase = this.#rng.uniform(0, 2 * Math.PI);
    this.#noise = new Float32Array(1 << NOISE_BITS);
    for (let i = 0; i < this.#noise.length; i++) this.#noise[i] = this.#rng.gauss();
  }

  /**
   * Renders the view from the robot pose (x, y, yaw) at time t (seconds since the start) into an
   * rgb8 buffer (allocated here unless `out` is given).
   */
  render(x: number, y: number, yaw: number, t: number, out?: Uint8Array, speed = 0): Uint8Array {
    const W = this.width;
    const H = this.height;
    const n = W * H;
    const data = out ?? new Uint8Array(n * 3);
    // A clamped view does the clamping and rounding of every channel store.
    const px8 = new Uint8ClampedArray(data.buffer, data.byteOffset, n * 3);
    const world = this.#world;
    const light = world.file.lighting;
    const cam = world.file.camera;
    const rng = this.#rng;

    // Global exposure: slow swing, a random drift, and auto-exposure that reacts to the last frame.
    this.#drift = Math.max(-0.15, Math.min(0.15, this.#drift + 0.01 * rng.gauss()));
    const exposure =
      this.#ae *
      (1 +
        light.exposureAmplitude * Math.sin((2 * Math.PI * t) / light.exposurePeriod + this.#exposurePhase)) *
      (1 + this.#drift);
    // Camera shake: pitch/roll angles as AR(1) processes at the frame rate (body modes of ~2.5 Hz),
    // scaled like the IMU vibration by the roughness under the robot and the speed.
    const ar = Math.exp((-2 * Math.PI * 2.5) / cam.rate);
    const innov = Math.sqrt(1 - ar * ar);
    this.#shakeP = ar * this.#shakeP + innov * rng.gauss();
    this.#shakeR = ar * this.#shakeR + innov * rng.gauss();
    const shakeAmp =
      ((cam.shakeDeg * Math.PI) / 180) *
      (0.05 + roughnessAt(world, x, y)) *
      Math.abs(speed) ** world.file.imu.speedExponent;
    const dPitch = shakeAmp * this.#shakeP;
    const dRoll = 0.6 * shakeAmp * this.#shakeR;
    const shaking = Math.abs(dPitch) + Math.abs(dRoll) > 1e-7;
    const dxA = this.#dx;
    const dyA = this.#dy;
    const dzA = this.#dz;
    const [camX, camY, camZ] = this.#cam;
    const cloudOx = -this.#cloudDir[0] * t;
    const cloudOy = -this.#cloudDir[1] * t;

    const c = Math.cos(yaw);
    const s = Math.sin(yaw);
    const bxA = this.#bx;
    const byA = this.#by;
    const lod = this.#lod;
    const groundW = this.#groundW;
    const hazeW = this.#hazeW;
    const vig = this.#vig;
    const shadeScale = exposure / 128;
    const sky = this.#skyRgb;
    const { originX, originY, cols, rows, patchId, shade, patchTerrain, patchGain, patchTex, patchSlot } =
      world;
    const invRes = 1 / world.resolution;
    const texData = this.#texData;
    const levelOffset = this.#texLevelOffset;
    const log2Size = this.#texLog2Size;
    const log2Texel = this.#texLog2Texel;
    const clouds = this.#clouds;
    const noise = this.#noise;
    const noiseMask = noise.length - 1;
    let noiseAt = rng.int(noise.length);
    const sigma0 = cam.noise;
    const sigmaShot = cam.shotNoise;
    const hazeR = SKY_HORIZON[0];
    const hazeG = SKY_HORIZON[1];
    const hazeB = SKY_HORIZON[2];
    let lumSum = 0;
    let lumCount = 0;
    const markers = world.file.markers;
    const nMarkers = markers.length;
    const seen = this.terrainPixels;
    seen.fill(0);

    for (let i = 0; i < n; i++) {
      let r: number;
      let g: number;
      let b: number;
      const lb = lod[i]!;
      if (Number.isNaN(lb)) {
        r = sky[3 * i]! * exposure;
        g = sky[3 * i + 1]! * exposure;
        b = sky[3 * i + 2]! * exposure;
      } else {
        let px = bxA[i]!;
        let py = byA[i]!;
        if (shaking) {
          // Small rotation (roll about x, pitch about y of base_link) of the ray: d + δ × d.
          const dx = dxA[i]!;
          const dy = dyA[i]!;
          const dz = dzA[i]!;
          const dz2 = dz + dRoll * dy - dPitch * dx;
          if (dz2 < -1e-6) {
            const tr = camZ / -dz2;
            px = camX + tr * (dx + dPitch * dz);
            py = camY + tr * (dy - dRoll * dz);
          } else {
            px = 1e6; // above the horizon now: falls outside the raster → haze
          }
        }
        const wx = x + c * px - s * py;
        const wy = y + s * px + c * py;
        // Patch boundaries come from a raster. A hashed jitter of ±1 cell with a triangular
        // distribution (2 cm grain) makes the lookup a stochastic bilinear interpolation: the
        // raster's staircase becomes a ragged but straight edge, as real ground boundaries are.
        let hx = Math.imul(((wx + 4096) * 50) | 0, 73856093) ^ Math.imul(((wy + 4096) * 50) | 0, 19349663);
        hx = Math.imul(hx ^ (hx >>> 15), 0x2c1b3c6d);
        hx ^= hx >>> 13;
        const jx = ((hx & 255) + ((hx >>> 8) & 255)) * (1 / 256) - 1;
        const jy = (((hx >>> 16) & 255) + (hx >>> 24)) * (1 / 256) - 1;
        const col = ((wx - originX) * invRes + jx) | 0;
        const row = ((wy - originY) * invRes + jy) | 0;
        if (wx < originX || wy < originY || col >= cols || row >= rows) {
          r = hazeR * exposure * vig[i]!;
          g = hazeG * exposure * vig[i]!;
          b = hazeB * exposure * vig[i]!;
        } else {
          const cell = row * cols + col;
          const p = patchId[cell]!;
          const type = patchTerrain[p]!;
          if ((i & 15) === 0) seen[type]!++;
          const slot = patchSlot[p]!;
          const ls = log2Size[slot]!;
          let level = Math.round(lb - log2Texel[slot]!);
          if (level < 0) level = 0;
          else if (level > ls) level = ls;
          const p4 = 4 * p;
          const ca = patchTex[p4]!;
          const sa = patchTex[p4 + 1]!;
          const tu = (ca * wx - sa * wy + patchTex[p4 + 2]!) | 0;
          const tv = (sa * wx + ca * wy + patchTex[p4 + 3]!) | 0;
          const mask = (1 << (ls - level)) - 1;
          const iu = (tu >> level) & mask;
          const iv = (tv >> level) & mask;
          const ti = levelOffset[slot * 16 + level]! + 3 * ((iv << (ls - level)) + iu);
          // Cloud shadow: nearest cell of a periodic 0.5 m map.
          const ci = ((((wx + cloudOx) * 2) | 0) & 511) + ((((wy + cloudOy) * 2) | 0) & 511) * 512;
          const gain = shade[cell]! * shadeScale * clouds[ci]! * groundW[i]!;
          const hz = exposure * hazeW[i]!;
          const p3 = 3 * p;
          r = texData[ti]! * patchGain[p3]! * gain + hazeR * hz;
          g = texData[ti + 1]! * patchGain[p3 + 1]! * gain + hazeG * hz;
          b = texData[ti + 2]! * patchGain[p3 + 2]! * gain + hazeB * hz;
        }
        for (let k = 0; k < nMarkers; k++) {
          const mk = markers[k]!;
          const dx = wx - mk.x;
          const dy = wy - mk.y;
          if (dx * dx + dy * dy <= mk.radius * mk.radius) {
            r = mk.color[0];
            g = mk.color[1];
            b = mk.color[2];
          }
        }
      }
      if ((i & 15) === 0) {
        lumSum += 0.3 * r + 0.59 * g + 0.11 * b;
        lumCount++;
      }
      // Read noise + shot noise (grows with signal).
      r += noise[noiseAt & noiseMask]! * (sigma0 + sigmaShot * r);
      g += noise[(noiseAt + 1) & noiseMask]! * (sigma0 + sigmaShot * g);
      b += noise[(noiseAt + 2) & noiseMask]! * (sigma0 + sigmaShot * b);
      noiseAt += 3;
      const o = 3 * i;
      px8[o] = r;
      px8[o + 1] = g;
      px8[o + 2] = b;
    }
    // Auto-exposure: pull the mean towards mid-grey, slowly (real AE lags by a few frames).
    // It compensates half of the scene's brightness (in log terms), so a dark patch filling the view
    // comes out brighter than it is, and it does not see the global lighting swing at all.
    this.sampledPixels = lumCount;
    const scene = lumSum / Math.max(1, lumCount) / exposure;
    if (scene > 1) {
      const target = Math.sqrt(118 / scene);
      this.#ae += 0.15 * (Math.max(0.6, Math.min(1.6, target)) - this.#ae);
    }
    return data;
  }

  /** An ImageFrame for the current pose (convenience for tests). */
  frame(x: number, y: number, yaw: number, t: number, stamp: number): ImageFrame {
    return {
      stamp,
      frameId: this.setup.model.frameId,
      width: this.width,
      height: this.height,
      encoding: "rgb8",
      data: this.render(x, y, yaw, t),
    };
  }
}

/** Periodic value noise with `period` lattice cells, −0.5..0.5. */
function periodicNoise(u: number, v: number, period: number, seed: number): number {
  const iu = Math.floor(u);
  const iv = Math.floor(v);
  let fu = u - iu;
  let fv = v - iv;
  fu = fu * fu * (3 - 2 * fu);
  fv = fv * fv * (3 - 2 * fv);
  const x0 = iu % period;
  const x1 = (iu + 1) % period;
  const y0 = iv % period;
  const y1 = (iv + 1) % period;
  const a = hash2(x0, y0, seed);
  const b = hash2(x1, y0, seed);
  const c = hash2(x0, y1, seed);
  const d = hash2(x1, y1, seed);
  return a + (b - a) * fu + (c - a) * fv + (a - b - c + d) * fu * fv - 0.5;
}
