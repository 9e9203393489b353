// `label` and `replay` take a bag's IMU and odometry in stamp order through the same fusion stage
// (fusion.reorder_window), so a driver whose messages cross in transport (recorded out of stamp
// order) gives the labels of the ordered bag, and the same labels in both commands. On a bag in
// order nothing changes (label-robot-inputs.test.ts pins those labels).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runLabel } from "../src/cli/label.ts";
import type { RoughnessLabel } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import type { BagMessage } from "../src/io/bag/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, readAhead } from "../src/runtime/pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-label-reorder-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ordered = join(dir, "ordered.mcap");
const crossed = join(dir, "crossed.mcap");

/** The bag with each pair of IMU messages recorded in the other order (the log-time slots kept). */
async function crossImuPairs(from: string, to: string): Promise<void> {
  const bag = await openBag(from);
  const out = await Ros2McapWriter.create(to, { compression: "none" });
  let held: BagMessage | undefined;
  for await (const e of bag.messages()) {
    if (e.type !== "message") continue;
    if (e.topic !== "/imu/data") {
      await out.write(e.topic, e.schemaName, e.logTime, e.message);
      continue;
    }
    if (!held) {
      held = e;
      continue;
    }
    await out.write(e.topic, e.schemaName, held.logTime, e.message);
    await out.write(held.topic, held.schemaName, e.logTime, held.message);
    held = undefined;
  }
  if (held) await out.write(held.topic, held.schemaName, held.logTime, held.message);
  await out.close();
  await bag.close();
}

async function label(bag: string) {
  const labels: RoughnessLabel[] = [];
  const summary = await runLabel({ bag, config: defaultConfig(), onLabel: (l) => labels.push(l) });
  return { summary, labels };
}

async function replayLabels(bag: string): Promise<RoughnessLabel[]> {
  const source = await openBag(bag);
  const pipeline = await createPipeline(defaultConfig(), { mode: "replay", overlay: false, warn: () => {} });
  const labels: RoughnessLabel[] = [];
  pipeline.events$.subscribe((e) => {
    if (e.type === "label") labels.push(e.label);
  });
  for await (const e of readAhead(pipeline, source.messages())) await pipeline.push(e);
  await pipeline.finish();
  await pipeline.close();
  await source.close();
  return labels;
}

const key = (l: RoughnessLabel) => [l.stamp, l.energy, l.roughness, l.speed];

beforeAll(async () => {
  await generateWorldBag({ out: ordered, seed: 3, duration: 30, camera: { width: 32, height: 24, rate: 2 } });
  await crossImuPairs(ordered, crossed);
}, 120_000);

describe("label re-orders within fusion.reorder_window, as replay does", () => {
  it("IMU messages recorded out of stamp order: the ordered bag's labels, nothing dropped, no warning", async () => {
    const a = await label(ordered);
    const b = await label(crossed);
    expect(a.labels.length).toBeGreaterThan(20);
    expect(b.labels.map(key)).toEqual(a.labels.map(key));
    expect(b.summary.dropped.imu).toEqual(a.summary.dropped.imu);
    expect(b.summary.accepted).toEqual(a.summary.accepted);
    expect(b.summary.warnings).toEqual(a.summary.warnings);
  }, 120_000);

  it("label and replay give the same labels for the same bag", async () => {
    const fromLabel = (await label(crossed)).labels;
    const fromReplay = await replayLabels(crossed);
    expect(fromReplay.map(key)).toEqual(fromLabel.map(key));
  }, 300_000);

  it("stamps further back than the window are still dropped, and said so", async () => {
    const config = defaultConfig();
    config.fusion.reorder_window = 0;
    const labels: RoughnessLabel[] = [];
    const s = await runLabel({ bag: crossed, config, onLabel: (l) => labels.push(l) });
    expect(s.dropped.imu.backwards).toBeGreaterThan(1000);
    expect(s.warnings.join("\n")).toMatch(
      /IMU messages are stamped more than fusion\.reorder_window \(0 s\) before one already taken and were dropped/,
    );
  }, 120_000);
});
