// `terrain-learner replay BAG`: the whole pipeline over a recorded bag (MCAP, rosbag2 .db3/folder,
// ROS 1 .bag), optionally with prequential evaluation on simulator ground truth (--eval), a
// recording of the outputs next to the inputs (--record OUT.mcap) and one JSON line (--json).
//
// `runReplay` is the reusable core of the command (the demo and the tests call it).

import { existsSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { applyMqttFlags, attachPipelineMqtt } from "../adapters/controls.ts";
import type { ImageFrame, RoughnessGrid } from "../core/types.ts";
import type { EvalSummary } from "../eval/evaluator.ts";
import { type FramePanel, type ReportFiles, toJson, writeReport } from "../eval/report.ts";
import { readMcapMetadata } from "../eval/sim-metadata.ts";
import { openBag } from "../io/bag/index.ts";
import { liveLike } from "../io/bag/live-like.ts";
import { Ros2McapWriter } from "../io/bag/mcap-writer.ts";
import { hasDefinition } from "../io/ros/definitions.ts";
import { renderOverlay } from "../outputs/images.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { createPipeline, type PipelineSummary, readAhead } from "../runtime/pipeline.ts";
import { OUTPUT_TOPICS, type OutputKey, outputsToRos } from "../runtime/sinks/ros-outputs.ts";
import { action, UserError } from "./errors.ts";

export interface ReplayRunOptions {
  bag: string;
  config: Config;
  evaluate?: boolean;
  /** Write outputs + inputs to this MCAP. */
  record?: string;
  /** Pace at rate × real time; undefined = as fast as possible. */
  rate?: number;
  /** Deliver the bag in arrival order with a robot's transport delays (seeded; io/bag/live-like.ts). */
  liveLike?: number;
  /** Where report.json and the PNGs go (with evaluate). */
  reportDir?: string;
  /** Title of the plots. */
  title?: string;
  /** Goal line on the learning curve. */
  goal?: number;
  /** Frame panels in the report (evenly spaced over the bag). */
  panels?: number;
  /** Called with sensor seconds done / total and a short status. */
  onProgress?: (
    done: number,
    total: number,
    status: { frames: number; labels: number; trainSteps: number },
  ) => void;
  warn?: (message: string) => void;
}

/** The `--json` object (also the demo's report core). */
export interface ReplayResult {
  frames: number;
  labels: number;
  samples: number;
  trainSteps: number;
  backend: string;
  eval?: {
    spearman: number;
    mae: number;
    auroc: number;
    confidenceAuroc: number;
    cells: number;
    window: { start: number; end: number };
    baseline: { spearman: number; mae: number; auroc: number };
  };
  curve?: EvalSummary["curve"];
  realtimeFactor: number;
  sensorSeconds: number;
  wallSeconds: number;
  framesDropped: number;
  keyframes: number;
  rows: number;
  frameMs: number;
  problems: Record<string, number>;
  bag: string;
  record?: string;
  report?: ReportFiles;
  /** Everything the evaluator computed (over all cells, whole run, terrain table, options). */
  evalDetails?: EvalSummary;
  supervisor: unknown;
}

export async function runReplay(opts: ReplayRunOptions): Promise<ReplayResult> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  let source: Awaited<ReturnType<typeof openBag>>;
  try {
    source = await openBag(opts.bag);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  // Everything that can fail before the replay loop does so before the pipeline exists: its worker
  // threads would keep the process alive after an early error.
  let info: Awaited<ReturnType<typeof source.info>>;
  let simMetadata: Awaited<ReturnType<typeof readMcapMetadata>> | undefined;
  let writer: Ros2McapWriter | undefined;
  let pipeline: Awaited<ReturnType<typeof createPipeline>>;
  try {
    info = await source.info();
    simMetadata =
      info.format === "mcap" || extname(opts.bag) === ".mcap" ? await readMcapMetadata(opts.bag) : undefined;
    if (opts.record) {
      try {
        writer = await Ros2McapWriter.create(opts.record, {
          compression: "zstd",
          metadata: simMetadata ? { terrain_learner_sim: Object.fromEntries(simMetadata) } : undefined,
        });
      } catch (err) {
        throw new UserError(`cannot record to ${opts.record}: ${(err as Error).message}`);
      }
    }
    pipeline = await createPipeline(opts.config, {
      mode: "replay",
      evaluate: opts.evaluate ?? false,
      simMetadata,
      overlay: opts.record !== undefined,
      costmap: true,
      warn,
    });
  } catch (err) {
    await writer?.close().catch(() => {});
    await source.close();
    throw err;
  }
  let mqtt: ReturnType<typeof attachPipelineMqtt>;
  try {
    mqtt = attachPipelineMqtt(pipeline, opts.config, warn);
  } catch (err) {
    await pipeline.close();
    await writer?.close().catch(() => {});
    await source.close();
    throw err;
  }

  // Recorder: inputs as they come, outputs as the pipeline makes them, one writer (it serialises).
  let writeError: Error | undefined;
  const pendingWrites: Promise<void>[] = [];
  const track = (p: Promise<void>) => {
    pendingWrites.push(
      p.catch((err: unknown) => {
        writeError ??= err as Error;
      }),
    );
    // Keep the list short: the writer resolves in order, so settled prefixes can go.
    if (pendingWrites.length > 256) void Promise.all(pendingWrites.splice(0, 128));
  };
  const ns = `/${opts.config.ros.nodeName}`;
  const skippedTypes = new Set<string>();

  // Frames for the report: evenly spaced over the bag, captured with ground truth.
  const panels: FramePanel[] = [];
  const panelCount = opts.evaluate ? (opts.panels ?? 4) : 0;
  const panelTimes = Array.from(
    { length: panelCount },
    (_, i) => info.start + (info.duration * (i + 1)) / (panelCount + 1),
  );

  const sub = pipeline.events$.subscribe((e) => {
    if (e.type !== "prediction") return;
    if (writer) {
      const msgs = outputsToRos(e.outputs);
      for (const [key, msg] of Object.entries(msgs)) {
        const spec = OUTPUT_TOPICS[key as OutputKey];
        track(writer.write(`${ns}/${spec.topic}`, spec.type, e.stamp, msg));
      }
    }
    const next = panelTimes[0];
    if (next !== undefined && e.stamp >= next) {
      panelTimes.shift();
      const truth = pipeline.truthFor(e.stamp, e.outputs.grid);
      if (truth)
        panels.push(makePanel(e.image, e.outputs.grid, truth.roughness, e.stamp - info.start, opts.config));
    }
  });

  const total = Math.max(info.duration, 1e-9);
  let lastProgress = 0;
  const wall0 = performance.now();
  let t0: number | undefined;
  try {
    const messages =
      opts.liveLike === undefined
        ? source.messages()
        : liveLike(source.messages(), { seed: opts.liveLike, topics: opts.config.topics });
    for await (const event of readAhead(pipeline, messages)) {
      if (event.type === "message") {
        if (opts.rate !== undefined) {
          t0 ??= event.logTime;
          const due = ((event.logTime - t0) / opts.rate) * 1000 - (performance.now() - wall0);
          if (due > 1) await new Promise((r) => setTimeout(r, due));
        }
        if (writer) {
          if (hasDefinition(event.schemaName))
            track(writer.write(event.topic, event.schemaName, event.logTime, event.message));
          else skippedTypes.add(event.schemaName);
        }
      }
      await pipeline.push(event);
      if (event.type === "message" && opts.onProgress && event.logTime - lastProgress > 0.5) {
        lastProgress = event.logTime;
        const s = pipeline.stats();
        opts.onProgress(event.logTime - info.start, total, {
          frames: s.framesProcessed,
          labels: s.labels,
          trainSteps: s.trainSteps,
        });
      }
    }
    const summary = await pipeline.finish();
    opts.onProgress?.(total, total, {
      frames: summary.framesProcessed,
      labels: summary.labels,
      trainSteps: summary.trainSteps,
    });
    sub.unsubscribe();
    await Promise.all(pendingWrites);
    if (writer) await writer.close();
    if (writeError) throw new Error(`recording ${opts.record} failed: ${writeError.message}`);
    if (skippedTypes.size)
      warn(`record: not re-recorded (no built-in definition): ${[...skippedTypes].join(", ")}`);
    const result = toResult(summary, opts);
    if (opts.evaluate) {
      const dir = opts.reportDir ?? join("out", basename(opts.bag).replace(/\.[^.]*$/, ""));
      result.report = await writeReport(
        dir,
        { ...result, config: opts.config } as never,
        panels,
        opts.title ?? basename(opts.bag),
        opts.goal,
      );
    }
    return result;
  } finally {
    sub.unsubscribe();
    await mqtt?.close();
    await pipeline.close();
    await source.close();
    if (writer) await writer.close().catch(() => {});
  }
}

function makePanel(
  image: ImageFrame,
  grid: RoughnessGrid,
  truth: Float32Array,
  t: number,
  config: Config,
): FramePanel {
  const n = grid.rows * grid.cols;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = Number.isFinite(truth[i]!) ? 1 : 0;
  const truthGrid: RoughnessGrid = { ...grid, roughness: truth, confidence: new Float32Array(n).fill(1) };
  const o = config.outputs;
  return {
    caption: `t = ${t.toFixed(0)} s`,
    camera: image,
    predicted: renderOverlay(image, grid, { alpha: 0.75, minConfidence: o.minConfidence, mask }),
    truth: renderOverlay(image, truthGrid, { alpha: 0.75, minConfidence: 0, mask }),
  };
}

function toResult(s: PipelineSummary, opts: ReplayRunOptions): ReplayResult {
  const e = s.eval;
  return {
    frames: s.framesProcessed,
    labels: s.labels,
    samples: s.samples,
    trainSteps: s.trainSteps,
    backend: s.backend,
    ...(e
      ? {
          eval: {
            spearman: e.spearman,
            mae: e.mae,
            auroc: e.auroc,
            confidenceAuroc: e.confidenceAuroc,
            cells: e.cells,
            window: e.window,
            baseline: { spearman: e.baseline.spearman, mae: e.baseline.mae, auroc: e.baseline.auroc },
          },
          curve: e.curve,
        }
      : {}),
    realtimeFactor: s.realtimeFactor,
    sensorSeconds: s.sensorSeconds,
    wallSeconds: s.wallSeconds,
    framesDropped: s.framesDropped,
    keyframes: s.keyframes,
    rows: s.rows,
    frameMs: s.frameMs,
    problems: s.problems,
    bag: resolve(opts.bag),
    ...(opts.record ? { record: resolve(opts.record) } : {}),
    ...(e ? { evalDetails: e } : {}),
    supervisor: s.supervisor,
  };
}

const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d));

/** Human summary (stdout). */
export function formatSummary(r: ReplayResult): string {
  const lines = [
    `frames ${r.frames} (dropped ${r.framesDropped}), keyframes ${r.keyframes}, labels ${r.labels}, samples ${r.samples} (${r.rows} cells)`,
    `learner: ${r.trainSteps} training steps on ${r.backend}; ${f(r.sensorSeconds, 1)} s of data in ${f(r.wallSeconds, 1)} s (${f(r.realtimeFactor, 2)}× real time, ${f(r.frameMs, 1)} ms/frame)`,
  ];
  if (r.eval && r.curve) {
    const e = r.eval;
    lines.push(
      `prequential evaluation over t = ${f(e.window.start, 0)}..${f(e.window.end, 0)} s (${e.cells} cells):`,
      `  Spearman ρ   ${f(e.spearman)}   (baseline ${f(e.baseline.spearman)})`,
      `  MAE          ${f(e.mae)}   (baseline ${f(e.baseline.mae)})`,
      `  AUROC rough  ${f(e.auroc)}   (baseline ${f(e.baseline.auroc)})`,
      `  confidence AUROC, never-driven vs driven terrain: ${f(e.confidenceAuroc)}`,
      ...(r.evalDetails
        ? [
            `  labels vs true roughness under the robot: ρ ${f(r.evalDetails.labels.spearman)}, MAE ${f(r.evalDetails.labels.mae)} (${r.evalDetails.labels.count} labels)`,
          ]
        : []),
      "  learning curve (t: ρ and MAE over the trailing minute | ρ of that 10 s window):",
    );
    const step = Math.max(1, Math.ceil(r.curve.length / 12));
    const pts = r.curve.filter((_, i) => i % step === step - 1 || i === r.curve!.length - 1);
    for (const c of pts) {
      lines.push(
        `    ${f(c.t, 0).padStart(5)} s: ρ ${f(c.trailingSpearman, 2).padStart(5)}  MAE ${f(c.trailingMae, 3)}  (baseline ρ ${f(c.trailingBaselineSpearman, 2).padStart(5)}) | ${f(c.spearman, 2).padStart(5)}`,
      );
    }
  }
  for (const w of r.evalDetails?.warnings ?? []) lines.push(`eval: ${w}`);
  if (r.report)
    lines.push(
      `report: ${r.report.json}${r.report.curve ? `, ${r.report.curve}` : ""}${r.report.frames ? `, ${r.report.frames}` : ""}`,
    );
  if (r.record) lines.push(`recording: ${r.record}`);
  const problems = Object.entries(r.problems);
  if (problems.length) lines.push(`problems: ${problems.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** The --json object: the documented keys first, then the extras. */
export function jsonResult(r: ReplayResult): string {
  const { evalDetails, supervisor, ...rest } = r;
  return toJson({
    ...rest,
    curve: r.curve?.map((c) => ({
      t: c.t,
      spearman: c.spearman,
      mae: c.mae,
      baselineSpearman: c.baselineSpearman,
      baselineMae: c.baselineMae,
      trailingSpearman: c.trailingSpearman,
      trailingMae: c.trailingMae,
    })),
    evalAllCells: evalDetails?.allCells,
    evalOverall: evalDetails?.overall,
    terrains: evalDetails?.terrains,
    supervisor,
  });
}

/** A cli-progress bar on stderr when it is a TTY; a no-op otherwise. */
export function progressReporter(label: string): {
  update: NonNullable<ReplayRunOptions["onProgress"]>;
  stop(): void;
} {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} s | frames {frames} labels {labels} steps {steps}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, s) {
      if (!started) {
        bar.start(Math.round(total), 0, { frames: 0, labels: 0, steps: 0 });
        started = true;
      }
      bar.update(Math.round(done), { frames: s.frames, labels: s.labels, steps: s.trainSteps });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function register(program: Command): void {
  program
    .command("replay")
    .description(
      "run the pipeline over a bag (MCAP, rosbag2 .db3/folder, ROS 1 .bag): learn, predict, optionally evaluate and record",
    )
    .argument("<bag>", "bag file or rosbag2 folder")
    .option("-c, --config <file>", "config YAML (plain or ROS 2 params file)")
    .option("--eval", "score predictions against simulator ground truth (prequential) and write a report")
    .option("--json", "print one JSON object with the results instead of the human summary")
    .option("--record <out.mcap>", "write the outputs (and the input topics) to an MCAP for Foxglove")
    .option("--fast", "as fast as possible (default)")
    .option("--rate <x>", "pace the replay at x times real time", parseFloat)
    .option(
      "--live-like <seed>",
      "deliver the bag in arrival order, as a robot's transport would (camera 30–150 ms late, IMU in 10 ms bursts, odometry and TF late); seeded",
    )
    .option("--report-dir <dir>", "where report.json and the plots go (default out/<bag name>)")
    .option("--mqtt <url>", "also publish roughness, labels and stats to this MQTT broker (mqtt://host:1883)")
    .option("--robot-id <id>", "robot id in the MQTT topics (default: mqtt.robotId)")
    .addHelpText(
      "after",
      `
Training runs a fixed number of steps per second of sensor time (learner.stepsPerSecond), so the
results are the same at any replay speed. With --eval, each frame is scored when it arrives, before
any label for that ground exists, against /sim/ground_truth/* (true pose, so odometry drift does not
count), next to a running-mean-label baseline.

Examples:
  terrain-learner replay .cache/default-world-seed1.mcap --eval
  terrain-learner replay run.mcap --record run-outputs.mcap
  terrain-learner replay sim.mcap --eval --json > result.json
  terrain-learner replay sim.mcap --eval --live-like 7   # as a robot delivers it: same results`,
    )
    .action(
      action(
        async (
          bag: string,
          o: {
            config?: string;
            eval?: boolean;
            json?: boolean;
            record?: string;
            fast?: boolean;
            rate?: number;
            liveLike?: string;
            reportDir?: string;
            mqtt?: string;
            robotId?: string;
          },
        ) => {
          if (o.fast && o.rate !== undefined) throw new UserError("--fast and --rate exclude each other");
          if (o.rate !== undefined && !(o.rate > 0))
            throw new UserError(`--rate must be a positive number, got ${o.rate}`);
          if (!existsSync(bag)) throw new UserError(`${bag}: no such file or directory`);
          const liveLikeSeed = o.liveLike === undefined ? undefined : Number(o.liveLike);
          if (liveLikeSeed !== undefined && !Number.isSafeInteger(liveLikeSeed))
            throw new UserError(`--live-like needs an integer seed, got '${o.liveLike}'`);
          let config: Config;
          try {
            config = loadConfig(o.config);
            applyMqttFlags(config, o);
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          const progress = progressReporter("replay");
          let result: ReplayResult;
          try {
            result = await runReplay({
              bag,
              config,
              evaluate: o.eval ?? false,
              record: o.record,
              rate: o.rate,
              liveLike: liveLikeSeed,
              reportDir: o.reportDir,
              onProgress: progress.update,
            });
          } finally {
            progress.stop();
          }
          process.stdout.write(o.json ? `${jsonResult(result)}\n` : formatSummary(result));
        },
      ),
    );
}
