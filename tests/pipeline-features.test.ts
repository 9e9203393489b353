// Frame features off the main thread: the backbone worker gives exactly the in-process features, and
// a replay that reads ahead (frames' features started early, in the worker) gives exactly the
// predictions of a plain in-process replay.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import type { ImageFrame } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Backbone, type FeatureMap } from "../src/learning/backbone.ts";
import { type Config, defaultConfig } from "../src/runtime/config.ts";
import { FeatureWorker } from "../src/runtime/feature-worker.ts";
import { headFeatures } from "../src/runtime/features.ts";
import { createPipeline, type PipelineSummary, readAhead } from "../src/runtime/pipeline.ts";
import { textureImage } from "./learning-textures.ts";

const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The neighbourhood features written the plain way: float32 accumulation in neighbour order. */
function referenceHeadFeatures(map: FeatureMap): Float32Array {
  const { rows, cols, channels: C, data } = map;
  const D = 2 * C + 1;
  const out = new Float32Array(rows * cols * D);
  const h = new Float32Array(rows * cols * C);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      for (let dc = -1; dc <= 1; dc++) {
        if (c + dc < 0 || c + dc >= cols) continue;
        for (let k = 0; k < C; k++) h[(r * cols + c) * C + k]! += data[(r * cols + c + dc) * C + k]!;
      }
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const nr = (r > 0 ? 1 : 0) + 1 + (r < rows - 1 ? 1 : 0);
      const nc = (c > 0 ? 1 : 0) + 1 + (c < cols - 1 ? 1 : 0);
      const o = (r * cols + c) * D;
      for (let k = 0; k < C; k++) out[o + k] = data[(r * cols + c) * C + k]!;
      for (let dr = -1; dr <= 1; dr++) {
        if (r + dr < 0 || r + dr >= rows) continue;
        for (let k = 0; k < C; k++) out[o + C + k]! += h[((r + dr) * cols + c) * C + k]! * (1 / (nr * nc));
      }
      out[o + 2 * C] = (r + 0.5) / rows;
    }
  return out;
}

describe("headFeatures", () => {
  it("equals the plain 3×3 neighbourhood means bit for bit, on grids down to one cell, into `out`", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed / 2147483647) * 4 - 2;
    };
    for (const [rows, cols] of [
      [1, 1],
      [1, 5],
      [4, 1],
      [2, 2],
      [7, 9],
    ] as const) {
      const C = 5;
      const map: FeatureMap = {
        rows,
        cols,
        channels: C,
        strideX: 8,
        strideY: 8,
        data: Float32Array.from({ length: rows * cols * C }, rand),
      };
      const expected = referenceHeadFeatures(map);
      const out = new Float32Array(expected.length).fill(Number.NaN);
      const got = headFeatures(map, "neighbourhood", out);
      expect(got.data).toBe(out);
      expect(got.channels).toBe(2 * C + 1);
      expect(same(got.data, expected)).toBe(true);
      // A wrong-sized `out` is not used.
      expect(headFeatures(map, "neighbourhood", new Float32Array(3)).data.length).toBe(expected.length);
    }
  });
});

describe("FeatureWorker (backbone in a worker thread)", () => {
  const learner = defaultConfig().learner;
  let inProcess: Backbone;
  let worker: FeatureWorker;
  const images: ImageFrame[] = [0, 1, 2, 3, 4, 5].map((i) =>
    textureImage({ rgb: [60 + 30 * i, 120, 90], grain: 1 + i, contrast: 20 + 8 * i }, 160, 120, 11 + i),
  );

  beforeAll(async () => {
    inProcess = await Backbone.fromConfig(learner);
    worker = await FeatureWorker.start(learner, "neighbourhood");
  });
  afterAll(async () => {
    await inProcess.close();
    await worker.close();
  });

  it("reports the model it loaded", () => {
    expect(worker.channels).toBe(inProcess.channels);
    expect(worker.stride).toBe(inProcess.stride);
    expect(worker.gridFor(640, 480)).toEqual(inProcess.gridFor(640, 480));
  });

  it("gives the in-process features bit for bit, several frames in flight, answered in order", async () => {
    const pending = images.map((img) => worker.features(img));
    const maps = await Promise.all(pending);
    for (const [i, img] of images.entries()) {
      const want = headFeatures(await inProcess.extract(img), "neighbourhood");
      expect([maps[i]!.rows, maps[i]!.cols, maps[i]!.channels]).toEqual([
        want.rows,
        want.cols,
        want.channels,
      ]);
      expect(same(maps[i]!.data, want.data)).toBe(true);
      worker.release(maps[i]!);
    }
  });

  it("reuses released buffers without mixing frames up", async () => {
    const want = await Promise.all(
      images.map(async (img) => headFeatures(await inProcess.extract(img), "neighbourhood")),
    );
    for (let round = 0; round < 3; round++) {
      const maps = await Promise.all(images.map((img) => worker.features(img)));
      for (const [i, m] of maps.entries()) {
        expect(same(m.data, want[i]!.data)).toBe(true);
        worker.release(m);
      }
    }
    // One slot per frame in flight at the peak, then reused.
    expect(worker.slotCount).toBe(images.length);
  });

  it("answers a bad frame with a clear error and goes on with the next", async () => {
    const tiny = textureImage({ rgb: [1, 2, 3], grain: 1, contrast: 1 }, 4, 4, 1);
    const slots = worker.slotCount;
    const bad = worker.features(tiny);
    const good = worker.features(images[0]!);
    await expect(bad).rejects.toThrow(/smaller than one 8px feature cell/);
    const map = await good;
    expect(map.rows).toBe(inProcess.gridFor(160, 120).rows);
    worker.release(map);
    // The failed frame's slot was freed too: no new slot was needed.
    expect(worker.slotCount).toBe(slots);
  });

  it("rejects work after close, and a missing model at start", async () => {
    const w2 = await FeatureWorker.start(learner, "none");
    const m = await w2.features(images[1]!);
    expect(m.channels).toBe(inProcess.channels);
    await w2.close();
    await expect(w2.features(images[1]!)).rejects.toThrow(/closed/);
    await expect(
      FeatureWorker.start({ ...learner, backbone: "/nonexistent/model.onnx" }, "none"),
    ).rejects.toThrow(/backbone model not found/);
  });
});

describe("readAhead", () => {
  it("yields every input in order and prefetches at most `frames` frames ahead", async () => {
    const log: string[] = [];
    const pipeline = {
      prefetch(e: { id: string; frame: boolean }) {
        log.push(`prefetch ${e.id}`);
        return e.frame ? 100 : 0;
      },
    };
    const inputs = "a F1 b c F2 d F3 F4 e".split(" ").map((id) => ({ id, frame: id.startsWith("F") }));
    async function* source() {
      for (const e of inputs) {
        log.push(`read ${e.id}`);
        yield e;
      }
    }
    const out: string[] = [];
    for await (const e of readAhead(pipeline, source(), 2)) {
      out.push(e.id);
      log.push(`push ${e.id}`);
    }
    expect(out).toEqual(inputs.map((e) => e.id));
    // When F1 is pushed, F2 (and nothing past it) has been prefetched; F3 only once F1 is done.
    const at = (s: string) => log.indexOf(s);
    expect(at("prefetch F2")).toBeLessThan(at("push F1"));
    expect(at("read d")).toBeGreaterThan(at("push F1"));
    expect(at("prefetch F3")).toBeLessThan(at("push F2"));
    expect(at("prefetch F4")).toBeGreaterThan(at("push F2"));
  });

  it("starts no further frame once the frames it holds reach the byte budget", async () => {
    let ahead = 0;
    let most = 0;
    const pipeline = {
      prefetch(e: { size: number }) {
        if (e.size > 0) most = Math.max(most, ++ahead);
        return e.size;
      },
    };
    // Frames of 1000 bytes between other inputs; a 5000-byte frame alone exceeds the budget.
    const inputs = [...Array.from({ length: 30 }, (_, i) => ({ size: i % 2 ? 0 : 1000 })), { size: 5000 }];
    async function* source() {
      yield* inputs;
    }
    const out: { size: number }[] = [];
    for await (const e of readAhead(pipeline, source(), 10, 1024, 2500)) {
      out.push(e);
      if (e.size > 0) ahead--;
    }
    expect(out).toEqual(inputs);
    expect(most).toBe(3); // 1000 + 1000 < 2500 lets a third start; then it waits
  });
});

describe("read-ahead and bad camera messages", () => {
  it("reports a camera message that does not convert once, as push alone would", async () => {
    const config = defaultConfig();
    const pipeline = await createPipeline(config, { mode: "replay", overlay: false, warn: () => {} });
    const image = (stamp: number, encoding: string) => ({
      type: "message" as const,
      topic: config.topics.image,
      schemaName: "sensor_msgs/msg/Image",
      logTime: stamp,
      size: 0,
      message: {
        header: { stamp: { sec: stamp, nanosec: 0 }, frame_id: "camera" },
        height: 64,
        width: 64,
        encoding,
        is_bigendian: 0,
        step: 192,
        data: new Uint8Array(64 * 192),
      },
    });
    const events = [image(1, "rgb8"), image(2, "nv21"), image(3, "rgb8")];
    async function* source() {
      yield* events;
    }
    for await (const e of readAhead(pipeline, source())) await pipeline.push(e);
    const summary = await pipeline.finish();
    await pipeline.close();
    expect(summary.problems).toEqual({ convert: 1 });
    expect(summary.problems.convert).toBe(1);
    expect(summary.framesProcessed).toBe(2);
  });
});

describe("replay with the backbone worker and read-ahead", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-features-"));
  const bag = join(dir, "world.mcap");
  beforeAll(async () => {
    await generateWorldBag({
      out: bag,
      world: "sim/worlds/stripes.yaml",
      seed: 2,
      duration: 15,
      camera: { width: 160, height: 120 },
    });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function replay(
    worker: boolean,
    killWorkerAfter = Number.POSITIVE_INFINITY,
  ): Promise<{ grids: Float32Array[]; summary: PipelineSummary; warnings: string[] }> {
    const base = defaultConfig();
    const config: Config = { ...base, learner: { ...base.learner, backbone_worker: worker } };
    const source = await openBag(bag);
    const warnings: string[] = [];
    // The worker thread ends (as an uncaught error in it would end it) after that many frames, with
    // the read-ahead's frames still queued in it (see runWorker in feature-worker.ts).
    const FAULT = "TERRAIN_LEARNER_FAULT_FEATURE_WORKER_EXIT_AFTER";
    if (Number.isFinite(killWorkerAfter)) process.env[FAULT] = String(killWorkerAfter);
    const pipeline = await createPipeline(config, {
      mode: "replay",
      evaluate: true,
      overlay: false,
      warn: (m) => warnings.push(m),
    }).finally(() => delete process.env[FAULT]);
    const grids: Float32Array[] = [];
    pipeline.events$.subscribe((e) => {
      if (e.type !== "prediction") return;
      grids.push(e.outputs.grid.roughness.slice(), e.outputs.grid.confidence.slice());
    });
    const events = worker ? readAhead(pipeline, source.messages()) : source.messages();
    for await (const e of events) await pipeline.push(e);
    const summary = await pipeline.finish();
    await pipeline.close();
    await source.close();
    return { grids, summary, warnings };
  }

  let inProcess: ReturnType<typeof replay> | undefined;
  const plainReplay = () => {
    inProcess ??= replay(false);
    return inProcess;
  };

  it("predicts exactly what the in-process replay predicts", async () => {
    const plain = await plainReplay();
    const ahead = await replay(true);
    // No fallback of any part (e.g. the onnxruntime head refusing the worker's shared memory).
    expect(plain.warnings).toEqual([]);
    expect(ahead.warnings).toEqual([]);
    expect(ahead.summary.framesProcessed).toBe(plain.summary.framesProcessed);
    expect(ahead.summary.framesProcessed).toBeGreaterThan(200);
    expect(ahead.summary.trainSteps).toBeGreaterThan(0);
    expect(ahead.summary.trainSteps).toBe(plain.summary.trainSteps);
    expect(ahead.summary.keyframes).toBe(plain.summary.keyframes);
    expect(ahead.summary.problems).toEqual({});
    expect(ahead.summary.framesRecomputed).toBe(0);
    expect(ahead.grids.length).toBe(plain.grids.length);
    let differing = 0;
    for (let i = 0; i < plain.grids.length; i++) if (!same(plain.grids[i]!, ahead.grids[i]!)) differing++;
    expect(differing).toBe(0);
    expect(ahead.summary.eval?.spearman).toBe(plain.summary.eval?.spearman);
    expect(ahead.summary.featureWaitMs).toBeGreaterThanOrEqual(0);
  }, 180_000);

  it("goes on in-process when the worker thread dies mid-run, losing no frame", async () => {
    const run = await replay(true, 100);
    const s = run.summary;
    expect(run.warnings.some((w) => /feature worker exited.*pipeline's thread from now on/.test(w))).toBe(
      true,
    );
    expect(s.problems.backboneWorker).toBe(1);
    // The frames the worker held when it died (read-ahead: up to ten) are computed again in-process.
    expect(s.problems.frame ?? 0).toBe(0);
    expect(s.framesRecomputed).toBeGreaterThan(0);
    expect(s.framesRecomputed).toBeLessThanOrEqual(10);
    expect(s.framesProcessed).toBe(s.framesIn);
    // ...with the same features, so the run predicts exactly what the in-process replay does.
    const plain = await plainReplay();
    expect(run.grids.length).toBe(plain.grids.length);
    let differing = 0;
    for (let i = 0; i < plain.grids.length; i++) if (!same(plain.grids[i]!, run.grids[i]!)) differing++;
    expect(differing).toBe(0);
    expect(s.framesProcessed).toBeGreaterThan(200);
    expect(run.grids.length / 2 - 100).toBeGreaterThan(100); // predictions after the crash
    expect(s.trainSteps).toBeGreaterThan(0);
  }, 180_000);
});
