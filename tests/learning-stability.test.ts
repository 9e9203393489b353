// The stable learner's parts: the recent share of replay batches, a head that learns log energy and
// is calibrated only at its output, the moving average of weights that predicts, and the weights
// format that carries them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { calibrateLogEnergy } from "../src/core/labeller.ts";
import { writeCheckpoint } from "../src/learning/checkpoint.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { headOutputToRoughness, logEnergyTarget, targetUnits } from "../src/learning/output-calibration.ts";
import { ReplayBuffer } from "../src/learning/replay-buffer.ts";
import { defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";

const cfg = (over: Partial<LearnerConfig> = {}): LearnerConfig => ({
  ...defaultConfig().learner,
  min_samples: 8,
  batch_size: 32,
  ...over,
});

/** Two kinds of ground: feature (1, 0) at log-energy −1, feature (0, 1) at log-energy +1. */
function twoGrounds(n = 200) {
  const f = new Float32Array(n * 2);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    f[2 * i + (i % 2)] = 1;
    t[i] = i % 2 ? 1 : -1;
  }
  return { f, t };
}
const PROBE = Float32Array.of(1, 0, 0, 1);

describe("ReplayBuffer recent share", () => {
  const batchOf = (share: number) => {
    const buf = new ReplayBuffer({
      capacity: 5000,
      channels: 1,
      balance: "per-bin",
      bins: 5,
      seed: 2,
      recentShare: share,
      recentSamples: 100,
    });
    // Long history of smooth ground, then a little of a new rough one.
    buf.add(new Float32Array(3000).fill(0.1), new Float32Array(3000).fill(0.1));
    buf.add(new Float32Array(30).fill(0.3), new Float32Array(30).fill(0.3));
    const B = 4000;
    const by = new Float32Array(B);
    buf.sample(B, new Float32Array(B), by, new Float32Array(B));
    const balancedOnly = new Float32Array(B);
    buf.sample(B, new Float32Array(B), balancedOnly, new Float32Array(B), false);
    const share3 = (a: Float32Array) => a.filter((v) => v > 0.2).length / B;
    return { recent: share3(by), balanced: share3(balancedOnly) };
  };

  it("draws that share of every batch from the samples stored last; the rest stays balanced", () => {
    const on = batchOf(0.25);
    const off = batchOf(0);
    // Balanced part: √30/(√30+√3000) ≈ 0.09 of draws hit the new ground; the recent part (the last
    // 100 stored: 70 old + 30 new) adds 0.25 · 0.3.
    expect(off.recent).toBeGreaterThan(0.06);
    expect(off.recent).toBeLessThan(0.12);
    expect(on.recent).toBeGreaterThan(off.recent + 0.05);
    expect(on.balanced).toBeCloseTo(off.balanced, 1); // statistics draws ignore the share
    expect(
      () => new ReplayBuffer({ capacity: 5, channels: 1, balance: "reservoir", recentShare: 2 }),
    ).toThrow(/recent share/);
  });

  it("bins by the bin map when the training target is something else", () => {
    const buf = new ReplayBuffer({ capacity: 100, channels: 1, balance: "per-bin", bins: 5, seed: 6 });
    const raw = Float32Array.from({ length: 20 }, (_, i) => -1 + (2 * i) / 19);
    buf.add(raw, raw);
    buf.setTargetMap(
      (v) => 10 * v,
      (v) => (v + 1) / 2,
    );
    expect(buf.binSizes()).toEqual([4, 4, 4, 4, 4]);
    const f = new Float32Array(20);
    const t = new Float32Array(20);
    buf.sampleDistinct(20, f, t, new Float32Array(20));
    for (let i = 0; i < 20; i++) expect(t[i]).toBeCloseTo(10 * (f[i] as number), 5);
  });
});

describe("output calibration of a log-energy head", () => {
  it("is the labels' own calibration applied to the head output in fixed units", () => {
    const units = targetUnits(-2, 0);
    expect(units).toEqual({ offset: -1, scale: 2 });
    for (const e of [-5, -2, -1.3, 0, 0.7, 4]) {
      const v = logEnergyTarget(e, units);
      const c = { ...units, lo: -1.5, hi: 0.5, exponent: 0 };
      expect(headOutputToRoughness(v, c)).toBeCloseTo(calibrateLogEnergy(e, -1.5, 0.5, 0), 12);
    }
    expect(() => targetUnits(1, 1)).toThrow(/lo < hi/);
  });

  it("a moving calibration changes predictions at once, without retraining", async () => {
    const l = await OnlineLearner.create(cfg({ head_target: "log_energy" }), 2);
    const { f, t } = twoGrounds();
    l.setLabelCalibration(-1, 1, 0);
    l.addSamples(f, t);
    await l.train(400);
    let p = l.predict(PROBE, 2).roughness;
    expect(p[0]).toBeCloseTo(0.05, 1);
    expect(p[1]).toBeCloseTo(0.95, 1);
    // Rougher ground met later widens the percentiles: no training step in between.
    l.setLabelCalibration(-1, 3, 0);
    p = l.predict(PROBE, 2).roughness;
    expect(p[0]).toBeCloseTo(0.05, 1);
    expect(p[1]).toBeCloseTo(0.5, 1);
    // The weights carry the fixed units and the bounds; the other head target is refused.
    const copy = await OnlineLearner.create(cfg({ head_target: "log_energy" }), 2);
    copy.setWeights(await l.getWeights());
    expect(Array.from(copy.predict(PROBE, 2).roughness)).toEqual(Array.from(p));
    const other = await OnlineLearner.create(cfg({ head_target: "roughness" }), 2);
    expect(() => other.setWeights(new Uint8Array(0).buffer)).toThrow(/too short/);
    const w = await l.getWeights();
    expect(() => other.setWeights(w)).toThrow(/head_target log_energy; this learner has roughness/);
    // Format 1 (before the head target existed) is refused with the reason.
    const old = new Uint8Array(w.slice(0));
    new DataView(old.buffer).setUint32(4, 1, true);
    expect(() => copy.setWeights(old)).toThrow(/format 1, this terrain-learner reads format 2/);
    for (const x of [l, copy, other]) x.dispose();
  });
});

describe("moving average of the weights (weight_average_half_life)", () => {
  const trained = async (halfLife: number) => {
    const l = await OnlineLearner.create(cfg({ weight_average_half_life: halfLife }), 2);
    const { f, t } = twoGrounds();
    l.setLabelCalibration(-1, 1, 0);
    l.addSamples(f, t);
    await l.train(20);
    const early = Array.from(l.predict(PROBE, 2).roughness);
    await l.train(300);
    return { l, early, late: Array.from(l.predict(PROBE, 2).roughness) };
  };

  it("predicts with the average: a long half-life keeps the model that was, none follows every step", async () => {
    const frozen = await trained(1e9);
    const plain = await trained(0);
    const avg = await trained(100);
    // Same training either way (the average never feeds back into training).
    expect(frozen.early).toEqual(plain.early);
    for (let i = 0; i < 2; i++) expect(frozen.late[i]).toBeCloseTo(frozen.early[i]!, 4);
    expect(plain.late[1]! - plain.late[0]!).toBeGreaterThan(0.6);
    // 300 steps = 3 half-lives: most of the way to the trained weights, not all of it.
    const gap = (r: { late: number[] }) => r.late[1]! - r.late[0]!;
    expect(gap(avg)).toBeGreaterThan(gap(frozen) + 0.1);
    expect(gap(avg)).toBeLessThan(gap(plain));
    // The published weights are the average: a copy predicts as the averaged learner does.
    const copy = await OnlineLearner.create(cfg({ weight_average_half_life: 100 }), 2);
    copy.setWeights(await avg.l.getWeights());
    expect(Array.from(copy.predict(PROBE, 2).roughness)).toEqual(avg.late);
    expect(Array.from(avg.l.predictTf(PROBE, 2).roughness)).toEqual(
      avg.late.map((v) => expect.closeTo(v, 5)),
    );
    for (const x of [frozen.l, plain.l, avg.l, copy]) x.dispose();
  });
});

describe("checkpoints across the weights format change", () => {
  it("a format-1 checkpoint is skipped with the reason; the newer one beside it loads", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tl-format-"));
    try {
      const l = await OnlineLearner.create(cfg(), 2);
      const { f, t } = twoGrounds();
      l.setLabelCalibration(-1, 1, 0);
      l.addSamples(f, t);
      await l.train(20);
      const old = new Uint8Array((await l.getWeights()).slice(0));
      new DataView(old.buffer).setUint32(4, 1, true);
      await writeCheckpoint(dir, old, {}, 3);
      const warnings: string[] = [];
      const fresh = await OnlineLearner.create(cfg(), 2, { warn: (m) => warnings.push(m) });
      expect(await fresh.loadLatestCheckpoint(dir)).toBe(false);
      expect(warnings.join("\n")).toMatch(/format 1, this terrain-learner reads format 2/);
      expect(fresh.trainSteps).toBe(0);
      await l.saveCheckpoint(dir);
      expect(await fresh.loadLatestCheckpoint(dir)).toBe(true);
      expect(fresh.trainSteps).toBe(l.trainSteps);
      l.dispose();
      fresh.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
