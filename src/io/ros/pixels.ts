// Pixel layouts camera drivers send → rgb8: Bayer mosaics (raw or a compressed stream's grey mosaic)
// and YUV 4:2:2. Loops over typed arrays; the callers check sizes and own the output buffers.

import type { ImageFrame } from "../../core/types.ts";

/**
 * A mono8 image that is a Bayer mosaic (a CompressedImage of a Bayer camera: its format starts with
 * the encoding, "bayer_rggb8; png compressed …") → rgb8; any other image as it is.
 */
export function demosaicCompressed(format: string, img: ImageFrame): ImageFrame {
  const encoding = format.split(";")[0]!.trim().toLowerCase();
  if (img.encoding !== "mono8" || !/^bayer_(rggb|bggr|gbrg|grbg)(8|16)$/.test(encoding)) return img;
  if (img.width < 2 || img.height < 2) return img;
  const out = new Uint8Array(img.width * img.height * 3);
  bayerToRgb(img.data, img.width, img.height, img.width, `${encoding.slice(0, 10)}8`, false, out);
  return { ...img, encoding: "rgb8", data: out };
}

/**
 * Bayer mosaic → rgb8: every pixel of a 2×2 cell gets that cell's red, mean green and blue (a
 * last odd row or column takes the cell before it). 16-bit mosaics keep the high byte. At least 2×2.
 */
export function bayerToRgb(
  src: Uint8Array,
  width: number,
  height: number,
  step: number,
  encoding: string,
  bigEndian: boolean,
  out: Uint8Array,
): void {
  const wide = encoding.endsWith("16");
  const at = wide
    ? (r: number, c: number) => src[r * step + 2 * c + (bigEndian ? 0 : 1)]!
    : (r: number, c: number) => src[r * step + c]!;
  // Where red and blue sit in the cell (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
  const pattern = encoding.slice("bayer_".length, "bayer_".length + 4);
  const red = pattern.indexOf("r");
  const blue = pattern.indexOf("b");
  const s = [0, 0, 0, 0];
  for (let r0 = 0; r0 < height; r0 += 2) {
    // An odd last row or column has no cell of its own: the one before it keeps the pattern's phase.
    const rs = r0 + 1 < height ? r0 : r0 - 2;
    for (let c0 = 0; c0 < width; c0 += 2) {
      const cs = c0 + 1 < width ? c0 : c0 - 2;
      s[0] = at(rs, cs);
      s[1] = at(rs, cs + 1);
      s[2] = at(rs + 1, cs);
      s[3] = at(rs + 1, cs + 1);
      let green = 0;
      for (let k = 0; k < 4; k++) if (k !== red && k !== blue) green += s[k]!;
      const R = s[red]!;
      const G = (green + 1) >> 1;
      const B = s[blue]!;
      for (let r = r0; r < Math.min(r0 + 2, height); r++)
        for (let c = c0; c < Math.min(c0 + 2, width); c++) {
          const o = 3 * (r * width + c);
          out[o] = R;
          out[o + 1] = G;
          out[o + 2] = B;
        }
    }
  }
}

/** YUV 4:2:2 (UYVY or YUYV, BT.601 full range as JPEG) → rgb8. */
export function yuv422ToRgb(
  src: Uint8Array,
  width: number,
  height: number,
  step: number,
  encoding: string,
  out: Uint8Array,
): void {
  const uyvy = encoding === "yuv422" || encoding === "uyvy";
  const [yo, uo, vo] = uyvy ? [1, 0, 2] : [0, 1, 3];
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const pair = r * step + 4 * (c >> 1);
      const y = src[pair + yo + 2 * (c & 1)]!;
      const u = src[pair + uo]! - 128;
      const v = src[pair + vo]! - 128;
      const o = 3 * (r * width + c);
      out[o] = clamp8(y + 1.402 * v);
      out[o + 1] = clamp8(y - 0.344136 * u - 0.714136 * v);
      out[o + 2] = clamp8(y + 1.772 * u);
    }
  }
}

const clamp8 = (x: number) => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
