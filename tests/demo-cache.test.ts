// The demo's cached bag: the camera stored as JPEG (CompressedImage), which keeps the first
// `npm start` at a twelfth of the raw bag's disk.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_JPEG_QUALITY, ensureWorldBag } from "../src/cli/demo.ts";
import { openBag } from "../src/io/bag/index.ts";

const dir = mkdtempSync(join(tmpdir(), "demo-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const STRIPES = join(import.meta.dirname, "..", "sim", "worlds", "stripes.yaml");

describe("demo cache", () => {
  it("stores the camera as JPEG at the demo's quality, reuses the cached bag, and names the format", async () => {
    const opts = { world: STRIPES, seed: 2, duration: 1, cacheDir: dir };
    const path = await ensureWorldBag(opts);
    expect(basename(path)).toBe(`stripes-world-seed2-1s-jpeg${DEMO_JPEG_QUALITY}.mcap`);
    const bag = await openBag(path);
    try {
      const info = await bag.info();
      const count = (type: string) =>
        info.topics.filter((t) => t.type.replace("/msg/", "/") === type).reduce((n, t) => n + t.count, 0);
      expect(count("sensor_msgs/CompressedImage")).toBeGreaterThan(10);
      expect(count("sensor_msgs/Image")).toBe(0);
    } finally {
      await bag.close();
    }
    const mtime = statSync(path).mtimeMs;
    expect(await ensureWorldBag(opts)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(mtime);
  });
});
