// `terrain-learner replay BAG`: the whole pipeline over a recorded bag (MCAP, rosbag2 .db3/folder,
// ROS 1 .bag), optionally with prequential evaluation on simulator ground truth (--eval), a
// recording of the outputs next to the inputs (--record OUT.mcap) and one JSON line (--json).
//
// `runReplay` is the reusable core of the command (the demo and the tests call it). The command
// itself, the result printing, the progress bar and the report panels live in replay-*.ts; they are
// re-exported here so importers keep one path.

import { existsSync, readdirSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { attachPipelineMqtt } from "../adapters/controls.ts";
import type { LiveViewServer } from "../adapters/live-view/index.ts";
import type { fleetFromConfig } from "../adapters/mqtt-fleet.ts";
import { OutputRecorder } from "../adapters/ros2-recorder.ts";
import type { Problem } from "../core/types.ts";
import { type FramePanel, writeReport } from "../eval/report.ts";
import { readMcapMetadata } from "../eval/sim-metadata.ts";
import { openBag } from "../io/bag/index.ts";
import { liveLike } from "../io/bag/live-like.ts";
import { Ros2McapWriter } from "../io/bag/mcap-writer.ts";
import type { CameraCalibration } from "../io/ros/camera-info-yaml.ts";
import { checkOutputs, type OutputSpec } from "../io/safe-output.ts";
import type { Config } from "../runtime/config.ts";
import { createPipeline, readAhead } from "../runtime/pipeline.ts";
import { chooseProbeSet } from "../runtime/probe-prepass.ts";
import { stampRemedy } from "../runtime/stages/problems.ts";
import { checkReplayBag, chooseReadableCamera } from "./bag-checks.ts";
import { useCameraInfoFile } from "./camera-info-file.ts";
import { UserError } from "./errors.ts";
import { interruptedError } from "./interrupt.ts";
import { makePanel, panelCaption } from "./replay-panel.ts";
import { type ReplayResult, toResult } from "./replay-result.ts";
import { withBagTopics } from "./topics.ts";

export { progressReporter } from "./replay-progress.ts";
export { formatSummary, jsonResult, type ReplayResult } from "./replay-result.ts";

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
  /** With evaluate: labels from the ground truth, not the vibration (a diagnostic; EvalOptions.truthLabels). */
  truthLabels?: boolean;
  /** With truthLabels: keyframes also teach scored cells' truth (a diagnostic; EvalOptions.truthCells). */
  truthCells?: "driven" | "all";
  /** With evaluate: choose and score the knowledge probe set (default true; false: neither). */
  knowledgeProbe?: boolean;
  /** Frame panels in the report (evenly spaced over the bag). */
  panels?: number;
  /** The camera topic a flag named alone (--image: raw, --compressed-image): read when the bag has both. */
  camera?: "raw" | "compressed";
  /** The camera's calibration file (--camera-info-file): its CameraInfo after each frame, the bag's own left out. */
  cameraInfoFile?: { path: string; calibration: CameraCalibration };
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

/** The one-line error of a recording that could not be written; the file at its path is as it was. */
function recordFailed(path: string | undefined, err: Error, done: number, duration: number): UserError {
  const why = err.message.replace(`cannot write ${path}: `, "cannot write: ");
  return new UserError(
    `--record ${path}: ${why}; replay stopped after ${Math.min(done, duration).toFixed(1)} of ${duration.toFixed(1)} s; no recording written (a file there before is kept)`,
  );
}

/**
 * A replay never resumes from its --save-checkpoint folder (--checkpoint may not be it), so the
 * checkpoints already there are other runs' models, and a save prunes all but the newest
 * learner.checkpoint_keep: refused before any work when it would delete one, as `ros` and `run`
 * refuse a checkpoint_dir holding models they cannot use.
 */
function refuseCheckpointPrune(dir: string, keep: number): void {
  const held = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => /^ckpt-\d{8}\.json$/.test(n))
        .sort()
    : [];
  const doomed = held.slice(0, held.length + 1 - Math.max(1, keep));
  if (doomed.length)
    throw new UserError(
      `--save-checkpoint ${dir} holds ${held.length} checkpoints of other runs; saving here would delete ${doomed.join(", ")} (a save keeps the newest learner.checkpoint_keep = ${keep}): give another folder, or move them away`,
    );
}

/** The report folder of a run: --report-dir, or out/<bag name>. */
export function reportDirFor(opts: Pick<ReplayRunOptions, "bag" | "reportDir">): string {
  return opts.reportDir ?? join("out", basename(opts.bag).replace(/\.[^.]*$/, ""));
}

/**
 * Every output is checked before the first message is read: a bad path fails now, not after the
 * whole replay, and no output may replace or land inside an input. The CLI calls it before it starts
 * a live view, so a refused run does not first announce a server.
 */
export async function checkReplayOutputs(
  opts: Pick<
    ReplayRunOptions,
    "bag" | "record" | "evaluate" | "reportDir" | "saveCheckpoint" | "checkpoint" | "inputs" | "config"
  >,
): Promise<void> {
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
  if (opts.saveCheckpoint) refuseCheckpointPrune(opts.saveCheckpoint, opts.config.learner.checkpoint_keep);
}

export async function runReplay(opts: ReplayRunOptions): Promise<ReplayResult> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  await checkReplayOutputs(opts);
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
  // The config with its topic names spelt as the bag spells them (a leading slash or not).
  let config = opts.config;
  // The camera topic left out of a bag with both: not read, so not recorded either.
  let unread: string[] = [];
  try {
    // The MQTT client and the live view's server load only for a run that uses them.
    fleet = opts.config.fleet.url
      ? (await import("../adapters/mqtt-fleet.ts")).fleetFromConfig(opts.config, warn)
      : undefined;
  } catch (err) {
    await source.close();
    throw new UserError((err as Error).message);
  }
  try {
    info = await source.info();
    const bagConfig = withBagTopics(opts.config, info);
    const camera = await chooseReadableCamera(opts.bag, source, info, bagConfig, opts.camera);
    config = camera.config;
    unread = [bagConfig.topics.image, bagConfig.topics.compressed_image].filter(
      (t) => t !== "" && t !== config.topics.image && t !== config.topics.compressed_image,
    );
    if (opts.cameraInfoFile) {
      const { path, calibration } = opts.cameraInfoFile;
      ({ source, info } = await useCameraInfoFile(opts.bag, source, info, config, path, calibration, warn));
    }
    await checkReplayBag(opts.bag, source, info, config, opts.evaluate ?? false);
    if (camera.note) warn(`terrain-learner: ${camera.note}`);
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
    pipeline = await createPipeline(config, {
      mode: "replay",
      evaluate: opts.evaluate
        ? {
            truthOutputs: opts.truthOutputs ?? false,
            truthLabels: opts.truthLabels ?? false,
            truthCells: opts.truthCells ?? "off",
          }
        : false,
      simMetadata,
      overlay: opts.record !== undefined || opts.liveView !== undefined,
      costmap: true,
      sampleSources: fleet ? [fleet] : [],
      warn,
    });
    fleet?.attach(pipeline);
    // A folder that cannot be read (a file given, no permission) throws: the pipeline's worker
    // threads must not outlive the error and keep the process from exiting.
    const resumed = opts.checkpoint
      ? await pipeline.learner.loadLatestCheckpoint(opts.checkpoint).catch(async (err: Error) => {
          await pipeline.close();
          throw new UserError(`--checkpoint ${opts.checkpoint}: ${err.message}`);
        })
      : true;
    if (!resumed) {
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
    mqtt = config.mqtt.url
      ? (await import("../adapters/controls.ts")).attachPipelineMqtt(pipeline, config, warn)
      : undefined;
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
        config,
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

  const live = opts.liveView
    ? (await import("../adapters/live-view/index.ts")).attachLiveView(opts.liveView, pipeline, config, warn)
    : undefined;

  // Recorder: inputs as they come, outputs as the node would publish them, one writer (it serialises).
  const recorder = writer
    ? new OutputRecorder(writer, config, {
        outputsOnly: opts.recordOutputsOnly,
        stats: () => pipeline.stats(),
        bagTopics: new Set(info.topics.filter((t) => t.count > 0).map((t) => t.name)),
        unread: new Set(unread),
      })
    : undefined;

  // Frames for the report: evenly spaced over the bag, captured with ground truth.
  const panels: FramePanel[] = [];
  const panelCount = opts.evaluate ? (opts.panels ?? 4) : 0;
  const panelTimes = Array.from(
    { length: panelCount },
    (_, i) => info.start + (info.duration * (i + 1)) / (panelCount + 1),
  );

  // The first message that did not convert or decode, per topic: shown once (later ones are only
  // counted) and the reason given when the run used no frame.
  const firstProblem = new Map<string, string>();
  const late = new Map<string, { count: number; first: Problem }>();
  const lateWarned = new Set<string>();
  const unstampedWarned = new Set<string>();
  let cameraFrame: string | undefined;
  let frameProblem: string | undefined;
  const sub = pipeline.events$.subscribe((e) => {
    recorder?.event(e);
    if (e.type === "problem") {
      const p = e.problem;
      if (p.kind === "frame") frameProblem ??= p.message;
      if ((p.kind === "convert" || p.kind === "decode") && p.topic && !firstProblem.has(p.topic)) {
        firstProblem.set(p.topic, p.message);
        warn(`terrain-learner: ${p.message} (further problems on ${p.topic} are only counted)`);
      }
      // A topic whose driver leaves header.stamp at 0 is ordered by log time: say so once per topic.
      if (p.kind === "unstamped" && p.topic && !unstampedWarned.has(p.topic)) {
        unstampedWarned.add(p.topic);
        warn(`terrain-learner: ${p.message}`);
      }
      // The stamps went back: nothing is dropped, the time-keyed state starts afresh; one line each.
      if (p.kind === "clockJump") warn(`terrain-learner: ${p.message}`);
      // A bag cut short or damaged: the run covers only what was readable; where it broke, once.
      if (p.kind === "truncated" || p.kind === "corrupt") warn(`terrain-learner: ${p.message}`);
      if (p.kind === "late" && p.topic) {
        // A stream delivered later than the reorder window loses every such message: say so once
        // per stream.
        const seen = late.get(p.topic);
        if (seen) seen.count++;
        else late.set(p.topic, { count: 1, first: p });
        if (!lateWarned.has(p.topic)) {
          lateWarned.add(p.topic);
          warn(
            `terrain-learner: ${p.topic} message dropped: ${p.message}${stampRemedy(p)} (further ones are only counted)`,
          );
        }
      }
      return;
    }
    if (e.type !== "prediction") return;
    cameraFrame ??= e.image.frameId;
    const next = panelTimes[0];
    if (next !== undefined && e.stamp >= next) {
      panelTimes.shift();
      const truth = pipeline.truthFor(e.stamp, e.outputs.grid);
      if (truth)
        panels.push(
          makePanel(
            e.image,
            e.outputs.grid,
            truth.roughness,
            panelCaption(e.stamp - info.start, info.duration / (panelCount + 1)),
            config,
          ),
        );
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
        : liveLike(source.messages(), { seed: opts.liveLike, topics: config.topics });
    for await (const event of readAhead(pipeline, messages)) {
      if (opts.signal?.aborted || writer?.failed) break;
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
    // A recording that cannot be written (disk full) ends the run now, not after the whole bag.
    if (writer?.failed) throw recordFailed(opts.record, writer.failed, lastTime - info.start, info.duration);
    if (opts.signal?.aborted) {
      sub.unsubscribe();
      await recorder?.finish();
      const kept: string[] = [];
      if (writer) {
        await writer.close();
        committed = true;
        kept.push(`recording ${opts.record} finished with ${writer.messageCount} messages`);
      }
      // What was learned so far is kept too, as the ros node does at its stop.
      if (opts.saveCheckpoint) {
        try {
          await pipeline.learner.settle?.();
          const steps = pipeline.learner.stats().trainSteps;
          if (steps === 0 && !opts.checkpoint) throw new Error("the learner had not trained yet");
          const path = await pipeline.learner.saveCheckpoint(opts.saveCheckpoint);
          kept.push(`checkpoint ${path} saved (${pipeline.learner.stats().trainSteps} train steps)`);
        } catch (err) {
          kept.push(`no checkpoint saved: ${(err as Error).message}`);
        }
      }
      const saved = mqtt?.saved ?? [];
      const last = saved.length > 1 ? ` (the last of ${saved.length})` : "";
      if (saved.length)
        kept.push(`checkpoint ${saved.at(-1)} saved by the MQTT save_checkpoint command${last}`);
      const done = `${(lastTime - info.start).toFixed(1)} of ${info.duration.toFixed(1)} s of data read`;
      const what = kept.length ? kept.join("; ") : "nothing written";
      throw interruptedError(opts.signal.reason, `${done}; ${what}${opts.evaluate ? "; no report" : ""}`);
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
        throw recordFailed(opts.record, err as Error, total, info.duration);
      }
      if (skippedTypes.length)
        warn(`record: not re-recorded (no built-in definition): ${skippedTypes.join(", ")}`);
    }
    if (writer) {
      try {
        await writer.close();
      } catch (err) {
        throw recordFailed(opts.record, err as Error, total, info.duration);
      }
      committed = true;
    }
    const result = toResult(summary, { ...opts, config }, { firstProblem, frameProblem, cameraFrame, late });
    let unsaved: string | undefined;
    // An untrained model is not worth keeping (export refuses it), and a save would push an older
    // checkpoint out of learner.checkpoint_keep there. A run that learned nothing of its own may
    // still have trained on the fleet's samples: that model is kept.
    if (opts.saveCheckpoint && summary.trainSteps === 0 && !opts.checkpoint) {
      if (result.idle) result.idle += `; nothing saved to ${opts.saveCheckpoint}`;
      else
        unsaved = `--save-checkpoint ${opts.saveCheckpoint}: nothing saved: ${result.warning ?? "the learner did not train"}`;
    } else if (opts.saveCheckpoint) {
      try {
        result.checkpoint = await pipeline.learner.saveCheckpoint(opts.saveCheckpoint);
      } catch (err) {
        // The replay's report is still written; then the run fails saying what was not saved.
        unsaved = `--save-checkpoint ${opts.saveCheckpoint}: checkpoint not saved (${(err as Error).message})`;
      }
    }
    if (opts.evaluate) {
      const dir = reportDirFor(opts);
      result.report = await writeReport(
        dir,
        { ...result, config } as never,
        panels,
        opts.title ?? basename(opts.bag),
        opts.goal,
      );
    }
    if (unsaved)
      throw new UserError(result.report ? `${unsaved}; report written: ${result.report.json}` : unsaved);
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
