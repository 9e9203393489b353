// fusion.camera_delay: a camera whose stamps are later than the IMU's for the same instant (a
// driver that stamps frames on arrival). Its frames and CameraInfo are put back at the instant they
// were taken: in stamp order among the IMU and odometry, predicted and published at that stamp.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { from, lastValueFrom, toArray } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { isProblem } from "../src/core/fusion/events.ts";
import type { ImageFrame, Problem } from "../src/core/types.ts";
import type { ProbeSet } from "../src/eval/probe-set.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, readAhead } from "../src/runtime/pipeline.ts";
import { chooseProbeSet } from "../src/runtime/probe-prepass.ts";
import { fusion } from "../src/runtime/stages/fusion.ts";
import type { GraphInput } from "../src/runtime/stages/inputs.ts";

const dir = mkdtempSync(join(tmpdir(), "camera-delay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DELAY = 0.15;

describe("fusion stage with a camera delay", () => {
  it("places a frame stamped 0.4 s late (window 0.25 s) where it was taken, its stamp corrected", async () => {
    const imu = (stamp: number): GraphInput => ({ kind: "imu", stamp, sample: { stamp } as never });
    const frame = (stamp: number): GraphInput => ({
      kind: "frame",
      stamp,
      frame: {
        stamp,
        frameId: "cam",
        width: 1,
        height: 1,
        encoding: "mono8",
        data: new Uint8Array(1),
      } as ImageFrame,
    });
    // IMU every 0.1 s; the frame taken at 1.05 is stamped 1.45 and arrives in stamp order.
    const inputs = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4].map(imu);
    inputs.push(frame(1.45), ...[1.5, 1.6, 1.7, 1.8].map(imu));
    const out = await lastValueFrom(
      from(inputs).pipe(fusion({ window: 0.25, cameraDelay: 0.4, mode: "replay" }), toArray()),
    );
    expect(out.filter(isProblem)).toEqual([]);
    const order = (out as GraphInput[]).map((e) => `${e.kind}@${+e.stamp.toFixed(2)}`);
    expect(order.slice(0, 5)).toEqual(["imu@0.8", "imu@0.9", "imu@1", "frame@1.05", "imu@1.1"]);
    const f = out.find((e) => !isProblem(e) && e.kind === "frame") as Extract<GraphInput, { kind: "frame" }>;
    expect(f.frame.stamp).toBeCloseTo(1.05, 9);
  });
});

describe("replay of a camera stamped late, with fusion.camera_delay", () => {
  const original = join(dir, "sim.mcap");
  const lagged = join(dir, "lagged.mcap");

  beforeAll(async () => {
    await generateWorldBag({ out: original, duration: 6, camera: { width: 160, height: 120 } });
    // The camera stamps (and records) each frame DELAY after it was taken.
    const bag = await openBag(original);
    const out = await Ros2McapWriter.create(lagged, { compression: "none" });
    const recs: { topic: string; schema: string; log: number; message: unknown }[] = [];
    for await (const e of bag.messages()) {
      if (e.type !== "message") continue;
      let { logTime: log, message } = e;
      if (e.topic === "/camera/image_raw" || e.topic === "/camera/camera_info") {
        const m = message as { header: { stamp: { sec: number; nanosec: number } } };
        const ns = m.header.stamp.nanosec + DELAY * 1e9;
        const stamp = { sec: m.header.stamp.sec + Math.floor(ns / 1e9), nanosec: ns % 1e9 };
        message = { ...m, header: { ...m.header, stamp } };
        log += DELAY;
      }
      recs.push({ topic: e.topic, schema: e.schemaName, log, message });
    }
    await bag.close();
    recs.sort((a, b) => a.log - b.log);
    for (const r of recs) await out.write(r.topic, r.schema, r.log, r.message);
    await out.close();
  }, 120_000);

  async function predictions(bag: string, delay: number, evaluate = false) {
    const config = defaultConfig();
    config.fusion.camera_delay = delay;
    const pipeline = await createPipeline(config, {
      mode: "replay",
      overlay: false,
      evaluate,
      warn: () => {},
    });
    const stamps: number[] = [];
    const keyframes: number[] = [];
    const problems: Problem[] = [];
    pipeline.events$.subscribe((e) => {
      if (e.type === "prediction") {
        expect(e.image.stamp).toBe(e.stamp);
        stamps.push(e.stamp);
        if (e.keyframe) keyframes.push(e.stamp);
      }
      if (e.type === "problem") problems.push(e.problem);
    });
    const source = await openBag(bag);
    let probe: ProbeSet | undefined;
    if (evaluate) {
      const info = await source.info();
      probe = await chooseProbeSet(
        source,
        info,
        config,
        undefined,
        (f) => pipeline.frameFeatures(f),
        () => {},
      );
      if (probe) pipeline.useProbeSet(probe);
    }
    for await (const e of readAhead(pipeline, source.messages())) await pipeline.push(e);
    const summary = await pipeline.finish();
    await pipeline.close();
    await source.close();
    return { stamps, keyframes, problems, summary, probe };
  }

  it("predicts each frame at the instant it was taken, nothing dropped", async () => {
    const truth = await predictions(original, 0);
    const corrected = await predictions(lagged, DELAY);
    expect(corrected.problems).toEqual([]);
    expect(corrected.stamps.length).toBe(truth.stamps.length);
    for (const [i, s] of corrected.stamps.entries()) expect(s).toBeCloseTo(truth.stamps[i]!, 6);
    expect(corrected.summary.keyframes).toBeGreaterThan(0);
  }, 120_000);

  it("--eval: the probe frames are chosen by the corrected stamps, held out of training, their truth where the robot was then", async () => {
    const onTime = await predictions(original, 0, true);
    const corrected = await predictions(lagged, DELAY, true);
    const probe = corrected.probe!;
    expect(probe.frameStamps.length).toBeGreaterThan(0);
    // The frames the replay sees, none of them a keyframe: no label is ever associated with them.
    const seen = new Set(corrected.stamps);
    expect(probe.frameStamps.filter((s) => !seen.has(s))).toEqual([]);
    const held = new Set(probe.frameStamps);
    expect(corrected.keyframes.filter((s) => held.has(s))).toEqual([]);
    // Where the same frame and cell were chosen as with the camera stamped on time (the bags' spans
    // differ by the delay, so not every candidate is), the truth is the same: taken at that instant.
    const same = probe.cells.flatMap((c) => {
      const o = onTime.probe!.cells.find((x) => x.cell === c.cell && Math.abs(x.stamp - c.stamp) < 1e-6);
      return o ? [[c.truth, o.truth]] : [];
    });
    expect(same.length).toBeGreaterThan(0);
    for (const [a, b] of same) expect(a).toBeCloseTo(b!, 6);
  }, 120_000);
});
