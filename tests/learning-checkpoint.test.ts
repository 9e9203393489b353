import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installSignalSave, readLatestCheckpoint, writeCheckpoint } from "../src/learning/checkpoint.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { defaultConfig, type LearnerConfig } from "../src/runtime/config.ts";

const C = 6;
const root = mkdtempSync(join(tmpdir(), "tl-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cfg = (over: Partial<LearnerConfig> = {}): LearnerConfig => ({
  ...defaultConfig().learner,
  min_samples: 8,
  buffer_size: 500,
  checkpoint_keep: 3,
  ...over,
});

function data(n: number, seed: number) {
  const rand = seededRandom(seed);
  const features = new Float32Array(n * C).map(() => rand() * 2 - 1);
  const targets = new Float32Array(n).map((_, i) => ((features[i * C] as number) > 0 ? 0.8 : 0.2));
  return { features, targets };
}

async function trainedLearner(over: Partial<LearnerConfig> = {}) {
  const l = await OnlineLearner.create(cfg(over), C);
  const d = data(200, 5);
  l.addSamples(d.features, d.targets);
  await l.train(5);
  return l;
}

const probe = data(16, 77);

describe("checkpoints", () => {
  it("keeps the last K, resumes from the newest, falls back past a truncated or garbled one", async () => {
    const dir = join(root, "a");
    const learner = await trainedLearner();
    const predictions: Float32Array[] = [];
    for (let i = 0; i < 5; i++) {
      await learner.train(3);
      await learner.saveCheckpoint(dir);
      predictions.push(learner.predict(probe.features, 16).roughness);
    }
    const files = readdirSync(dir).sort();
    expect(files).toEqual([
      "ckpt-00000003.bin",
      "ckpt-00000003.json",
      "ckpt-00000004.bin",
      "ckpt-00000004.json",
      "ckpt-00000005.bin",
      "ckpt-00000005.json",
    ]);
    const manifest = JSON.parse(readFileSync(join(dir, "ckpt-00000005.json"), "utf8"));
    expect(manifest).toMatchObject({
      format: "terrain-learner-checkpoint",
      seq: 5,
      info: { trainSteps: 20, channels: C },
    });

    const warnings: string[] = [];
    const fresh = await OnlineLearner.create(cfg(), C, { warn: (m) => warnings.push(m) });
    expect(await fresh.loadLatestCheckpoint(dir)).toBe(true);
    expect(Array.from(fresh.predict(probe.features, 16).roughness)).toEqual(
      Array.from(predictions[4] as Float32Array),
    );
    expect(fresh.trainSteps).toBe(20);
    expect(warnings).toEqual([]);

    // Power cut while the newest weights were being written: the file is short.
    truncateSync(join(dir, "ckpt-00000005.bin"), 100);
    expect(await fresh.loadLatestCheckpoint(dir)).toBe(true);
    expect(Array.from(fresh.predict(probe.features, 16).roughness)).toEqual(
      Array.from(predictions[3] as Float32Array),
    );
    expect(warnings.join("\n")).toMatch(
      /ckpt-00000005\.json skipped: weights file has 100 bytes, manifest says \d+ \(truncated\?\)/,
    );

    // Same size but flipped bytes: caught by the checksum.
    const bin4 = join(dir, "ckpt-00000004.bin");
    const bytes = readFileSync(bin4);
    bytes[200] = (bytes[200] as number) ^ 0xff;
    writeFileSync(bin4, bytes);
    expect(await fresh.loadLatestCheckpoint(dir)).toBe(true);
    expect(Array.from(fresh.predict(probe.features, 16).roughness)).toEqual(
      Array.from(predictions[2] as Float32Array),
    );
    expect(warnings.join("\n")).toMatch(/ckpt-00000004\.json skipped: weights checksum .* does not match/);
    learner.dispose();
    fresh.dispose();
  });

  it("skips a checkpoint trained at another learner.input_width, naming both", async () => {
    const dir = join(root, "width");
    const learner = await trainedLearner();
    await learner.saveCheckpoint(dir);
    learner.dispose();
    const warnings: string[] = [];
    const wide = await OnlineLearner.create(cfg({ input_width: 640 }), C, { warn: (m) => warnings.push(m) });
    expect(await wide.loadLatestCheckpoint(dir)).toBe(false);
    expect(wide.trainSteps).toBe(0);
    expect(warnings.join("\n")).toMatch(
      /ckpt-00000001\.json skipped: trained at learner\.input_width 320, but it is 640 now .*set learner\.input_width: 320/,
    );
    wide.dispose();
    const same = await OnlineLearner.create(cfg(), C, { warn: () => {} });
    expect(await same.loadLatestCheckpoint(dir)).toBe(true);
    same.dispose();
  });

  it("skips a checkpoint of the other kind of novelty, naming both; other kNN settings load with one warning naming both values", async () => {
    const resume = async (dir: string, over: Partial<LearnerConfig>) => {
      const warnings: string[] = [];
      const l = await OnlineLearner.create(cfg(over), C, { warn: (m) => warnings.push(m) });
      const ok = await l.loadLatestCheckpoint(dir);
      const steps = l.trainSteps;
      l.dispose();
      return { ok, steps, warnings };
    };
    const knnDir = join(root, "novelty-knn");
    const knn = await trainedLearner();
    await knn.train(20);
    await knn.saveCheckpoint(knnDir);
    knn.dispose();
    // No references to measure novelty against, or an untrained autoencoder: nothing in it fits.
    const ae = await resume(knnDir, { novelty: "autoencoder" });
    expect(ae.ok).toBe(false);
    expect(ae.warnings.join("\n")).toMatch(
      /ckpt-00000001\.json skipped: trained with learner\.novelty knn, but it is autoencoder now .*set learner\.novelty: knn/,
    );
    const aeDir = join(root, "novelty-ae");
    const aeLearner = await trainedLearner({ novelty: "autoencoder" });
    await aeLearner.saveCheckpoint(aeDir);
    aeLearner.dispose();
    const back = await resume(aeDir, {});
    expect(back.ok).toBe(false);
    expect(back.warnings.join("\n")).toMatch(
      /skipped: trained with learner\.novelty autoencoder, but it is knn now \(the checkpoint holds no kNN references\)/,
    );

    // The references and head are valid under another metric: loaded, warned once, both values named.
    const other = await resume(knnDir, { novelty_metric: "standardized", novelty_neighbors: 5 });
    expect(other).toMatchObject({ ok: true, steps: 25 });
    expect(other.warnings).toHaveLength(1);
    expect(other.warnings[0]).toMatch(
      /ckpt-00000001\.json was trained with learner\.novelty_metric local \(now standardized\), learner\.novelty_neighbors 3 \(now 5\): loaded, but confidence uses its references and statistics measured under the old settings until training draws new ones/,
    );
    for (const over of [
      { novelty_ridge: 0.1 },
      { novelty_features: "all" },
      { novelty_references: 64 },
    ] as const) {
      const r = await resume(knnDir, over);
      const [key, value] = Object.entries(over)[0] as [string, unknown];
      expect(r.ok).toBe(true);
      expect(r.warnings).toEqual([expect.stringContaining(`learner.${key} `)]);
      expect(r.warnings[0]).toContain(`(now ${value})`);
    }
    // Applied to the statistics at prediction: a new sigma is a tuning, not a mismatch.
    expect(await resume(knnDir, { confidence_sigma: 1 })).toEqual({ ok: true, steps: 25, warnings: [] });
    expect(await resume(knnDir, {})).toEqual({ ok: true, steps: 25, warnings: [] });

    // A manifest from before the settings were recorded still loads, with a warning that they cannot be checked.
    const manifestPath = join(knnDir, "ckpt-00000001.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    delete manifest.info.learner;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const old = await resume(knnDir, {});
    expect(old.ok).toBe(true);
    expect(old.warnings).toEqual([
      expect.stringMatching(
        /ckpt-00000001\.json does not record its novelty settings \(written by an older terrain-learner\): loaded, but they cannot be checked/,
      ),
    ]);
  });

  it("ignores a garbage manifest with a warning, unrelated files and crash leftovers silently", async () => {
    const dir = join(root, "b");
    const learner = await trainedLearner();
    await learner.saveCheckpoint(dir);
    writeFileSync(join(dir, "ckpt-00000009.json"), "\u0000\u0013garbage{");
    writeFileSync(join(dir, "ckpt-00000010.json"), JSON.stringify({ hello: "world" }));
    writeFileSync(join(dir, "notes.txt"), "not a checkpoint");
    writeFileSync(join(dir, "ckpt-00000011.bin.tmp-4242"), "half written");
    const warnings: string[] = [];
    const loaded = await readLatestCheckpoint(dir, (m) => warnings.push(m));
    expect(loaded?.manifest.seq).toBe(1);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/ckpt-00000010\.json skipped: manifest is not a terrain-learner checkpoint/);
    expect(warnings[1]).toMatch(/ckpt-00000009\.json skipped: manifest unreadable/);
    // The next save numbers past the garbage instead of overwriting it.
    expect(await learner.saveCheckpoint(dir)).toMatch(/ckpt-00000011\.json$/);
    learner.dispose();
  });

  it("skips a checkpoint from a differently shaped model, and reports no checkpoint in an empty dir", async () => {
    const dir = join(root, "c");
    const small = await trainedLearner({ hidden_units: 4 });
    await small.saveCheckpoint(dir);
    const warnings: string[] = [];
    const big = await OnlineLearner.create(cfg(), C, { warn: (m) => warnings.push(m) });
    expect(await big.loadLatestCheckpoint(dir)).toBe(false);
    expect(warnings.join("\n")).toMatch(/skipped: learner weights are for 6 channels\/4 hidden/);
    expect(await big.loadLatestCheckpoint(join(root, "does-not-exist"))).toBe(false);
    small.dispose();
    big.dispose();
  });

  it("writes atomically: a checkpoint is complete or absent", async () => {
    const dir = join(root, "d");
    const payload = new Uint8Array(1000).map((_, i) => i % 251);
    await writeCheckpoint(dir, payload, { note: "x" }, 2);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
    const loaded = await readLatestCheckpoint(dir, () => {});
    expect(Buffer.compare(Buffer.from(loaded?.data ?? []), Buffer.from(payload))).toBe(0);
  });

  it("a save that fails part-way (disk full, something in the way) leaves no temp file behind", async () => {
    const dir = join(root, "failed");
    const payload = new Uint8Array(50_000).fill(7);
    await writeCheckpoint(dir, payload, {}, 3);
    // The next weights file cannot be renamed into place: a folder holds its name.
    mkdirSync(join(dir, "ckpt-00000002.bin", "x"), { recursive: true });
    await expect(writeCheckpoint(dir, payload, {}, 3)).rejects.toThrow();
    await expect(writeCheckpoint(dir, payload, {}, 3)).rejects.toThrow();
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
    expect((await readLatestCheckpoint(dir, () => {}))?.manifest.seq).toBe(1);
  });

  it("a save clears its own stale temp files and no other file of the folder", async () => {
    const dir = join(root, "shared");
    mkdirSync(dir);
    const old = new Date(Date.now() - 10 * 60_000);
    // The folder is the user's (--save-checkpoint .): other files with ".tmp-" in the name are theirs,
    // or another process's output still being written.
    const others = ["thesis.tmp-backup.txt", ".drive.mcap.tmp-4242-abcd1234", "ckpt-notes.tmp-1"];
    for (const n of [...others, "ckpt-00000007.bin.tmp-4242-0a1b2c3d4e5f"]) {
      writeFileSync(join(dir, n), "x");
      utimesSync(join(dir, n), old, old);
    }
    await writeCheckpoint(dir, new Uint8Array(100), {}, 3);
    expect(readdirSync(dir).sort()).toEqual([...others, "ckpt-00000001.bin", "ckpt-00000001.json"].sort());
  });

  it("installSignalSave saves on SIGINT and removes its handlers", async () => {
    const dir = join(root, "e");
    const learner = await trainedLearner();
    const before = process.listenerCount("SIGINT");
    const beforeTerm = process.listenerCount("SIGTERM");
    const logs: string[] = [];
    installSignalSave(learner, dir, { exit: false, log: (m) => logs.push(m) });
    expect(process.listenerCount("SIGINT")).toBe(before + 1);
    process.emit("SIGINT", "SIGINT");
    for (let i = 0; i < 200 && logs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(logs[0]).toMatch(/SIGINT: checkpoint saved to .*ckpt-00000001\.json/);
    expect(process.listenerCount("SIGINT")).toBe(before);
    expect(process.listenerCount("SIGTERM")).toBe(beforeTerm);
    learner.dispose();
  });
});
