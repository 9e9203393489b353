import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { LiveTrainer, type LiveTrainerStats } from "../src/learning/worker.ts";
import { defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";

const C = 8;
const tmp = mkdtempSync(join(tmpdir(), "tl-worker-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Two clusters of feature vectors: "rough" around +1 (target 0.9), "smooth" around −1 (target 0.1). */
function clusters(n: number, seed: number) {
  const rand = seededRandom(seed);
  const features = new Float32Array(2 * n * C);
  const targets = new Float32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) {
    const rough = i % 2 === 0;
    for (let k = 0; k < C; k++) features[i * C + k] = (rough ? 1 : -1) + 0.3 * (rand() - 0.5);
    targets[i] = rough ? 0.9 : 0.1;
  }
  return { features, targets };
}

const until = async (cond: () => boolean, what: string, timeoutMs = 30_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("LiveTrainer (worker_threads)", () => {
  const cfg: LearnerConfig = {
    ...defaultConfig().learner,
    min_samples: 16,
    publish_every: 0.2,
    cpu_budget: 0.3,
    buffer_size: 2000,
  };

  it("trains in a worker, hands weights to the main-thread predictor, saves and stops cleanly", async () => {
    const received: LiveTrainerStats[] = [];
    const trainer = await LiveTrainer.start(cfg, C, { onWeights: (s) => received.push(s), flushRows: 100 });
    expect(trainer.running).toBe(true);
    const probe = clusters(20, 99);
    const before = trainer.predict(probe.features, 40);
    expect(before.confidence.every((c) => c === 0)).toBe(true);

    const { features, targets } = clusters(300, 1);
    trainer.addSamples(features, targets); // 600 rows → 6 messages of 100
    await until(
      () => received.length >= 2 && (received.at(-1)?.trainSteps ?? 0) >= 100,
      "two weight hand-overs",
    );

    const after = trainer.predict(probe.features, 40);
    for (let i = 0; i < 40; i++) {
      const expected = i % 2 === 0 ? 0.9 : 0.1;
      expect(Math.abs((after.roughness[i] as number) - expected)).toBeLessThan(0.2);
    }
    expect(Array.from(after.roughness)).not.toEqual(Array.from(before.roughness));
    // The novelty references came along with the weights: familiar features are confident.
    expect(after.confidence.reduce((a, b) => a + b, 0) / 40).toBeGreaterThan(0.5);
    const stats = trainer.stats();
    expect(stats.bufferSize).toBe(600);
    expect(stats.weightsReceived).toBe(received.length);
    // Sleeping busy·(1−b)/b after each chunk bounds the duty cycle by the budget.
    expect(stats.busyFraction).toBeGreaterThan(0);
    expect(stats.busyFraction).toBeLessThan(cfg.cpu_budget + 0.1);

    await trainer.publishNow();
    const manifest = await trainer.saveCheckpoint(join(tmp, "ckpt"));
    expect(manifest).toMatch(/ckpt-00000001\.json$/);
    await trainer.stop();
    expect(trainer.running).toBe(false);
    await expect(trainer.publishNow()).rejects.toThrow(/not running/);

    // A new trainer resumes from the checkpoint the worker wrote and predicts like the old one.
    const resumed = await LiveTrainer.start(cfg, C);
    expect(await resumed.loadLatestCheckpoint(join(tmp, "ckpt"))).toBe(true);
    const again = resumed.predict(probe.features, 40);
    for (let i = 0; i < 40; i++) {
      const expected = i % 2 === 0 ? 0.9 : 0.1;
      expect(Math.abs((again.roughness[i] as number) - expected)).toBeLessThan(0.2);
    }
    expect(resumed.stats().trainSteps).toBeGreaterThanOrEqual(100);
    await resumed.stop();
  });

  it("reports the reset state at once and keeps weights packed before a reset out", async () => {
    const received: LiveTrainerStats[] = [];
    const trainer = await LiveTrainer.start(cfg, C, { onWeights: (s) => received.push(s) });
    try {
      const { features, targets } = clusters(100, 6);
      trainer.addSamples(features, targets);
      await until(() => (received.at(-1)?.trainSteps ?? 0) > 0, "training", 10_000);
      trainer.reset();
      expect(trainer.stats().bufferSize).toBe(0);
      expect(trainer.stats().trainSteps).toBe(0);
      // Publications in flight at the reset, and the worker's next ones, bring nothing back.
      const seen = received.length;
      await new Promise((r) => setTimeout(r, 600));
      expect(received.length).toBe(seen);
      const probe = clusters(10, 7);
      expect(trainer.predict(probe.features, 20).confidence.every((c) => c === 0)).toBe(true);
    } finally {
      await trainer.stop();
    }
  });

  it("trains on a few rows without waiting for a full message's worth (a robot's first labels)", async () => {
    const received: LiveTrainerStats[] = [];
    const trainer = await LiveTrainer.start(cfg, C, { onWeights: (s) => received.push(s) });
    try {
      // Two labels' worth of rows, far fewer than the 1024 a message holds.
      for (const seed of [1, 2]) {
        const { features, targets } = clusters(10, seed);
        trainer.addSamples(features, targets);
      }
      await until(() => (received.at(-1)?.trainSteps ?? 0) > 0, "training on 40 rows", 10_000);
      expect(trainer.stats().bufferSize).toBe(40);
    } finally {
      await trainer.stop();
    }
  });
});

describe("LiveTrainer in lockstep (replay on two cores)", () => {
  const cfg: LearnerConfig = { ...defaultConfig().learner, min_samples: 16, buffer_size: 2000 };

  it("trains exactly the requested blocks on what was sent before each, like the same calls inline", async () => {
    const a = clusters(100, 3);
    const b = clusters(100, 4);
    const inline = await OnlineLearner.create(cfg, C);
    inline.addSamples(a.features, a.targets);
    inline.setLabelCalibration(0, 1, 0);
    await inline.train(15);
    inline.addSamples(b.features, b.targets);
    await inline.train(10);
    const expected = new Uint8Array(await inline.getWeights());

    const trainer = await LiveTrainer.start(cfg, C, { lockstep: true, flushRows: 64 });
    try {
      trainer.addSamples(a.features, a.targets);
      trainer.setLabelCalibration(0, 1, 0);
      const first = trainer.trainSteps(15);
      // Sent after block 1 was requested: block 1 must not see these rows, block 2 must.
      trainer.addSamples(b.features, b.targets);
      const second = trainer.trainSteps(10);
      const [b1, b2] = await Promise.all([first, second]);
      expect(b1.stats.trainSteps).toBe(15);
      expect(b2.stats.trainSteps).toBe(25);
      // Nothing reaches the predictor until the caller applies a block.
      expect(trainer.predictor.trainSteps).toBe(0);
      trainer.applyWeights(b2);
      expect(trainer.predictor.trainSteps).toBe(25);
      expect(new Uint8Array(await trainer.predictor.getWeights())).toEqual(expected);
      expect(() => new Uint8Array(b1.weights)).not.toThrow();
    } finally {
      await trainer.stop();
      inline.dispose();
    }
  });

  it("a block trained before a reset is not applied after it (the forgotten model stays forgotten)", async () => {
    const trainer = await LiveTrainer.start(cfg, C, { lockstep: true });
    try {
      const { features, targets } = clusters(100, 5);
      trainer.addSamples(features, targets);
      trainer.setLabelCalibration(0, 1, 0);
      const before = trainer.trainSteps(15);
      trainer.reset();
      expect(trainer.stats().bufferSize).toBe(0);
      const block = await before;
      expect(block.stats.trainSteps).toBe(15);
      expect(trainer.applyWeights(block)).toBe(false);
      expect(trainer.predictor.trainSteps).toBe(0);
      expect(trainer.stats().trainSteps).toBe(0);
      // Learning after the reset is applied as usual.
      trainer.addSamples(features, targets);
      const after = await trainer.trainSteps(5);
      expect(after.stats.trainSteps).toBe(5);
      expect(trainer.applyWeights(after)).toBe(true);
      expect(trainer.predictor.trainSteps).toBe(5);
    } finally {
      await trainer.stop();
    }
  });

  it("refuses trainSteps() on a budgeted (live) trainer", async () => {
    const trainer = await LiveTrainer.start(cfg, C);
    try {
      expect(() => trainer.trainSteps(1)).toThrow(/lockstep/);
    } finally {
      await trainer.stop();
    }
  });
});
