// The live view seen from a browser: headless Chromium (Debian's `chromium`, driven by
// playwright-core) loads a minimal viewer page (tests/helpers/live-view-page.js: the protocol
// library's browser client, the CDR deserializer, two canvases), a real replay serves it, and the
// page draws the overlay and the costmap. The screenshot is kept as out/test-artifacts/live-view-browser.png.
// The page stands in for Foxglove/Lichtblick, which cannot be installed on this machine.
//
// Skipped where Chromium is not installed (scripts/test.sh installs it).

import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { startLiveView } from "../src/adapters/live-view/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { waitFor } from "./helpers/wait.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACT = join(import.meta.dirname, "../out/test-artifacts/live-view-browser.png");
/** What the page (tests/helpers/live-view-page.js) exposes. */
interface PageGlobals {
  __liveView?: {
    subscribed: boolean;
    overlays: number;
    costmaps: number;
    lastStamp: number;
    errors: string[];
  };
  __lastOverlay?: Uint8Array;
  document: {
    getElementById(id: string): {
      width: number;
      height: number;
      getContext(kind: "2d"): {
        getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
      };
    };
  };
}

const dir = mkdtempSync(join(tmpdir(), "tl-live-browser-"));
const bag = join(dir, "world.mcap");

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 1,
    duration: 30,
    camera: { width: 320, height: 240 },
  });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(CHROMIUM))("live view in headless Chromium", () => {
  it("a browser viewer draws every overlay and costmap the replay served", async () => {
    const page = await build({
      entryPoints: [join(import.meta.dirname, "helpers/live-view-page.js")],
      bundle: true,
      platform: "browser",
      format: "iife",
      write: false,
      logLevel: "warning",
    });
    const config = defaultConfig();
    config.live_view.port = 0;
    const server = await startLiveView(config);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const tab = await browser.newPage({ viewport: { width: 760, height: 320 } });
      await tab.setContent(
        `<!doctype html><html><body style="margin:8px;background:#fff;font:14px sans-serif">
        <canvas id="overlay" style="width:320px;height:240px"></canvas>
        <canvas id="costmap" style="width:240px;height:240px;margin-left:12px;image-rendering:pixelated"></canvas>
        <div id="caption">waiting</div>
        <script>window.__liveViewUrl = ${JSON.stringify(server.url)};</script>
        <script>${page.outputFiles[0]!.text}</script></body></html>`,
      );
      await tab.waitForFunction(() => (globalThis as unknown as PageGlobals).__liveView?.subscribed);
      await waitFor("subscriptions", () => server.wants("overlay") && server.wants("costmap"));

      // Paced at 5× real time so the browser sees the run as it happens.
      const result = await runReplay({ bag, config, rate: 5, liveView: server });
      const stats = server.stats();
      const published = stats.channels["/terrain_learner/roughness/overlay"]!.published;
      const publishedCostmaps = stats.channels["/terrain_learner/roughness/costmap"]!.published;
      const read = () => tab.evaluate(() => (globalThis as unknown as Required<PageGlobals>).__liveView);
      let state = await read();
      for (let i = 0; i < 100 && (state.overlays < published || state.costmaps < publishedCostmaps); i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = await read();
      }
      expect(state.errors).toEqual([]);
      expect(published).toBeGreaterThan(10);
      expect(state.overlays).toBe(published);
      expect(state.costmaps).toBe(publishedCostmaps);
      expect(stats.clients[0]!.dropped).toBe(0);
      expect(state.lastStamp).toBeGreaterThan(result.sensorSeconds - 1);

      mkdirSync(join(ARTIFACT, ".."), { recursive: true });
      await tab.screenshot({ path: ARTIFACT });

      // The page drew what it received: the overlay canvas holds the last overlay's pixels exactly,
      // and the costmap canvas has known cells.
      const drawn = await tab.evaluate(() => {
        const g = globalThis as unknown as Required<PageGlobals>;
        const pixels = (id: string) => {
          const c = g.document.getElementById(id);
          return c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        };
        const o = pixels("overlay");
        const rgb = g.__lastOverlay;
        let mismatched = 0;
        for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3)
          if (o[i] !== rgb[j] || o[i + 1] !== rgb[j + 1] || o[i + 2] !== rgb[j + 2]) mismatched++;
        const m = pixels("costmap");
        let known = 0;
        for (let i = 0; i < m.length; i += 4) if (m[i] !== 40 || m[i + 1] !== 40) known++;
        return { overlayPixels: o.length / 4, mismatched, known };
      });
      expect(drawn.overlayPixels).toBe(320 * 240);
      expect(drawn.mismatched).toBe(0);
      expect(drawn.known).toBeGreaterThan(20);
      expect(existsSync(ARTIFACT)).toBe(true);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 240_000);
});
