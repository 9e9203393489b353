import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeCompressed, ImageDecodeError } from "../src/io/ros/decode-image.ts";

describe("decodeCompressed", () => {
  it("decodes a JPEG to rgb8 with the frame's stamp", async () => {
    const raw = Buffer.alloc(32 * 16 * 3);
    for (let i = 0; i < 32 * 16; i++) raw.set([200, 40, 40], 3 * i);
    const jpeg = await sharp(raw, { raw: { width: 32, height: 16, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const img = await decodeCompressed({
      stamp: 3.25,
      frameId: "cam",
      format: "jpeg",
      data: new Uint8Array(jpeg),
    });
    expect(img).toMatchObject({ stamp: 3.25, frameId: "cam", width: 32, height: 16, encoding: "rgb8" });
    expect(img.data.length).toBe(32 * 16 * 3);
    expect(Math.abs(img.data[0]! - 200)).toBeLessThan(8);
    expect(Math.abs(img.data[1]! - 40)).toBeLessThan(8);
  });

  it("demosaics a Bayer camera's PNG (its format names the pattern) to rgb8", async () => {
    // A red scene through an RGGB mosaic: red sites 200, green 40, blue 20.
    const w = 8;
    const h = 6;
    const mosaic = Buffer.alloc(w * h);
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++)
        mosaic[r * w + c] = r % 2 === 0 ? (c % 2 === 0 ? 200 : 40) : c % 2 === 0 ? 40 : 20;
    const png = await sharp(mosaic, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toBuffer();
    const frame = (format: string) => ({ stamp: 1, frameId: "cam", format, data: new Uint8Array(png) });
    const img = await decodeCompressed(frame("bayer_rggb8; png compressed bayer_rggb8"));
    expect(img.encoding).toBe("rgb8");
    expect(Array.from(img.data.subarray(0, 3))).toEqual([200, 40, 20]);
    expect(Array.from(img.data.subarray(3 * (w * h - 1)))).toEqual([200, 40, 20]);
    // The same bytes said to be BGGR: blue and red swap places.
    expect(
      Array.from((await decodeCompressed(frame("bayer_bggr8; png compressed"))).data.subarray(0, 3)),
    ).toEqual([20, 40, 200]);
    // A plain grey PNG stays grey.
    expect((await decodeCompressed(frame("mono8; png compressed mono8"))).encoding).toBe("mono8");
  });

  it("decodes a grey PNG to mono8 and rejects garbage with a clear error", async () => {
    const png = await sharp(Buffer.alloc(8 * 8, 77), { raw: { width: 8, height: 8, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toBuffer();
    const img = await decodeCompressed({
      stamp: 1,
      frameId: "cam",
      format: "png",
      data: new Uint8Array(png),
    });
    expect(img.encoding).toBe("mono8");
    expect(img.data[10]).toBe(77);
    await expect(
      decodeCompressed({ stamp: 1, frameId: "cam", format: "jpeg", data: new Uint8Array([1, 2, 3]) }),
    ).rejects.toThrow(ImageDecodeError);
  });
});
