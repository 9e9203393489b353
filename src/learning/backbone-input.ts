// Camera image → planar CHW model input: per-channel normalisation, the top-left crop at native
// resolution, and the box-filter downscale to the working resolution (`input_width`).

import type { ImageFrame } from "../core/types.ts";

/**
 * Area (box) resampling weights along one axis: output pixel j averages source pixels over
 * [j·f, (j+1)·f), the edge pixels weighted by their overlap. Flat arrays: source start, tap count and
 * the taps' weights (summing to 1) from offset[j].
 */
export interface AreaTaps {
  start: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weight: Float32Array;
}

export function areaTaps(outLen: number, factor: number): AreaTaps {
  const start = new Int32Array(outLen);
  const count = new Int32Array(outLen);
  const offset = new Int32Array(outLen);
  const w: number[] = [];
  for (let j = 0; j < outLen; j++) {
    const a = j * factor;
    const b = (j + 1) * factor;
    // Integer factors land exactly on pixel edges; the epsilon keeps float error from adding a tap of ~0.
    const i0 = Math.floor(a + 1e-9);
    const i1 = Math.ceil(b - 1e-9);
    start[j] = i0;
    count[j] = i1 - i0;
    offset[j] = w.length;
    for (let i = i0; i < i1; i++) w.push((Math.min(b, i + 1) - Math.max(a, i)) / factor);
  }
  return { start, count, offset, weight: Float32Array.from(w) };
}

/** The model's input normalisation, model input = (pixel/255·scale − mean)/std, and the fills applying it. */
export class InputEncoder {
  /** Per-channel lookup table pixel byte → model input value (3 × 256). */
  private readonly lut = new Float32Array(768);
  /** The same normalisation as an affine map (gain, offset) per channel, for averaged (downscaled) pixels. */
  readonly gain = new Float32Array(3);
  readonly offset = new Float32Array(3);
  /** Downscaling state, rebuilt when the camera size changes. */
  private area: { srcW: number; srcH: number; x: AreaTaps; y: AreaTaps; rows: Float32Array } | null = null;

  constructor(scale: number, mean: number[], std: number[]) {
    for (let c = 0; c < 3; c++) {
      for (let v = 0; v < 256; v++)
        this.lut[c * 256 + v] = ((v / 255) * scale - (mean[c] ?? 0)) / (std[c] ?? 1);
      this.gain[c] = scale / 255 / (std[c] ?? 1);
      this.offset[c] = -(mean[c] ?? 0) / (std[c] ?? 1);
    }
  }

  /** Planar CHW fill of the top-left w×h crop at native resolution; mono8 is replicated to R=G=B. */
  copyInto(img: ImageFrame, nch: number, w: number, h: number, buf: Float32Array): void {
    const lut = this.lut;
    const plane = w * h;
    const src = img.data;
    if (nch === 3 && w === img.width) {
      // Whole rows: one flat pass (half the time of the row-by-row loop).
      const p2 = 2 * plane;
      for (let di = 0, si = 0; di < plane; di++, si += 3) {
        buf[di] = lut[src[si]!]!;
        buf[di + plane] = lut[256 + src[si + 1]!]!;
        buf[di + p2] = lut[512 + src[si + 2]!]!;
      }
      return;
    }
    for (let y = 0; y < h; y++) {
      let si = y * img.width * nch;
      let di = y * w;
      if (nch === 3) {
        for (let x = 0; x < w; x++, si += 3, di++) {
          buf[di] = lut[src[si] as number] as number;
          buf[di + plane] = lut[256 + (src[si + 1] as number)] as number;
          buf[di + 2 * plane] = lut[512 + (src[si + 2] as number)] as number;
        }
      } else {
        for (let x = 0; x < w; x++, si++, di++) {
          const v = src[si] as number;
          buf[di] = lut[v] as number;
          buf[di + plane] = lut[256 + v] as number;
          buf[di + 2 * plane] = lut[512 + v] as number;
        }
      }
    }
  }

  /**
   * Planar CHW fill of the model input from the image box-filtered by f = width/inputWidth: model pixel
   * (x, y) is the mean of camera pixels [x·f, (x+1)·f) × [y·f, (y+1)·f) (fractional edges weighted), so
   * model cell (r, c) is exactly camera cell (r, c) of the grid featureGridFor() reports. Separable: every
   * camera row is filtered horizontally once into `rows`, then the rows are combined vertically.
   * Normalisation is affine, so it is applied to the averaged bytes.
   */
  downscaleInto(
    img: ImageFrame,
    nch: number,
    w: number,
    h: number,
    inputWidth: number,
    buf: Float32Array,
  ): void {
    const f = img.width / inputWidth;
    if (Number.isInteger(f)) {
      // A whole factor (640→320, 1280→320, 1920→320): plain f×f block sums.
      blockDownscaleInto(img.data, img.width, nch, f, w, h, this.gain, this.offset, buf);
      return;
    }
    let a = this.area;
    if (
      !a ||
      a.srcW !== img.width ||
      a.srcH !== img.height ||
      a.x.start.length !== w ||
      a.y.start.length !== h
    ) {
      const x = areaTaps(w, f);
      const y = areaTaps(h, f);
      const srcRows = (y.start[h - 1] ?? 0) + (y.count[h - 1] ?? 0);
      if (srcRows > img.height)
        throw new Error(`downscale of ${img.width}×${img.height} reads row ${srcRows - 1}`);
      a = { srcW: img.width, srcH: img.height, x, y, rows: new Float32Array(3 * srcRows * w) };
      this.area = a;
    }
    const { x: tx, rows } = a;
    const src = img.data;
    const srcRows = rows.length / (3 * w);
    const plane = srcRows * w;
    for (let sy = 0; sy < srcRows; sy++) {
      const rowBase = sy * img.width * nch;
      let o = sy * w;
      for (let ox = 0; ox < w; ox++, o++) {
        const x0 = tx.start[ox]!;
        const n = tx.count[ox]!;
        const wo = tx.offset[ox]!;
        let r = 0;
        let g = 0;
        let b = 0;
        if (nch === 3) {
          for (let k = 0, si = rowBase + 3 * x0; k < n; k++, si += 3) {
            const wk = tx.weight[wo + k]!;
            r += wk * src[si]!;
            g += wk * src[si + 1]!;
            b += wk * src[si + 2]!;
          }
        } else {
          for (let k = 0, si = rowBase + x0; k < n; k++, si++) r += tx.weight[wo + k]! * src[si]!;
          g = b = r;
        }
        rows[o] = r;
        rows[o + plane] = g;
        rows[o + 2 * plane] = b;
      }
    }
    const ty = a.y;
    const out = w * h;
    for (let c = 0; c < 3; c++) {
      const gain = this.gain[c]!;
      const off = this.offset[c]!;
      const rc = c * plane;
      const bc = c * out;
      for (let oy = 0; oy < h; oy++) {
        const y0 = ty.start[oy]!;
        const n = ty.count[oy]!;
        const wo = ty.offset[oy]!;
        const d = bc + oy * w;
        const first = rc + y0 * w;
        const w0 = ty.weight[wo]!;
        for (let ox = 0; ox < w; ox++) buf[d + ox] = w0 * rows[first + ox]!;
        for (let k = 1; k < n; k++) {
          const wk = ty.weight[wo + k]!;
          const s = rc + (y0 + k) * w;
          for (let ox = 0; ox < w; ox++) buf[d + ox]! += wk * rows[s + ox]!;
        }
        for (let ox = 0; ox < w; ox++) buf[d + ox] = gain * buf[d + ox]! + off;
      }
    }
  }
}

/**
 * Planar CHW model input (w×h, `gain`·mean + `offset` per channel) from k×k pixel blocks of a packed
 * rgb8 or mono8 image `srcWidth` pixels wide: the working-resolution downscale for a whole factor.
 */
export function blockDownscaleInto(
  src: Uint8Array,
  srcWidth: number,
  nch: number,
  k: number,
  w: number,
  h: number,
  gain: Float32Array,
  offset: Float32Array,
  buf: Float32Array,
): void {
  if (k !== 2 || nch !== 3) {
    blockDownscaleLoopsInto(src, srcWidth, nch, k, w, h, gain, offset, buf);
    return;
  }
  // The common case (640×480 → 320): 2×2 RGB blocks unrolled, ~2× faster than the loops. The sums
  // are of integers, exact in any order, so the result is the same to the bit (tested).
  const plane = w * h;
  const p2 = 2 * plane;
  const gr = gain[0]! / 4;
  const gg = gain[1]! / 4;
  const gb = gain[2]! / 4;
  const or = offset[0]!;
  const og = offset[1]!;
  const ob = offset[2]!;
  const rowStride = srcWidth * 3;
  for (let oy = 0; oy < h; oy++) {
    let s = 2 * oy * rowStride;
    let t = s + rowStride;
    for (let ox = 0, di = oy * w; ox < w; ox++, di++, s += 6, t += 6) {
      const r = src[s]! + src[s + 3]! + src[t]! + src[t + 3]!;
      const g = src[s + 1]! + src[s + 4]! + src[t + 1]! + src[t + 4]!;
      const b = src[s + 2]! + src[s + 5]! + src[t + 2]! + src[t + 5]!;
      buf[di] = gr * r + or;
      buf[di + plane] = gg * g + og;
      buf[di + p2] = gb * b + ob;
    }
  }
}

/** blockDownscaleInto for any whole factor and rgb8/mono8 (exported for the test of the fast path). */
export function blockDownscaleLoopsInto(
  src: Uint8Array,
  srcWidth: number,
  nch: number,
  k: number,
  w: number,
  h: number,
  gain: Float32Array,
  offset: Float32Array,
  buf: Float32Array,
): void {
  const plane = w * h;
  const inv = 1 / (k * k);
  const gr = gain[0]! * inv;
  const gg = gain[1]! * inv;
  const gb = gain[2]! * inv;
  const or = offset[0]!;
  const og = offset[1]!;
  const ob = offset[2]!;
  const rowStride = srcWidth * nch;
  const step = k * nch;
  for (let oy = 0; oy < h; oy++) {
    const rowBase = oy * k * rowStride;
    let di = oy * w;
    for (let ox = 0; ox < w; ox++, di++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const base = rowBase + ox * step;
      for (let dy = 0; dy < k; dy++) {
        let si = base + dy * rowStride;
        if (nch === 3) {
          for (let dx = 0; dx < k; dx++, si += 3) {
            r += src[si]!;
            g += src[si + 1]!;
            b += src[si + 2]!;
          }
        } else {
          for (let dx = 0; dx < k; dx++, si++) r += src[si]!;
        }
      }
      if (nch === 1) g = b = r;
      buf[di] = gr * r + or;
      buf[di + plane] = gg * g + og;
      buf[di + 2 * plane] = gb * b + ob;
    }
  }
}
