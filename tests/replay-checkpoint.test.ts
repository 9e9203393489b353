// `replay --checkpoint`: a trained model replayed from its checkpoint, learning on or off, and the
// ground-truth outputs diagnostic behind bench/flicker-sources.ts, and the ground-truth labels and cells ones. A real simulator bag, real
// replays through the pipeline.

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { type ReplayResult, runReplay } from "../src/cli/replay.ts";
import { configFromObject } from "../src/runtime/config.ts";

const run = promisify(execFile);
/** `terrain-learner replay BAG ...args`, expected to fail: its exit code and standard error. */
const replayFails = (bag: string, ...args: string[]) =>
  run(process.execPath, ["bin/terrain-learner.js", "replay", bag, ...args]).then(
    () => ({ code: 0, stderr: "" }),
    (e: { code: number; stderr: string }) => e,
  ) as Promise<{ code: number; stderr: string }>;
const dir = mkdtempSync(join(tmpdir(), "tl-replay-ck-"));
const bag = join(dir, "world.mcap");
// The first seconds of the same drive, for runs that must finish but are not judged on what they
// predict (a save that fails, the command's messages).
const short = join(dir, "short.mcap");
const ckpt = join(dir, "ckpt");
const quiet = () => {};
let learning: ReplayResult;
// The trained model replayed without learning: one replay, read by every test that needs it.
let frozenRun: Promise<ReplayResult> | undefined;

const frozen = () => configFromObject({ learner: { enabled: false } });
const replay = (name: string, extra: Partial<Parameters<typeof runReplay>[0]>) =>
  runReplay({
    bag,
    config: frozen(),
    evaluate: true,
    reportDir: join(dir, name),
    knowledgeProbe: false,
    warn: quiet,
    ...extra,
  });
const trainedFrozen = () => {
  frozenRun ??= replay("frozen", { checkpoint: ckpt });
  return frozenRun;
};
// Learning from ground-truth labels, with fixed bounds matching truthLabelEnergy's 10^(2·r − 1.2) on
// the log scale: a label is then 0.05 + 0.9·r exactly (r: the step's mean true roughness), with no
// percentile drift in between.
const truthTaught = (name: string, truthCells?: "driven" | "all") =>
  runReplay({
    bag,
    config: configFromObject({
      labeler: { calibration: { mode: "fixed", low: -1.2, high: 0.8, exponent: 0 } },
    }),
    evaluate: true,
    truthLabels: true,
    truthCells,
    reportDir: join(dir, name),
    knowledgeProbe: false,
    warn: quiet,
  });
// The run with truth labels only: read by two tests, replayed once.
let truthLabelRun: Promise<ReplayResult> | undefined;
const truthLabelled = () => {
  truthLabelRun ??= truthTaught("truth-labels");
  return truthLabelRun;
};

beforeAll(async () => {
  // Stripes: every roughness band within the first half minute, which is all the drive needs.
  const stripes = (out: string, duration: number) =>
    generateWorldBag({
      out,
      world: "sim/worlds/stripes.yaml",
      seed: 2,
      duration,
      camera: { width: 160, height: 120 },
    });
  await stripes(bag, 30);
  await stripes(short, 4);
  learning = await runReplay({
    bag,
    config: configFromObject({}),
    evaluate: true,
    reportDir: join(dir, "learning"),
    knowledgeProbe: false,
    saveCheckpoint: ckpt,
    warn: quiet,
  });
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("replay from a checkpoint", () => {
  it("replays the trained model without learning: no training, and it ranks the ground", async () => {
    const trained = await trainedFrozen();
    const untrained = await replay("untrained", {});
    expect(learning.trainSteps).toBeGreaterThan(100);
    expect(trained.trainSteps).toBe(0);
    // The untrained head gives every cell nearly the same roughness; the checkpoint's head ranks them.
    expect(trained.eval!.spearman).toBeGreaterThan(0.5);
    expect(trained.eval!.spearman).toBeGreaterThan(untrained.eval!.spearman + 0.3);
  }, 120_000);

  it("outputs from the ground truth leave the scores alone and steady the costmap", async () => {
    const model = await trainedFrozen();
    const truth = await replay("truth", { checkpoint: ckpt, truthOutputs: true });
    // The evaluator scores the model either way.
    expect(truth.eval!.spearman).toBe(model.eval!.spearman);
    expect(truth.eval!.confidenceAuroc).toBe(model.eval!.confidenceAuroc);
    const f = (r: ReplayResult) => r.eval!.stability!.costmapFlicker!;
    expect(f(model)).toBeGreaterThan(0);
    expect(f(truth)).toBeLessThan(0.5 * f(model));
  }, 120_000);

  it("labels from the ground truth (a diagnostic): the same steps, labelled with the true roughness", async () => {
    const truth = await truthLabelled();
    const vib = learning.evalDetails!.labels;
    const tl = truth.evalDetails!.labels;
    // The labeller cuts the same steps; only their energy comes from the truth.
    expect(tl.count).toBe(vib.count);
    expect(tl.count).toBeGreaterThan(50);
    for (const t of tl.byTerrain.filter((b) => b.count >= 5))
      expect(Math.abs(t.mean - (0.05 + 0.9 * t.truth)), t.name).toBeLessThan(0.03);
    expect(tl.spearman).toBeGreaterThan(0.95);
    expect(tl.spearman).toBeGreaterThan(vib.spearman);
    expect(truth.evalDetails!.warnings.join(" ")).not.toContain("truth labels");
    // Taught differently, the learner predicts differently.
    expect(truth.eval!.spearman).not.toBe(learning.eval!.spearman);
  }, 120_000);

  it("every scored cell taught its truth (a diagnostic): more rows, driven ground only when asked, a better head", async () => {
    // Truth labels alone, then with the driven or all scored cells taught on top.
    const labels = await truthLabelled();
    const driven = await truthTaught("tc-driven", "driven");
    const all = await truthTaught("tc-all", "all");
    // The labeller is untouched: the taught cells come on top of the same labels.
    expect(driven.labels).toBe(labels.labels);
    expect(all.labels).toBe(labels.labels);
    expect(driven.rows).toBeGreaterThan(labels.rows);
    // Ground is seen before it is driven, so "driven" leaves some cells out that "all" teaches.
    expect(all.rows).toBeGreaterThan(driven.rows);
    expect(all.eval!.spearman).toBeGreaterThan(labels.eval!.spearman);
  }, 180_000);

  it("the command: learning off without --checkpoint prints its summary, then says there was no model, exit 1", async () => {
    const cfg = join(dir, "frozen.yaml");
    writeFileSync(cfg, "learner:\n  enabled: false\n");
    const err = await replayFails(short, "-c", cfg);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain(
      "learning is off (learner.enabled: false) and no --checkpoint was given: every prediction came from an untrained model",
    );
    // With the trained model it judges, the same config is a normal run.
    await run(process.execPath, ["bin/terrain-learner.js", "replay", short, "-c", cfg, "--checkpoint", ckpt]);
  }, 120_000);

  it("the command: --truth-labels and --report-dir need --eval", async () => {
    const err = await replayFails(bag, "--truth-labels");
    expect(err.code).toBe(1);
    expect(err.stderr).toContain("--truth-labels needs --eval");
    const cells = await replayFails(bag, "--eval", "--truth-cells", "all");
    expect(cells.code).toBe(1);
    expect(cells.stderr).toContain("--truth-cells needs --truth-labels");
    // Without --eval no report is written: a report folder asked for would stay empty, silently.
    const report = await replayFails(bag, "--report-dir", join(dir, "no-eval-report"));
    expect(report.code).toBe(1);
    expect(report.stderr).toContain("--report-dir needs --eval");
    expect(existsSync(join(dir, "no-eval-report"))).toBe(false);
  }, 60_000);

  it("the command: a missing or empty folder is one clear error, and the checkpoint is never written over", async () => {
    const fails = async (args: string[]) => {
      const err = await replayFails(bag, ...args);
      expect(err.code).toBe(1);
      return err.stderr.trim();
    };
    const nowhere = await fails(["--checkpoint", join(dir, "nowhere")]);
    expect(nowhere).toContain("--checkpoint");
    expect(nowhere).toContain("no such folder");
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(await fails(["--checkpoint", empty])).toContain("no usable checkpoint");
    const before = readdirSync(ckpt).sort();
    expect(await fails(["--checkpoint", ckpt, "--save-checkpoint", ckpt])).toContain("--save-checkpoint");
    expect(readdirSync(ckpt).sort()).toEqual(before);
  }, 120_000);

  it("a checkpoint that cannot be saved at the end (disk full, something in the way) fails the run after the report is written", async () => {
    const save = join(dir, "blocked-ckpt");
    // The weights cannot be renamed into place: a folder holds their name.
    mkdirSync(join(save, "ckpt-00000001.bin", "x"), { recursive: true });
    const reportDir = join(dir, "blocked-report");
    await expect(
      replay("blocked-report", { bag: short, checkpoint: ckpt, saveCheckpoint: save }),
    ).rejects.toThrow(
      new RegExp(
        `^--save-checkpoint ${save}: checkpoint not saved \\(.*\\); report written: ${reportDir}/report\\.json$`,
      ),
    );
    expect(existsSync(join(reportDir, "report.json"))).toBe(true);
  }, 120_000);

  it("the command: a checkpoint file given for the folder is one clear error, and the process exits", async () => {
    const file = join(ckpt, readdirSync(ckpt).find((n) => n.endsWith(".json")) as string);
    // The pipeline's worker threads used to outlive the error: the process printed it and never exited.
    const err = (await run(
      process.execPath,
      ["bin/terrain-learner.js", "replay", bag, "--checkpoint", file],
      {
        timeout: 60_000,
      },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (e) => e,
    )) as { code: number | null; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr.trim()).toBe(
      `terrain-learner: --checkpoint ${file}: a file, not a folder: give the folder holding ckpt-*.json`,
    );
  }, 120_000);
});
