// `reset` (the ~/reset service, the MQTT `reset` command) forgets the learned model; the rolling
// costmap built from that model's predictions goes with it. Otherwise Nav2 kept planning on the
// forgotten model's costs (100 is lethal) for the ground out of view, for ten half-lives.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { pipelineControls } from "../src/adapters/controls.ts";
import type { Costmap } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-outputs-reset-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const known = (c: Costmap | undefined) => (c ? c.data.filter((v) => v >= 0).length : 0);

describe("reset", () => {
  it("clears the costmap: no cell keeps the forgotten model's value", { timeout: 300_000 }, async () => {
    const bag = join(dir, "drive.mcap");
    await generateWorldBag({ out: bag, seed: 1, duration: 20, camera: { width: 160, height: 120 } });
    const config = defaultConfig();
    const pipeline = await createPipeline(config, { mode: "replay", costmap: true, warn: () => {} });
    const controls = pipelineControls(pipeline, config);
    const costmaps: { stamp: number; map: Costmap | undefined; speed: number; ahead: number }[] = [];
    const sub = pipeline.events$.subscribe((e) => {
      if (e.type === "prediction")
        costmaps.push({
          stamp: e.stamp,
          map: e.outputs.costmap,
          speed: e.outputs.speedLimit,
          ahead: e.outputs.ahead,
        });
    });
    const source = await openBag(bag);
    let resetAt = -1;
    try {
      for await (const e of source.messages()) {
        await pipeline.push(e);
        if (resetAt < 0 && known(costmaps.at(-1)?.map) > 200) {
          await pipeline.idle();
          resetAt = costmaps.length;
          controls.reset();
        } else if (resetAt >= 0 && costmaps.length > resetAt) break;
      }
      await pipeline.idle();
    } finally {
      sub.unsubscribe();
      await source.close();
      await pipeline.close();
    }
    expect(resetAt, "the costmap never had known cells").toBeGreaterThan(0);
    const before = costmaps[resetAt - 1]!;
    const after = costmaps[resetAt]!;
    expect(known(before.map)).toBeGreaterThan(200);
    // The first frame after the reset: a model that knows nothing judges nothing.
    expect(known(after.map)).toBe(0);
    expect(after.speed).toBe(config.outputs.min_speed);
    // The roughness ahead (MQTT, live view, ROS) is unknown wherever the model knows nothing:
    // at the start and after the reset, not the untrained head's output; known once it learned.
    expect(Number.isNaN(costmaps[0]!.ahead)).toBe(true);
    expect(Number.isNaN(after.ahead)).toBe(true);
    expect(costmaps.slice(0, resetAt).some((c) => Number.isFinite(c.ahead))).toBe(true);
  });
});
