// End to end: a short simulator bag through the real CLI (`replay --eval --json --record`), the
// recording read back with @mcap/core, and the learner compared with the running-mean baseline.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import * as zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { defaultConfig } from "../src/runtime/config.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "tl-replay-"));
const bag = join(dir, "world.mcap");
const record = join(dir, "out.mcap");
const reportDir = join(dir, "report");
let result: Record<string, unknown>;
/** The refused replay (an unwritable --record), run beside the main one: see "replay that cannot start". */
type Refused = { err: { code?: number; killed?: boolean; stderr?: string }; ms: number };
let refused: Promise<Refused>;

beforeAll(async () => {
  // The stripes world: the robot crosses bands of every roughness within the first minute, so 90 s
  // is enough for learning to show (the default world needs minutes).
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 1,
    duration: 90,
    camera: { width: 160, height: 120 },
  });
  // Its own child process, started now so its start-up overlaps the main replay's.
  const started = Date.now();
  refused = run(
    process.execPath,
    ["bin/terrain-learner.js", "replay", bag, "--record", join(dir, "no-such-dir", "out.mcap")],
    { timeout: 60_000 },
  ).then(
    () => ({ err: { code: 0 }, ms: Date.now() - started }),
    (e: unknown) => ({ err: e as Refused["err"], ms: Date.now() - started }),
  );
  const { stdout } = await run(
    process.execPath,
    [
      "bin/terrain-learner.js",
      "replay",
      bag,
      "--eval",
      "--json",
      "--record",
      record,
      "--report-dir",
      reportDir,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  result = JSON.parse(lines[0]!);
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("replay --eval --json --record on a simulator bag", () => {
  it("learns: frames, labels, samples and training steps", () => {
    expect(result.frames).toBe(90 * 15);
    expect(result.labels as number).toBeGreaterThan(50);
    expect(result.samples as number).toBeGreaterThan(100);
    expect(result.trainSteps as number).toBeGreaterThan(100);
    expect(typeof result.backend).toBe("string");
    expect(result.realtimeFactor as number).toBeGreaterThan(0);
  });

  it("prints the documented JSON shape", () => {
    const e = result.eval as Record<string, number>;
    for (const k of ["spearman", "mae", "auroc", "confidenceAuroc"]) expect(e, k).toHaveProperty(k);
    for (const k of ["spearman", "mae", "auroc"]) expect(Number.isFinite(e[k]), k).toBe(true);
    const curve = result.curve as { t: number; spearman: number; mae: number }[];
    expect(curve.length).toBeGreaterThanOrEqual(9);
    for (const c of curve) expect(Object.keys(c)).toEqual(expect.arrayContaining(["t", "spearman", "mae"]));
    expect(curve[curve.length - 1]!.t).toBeCloseTo(90, 0);
    const report = result.report as { json: string; curve: string; frames: string };
    expect(report.json).toBe(join(reportDir, "report.json"));
  });

  it("carries eval.knowledge (a curve point every 10 s, timeToRank) and eval.stability", () => {
    const e = result.eval as {
      knowledge: {
        curve: { t: number; terrainRho: number | null; cellRho: number | null }[];
        timeToRank: unknown;
      };
      stability: {
        minTrailingRho: number | null;
        costmapFlicker: number | null;
        costmapRho: number | null;
        speedLimitChange: number | null;
        meanSpeedLimit: number | null;
      };
    };
    const k = e.knowledge;
    expect(k.curve.map((c) => Math.round(c.t))).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    for (const c of k.curve)
      expect(Object.keys(c)).toEqual(
        expect.arrayContaining(["terrainRho", "terrainRhoAll", "cellRho", "pairAccuracy", "confidenceAuroc"]),
      );
    expect(k).toHaveProperty("timeToRank");
    expect(k.curve.at(-1)!.terrainRho).not.toBeNull();
    expect(e.stability).toHaveProperty("minTrailingRho");
    expect(e.stability.costmapFlicker).toBeGreaterThan(0);
    // The costmap it publishes ranks the stripes as the truth does (0.68 here; a costmap unrelated to
    // the ground gives about 0).
    expect(e.stability.costmapRho).toBeGreaterThan(0.4);
    // The stripes world's bands of every roughness move the limit; it stays within the defaults' range.
    expect(e.stability.speedLimitChange).toBeGreaterThan(0);
    expect(e.stability.meanSpeedLimit).toBeGreaterThanOrEqual(0.3);
    expect(e.stability.meanSpeedLimit).toBeLessThanOrEqual(2);
  });

  it("learning beats the running-mean baseline over the last minute", () => {
    const e = result.eval as {
      spearman: number;
      mae: number;
      auroc: number;
      baseline: { spearman: number; mae: number; auroc: number };
    };
    expect(e.spearman).toBeGreaterThan(0.5);
    expect(e.spearman).toBeGreaterThan(e.baseline.spearman + 0.3);
    expect(e.mae).toBeLessThan(e.baseline.mae);
    expect(e.auroc).toBeGreaterThan(e.baseline.auroc);
  });

  it("records the outputs next to the inputs, readable with @mcap/core", async () => {
    await zstd.isLoaded;
    const handle = await open(record, "r");
    try {
      const reader = await McapIndexedReader.Initialize({
        readable: new FileHandleReadable(handle),
        decompressHandlers: { zstd: (data, size) => zstd.decompress(data, Number(size)) },
      });
      const topics = new Map<string, string>();
      for (const ch of reader.channelsById.values())
        topics.set(ch.topic, reader.schemasById.get(ch.schemaId)!.name);
      expect(Object.fromEntries(topics)).toMatchObject({
        "/terrain_learner/roughness/image": "sensor_msgs/msg/Image",
        "/terrain_learner/roughness/confidence": "sensor_msgs/msg/Image",
        "/terrain_learner/roughness/overlay": "sensor_msgs/msg/Image",
        "/terrain_learner/roughness/costmap": "nav_msgs/msg/OccupancyGrid",
        "/terrain_learner/roughness/ahead": "std_msgs/msg/Float32",
        "/terrain_learner/speed_limit": "nav2_msgs/msg/SpeedLimit",
        "/camera/image_raw": "sensor_msgs/msg/Image",
        "/imu/data": "sensor_msgs/msg/Imu",
        "/odom": "nav_msgs/msg/Odometry",
      });
      const counts = reader.statistics!.channelMessageCounts;
      const byTopic = new Map(
        [...reader.channelsById.values()].map((c) => [c.topic, Number(counts.get(c.id) ?? 0)]),
      );
      expect(byTopic.get("/terrain_learner/roughness/image")).toBe(90 * 15);
      // The costmap at most ros.costmap_rate (2 Hz) of sensor time, as the live node publishes it: at
      // 15 frames/s that is every 8th frame (0.533 s), 169 in 90 s.
      expect(byTopic.get("/terrain_learner/roughness/costmap")).toBeGreaterThanOrEqual(165);
      expect(byTopic.get("/terrain_learner/roughness/costmap")).toBeLessThanOrEqual(181);
      // The speed limit as published: drops at once, rises at most outputs.speed_limit_rise (0.5 m/s²).
      const speedCh = [...reader.channelsById.values()].find(
        (c) => c.topic === "/terrain_learner/speed_limit",
      )!;
      const speedReader = new MessageReader(definitionsFor("nav2_msgs/msg/SpeedLimit"));
      const limits: { t: number; v: number }[] = [];
      for await (const m of reader.readMessages({ topics: ["/terrain_learner/speed_limit"] })) {
        expect(m.channelId).toBe(speedCh.id);
        const msg = speedReader.readMessage<{
          header: { stamp: { sec: number; nanosec: number } };
          percentage: boolean;
          speed_limit: number;
        }>(m.data);
        // A percentage of outputs.max_speed (the defaults: 2 m/s), back to m/s.
        expect(msg.percentage).toBe(true);
        const maxSpeed = defaultConfig().outputs.max_speed;
        limits.push({
          t: msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
          v: (msg.speed_limit / 100) * maxSpeed,
        });
      }
      expect(limits.length).toBe(90 * 15);
      let rises = 0;
      let drops = 0;
      for (let i = 1; i < limits.length; i++) {
        const dv = limits[i]!.v - limits[i - 1]!.v;
        const dt = limits[i]!.t - limits[i - 1]!.t;
        if (dv > 1e-9) rises++;
        if (dv < -0.05) drops++;
        expect(dv).toBeLessThanOrEqual(0.5 * dt + 1e-6);
      }
      expect(rises).toBeGreaterThan(10);
      expect(drops).toBeGreaterThan(0);
    } finally {
      await handle.close();
    }
  });
});

describe("replay that cannot start", () => {
  it("a --record path that cannot be written: one clear line, exit 1, and the process ends (no worker left running)", async () => {
    const { err, ms } = await refused;
    expect(err.killed ?? false).toBe(false);
    expect(err.code).toBe(1);
    expect(err.stderr?.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^terrain-learner: --record .*no-such-dir\/out\.mcap: folder .*no-such-dir does not exist$/,
      ),
    ]);
    expect(ms).toBeLessThan(60_000);
  });
});
