// Pipeline scheduling without a bag: live mode drops frames that arrive while one is processed
// (latest wins, counted), replay mode processes every frame; predictions come out as events.

import { describe, expect, it } from "vitest";
import type { ImageFrame } from "../src/core/types.ts";
import type { FeatureMap } from "../src/learning/backbone.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type PipelineEvent } from "../src/runtime/pipeline.ts";

const C = 4;

/** A backbone whose extract() resolves only when the test says so. */
function gatedBackbone() {
  const gates: (() => void)[] = [];
  const seen: number[] = [];
  return {
    seen,
    release() {
      gates.shift()?.();
    },
    get waiting() {
      return gates.length;
    },
    backbone: {
      channels: C,
      stride: 8,
      name: "gated",
      extract(img: ImageFrame): Promise<FeatureMap> {
        seen.push(img.stamp);
        const map: FeatureMap = {
          rows: 2,
          cols: 2,
          channels: C,
          strideX: 8,
          strideY: 8,
          data: new Float32Array(4 * C).fill(img.stamp),
        };
        return new Promise((resolve) => gates.push(() => resolve(map)));
      },
      async close() {},
    },
  };
}

const learner = {
  backend: "fake",
  channels: 2 * C + 1,
  addSamples() {},
  async train(steps: number) {
    return { loss: 0, steps };
  },
  predict(features: Float32Array, n: number) {
    // Roughness = the frame's stamp / 10, so the test can tell which frame a prediction came from.
    const r = new Float32Array(n).fill(features[0]! / 10);
    return { roughness: r, confidence: new Float32Array(n).fill(1), reconError: new Float32Array(n) };
  },
  stats() {
    return { bufferSize: 0, trainSteps: 0, lastLoss: Number.NaN, backend: "fake", numTensors: 0 };
  },
  dispose() {},
};

function frame(stamp: number): ImageFrame {
  return {
    stamp,
    frameId: "camera_optical_frame",
    width: 16,
    height: 16,
    encoding: "rgb8",
    data: new Uint8Array(16 * 16 * 3),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("pipeline scheduling", () => {
  it("live: frames arriving while one is processed are dropped, the latest wins", async () => {
    const g = gatedBackbone();
    const p = await createPipeline(defaultConfig(), {
      mode: "live",
      backbone: g.backbone as never,
      learner: learner as never,
      warn: () => {},
    });
    const events: PipelineEvent[] = [];
    p.events$.subscribe((e) => events.push(e));
    await p.push({ kind: "image", frame: frame(1) });
    await p.push({ kind: "image", frame: frame(2) });
    await p.push({ kind: "image", frame: frame(3) });
    await p.push({ kind: "image", frame: frame(4) });
    await tick();
    expect(g.seen).toEqual([1]);
    g.release();
    await tick();
    // Frame 1 done; 2 and 3 were replaced by 4 while it ran.
    expect(g.seen).toEqual([1, 4]);
    g.release();
    const summary = await p.finish();
    expect(summary.framesIn).toBe(4);
    expect(summary.framesProcessed).toBe(2);
    expect(summary.framesDropped).toBe(2);
    const preds = events.filter((e) => e.type === "prediction");
    expect(preds.map((e) => (e.type === "prediction" ? e.stamp : 0))).toEqual([1, 4]);
    const last = preds[1]!;
    if (last.type !== "prediction") throw new Error("unreachable");
    expect(last.outputs.grid.roughness[0]).toBeCloseTo(0.4, 6);
    expect(last.outputs.grid.rows).toBe(2);
    // No pose yet: ahead is unknown and the speed limit is the conservative minimum.
    expect(Number.isNaN(last.outputs.ahead)).toBe(true);
    expect(last.outputs.speedLimit).toBe(defaultConfig().outputs.min_speed);
    expect(events.at(-1)?.type).toBe("done");
    await p.close();
  });

  it("replay: every frame is processed in order", async () => {
    const g = gatedBackbone();
    const p = await createPipeline(defaultConfig(), {
      mode: "replay",
      backbone: g.backbone as never,
      learner: learner as never,
      warn: () => {},
    });
    const stamps: number[] = [];
    p.events$.subscribe((e) => {
      if (e.type === "prediction") stamps.push(e.stamp);
    });
    // Fusion holds each frame until the reorder window has passed (or the end of the run): the gate
    // opens whenever a frame's turn has come.
    let open = true;
    const opener = (async () => {
      while (open) {
        while (g.waiting) g.release();
        await tick();
      }
    })();
    for (const t of [1, 2, 3]) await p.push({ kind: "image", frame: frame(t) });
    const s = await p.finish();
    open = false;
    await opener;
    expect(stamps).toEqual([1, 2, 3]);
    expect(s.framesDropped).toBe(0);
    await p.close();
  });

  it("reports undecodable bag messages as problems and goes on", async () => {
    const g = gatedBackbone();
    const p = await createPipeline(defaultConfig(), {
      mode: "replay",
      backbone: g.backbone as never,
      learner: learner as never,
      warn: () => {},
    });
    const problems: string[] = [];
    p.events$.subscribe((e) => {
      if (e.type === "problem") problems.push(e.problem.kind);
    });
    await p.push({
      type: "message",
      topic: "/imu/data",
      schemaName: "sensor_msgs/msg/Imu",
      logTime: 1,
      message: { nonsense: true },
      size: 1,
    });
    await p.push({ type: "problem", kind: "decode", message: "bad CDR", topic: "/odom" });
    expect(problems).toEqual(["convert", "decode"]);
    expect(p.stats().problems).toEqual({ convert: 1, decode: 1 });
    await p.close();
  });
});

describe("live mode with the real backbone and the worker trainer", () => {
  it("predicts frames and shuts the training worker down", async () => {
    const p = await createPipeline(defaultConfig(), { mode: "live", warn: () => {} });
    expect(p.learner.train).toBeUndefined();
    const preds: number[] = [];
    p.events$.subscribe((e) => {
      if (e.type === "prediction") preds.push(e.outputs.grid.rows * e.outputs.grid.cols);
    });
    const img = frame(1);
    const big: ImageFrame = {
      ...img,
      width: 64,
      height: 48,
      data: new Uint8Array(64 * 48 * 3).map((_, i) => (i * 31) % 251),
    };
    await p.push({ kind: "image", frame: big });
    const s = await p.finish();
    expect(s.framesProcessed).toBe(1);
    expect(preds).toEqual([8 * 6]);
    await p.close();
  }, 60_000);
});
