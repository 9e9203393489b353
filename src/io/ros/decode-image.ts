// CompressedImage (JPEG/PNG) → core ImageFrame (rgb8, or mono8 for single-channel images), with
// sharp. Asynchronous (libvips works off the main thread), so it lives at the edge, not in the core.

import sharp from "sharp";
import type { CompressedFrame, ImageFrame } from "../../core/types.ts";
import { demosaicCompressed } from "./pixels.ts";

export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

export async function decodeCompressed(frame: CompressedFrame): Promise<ImageFrame> {
  let result: { data: Buffer; info: sharp.OutputInfo };
  try {
    const img = sharp(frame.data, { failOn: "error" });
    const meta = await img.metadata();
    const mono = meta.channels === 1 || (meta.channels === 2 && meta.space === "b-w");
    result = await (mono
      ? img.extractChannel(0).toColourspace("b-w")
      : img.removeAlpha().toColourspace("srgb")
    )
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageDecodeError(
      `cannot decode ${frame.format || "compressed"} image (${frame.data.byteLength} bytes) at ${frame.stamp.toFixed(3)} s: ${(err as Error).message}`,
    );
  }
  const { data, info } = result;
  const encoding = info.channels === 1 ? "mono8" : "rgb8";
  if (info.channels !== 1 && info.channels !== 3) {
    throw new ImageDecodeError(`decoded image has ${info.channels} channels, expected 1 or 3`);
  }
  // A Bayer camera's mosaic compresses as one grey channel; its format names the pattern.
  return demosaicCompressed(frame.format, {
    stamp: frame.stamp,
    frameId: frame.frameId,
    width: info.width,
    height: info.height,
    encoding,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}
