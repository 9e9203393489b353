// `terrain-learner replay BAG`: the whole pipeline over a recorded bag (MCAP, rosbag2 .db3/folder,
// ROS 1 .bag), optionally with prequential evaluation on simulator ground truth (--eval), a
// recording of the outputs next to the inputs (--record OUT.mcap) and one JSON line (--json).
//
// `runReplay` is the reusable core of the command (the demo and the tests call it).

import { existsSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { applyMqttFlags, attachPipelineMqtt } from "../adapters/controls.ts";
import { attachLiveView, type LiveViewServer } from "../adapters/live-view/index.ts";
import { fleetFromConfig } from "../adapters/mqtt-fleet.ts";
import { OutputRecorder } from "../adapters/ros2-recorder.ts";
import type { ImageFrame, RoughnessGrid } from "../core/types.ts";
import type { EvalSummary } from "../eval/evaluator.ts";
import { type FramePanel, type ReportFiles, toJson, writeReport } from "../eval/report.ts";
import { readMcapMetadata } from "../eval/sim-metadata.ts";
import { openBag } from "../io/bag/index.ts";
import { liveLike } from "../io/bag/live-like.ts";
import { Ros2McapWriter } from "../io/bag/mcap-writer.ts";
import { checkOutputs, discardTempsSync, type OutputSpec } from "../io/safe-output.ts";
import { renderOverlay } from "../outputs/images.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { createPipeline, type PipelineSummary, readAhead } from "../runtime/pipeline.ts";
import { chooseProbeSet } from "../runtime/probe-prepass.ts";
import { action, UserError } from "./errors.ts";
import { interruptedError, trapInterrupts } from "./interrupt.ts";
import { formatKnowledge } from "./knowledge-format.ts";
import { LABEL_TOPICS } from "./label.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP } from "./options.ts";
import {
  addTopicOptions,
  applyTopicFlags,
  requireTopics,
  type TopicFlags,
  type TopicNeed,
} from "./topics.ts";

/** What the pipeline needs from a bag: a camera and its intrinsics, plus what labelling needs. */
export const REPLAY_TOPICS: readonly TopicNeed[] = [
  { what: "camera image", keys: ["image", "compressedImage"] },
  {
    what: "camera info",
    keys: ["cameraInfo"],
    why: "images cannot be related to the ground without intrinsics",
  },
  ...LABEL_TOPICS,
];

/** The files a report writes into its folder. */
export const REPORT_FILES = ["report.json", "learning-curve.png", "frames.png"] as const;

export interface ReplayRunOptions {
  bag: string;
  config: Config;
  evaluate?: boolean;
  /** Write outputs + inputs to this MCAP. */
  record?: string;
  /** Show the run on this live view server (started and closed by the caller). */
  liveView?: LiveViewServer;
  /** With `record`: leave the input topics out. */
  recordOutputsOnly?: boolean;
  /** Pace at rate × real time; undefined = as fast as possible. */
  rate?: number;
  /** Deliver the bag in arrival order with a robot's transport delays (seeded; io/bag/live-like.ts). */
  liveLike?: number;
  /** Save the learner's checkpoint into this folder at the end (for `export`). */
  saveCheckpoint?: string;
  /**
   * Start from the newest usable checkpoint in this folder instead of an empty model (with
   * `learner.enabled: false`, replay a trained model without learning). None usable: an error.
   */
  checkpoint?: string;
  /** Where report.json and the PNGs go (with evaluate). */
  reportDir?: string;
  /** Title of the plots. */
  title?: string;
  /** Goal line on the learning curve. */
  goal?: number;
  /** With evaluate: outputs from the ground truth, not the model (a diagnostic; EvalOptions.truthOutputs). */
  truthOutputs?: boolean;
  /** With evaluate: choose and score the knowledge probe set (default true; false: neither). */
  knowledgeProbe?: boolean;
  /** Frame panels in the report (evenly spaced over the bag). */
  panels?: number;
  /** Called with sensor seconds done / total and a short status. */
  onProgress?: (
    done: number,
    total: number,
    status: { frames: number; labels: number; trainSteps: number },
  ) => void;
  warn?: (message: string) => void;
  /** Files the run reads besides the bag (a config file): outputs may not replace them either. */
  inputs?: readonly string[];
  /**
   * Aborting stops the read; the recording is finished with what was written and renamed into
   * place, and runReplay rejects with a UserError that says so (no report).
   */
  signal?: AbortSignal;
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
    knowledge?: EvalSummary["knowledge"];
    stability?: EvalSummary["stability"];
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
  /** The checkpoint manifest written with saveCheckpoint. */
  checkpoint?: string;
  /** Everything the evaluator computed (over all cells, whole run, terrain table, options). */
  evalDetails?: EvalSummary;
  supervisor: unknown;
  /** Fleet sharing counters (with fleet.url). */
  fleet?: Record<string, unknown>;
}

/** The report folder of a run: --report-dir, or out/<bag name>. */
export function reportDirFor(opts: Pick<ReplayRunOptions, "bag" | "reportDir">): string {
  return opts.reportDir ?? join("out", basename(opts.bag).replace(/\.[^.]*$/, ""));
}

export async function runReplay(opts: ReplayRunOptions): Promise<ReplayResult> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  // Every output is checked before the first message is read: a bad path fails now, not after the
  // whole replay, and no output may replace or land inside an input.
  const outputs: OutputSpec[] = [];
  if (opts.record) outputs.push({ path: opts.record, kind: "file", what: "--record" });
  if (opts.evaluate)
    outputs.push({ path: reportDirFor(opts), kind: "dir", what: "--report-dir", files: REPORT_FILES });
  if (opts.saveCheckpoint)
    outputs.push({ path: opts.saveCheckpoint, kind: "dir", what: "--save-checkpoint" });
  try {
    await checkOutputs(outputs, [
      opts.bag,
      ...(opts.checkpoint ? [opts.checkpoint] : []),
      ...(opts.inputs ?? []),
    ]);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
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
  let fleet: ReturnType<typeof fleetFromConfig>;
  try {
    fleet = fleetFromConfig(opts.config, warn);
  } catch (err) {
    await source.close();
    throw new UserError((err as Error).message);
  }
  try {
    info = await source.info();
    requireTopics(opts.bag, info, opts.config, REPLAY_TOPICS);
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
      evaluate: opts.evaluate ? { truthOutputs: opts.truthOutputs ?? false } : false,
      simMetadata,
      overlay: opts.record !== undefined || opts.liveView !== undefined,
      costmap: true,
      sampleSources: fleet ? [fleet] : [],
      warn,
    });
    fleet?.attach(pipeline);
    if (opts.checkpoint && !(await pipeline.learner.loadLatestCheckpoint(opts.checkpoint))) {
      await pipeline.close();
      throw new UserError(
        `--checkpoint ${opts.checkpoint}: no usable checkpoint there (write one with --save-checkpoint or learner.checkpoint_dir)`,
      );
    }
  } catch (err) {
    await fleet?.close();
    await writer?.abort().catch(() => {});
    await source.close();
    throw err;
  }
  let mqtt: ReturnType<typeof attachPipelineMqtt>;
  try {
    mqtt = attachPipelineMqtt(pipeline, opts.config, warn);
  } catch (err) {
    await fleet?.close();
    await pipeline.close();
    await writer?.abort().catch(() => {});
    await source.close();
    throw err;
  }

  // The knowledge probe set is chosen from the whole bag before the first message is replayed.
  if (opts.evaluate && opts.knowledgeProbe !== false) {
    try {
      const probe = await chooseProbeSet(
        source,
        info,
        opts.config,
        simMetadata,
        (f) => pipeline.frameFeatures(f),
        warn,
      );
      if (probe) pipeline.useProbeSet(probe);
    } catch (err) {
      await mqtt?.close();
      await pipeline.close();
      await writer?.abort().catch(() => {});
      await source.close();
      throw err;
    }
  }

  const live = opts.liveView ? attachLiveView(opts.liveView, pipeline, opts.config, warn) : undefined;

  // Recorder: inputs as they come, outputs as the node would publish them, one writer (it serialises).
  const recorder = writer
    ? new OutputRecorder(writer, opts.config, {
        outputsOnly: opts.recordOutputsOnly,
        stats: () => pipeline.stats(),
      })
    : undefined;

  // Frames for the report: evenly spaced over the bag, captured with ground truth.
  const panels: FramePanel[] = [];
  const panelCount = opts.evaluate ? (opts.panels ?? 4) : 0;
  const panelTimes = Array.from(
    { length: panelCount },
    (_, i) => info.start + (info.duration * (i + 1)) / (panelCount + 1),
  );

  const sub = pipeline.events$.subscribe((e) => {
    recorder?.event(e);
    if (e.type !== "prediction") return;
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
  let lastTime = info.start;
  let committed = false;
  try {
    await recorder?.start();
    const messages =
      opts.liveLike === undefined
        ? source.messages()
        : liveLike(source.messages(), { seed: opts.liveLike, topics: opts.config.topics });
    for await (const event of readAhead(pipeline, messages)) {
      if (opts.signal?.aborted) break;
      if (event.type === "message") {
        lastTime = event.logTime;
        if (opts.rate !== undefined) {
          t0 ??= event.logTime;
          const due = ((event.logTime - t0) / opts.rate) * 1000 - (performance.now() - wall0);
          if (due > 1) await sleep(due, undefined, { signal: opts.signal }).catch(() => {});
          if (opts.signal?.aborted) break;
        }
        recorder?.input(event);
      }
      live?.input(event);
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
    if (opts.signal?.aborted) {
      sub.unsubscribe();
      await recorder?.finish();
      let kept = "nothing written";
      if (writer) {
        await writer.close();
        committed = true;
        kept = `recording ${opts.record} finished with ${writer.messageCount} messages`;
      }
      const done = `${(lastTime - info.start).toFixed(1)} of ${info.duration.toFixed(1)} s of data read`;
      throw interruptedError(opts.signal.reason, `${done}; ${kept}${opts.evaluate ? "; no report" : ""}`);
    }
    const summary = await pipeline.finish();
    opts.onProgress?.(total, total, {
      frames: summary.framesProcessed,
      labels: summary.labels,
      trainSteps: summary.trainSteps,
    });
    sub.unsubscribe();
    if (recorder) {
      let skippedTypes: string[];
      try {
        ({ skippedTypes } = await recorder.finish());
      } catch (err) {
        throw new Error(`recording ${opts.record} failed: ${(err as Error).message}`);
      }
      if (skippedTypes.length)
        warn(`record: not re-recorded (no built-in definition): ${skippedTypes.join(", ")}`);
    }
    if (writer) {
      await writer.close();
      committed = true;
    }
    const result = toResult(summary, opts);
    if (opts.saveCheckpoint) result.checkpoint = await pipeline.learner.saveCheckpoint(opts.saveCheckpoint);
    if (opts.evaluate) {
      const dir = reportDirFor(opts);
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
    live?.close();
    await mqtt?.close();
    await fleet?.close();
    await pipeline.close();
    await source.close();
    // A run that failed leaves whatever was at the recording path before.
    if (writer && !committed) await writer.abort().catch(() => {});
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
    predicted: renderOverlay(image, grid, { alpha: 0.75, minConfidence: o.min_confidence, mask }),
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
            knowledge: e.knowledge,
            stability: e.stability,
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
    ...(s.fleet ? { fleet: s.fleet } : {}),
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
      ...formatKnowledge(e.knowledge, e.stability),
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
  if (r.checkpoint) lines.push(`checkpoint: ${r.checkpoint}`);
  if (r.fleet) {
    const q = r.fleet as Record<string, number> & { rejected: Record<string, number> };
    const rejected = Object.entries(q.rejected).map(([k, v]) => `${k} ${v}`);
    lines.push(
      `fleet: ${q.peers} peers; received ${q.received} samples, used ${q.used} (${q.overridden} down-weighted by own labels), rejected ${rejected.length ? rejected.join(", ") : "none"}; sent ${q.sent}; ${f((q.bytesOutPerSec ?? 0) / 1000, 1)} kB/s out, ${f((q.bytesInPerSec ?? 0) / 1000, 1)} kB/s in`,
    );
  }
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
  const cmd = program
    .command("replay")
    .description(
      "run the pipeline over a bag (MCAP, rosbag2 .db3/folder, ROS 1 .bag): learn, predict, optionally evaluate and record",
    )
    .argument("<bag>", "bag file or rosbag2 folder")
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--eval", "score predictions against simulator ground truth (prequential) and write a report")
    .option("--json", "print one JSON object with the results instead of the human summary")
    .option(
      "--record <out.mcap>",
      "write the node's outputs (topics, types and QoS as the live node publishes them) and the input topics to an MCAP",
    )
    .option("--record-outputs-only", "with --record: leave the input topics out")
    .option("--fast", "as fast as possible (default)")
    .option("--rate <x>", "pace the replay at x times real time", parseFloat)
    .option(
      "--live-like <seed>",
      "deliver the bag in arrival order, as a robot's transport would (camera 30–150 ms late, IMU in 10 ms bursts, odometry and TF late); seeded",
    )
    .option("--report-dir <dir>", "where report.json and the plots go (default out/<bag name>)")
    .option(
      "--save-checkpoint <dir>",
      "save the learner's checkpoint into this folder at the end (for export)",
    )
    .option(
      "--checkpoint <dir>",
      "start from the newest checkpoint in this folder instead of an empty model (with learner.enabled: false: replay a trained model without learning)",
    )
    .option("--mqtt <url>", "also publish roughness, labels and stats to this MQTT broker (mqtt://host:1883)")
    .option("--robot-id <id>", "robot id in the MQTT topics (default: mqtt.robot_id)")
    .option("--fleet <url>", FLEET_HELP);
  addTopicOptions(cmd, ["image", "compressedImage", "cameraInfo", "imu", "odom"]);
  addLiveViewOptions(cmd)
    .addHelpText(
      "after",
      `
Training runs a fixed number of steps per second of sensor time (learner.steps_per_second), so the
results are the same at any replay speed. With --eval, each frame is scored when it arrives, before
any label for that ground exists, against /sim/ground_truth/* (true pose, so odometry drift does not
count), next to a running-mean-label baseline.

The bag must have messages on a camera topic (raw or compressed), camera info, IMU and odometry;
otherwise replay stops before reading and lists the bag's topics. Outputs are checked first: none
may be, or be inside, an input. Ctrl-C finishes the recording with what was written and exits 130.

Examples:
  terrain-learner replay .cache/default-world-seed1-jpeg95.mcap --eval
  terrain-learner replay run.mcap --record run-outputs.mcap
  terrain-learner replay sim.mcap --eval --json > result.json
  terrain-learner replay run.db3 --compressed-image /zed/left/compressed --imu /husky/imu --odom /husky/odom
  terrain-learner replay run.mcap --rate 1 --live-view     # watch it in Foxglove at ws://127.0.0.1:8765
  terrain-learner replay sim.mcap --eval --live-like 7   # as a robot delivers it: same results
  terrain-learner replay sim.mcap --eval --save-checkpoint ck/    # then, the trained model frozen:
  terrain-learner replay other.mcap --eval --checkpoint ck/ -c frozen.yaml  # (learner: {enabled: false})`,
    )
    .action(
      action(
        async (
          bag: string,
          o: {
            config?: string[];
            eval?: boolean;
            json?: boolean;
            record?: string;
            recordOutputsOnly?: boolean;
            fast?: boolean;
            rate?: number;
            liveLike?: string;
            reportDir?: string;
            saveCheckpoint?: string;
            checkpoint?: string;
            mqtt?: string;
            robotId?: string;
            fleet?: string;
          } & TopicFlags &
            LiveViewFlags,
        ) => {
          if (o.fast && o.rate !== undefined) throw new UserError("--fast and --rate exclude each other");
          if (o.rate !== undefined && !(o.rate > 0))
            throw new UserError(`--rate must be a positive number, got ${o.rate}`);
          if (!existsSync(bag)) throw new UserError(`${bag}: no such file or directory`);
          if (o.checkpoint !== undefined && !existsSync(o.checkpoint))
            throw new UserError(`--checkpoint ${o.checkpoint}: no such folder`);
          if (o.recordOutputsOnly && !o.record) throw new UserError("--record-outputs-only needs --record");
          const liveLikeSeed = o.liveLike === undefined ? undefined : Number(o.liveLike);
          if (liveLikeSeed !== undefined && !Number.isSafeInteger(liveLikeSeed))
            throw new UserError(`--live-like needs an integer seed, got '${o.liveLike}'`);
          let config: Config;
          try {
            config = loadConfig(o.config);
            applyMqttFlags(config, o);
            if (o.fleet !== undefined) config.fleet.url = o.fleet;
            applyTopicFlags(config, o);
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          applyLiveViewFlags(config, o);
          const liveView = await maybeStartLiveView(config, (l) => process.stderr.write(`${l}\n`));
          const progress = progressReporter("replay");
          const interrupt = trapInterrupts(() => {
            if (!o.record) return undefined;
            discardTempsSync(o.record);
            return `${o.record} not written`;
          });
          let result: ReplayResult;
          try {
            result = await runReplay({
              bag,
              config,
              evaluate: o.eval ?? false,
              record: o.record,
              recordOutputsOnly: o.recordOutputsOnly,
              rate: o.rate,
              liveLike: liveLikeSeed,
              reportDir: o.reportDir,
              saveCheckpoint: o.saveCheckpoint,
              checkpoint: o.checkpoint,
              liveView,
              onProgress: progress.update,
              inputs: o.config ?? [],
              signal: interrupt.signal,
            });
          } finally {
            progress.stop();
            interrupt.dispose();
            await liveView?.close();
          }
          process.stdout.write(o.json ? `${jsonResult(result)}\n` : formatSummary(result));
        },
      ),
    );
}
