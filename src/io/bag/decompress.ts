// The chunk decompressors every bag reader uses: @mcap/support's wasm handlers, with LZ4 replaced.
// @foxglove/wasm-lz4 keeps one LZ4F decompression context for the whole process and never resets
// it, so after one corrupt chunk every later call fails, intact chunks included: one bad chunk cost
// the rest of the bag, and every later bag the process read. The same wasm module is driven here
// with a fresh context after each failure.

import { createRequire } from "node:module";
import { loadDecompressHandlers } from "@mcap/support";

type Handlers = Awaited<ReturnType<typeof loadDecompressHandlers>>;

interface Lz4Module {
  ready: Promise<unknown>;
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _createDecompressionContext(): number;
  _decompressFrame(ctx: number, dst: number, dstSize: number, src: number, srcSize: number): number;
}

let lz4Module: Promise<Lz4Module> | undefined;
let context: number | undefined;

function loadLz4(): Promise<Lz4Module> {
  lz4Module ??= (async () => {
    const factory = createRequire(import.meta.url)(
      "@foxglove/wasm-lz4/dist/wasm-lz4",
    ) as () => Promise<Lz4Module>;
    const mod = await factory();
    await mod.ready;
    return mod;
  })();
  return lz4Module;
}

function lz4(mod: Lz4Module): Handlers[string] {
  return (buffer, size) => {
    const destSize = Number(size);
    // LZ4 expands at most 255:1: a larger claim is a corrupt size field, not memory to reserve.
    if (!(destSize >= 0) || destSize > buffer.byteLength * 255 + 64)
      throw new Error(`LZ4 frame claims ${size} bytes from ${buffer.byteLength} compressed`);
    const src = mod._malloc(buffer.byteLength);
    const dst = mod._malloc(destSize);
    try {
      mod.HEAPU8.set(buffer, src);
      context ??= mod._createDecompressionContext();
      const n = mod._decompressFrame(context, dst, destSize, src, buffer.byteLength);
      if (n < 0) {
        // LZ4F leaves a context that failed in its error state: the next frame gets a new one.
        context = undefined;
        throw new Error("Error during decompression");
      }
      return mod.HEAPU8.slice(dst, dst + n);
    } finally {
      mod._free(src);
      mod._free(dst);
    }
  };
}

/** @mcap/support's handlers (bz2, lz4, zstd), LZ4 with a context that recovers from a bad chunk. */
export async function loadBagDecompressHandlers(): Promise<Handlers> {
  const [h, mod] = await Promise.all([loadDecompressHandlers(), loadLz4()]);
  return { ...h, lz4: lz4(mod) };
}
