import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildBackbone, DEFAULT_BUILD_OPTIONS } from "../models/build-backbone.ts";
import { Backbone, defaultBackbonePath } from "../src/learning/backbone.ts";
import { OnlineLearner, TrainingClock } from "../src/learning/learner.ts";
import { applyMetric, KnnNovelty, localMetric } from "../src/learning/novelty.ts";
import { backboneChannelNames, invariantProjection } from "../src/learning/novelty-features.ts";
import { OnnxPredictor } from "../src/learning/onnx-predictor.ts";
import { ReplayBuffer, seededRandom } from "../src/learning/replay-buffer.ts";
import { tf } from "../src/learning/tf-backend.ts";
import { defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";
import { headFeatures } from "../src/runtime/features.ts";
import { auroc, type TextureSpec, textureImage } from "./learning-textures.ts";

// Terrain stand-ins: roughness is a function of texture (grain, contrast, colour), as on real ground.
const TRAINED: Array<[TextureSpec, number]> = [
  [{ rgb: [70, 130, 60], grain: 3, contrast: 30 }, 0.2], // "grass"
  [{ rgb: [128, 128, 128], grain: 1, contrast: 60 }, 0.7], // "gravel"
  [{ rgb: [60, 60, 65], grain: 1, contrast: 10 }, 0.05], // "asphalt"
  [{ rgb: [120, 90, 60], grain: 8, contrast: 70 }, 0.9], // "rocks"
  [{ rgb: [190, 170, 120], grain: 2, contrast: 15 }, 0.3], // "sand"
];
const NEVER_TRAINED: TextureSpec[] = [
  { rgb: [60, 90, 170], grain: 5, contrast: 40 },
  { rgb: [200, 60, 60], grain: 16, contrast: 50, stripes: 6 },
  { rgb: [230, 230, 230], grain: 2, contrast: 5 },
];
const W = 128;
const H = 96;

const cfg = (over: Partial<LearnerConfig> = {}): LearnerConfig => ({ ...defaultConfig().learner, ...over });

let bb: Backbone;
const features = async (spec: TextureSpec, seed: number) => {
  const f = await bb.extract(textureImage(spec, W, H, seed));
  return { data: f.data, n: f.rows * f.cols };
};

beforeAll(async () => {
  bb = await Backbone.load(defaultBackbonePath());
});
afterAll(async () => {
  await bb.close();
});

describe("OnlineLearner on real backbone features", () => {
  let learner: OnlineLearner;
  beforeAll(async () => {
    learner = await OnlineLearner.create(cfg({ buffer_size: 5000 }), bb.channels);
    for (let seed = 0; seed < 4; seed++) {
      for (const [i, [spec, r]] of TRAINED.entries()) {
        const { data, n } = await features(spec, 100 + 10 * seed + i);
        learner.addSamples(data, new Float32Array(n).fill(r));
      }
    }
    await learner.train(400);
  });
  afterAll(() => learner.dispose());

  it("reports its backend (wasm here, tfjs-node when installed)", () => {
    expect(["tensorflow", "wasm", "cpu"]).toContain(learner.backend);
    // @tensorflow/tfjs-node is not installed in this repo's CI, so auto must have picked wasm.
    expect(learner.backend).toBe("wasm");
    expect(learner.stats().backend).toBe(learner.backend);
  });

  it("learns roughness from texture to low error on unseen images of trained textures", async () => {
    let err = 0;
    let count = 0;
    for (const [i, [spec, r]] of TRAINED.entries()) {
      const { data, n } = await features(spec, 9000 + i);
      const p = learner.predict(data, n);
      expect(p.roughness).toHaveLength(n);
      for (let k = 0; k < n; k++) {
        err += Math.abs((p.roughness[k] as number) - r);
        count++;
      }
    }
    expect(err / count).toBeLessThan(0.05);
    expect(learner.stats().trainSteps).toBe(400);
    expect(learner.stats().lastLoss).toBeLessThan(0.01);
  });

  const confidenceAuroc = async (l: OnlineLearner) => {
    const seen: number[] = [];
    const unseen: number[] = [];
    for (const [i, [spec]] of TRAINED.entries()) {
      const { data, n } = await features(spec, 7000 + i);
      seen.push(...l.predict(data, n).confidence);
    }
    for (const [i, spec] of NEVER_TRAINED.entries()) {
      const { data, n } = await features(spec, 8000 + i);
      unseen.push(...l.predict(data, n).confidence);
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    return { auroc: auroc(seen, unseen), seen: mean(seen), unseen: mean(unseen) };
  };

  it("is less confident on a texture it never trained on (kNN novelty, AUROC ≥ 0.8 per cell)", async () => {
    expect(learner.cfg.novelty).toBe("knn");
    const r = await confidenceAuroc(learner);
    expect(r.auroc).toBeGreaterThanOrEqual(0.8);
    expect(r.seen).toBeGreaterThan(0.5);
    expect(r.unseen).toBeLessThan(0.3);
  });

  it("the autoencoder novelty mode separates them too", async () => {
    const ae = await OnlineLearner.create(cfg({ buffer_size: 5000, novelty: "autoencoder" }), bb.channels);
    for (const [i, [spec, r]] of TRAINED.entries()) {
      for (let seed = 0; seed < 2; seed++) {
        const { data, n } = await features(spec, 100 + 10 * seed + i);
        ae.addSamples(data, new Float32Array(n).fill(r));
      }
    }
    await ae.train(300);
    const r = await confidenceAuroc(ae);
    expect(r.auroc).toBeGreaterThanOrEqual(0.8);
    ae.dispose();
  });

  it("hands weights to another learner (the live predictor) that then predicts identically", async () => {
    const copy = await OnlineLearner.create(cfg({ buffer_size: 10 }), bb.channels);
    const { data, n } = await features(TRAINED[0]?.[0] as TextureSpec, 4242);
    const before = copy.predict(data, n);
    expect(before.confidence.every((c) => c === 0)).toBe(true); // untrained: knows nothing
    copy.setWeights(await learner.getWeights());
    const a = learner.predict(data, n);
    const b = copy.predict(data, n);
    expect(Array.from(b.roughness)).toEqual(Array.from(a.roughness));
    expect(Array.from(b.confidence)).toEqual(Array.from(a.confidence));
    expect(copy.trainSteps).toBe(learner.trainSteps);
    const wrong = await OnlineLearner.create(cfg({ hidden_units: 8 }), bb.channels);
    expect(() => wrong.setWeights(new Uint8Array(copy.channels))).toThrow(/too short/);
    const good = await learner.getWeights();
    const C = bb.channels;
    expect(() => wrong.setWeights(good)).toThrow(
      new RegExp(`${C} channels/64 hidden/8 bottleneck; this learner has ${C}/8/8`),
    );
    copy.dispose();
    wrong.dispose();
  });
});

describe("the trainer's kNN search space handed over with the weights", () => {
  it("is taken as it is and predicts exactly as a rebuild; a state that does not fit is ignored", async () => {
    const rand = seededRandom(3);
    const C = bb.channels;
    const trainer = await OnlineLearner.create(cfg({ buffer_size: 400 }), C);
    const x = new Float32Array(300 * C).map(() => rand() * 2 - 1);
    const y = new Float32Array(300).map(() => rand());
    trainer.addSamples(x, y);
    await trainer.train(25);
    const weights = await trainer.getWeights();
    const search = trainer.searchState();
    // The defaults (invariant features, local metric) map the rows before they are compared.
    expect(search?.transform).toBeInstanceOf(Float32Array);
    const knnOf = (l: OnlineLearner) => (l as unknown as { knn: KnnNovelty }).knn;
    const rebuilt = await OnlineLearner.create(cfg({ buffer_size: 10 }), C);
    rebuilt.setWeights(weights);
    const restored = await OnlineLearner.create(cfg({ buffer_size: 10 }), C);
    restored.setWeights(weights, search);
    expect(knnOf(restored).searchTransform()).toBe(search!.transform); // not computed again
    expect(knnOf(restored).searchTransform()).toEqual(knnOf(rebuilt).searchTransform());
    expect(knnOf(restored).searchReferences()).toEqual(knnOf(rebuilt).searchReferences());
    const misfit = await OnlineLearner.create(cfg({ buffer_size: 10 }), C);
    misfit.setWeights(weights, { transform: null, space: new Float32Array(7) });
    const probe = new Float32Array(50 * C).map(() => rand() * 2 - 1);
    const want = rebuilt.predict(probe, 50);
    for (const l of [restored, misfit]) {
      const got = l.predict(probe, 50);
      expect(Array.from(got.roughness)).toEqual(Array.from(want.roughness));
      expect(Array.from(got.confidence)).toEqual(Array.from(want.confidence));
    }
    for (const l of [trainer, rebuilt, restored, misfit]) l.dispose();
  });
});

describe("onnxruntime predictor (one session: standardise, MLP, novelty) vs tfjs head + KnnNovelty", () => {
  // The pipeline's head input: backbone channels + 3×3 neighbourhood mean + image row (2C + 1 = 79).
  const frame = async (spec: TextureSpec, seed: number) => {
    const f = headFeatures(await bb.extract(textureImage(spec, W, H, seed)), "neighbourhood");
    return { data: f.data, n: f.rows * f.cols, channels: f.channels };
  };
  const trained = async (
    novelty: "knn" | "autoencoder",
    predictor: "onnx" | "tfjs" = "onnx",
    noveltyMetric: LearnerConfig["novelty_metric"] = "standardized",
    noveltyFeatures: LearnerConfig["novelty_features"] = "all",
  ) => {
    const probe = await frame(TRAINED[0]?.[0] as TextureSpec, 1);
    const l = await OnlineLearner.create(
      cfg({ buffer_size: 4000, novelty, novelty_metric: noveltyMetric, novelty_features: noveltyFeatures }),
      probe.channels,
      { predictor },
    );
    for (const [i, [spec, r]] of TRAINED.entries()) {
      const { data, n } = await frame(spec, 300 + i);
      l.addSamples(data, new Float32Array(n).fill(r));
    }
    await l.train(60);
    return l;
  };
  const variants = [
    ["knn", "standardized", "all"],
    ["knn", "local", "all"],
    ["knn", "standardized", "invariant"],
    ["knn", "local", "invariant"],
    ["autoencoder", "standardized", "all"],
  ] as const;
  // Every kind of frame the predictor meets: trained and never-trained ground, one whole frame.
  const frames = async () => {
    const out: Array<{ data: Float32Array; n: number }> = [];
    for (const [i, [spec]] of TRAINED.entries()) out.push(await frame(spec, 600 + i));
    for (const [i, spec] of NEVER_TRAINED.entries()) out.push(await frame(spec, 700 + i));
    return out;
  };
  const expectSame = (
    a: { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array },
    b: { roughness: Float32Array; confidence: Float32Array; reconError: Float32Array },
    n: number,
  ) => {
    expect(a.roughness).toHaveLength(n);
    expect(a.reconError).toHaveLength(n);
    expect(a.confidence).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      expect(Math.abs((a.roughness[i] as number) - (b.roughness[i] as number))).toBeLessThan(1e-4);
      const sa = a.reconError[i] as number;
      const sb = b.reconError[i] as number;
      expect(Math.abs(sa - sb)).toBeLessThanOrEqual(1e-3 * Math.abs(sb));
      // confidence = f(log score): a relative 1e-3 in the score moves it by well under 1e-2.
      expect(Math.abs((a.confidence[i] as number) - (b.confidence[i] as number))).toBeLessThan(1e-2);
    }
  };

  for (const [novelty, metric, feats] of variants) {
    it(`gives the same roughness and novelty score on real 79-channel features (${novelty}, ${metric}, ${feats})`, async () => {
      const l = await trained(novelty, "onnx", metric, feats);
      expect(l.channels).toBe(2 * bb.channels + 1);
      let confident = 0;
      for (const { data, n } of await frames()) {
        // A whole frame, and 157 rows (prime: not a multiple of any block or thread split).
        for (const rows of [n, 157]) {
          const a = l.predict(data, rows);
          expectSame(a, l.predictTf(data, rows), rows);
          confident += a.confidence.filter((c) => c > 0.5).length;
        }
      }
      expect(confident).toBeGreaterThan(0); // the comparison covered trained, confident cells too
      const none = l.predict(new Float32Array(0), 0);
      expect([none.roughness.length, none.confidence.length, none.reconError.length]).toEqual([0, 0, 0]);
      l.dispose();
    });
  }

  it("scores a cell equal to a reference 0 like KnnNovelty (duplicates, k = 1)", async () => {
    // The expanded square ‖z‖² + ‖r‖² − 2z·r would leave √(ε‖z‖²) here; the predictor re-sums the
    // winners' distances directly.
    const { data, n, channels } = await frame(TRAINED[3]?.[0] as TextureSpec, 900);
    const l = await OnlineLearner.create(cfg({ novelty_neighbors: 1, min_samples: 16 }), channels);
    l.addSamples(data, new Float32Array(n).fill(0.9));
    await l.train(20); // references: 128 of this frame's own rows
    const a = l.predict(data, n);
    const b = l.predictTf(data, n);
    let zeros = 0;
    for (let i = 0; i < n; i++) {
      const sb = b.reconError[i] as number;
      if (sb < 1e-5) zeros++;
      expect(Math.abs((a.reconError[i] as number) - sb)).toBeLessThanOrEqual(1e-3 * sb + 1e-5);
    }
    expect(zeros).toBeGreaterThanOrEqual(100);
    l.dispose();
  });

  for (const [metric, feats] of [
    ["standardized", "all"],
    ["local", "invariant"],
  ] as const)
    it(`treats non-finite features as now (the training mean) and equals it after a live hand-over (${metric}, ${feats})`, async () => {
      const l = await trained("knn", "onnx", metric, feats);
      const C = l.channels;
      const { data, n } = await frame(NEVER_TRAINED[0] as TextureSpec, 801);
      const broken = data.slice();
      broken[5 * C + 3] = Number.NaN;
      broken[9 * C] = Number.POSITIVE_INFINITY;
      broken[9 * C + 1] = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < C; k++) broken[20 * C + k] = Number.NaN;
      expectSame(l.predict(broken, n), l.predictTf(broken, n), n);
      // The live predictor: a predict-only learner that only ever receives serialised weights. Its
      // session is built once; new weights are only new input tensors.
      const creations = vi.spyOn(OnnxPredictor, "create");
      const live = await OnlineLearner.create(
        cfg({ buffer_size: 10, novelty_metric: metric, novelty_features: feats }),
        C,
      );
      const untrained = live.predict(data, n);
      expect(untrained.confidence.every((c) => c === 0)).toBe(true);
      expect(untrained.reconError.every((s) => Number.isNaN(s))).toBe(true); // no references yet
      for (let round = 0; round < 2; round++) {
        live.setWeights(await l.getWeights());
        for (const f of [data, broken]) {
          const a = live.predict(f, n);
          expectSame(a, l.predictTf(f, n), n);
          expectSame(a, live.predictTf(f, n), n);
        }
        await l.train(20); // new weights and references for the next hand-over
      }
      expect(creations).toHaveBeenCalledTimes(1);
      creations.mockRestore();
      l.dispose();
      live.dispose();
    });

  it("calibrates the novelty statistics like the JS kNN (leave-one-out through TopK candidates)", async () => {
    for (const [novelty, metric, feats] of variants) {
      const a = await trained(novelty, "onnx", metric, feats);
      const b = await trained(novelty, "tfjs", metric, feats);
      // Same seed, data and steps: the same weights and references, statistics by different code.
      const sa = a.stats();
      const sb = b.stats();
      expect(sa.lastLoss).toBe(sb.lastLoss);
      expect(Math.abs(sa.errorMean - sb.errorMean)).toBeLessThan(1e-3);
      expect(Math.abs(sa.errorStd - sb.errorStd)).toBeLessThan(1e-3);
      a.dispose();
      b.dispose();
    }
  });

  it("falls back to tfjs + KnnNovelty, warning once, when the session cannot be built", async () => {
    const spy = vi.spyOn(OnnxPredictor, "create").mockImplementation(() => {
      throw new Error("no onnxruntime here");
    });
    const warnings: string[] = [];
    try {
      const probe = await frame(TRAINED[1]?.[0] as TextureSpec, 2);
      const l = await OnlineLearner.create(cfg({ min_samples: 16 }), probe.channels, {
        warn: (m) => warnings.push(m),
      });
      l.addSamples(probe.data, new Float32Array(probe.n).fill(0.4));
      await l.train(20);
      const a = l.predict(probe.data, probe.n);
      const b = l.predict(probe.data, probe.n);
      expect(Array.from(a.roughness)).toEqual(Array.from(l.predictTf(probe.data, probe.n).roughness));
      expect(Array.from(b.reconError)).toEqual(Array.from(a.reconError));
      l.dispose();
    } finally {
      spy.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/onnxruntime head predictor could not be built: no onnxruntime here/);
  });

  it("predicts rows in shared memory (the backbone worker's maps) without falling back", async () => {
    const probe = await frame(TRAINED[0]?.[0] as TextureSpec, 4);
    const warnings: string[] = [];
    const l = await OnlineLearner.create(cfg({ min_samples: 16 }), probe.channels, {
      warn: (m) => warnings.push(m),
    });
    l.addSamples(probe.data, new Float32Array(probe.n).fill(0.3));
    await l.train(10);
    const shared = new Float32Array(new SharedArrayBuffer(probe.data.byteLength));
    shared.set(probe.data);
    const a = l.predict(probe.data, probe.n);
    const b = l.predict(shared, probe.n);
    expect(Array.from(b.roughness)).toEqual(Array.from(a.roughness));
    expect(Array.from(b.confidence)).toEqual(Array.from(a.confidence));
    expect(warnings).toEqual([]);
    l.dispose();
  });
});

describe("label calibration", () => {
  it("trains on raw log-energies through the current bounds, and weights carry the bounds", async () => {
    const l = await OnlineLearner.create(cfg({ min_samples: 8, batch_size: 32 }), 2);
    expect(l.labelCalibration).toBeNull();
    // Two kinds of ground: feature (1, 0) at log-energy −1, feature (0, 1) at log-energy +1.
    const n = 200;
    const f = new Float32Array(n * 2);
    const t = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      f[2 * i + (i % 2)] = 1;
      t[i] = i % 2 ? 1 : -1;
    }
    l.addSamples(f, t);
    l.setLabelCalibration(-1, 1, 0);
    await l.train(300);
    const probe = Float32Array.of(1, 0, 0, 1);
    let p = l.predict(probe, 2).roughness;
    expect(p[0]).toBeCloseTo(0.05, 1);
    expect(p[1]).toBeCloseTo(0.95, 1);
    // The labeller's percentiles widen (rougher ground met later): stored samples are re-mapped.
    l.setLabelCalibration(-1, 3, 0);
    await l.train(300);
    p = l.predict(probe, 2).roughness;
    expect(p[0]).toBeCloseTo(0.05, 1);
    expect(p[1]).toBeCloseTo(0.5, 1);
    // A move under 0.5 % of the range is ignored; a checkpointed learner keeps the bounds.
    l.setLabelCalibration(-1.001, 3, 0);
    expect(l.labelCalibration).toEqual({ lo: -1, hi: 3, exponent: 0 });
    const copy = await OnlineLearner.create(cfg({ min_samples: 8, batch_size: 32 }), 2);
    copy.setWeights(await l.getWeights());
    expect(copy.labelCalibration).toEqual({ lo: -1, hi: 3, exponent: 0 });
    // A new scale alone re-maps, and travels with the weights.
    l.setLabelCalibration(-1, 3, 0.5);
    expect(l.labelCalibration).toEqual({ lo: -1, hi: 3, exponent: 0.5 });
    copy.setWeights(await l.getWeights());
    expect(copy.labelCalibration).toEqual({ lo: -1, hi: 3, exponent: 0.5 });
    expect(() => l.setLabelCalibration(1, 1, 0)).toThrow(/lo < hi/);
    expect(() => l.setLabelCalibration(-1, 1, -0.5)).toThrow(/exponent/);
    l.dispose();
    copy.dispose();
  });
});

describe("tensor hygiene", () => {
  it("keeps tf.memory().numTensors flat over 200 train + predict steps", async () => {
    const learner = await OnlineLearner.create(cfg({ buffer_size: 2000, min_samples: 16 }), bb.channels);
    const { data, n } = await features(TRAINED[1]?.[0] as TextureSpec, 31);
    const targets = new Float32Array(n).fill(0.7);
    learner.addSamples(data, targets);
    await learner.train(1); // creates the optimiser's moment variables
    learner.predict(data, n);
    const start = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      learner.addSamples(data, targets);
      await learner.train(1);
      learner.predict(data, n);
    }
    expect(tf.memory().numTensors).toBe(start);
    expect(learner.stats().numTensors).toBe(start);
    await learner.getWeights();
    learner.reset();
    expect(learner.trainSteps).toBe(0);
    expect(learner.bufferSize).toBe(0);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(start);
    learner.dispose();
  });

  it("is reproducible: same seed and data → same weights", async () => {
    const run = async () => {
      const l = await OnlineLearner.create(cfg({ buffer_size: 500, min_samples: 16 }), bb.channels);
      for (const [i, [spec, r]] of TRAINED.slice(0, 2).entries()) {
        const { data, n } = await features(spec, 55 + i);
        l.addSamples(data, new Float32Array(n).fill(r));
      }
      await l.train(20);
      const w = new Uint8Array(await l.getWeights());
      l.dispose();
      return w;
    };
    expect(Buffer.compare(Buffer.from(await run()), Buffer.from(await run()))).toBe(0);
  });
});

describe("TerrainHead without the autoencoder (kNN novelty)", () => {
  it("trains the roughness head exactly as with it, and leaves the autoencoder untouched", async () => {
    const { TerrainHead } = await import("../src/learning/head.ts");
    const C = 9;
    const opts = { channels: C, hidden: 8, bottleneck: 3, learningRate: 0.01, seed: 5 };
    const withAe = new TerrainHead(opts, "wasm");
    const without = new TerrainHead({ ...opts, trainReconstruction: false }, "wasm");
    const init = without.getWeights();
    const rand = seededRandom(3);
    const n = 32;
    const x = Float32Array.from({ length: n * C }, () => rand() * 2 - 1);
    const y = Float32Array.from({ length: n }, (_, i) => (x[i * C]! > 0 ? 0.8 : 0.2));
    const w = new Float32Array(n).fill(1);
    let lossA = Number.NaN;
    let lossB = Number.NaN;
    for (let s = 0; s < 25; s++) {
      lossA = withAe.trainStep(x, y, w, n, true).loss;
      const r = without.trainStep(x, y, w, n, true);
      lossB = r.loss;
      expect(r.reconLoss).toBeNaN();
    }
    expect(lossB).toBe(lossA);
    const a = withAe.getWeights();
    const b = without.getWeights();
    // Roughness MLP (w1, b1, w2, b2): bit-identical; autoencoder (e1, c1, e2, c2): still at init.
    for (let i = 0; i < 4; i++)
      expect(Buffer.from(b[i]!.buffer).equals(Buffer.from(a[i]!.buffer))).toBe(true);
    for (let i = 4; i < 8; i++) {
      expect(Buffer.from(b[i]!.buffer).equals(Buffer.from(init[i]!.buffer))).toBe(true);
      expect(Buffer.from(a[i]!.buffer).equals(Buffer.from(init[i]!.buffer))).toBe(false);
    }
    expect(lossA).toBeLessThan(0.2);
    withAe.dispose();
    without.dispose();
  });
});

describe("ReplayBuffer", () => {
  const fill = (buf: ReplayBuffer, n: number, target: number) => {
    const f = new Float32Array(n * buf.channels).fill(target);
    buf.add(f, new Float32Array(n).fill(target));
  };

  it("per-bin keeps rare rough samples when smooth ones flood in, and replays them", () => {
    const buf = new ReplayBuffer({ capacity: 1000, channels: 2, balance: "per-bin", bins: 5, seed: 3 });
    fill(buf, 50, 0.95);
    fill(buf, 20000, 0.05);
    expect(buf.size).toBe(1000);
    expect(buf.binSizes()[4]).toBe(50);
    const bx = new Float32Array(4000 * 2);
    const by = new Float32Array(4000);
    const bw = new Float32Array(4000);
    buf.sample(4000, bx, by, bw);
    const rough = by.filter((t) => t > 0.9).length / 4000;
    // √50 / (√50 + √950) ≈ 0.19, versus 0.05 for uniform replay.
    expect(rough).toBeGreaterThan(0.15);
    expect(rough).toBeLessThan(0.25);
    expect(bx[0]).toBe(by[0]); // feature rows travel with their targets
  });

  it("sampleDistinct draws without repeats (everything when the buffer is small)", () => {
    const buf = new ReplayBuffer({ capacity: 100, channels: 1, balance: "per-bin", bins: 5, seed: 5 });
    const f = Float32Array.from({ length: 30 }, (_, i) => i);
    buf.add(
      f,
      Float32Array.from({ length: 30 }, (_, i) => i / 30),
    );
    const out = new Float32Array(50);
    expect(buf.sampleDistinct(50, out, new Float32Array(50), new Float32Array(50))).toBe(30);
    expect(new Set(out.subarray(0, 30)).size).toBe(30);
    expect(buf.sampleDistinct(20, out, new Float32Array(50), new Float32Array(50))).toBe(20);
    expect(new Set(out.subarray(0, 20)).size).toBe(20);
  });

  it("stores raw label values and maps them with the latest target map, re-binning on change", () => {
    const buf = new ReplayBuffer({ capacity: 100, channels: 1, balance: "per-bin", bins: 5, seed: 6 });
    // Raw values −1..1 (think log10 energy); feature = raw so rows can be told apart.
    const raw = Float32Array.from({ length: 20 }, (_, i) => -1 + (2 * i) / 19);
    buf.add(raw, raw);
    const out = () => {
      const f = new Float32Array(20);
      const t = new Float32Array(20);
      buf.sampleDistinct(20, f, t, new Float32Array(20));
      return { f, t };
    };
    // Identity: values outside 0..1 land in the end bins.
    expect(buf.binSizes()).toEqual([12, 2, 2, 2, 2]);
    buf.setTargetMap((v) => (v + 1) / 2);
    expect(buf.binSizes()).toEqual([4, 4, 4, 4, 4]);
    let { f, t } = out();
    for (let i = 0; i < 20; i++) expect(t[i]).toBeCloseTo(((f[i] as number) + 1) / 2, 6);
    // The calibration moves: the same stored rows now map (and bin) differently.
    buf.setTargetMap((v) => (v > 0 ? 1 : 0));
    expect(buf.binSizes()).toEqual([10, 0, 0, 0, 10]);
    ({ f, t } = out());
    for (let i = 0; i < 20; i++) expect(t[i]).toBe((f[i] as number) > 0 ? 1 : 0);
  });

  it("reservoir keeps a uniform sample of history and drops non-finite rows", () => {
    const buf = new ReplayBuffer({ capacity: 1000, channels: 2, balance: "reservoir", seed: 4 });
    fill(buf, 5000, 0.1);
    fill(buf, 5000, 0.9);
    const sizes = buf.binSizes();
    expect(buf.size).toBe(1000);
    expect(Math.abs((sizes[0] as number) - 500)).toBeLessThan(80);
    buf.add(Float32Array.of(Number.NaN, 1), Float32Array.of(0.5));
    buf.add(Float32Array.of(1, 1), Float32Array.of(Number.NaN));
    expect(buf.totalSeen).toBe(10000);
    expect(() => buf.add(new Float32Array(3), new Float32Array(2))).toThrow(/need 2×2 = 4/);
  });
});

describe("KnnNovelty", () => {
  it("is the mean distance to the k nearest references (brute force check), leave-one-out skips self", () => {
    const rand = seededRandom(9);
    const C = 3;
    const M = 40;
    const refs = new Float32Array(M * C).map(() => rand() * 4 - 2);
    const q = new Float32Array(5 * C).map(() => rand() * 4 - 2);
    const knn = new KnnNovelty(C, 3);
    knn.rebuild(refs, M);
    const got = knn.score(q, 5);
    for (let i = 0; i < 5; i++) {
      const d = Array.from({ length: M }, (_, j) =>
        Math.hypot(...[0, 1, 2].map((c) => (q[i * C + c] as number) - (refs[j * C + c] as number))),
      ).sort((a, b) => a - b);
      expect(got[i]).toBeCloseTo((d[0]! + d[1]! + d[2]!) / 3, 4);
    }
    // A reference queried against the set: its own zero distance is skipped only with leaveOneOut.
    const self = refs.slice(0, C);
    expect(knn.score(self, 1)[0]).toBeLessThan(knn.score(self, 1, true)[0] as number);
    expect(Array.from(knn.references())).toEqual(Array.from(refs));
    knn.dispose();
    expect(Number.isNaN(knn.score(q, 1)[0])).toBe(true);
  });

  it("equals brute force on many wide rows (early exit per 8 channels, previous row's neighbours tried first)", () => {
    const rand = seededRandom(11);
    const C = 79;
    const M = 200;
    const n = 300;
    // Runs of similar rows (like neighbouring cells), then a jump to another cluster.
    const centre = () => Float32Array.from({ length: C }, () => rand() * 4 - 2);
    const rows = (count: number, runs: number) => {
      const out = new Float32Array(count * C);
      let c = centre();
      for (let i = 0; i < count; i++) {
        if (i % runs === 0) c = centre();
        for (let k = 0; k < C; k++) out[i * C + k] = (c[k] as number) + (rand() - 0.5);
      }
      return out;
    };
    const refs = rows(M, 20);
    const q = rows(n, 17);
    const knn = new KnnNovelty(C, 5);
    knn.rebuild(refs, M);
    for (const loo of [false, true]) {
      const got = knn.score(q, n, loo);
      for (let i = 0; i < n; i++) {
        const d = Array.from({ length: M }, (_, j) => {
          let s = 0;
          for (let k = 0; k < C; k++) s += ((q[i * C + k] as number) - (refs[j * C + k] as number)) ** 2;
          return Math.sqrt(s);
        }).sort((a, b) => a - b);
        expect(got[i]).toBeCloseTo((d[0]! + d[1]! + d[2]! + d[3]! + d[4]!) / 5, 4);
      }
    }
  });
});

describe("applyMetric", () => {
  // The product with every term, in the same order: what applyMetric must equal bit for bit.
  const reference = (x: Float32Array, n: number, C: number, M: Float32Array, D: number) => {
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let e = 0; e < C; e++) acc += (x[i * C + e] as number) * (M[e * D + c] as number);
        out[i * D + c] = acc;
      }
    return out;
  };

  it("equals the full product bit for bit on projection, triangular, dense and zero rows", () => {
    const rand = seededRandom(11);
    const n = 40;
    const C = 12;
    const D = 7;
    const x = new Float32Array(n * C).map(() => (rand() < 0.1 ? 0 : (rand() - 0.5) * 6));
    const projection = new Float32Array(C * D);
    for (let e = 0; e < C - 1; e++) projection[e * D + (e % D)] = 1; // last row all zeros
    const triangular = new Float32Array(D * D).map((_, i) => (i % D >= Math.floor(i / D) ? rand() - 0.5 : 0));
    const dense = new Float32Array(C * D).map(() => rand() - 0.5);
    const holes = dense.map((v, i) => (i % 5 === 2 ? 0 : v)); // zeros inside a row's span
    const cases: [Float32Array, Float32Array, number][] = [
      [x, projection, C],
      [x, dense, C],
      [x, holes, C],
      [x.subarray(0, n * D), triangular, D],
    ];
    for (const [xs, M, rows] of cases) {
      const out = new Float32Array(n * D);
      applyMetric(xs, n, rows, M, D, out);
      expect(out).toEqual(reference(xs, n, rows, M, D));
    }
  });
});

describe("KnnNovelty, local metric", () => {
  it("is the Mahalanobis distance under the spread between neighbouring references, plus a ridge", () => {
    const rand = seededRandom(5);
    const C = 6;
    const M = 60;
    // Two clusters far apart along channel 0; within a cluster channel 1 varies a lot, the rest little.
    const refs = new Float32Array(M * C).map((_, i) => {
      const c = i % C;
      const j = Math.floor(i / C);
      return (c === 0 ? (j % 2) * 10 : 0) + (rand() - 0.5) * (c === 1 ? 3 : 0.3);
    });
    const T = localMetric(refs, M, C, 0.05) as Float32Array;
    // S from brute-force nearest neighbours, then (x−y)ᵀ(S + λI)⁻¹(x−y) by solving S·u = x − y.
    const S = Array.from({ length: C }, () => new Float64Array(C));
    for (let j = 0; j < M; j++) {
      let best = Number.POSITIVE_INFINITY;
      let nn = -1;
      for (let q = 0; q < M; q++) {
        if (q === j) continue;
        let d = 0;
        for (let c = 0; c < C; c++) d += ((refs[j * C + c] as number) - (refs[q * C + c] as number)) ** 2;
        if (d < best) [best, nn] = [d, q];
      }
      for (let c = 0; c < C; c++)
        for (let e = 0; e < C; e++)
          S[c]![e]! +=
            (((refs[j * C + c] as number) - (refs[nn * C + c] as number)) *
              ((refs[j * C + e] as number) - (refs[nn * C + e] as number))) /
            M;
    }
    for (let c = 0; c < C; c++) S[c]![c]! += 0.05;
    const solve = (b: number[]) => {
      const A = S.map((row, i) => [...row, b[i] as number]);
      for (let c = 0; c < C; c++) {
        for (let r = c + 1; r < C; r++) {
          const f = (A[r]![c] as number) / (A[c]![c] as number);
          for (let e = c; e <= C; e++) A[r]![e]! -= f * (A[c]![e] as number);
        }
      }
      const u = new Array<number>(C).fill(0);
      for (let c = C - 1; c >= 0; c--) {
        let v = A[c]![C] as number;
        for (let e = c + 1; e < C; e++) v -= (A[c]![e] as number) * (u[e] as number);
        u[c] = v / (A[c]![c] as number);
      }
      return u;
    };
    const q = new Float32Array(4 * C).map(() => rand() * 6 - 1);
    const knn = new KnnNovelty(C, 1, "local");
    knn.rebuild(refs, M);
    expect(knn.searchTransform()).toEqual(T);
    const got = knn.score(q, 4);
    for (let i = 0; i < 4; i++) {
      const d = Array.from({ length: M }, (_, j) => {
        const x = Array.from({ length: C }, (_, c) => (q[i * C + c] as number) - (refs[j * C + c] as number));
        const u = solve(x);
        return Math.sqrt(x.reduce((a, v, c) => a + v * (u[c] as number), 0));
      }).sort((a, b) => a - b);
      expect(got[i]).toBeCloseTo(d[0] as number, 3);
    }
    // The stored references stay as given (they travel with the weights); the search space differs.
    expect(Array.from(knn.references())).toEqual(Array.from(refs));
    expect(Array.from(knn.searchReferences())).not.toEqual(Array.from(refs));
  });
});

describe("novelty features", () => {
  it("pools a raw filter bank's Gabor orientations and x/y energies and drops mean luminance", () => {
    // The 44-channel bank (--invariant 0); the bundled one already outputs the pooled channels.
    const names = buildBackbone({ ...DEFAULT_BUILD_OPTIONS, invariant: false }).channelNames;
    const C = names.length;
    const p = invariantProjection(names, 2 * C + 1);
    if (!p) throw new Error("no projection for the 44-channel bank");
    const gabors = names.filter((n) => /^gabor\d+[eo]_s\d+$/.test(n)).length;
    const scales = new Set(names.filter((n) => n.startsWith("gabor")).map((n) => n.split("_")[1])).size;
    // Per half: mean_L dropped, each scale's Gabors -> 1, fine_dx + fine_dy -> 1; plus the row.
    expect(p.dims).toBe(2 * (C - 1 - gabors + scales - 1) + 1);
    const column = (c: number) =>
      Array.from({ length: p.dims }, (_, d) => p.matrix[c * p.dims + d] as number);
    expect(column(names.indexOf("mean_L")).every((v) => v === 0)).toBe(true);
    expect(column(C + names.indexOf("mean_L")).every((v) => v === 0)).toBe(true);
    // Rotating a texture by 90 degrees swaps its 0 and 90 degree energies: the projection does not see it.
    const x = new Float32Array(2 * C + 1).map((_, i) => Math.sin(i));
    const y = x.slice();
    for (const [a, b] of [
      ["gabor0e_s1", "gabor90e_s1"],
      ["gabor0o_s2", "gabor90o_s2"],
      ["fine_dx", "fine_dy"],
    ]) {
      const ia = names.indexOf(a as string);
      const ib = names.indexOf(b as string);
      [y[ia], y[ib]] = [x[ib] as number, x[ia] as number];
    }
    const proj = (v: Float32Array) =>
      column(0).map((_, d) => v.reduce((s, xv, c) => s + xv * (p.matrix[c * p.dims + d] as number), 0));
    const px = proj(x);
    const py = proj(y);
    for (const [d, v] of px.entries()) expect(py[d]).toBeCloseTo(v, 5);
    // The bundled bank's channels are invariant already: every one passes, none is mixed.
    const bundled = backboneChannelNames(defaultBackbonePath()) as string[];
    expect(bundled).toHaveLength(bb.channels);
    const q = invariantProjection(bundled, 2 * bundled.length + 1);
    if (!q) throw new Error("no projection for the bundled backbone");
    expect(q.dims).toBe(2 * bundled.length + 1);
    for (let c = 0; c < q.dims; c++)
      for (let d = 0; d < q.dims; d++) expect(q.matrix[c * q.dims + d]).toBe(c === d ? 1 : 0);
    // A layout the names do not describe gets none.
    expect(invariantProjection(names, C + 3)).toBeNull();
    expect(invariantProjection(null, 2 * C + 1)).toBeNull();
  });
});

describe("TrainingClock", () => {
  it("owes a fixed number of steps per second of sensor time, whatever the call pattern", () => {
    const a = new TrainingClock(20);
    const b = new TrainingClock(20);
    let sa = 0;
    let sb = 0;
    for (let t = 100; t <= 110; t += 1 / 15) sa += a.stepsDue(t); // 15 Hz frames
    for (let t = 100; t <= 110; t += 0.005) sb += b.stepsDue(t); // 200 Hz IMU
    expect(Math.abs(sa - 200)).toBeLessThanOrEqual(1);
    expect(Math.abs(sb - 200)).toBeLessThanOrEqual(1);
    expect(a.stepsDue(109)).toBe(0); // backwards
    expect(a.stepsDue(500)).toBe(20); // a 390 s gap counts as maxGap = 1 s
    expect(a.stepsDue(10)).toBe(0); // re-anchored after a jump back
    expect(a.stepsDue(10.5)).toBe(10);
  });
});
