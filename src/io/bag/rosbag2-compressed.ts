// rosbag2 folders recorded with `--compression-mode file --compression-format zstd`: every data file
// is one zstd frame (`bag_0.db3.zstd`, `bag_0.mcap.zstd`). They are decompressed once into a private
// temporary folder and read from there; the folder goes when the source is closed.
//
// rosbag2 compresses a whole file at once, so the frame header carries the decompressed size, which
// the WebAssembly decoder needs up front. Per-message compression (`--compression-mode message`) is
// read by the storage sources themselves: each message's data is one zstd frame, decompressed before
// it is decoded (zstdFramed).

import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as zstd from "@foxglove/wasm-zstd";
import type { Decoder } from "./decoders.ts";
import type { BagSource } from "./types.ts";

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The decompressed size a zstd frame header declares (RFC 8878 §3.1.1.1), or undefined when the
 * frame does not say. Throws for bytes that are not a zstd frame.
 */
export function zstdContentSize(buf: Uint8Array, name: string): number | undefined {
  if (buf.length < 6) throw new Error(`${name}: too short for a zstd frame (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== ZSTD_MAGIC) throw new Error(`${name}: not a zstd file (bad magic number)`);
  const descriptor = buf[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictFlag = descriptor & 3;
  const pos = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  if (fcsSize === 0) return undefined;
  if (pos + fcsSize > buf.length) throw new Error(`${name}: zstd frame header cut short`);
  let size: number;
  if (fcsSize === 1) size = buf[pos]!;
  else if (fcsSize === 2) size = view.getUint16(pos, true) + 256;
  else if (fcsSize === 4) size = view.getUint32(pos, true);
  else size = Number(view.getBigUint64(pos, true));
  return size;
}

/**
 * A decoder for messages whose data is one zstd frame each (rosbag2 compression mode MESSAGE).
 * The zstd module must be loaded (`await zstd.isLoaded`) before the first message.
 */
export function zstdFramed(decoder: Decoder, topic: string): Decoder {
  return (data) => {
    const size = zstdContentSize(data, `${topic} message`);
    if (size === undefined) throw new Error("zstd message frame does not declare its size");
    return decoder(zstd.decompress(data, size));
  };
}

/** Decompresses each `.zstd` data file into a new temporary folder; returns the paths to read and a cleanup. */
export async function decompressRosbag2Files(
  dir: string,
  files: readonly string[],
  compression: string,
  mode: string,
): Promise<{ files: string[]; cleanup: () => Promise<void> }> {
  if (compression !== "zstd")
    throw new Error(`${dir}: rosbag2 compression "${compression}" is not supported (only zstd)`);
  if (mode !== "FILE") {
    throw new Error(
      `${dir}: rosbag2 compression mode "${mode || "(none)"}" is not supported here (FILE and MESSAGE are); ` +
        "decompress it with `ros2 bag convert`",
    );
  }
  await zstd.isLoaded;
  const tmp = await mkdtemp(join(tmpdir(), "terrain-learner-bag-"));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const out: string[] = [];
    for (const f of files) {
      const data = await readFile(f);
      const size = zstdContentSize(data, f);
      if (size === undefined) {
        throw new Error(
          `${f}: the zstd frame does not declare its size; decompress it with \`zstd -d\` or \`ros2 bag convert\``,
        );
      }
      let raw: Uint8Array;
      try {
        raw = zstd.decompress(data, size);
      } catch (err) {
        throw new Error(`${f}: cannot decompress (${(err as Error).message}); the file is damaged`);
      }
      const name = join(tmp, basename(f).replace(/\.zstd$/, ""));
      const handle = await open(name, "w");
      try {
        await handle.write(raw);
      } finally {
        await handle.close();
      }
      out.push(name);
    }
    return { files: out, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The source with `cleanup` run after it is closed. */
export function withCleanup(source: BagSource, cleanup: () => Promise<void>): BagSource {
  const close = source.close.bind(source);
  source.close = async () => {
    try {
      await close();
    } finally {
      await cleanup();
    }
  };
  return source;
}
