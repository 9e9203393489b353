// `terrain-learner run --serial /dev/ttyX [--mqtt URL]`: the learner on a robot without ROS. IMU
// and wheel odometry stream from a microcontroller over a serial line; the vibration labeller turns
// them into roughness labels (no camera here: labels only, no image predictions), and labels and
// stats go to an MQTT broker for the fleet. Runs until Ctrl-C / SIGTERM / SIGHUP (or --duration).

import { existsSync, readdirSync } from "node:fs";
import { map } from "rxjs";
import { mqttHandlers, pipelineControls, type RuntimeControls } from "../adapters/controls.ts";
import { attachLiveView, type LiveViewServer } from "../adapters/live-view/index.ts";
import {
  attachMqtt,
  type MqttCommandHandlers,
  type MqttTelemetry,
  redactUrl,
  toJson,
} from "../adapters/mqtt.ts";
import {
  notASerialDevice,
  SerialSource,
  type SerialSourceStats,
  serialOptionsFromConfig,
} from "../adapters/serial.ts";
import { checkOutputs } from "../io/safe-output.ts";
import type { Config } from "../runtime/config.ts";
import { type CoreInput, createPipeline, type PipelineStats } from "../runtime/pipeline.ts";
import { UserError } from "./errors.ts";
import { SerialUnitCheck } from "./serial-checks.ts";

export interface RunResult {
  stats: PipelineStats;
  serial: SerialSourceStats;
  mqtt: ReturnType<MqttTelemetry["stats"]> | undefined;
  /** What ended the run: --duration running out, a signal / abort, or --json's reader closing stdout. */
  stoppedBy: "duration" | "signal" | "stdout";
  /** What the IMU's units look wrong by (also logged as `warning:` lines while it ran). */
  warnings: string[];
}

/**
 * Why no label can come: one of the two streams a label needs never arrived (a firmware that sends
 * only $TLIMU, CSV columns without v and w). Undefined when both came (the robot may have stood still).
 */
export function missingStream(config: Config, s: SerialSourceStats): string | undefined {
  const csv = config.serial.mode === "csv";
  if (s.odom === 0)
    return `no odometry sample came (labels need wheel odometry: ${csv ? "v and w in serial.csv_columns" : "$TLODO sentences"})`;
  if (s.imu === 0)
    return `no IMU sample came (labels need the IMU: ${csv ? "ax, ay, az, gx, gy, gz in serial.csv_columns" : "$TLIMU sentences"})`;
  return undefined;
}

/**
 * Why no label came although both streams did: the labeller's skipped steps by reason, or that the
 * robot never drove a whole step; the unit warnings logged while it ran are named.
 */
export function noLabelsReason(config: Config, r: RunResult): string {
  const sup = r.stats.supervisor as { labels?: { skipped?: Record<string, number> } } | undefined;
  const skipped = Object.entries(sup?.labels?.skipped ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const why = skipped
    ? `every step was skipped (${skipped})`
    : `the robot never completed a ${config.labeler.step_length} m step (labeler.step_length) while moving`;
  const n = r.warnings.length;
  return n ? `${why}; see the warning${n > 1 ? "s" : ""} above` : why;
}

/**
 * run's MQTT commands. Without a camera no sample is made, so the model is never trained here:
 * pausing would change nothing, and a reset would only wipe the model resumed from
 * learner.checkpoint_dir (which a save_checkpoint would then write over the good ones). Both are
 * answered `ok: false` with the reason instead of a silent `ok: true`.
 */
export function runCommandHandlers(controls: RuntimeControls): MqttCommandHandlers {
  const refuse = (what: string) => () => {
    throw new Error(`run has no camera and trains no model (labels only): ${what}`);
  };
  return {
    save_checkpoint: mqttHandlers(controls).save_checkpoint,
    reset: refuse("there is no learned model to reset"),
    pause_learning: refuse("there is no learning to pause or resume"),
  };
}

interface RunOptions {
  duration?: number;
  json?: boolean;
  log?: (line: string) => void;
  /** Stops the run as Ctrl-C does; without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  /** Called with the MQTT client once it exists (the CLI's second-signal note reads its queue). */
  onMqtt?: (telemetry: MqttTelemetry) => void;
  /** Show labels, TF and learner stats on this live view server (started and closed by the caller). */
  liveView?: LiveViewServer;
}

export async function runLive(config: Config, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!config.serial.path)
    throw new UserError("no serial device: pass --serial /dev/ttyX or set serial.path");
  const notDevice = notASerialDevice(config.serial.path);
  if (notDevice) throw new UserError(notDevice);
  if (config.learner.checkpoint_dir) {
    // Checked before the pipeline starts, not when the first save is asked for.
    await checkOutputs(
      [{ path: config.learner.checkpoint_dir, kind: "dir", what: "learner.checkpoint_dir" }],
      [],
    ).catch((err: Error) => {
      throw new UserError(err.message);
    });
  }
  // Labels are what a camera-less runner produces: always publish them.
  config.mqtt.publish_labels = true;
  const pipeline = await createPipeline(config, {
    mode: "live",
    overlay: false,
    costmap: false,
    statsEvery: Math.max(1, 1 / config.mqtt.learner_rate),
    warn: log,
  });
  try {
    return await runWithPipeline(config, opts, pipeline, log);
  } catch (err) {
    // Closing twice is harmless; an early error must not leave the pipeline's worker threads
    // keeping the process alive.
    await pipeline.close().catch(() => {});
    throw err;
  }
}

async function runWithPipeline(
  config: Config,
  opts: RunOptions,
  pipeline: Awaited<ReturnType<typeof createPipeline>>,
  log: (line: string) => void,
): Promise<RunResult> {
  const dir = config.learner.checkpoint_dir;
  if (dir) {
    const resumed = await pipeline.learner.loadLatestCheckpoint(dir);
    // Checkpoints of another model (backbone, head size) or damaged ones: a save_checkpoint here would
    // prune them (learner.checkpoint_keep), so refuse as ros does rather than delete a model.
    const held =
      resumed || !existsSync(dir) ? [] : readdirSync(dir).filter((n) => /^ckpt-\d+\.json$/.test(n));
    if (held.length)
      throw new UserError(
        `learner.checkpoint_dir ${dir}: none of its ${held.length} checkpoints can be used by this model (why: above); saving here would delete them: set learner.checkpoint_dir to another folder, or move them away to start afresh`,
      );
    log(resumed ? `resumed from a checkpoint in ${dir}` : `no checkpoint in ${dir} yet`);
  }
  const controls = pipelineControls(pipeline, config, log);
  const live = opts.liveView ? attachLiveView(opts.liveView, pipeline, config, log) : undefined;

  // Samples go into the pipeline's stream graph as they arrive (fusion orders them by stamp); live,
  // a push is handled before it returns, so nothing queues here.
  const units = new SerialUnitCheck(config, (m) => log(`warning: ${m}`));
  const feed = (input: CoreInput) => {
    pipeline.push(input).catch((err: unknown) => log(`terrain-learner: ${(err as Error).message}`));
  };
  const source = new SerialSource(
    serialOptionsFromConfig(config, {
      onWarning: (m) => log(`serial: ${m}`),
      onState: (state, detail, repeat) => {
        if (state !== "opening" && !repeat)
          log(
            `serial: ${config.serial.path} ${state}${detail && detail !== config.serial.path ? `: ${detail}` : ""}`,
          );
      },
    }),
    {
      imu: (sample) => {
        units.imu(sample);
        feed({ kind: "imu", sample });
      },
      odom: (sample) => {
        units.odom(sample);
        feed({ kind: "odom", sample });
      },
    },
  );

  let lastStatsWall = Date.now();
  const events$ = pipeline.events$.pipe(
    map((e) => {
      if (e.type !== "stats") return e;
      lastStatsWall = Date.now();
      return { ...e, stats: { ...e.stats, serial: source.stats() } };
    }),
  );
  const mqtt = config.mqtt.url
    ? attachMqtt(events$, config.mqtt, runCommandHandlers(controls), { log })
    : undefined;
  // Stats events follow sensor time, so none come while the device is absent or silent, and the
  // fleet would see the last `learner` message (serial "open") for good. When they stop, the same
  // message goes out on the wall clock with the serial state as it is now.
  const statsPeriodMs = Math.max(1, 1 / config.mqtt.learner_rate) * 1000;
  const heartbeat = mqtt
    ? setInterval(() => {
        if (Date.now() - lastStatsWall < 2 * statsPeriodMs) return;
        lastStatsWall = Date.now();
        mqtt.telemetry.publishLearner({ ...pipeline.stats(), serial: source.stats() });
      }, statsPeriodMs)
    : undefined;
  heartbeat?.unref();
  if (mqtt) opts.onMqtt?.(mqtt.telemetry);
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let stoppedBy: RunResult["stoppedBy"] = "signal";
  // `run --json | head` closes stdout: the reader has had enough, so shut down as Ctrl-C does
  // (final stats, `offline` on MQTT) instead of dying on EPIPE. The listener stays for good: an
  // EPIPE for a write still buffered may come after the shutdown.
  let outClosed = false;
  // Any other failure (a full disk) stops the run the same way; main's handler says why, exit 1.
  const onOutError = (err: NodeJS.ErrnoException) => {
    if (outClosed) return;
    outClosed = true;
    log(
      err.code === "EPIPE"
        ? "run: stdout closed by its reader; stopping"
        : "run: cannot write stdout; stopping",
    );
    stoppedBy = "stdout";
    stop();
  };
  if (opts.json) process.stdout.on("error", onOutError);
  let labels = 0;
  const sub = pipeline.events$.subscribe((e) => {
    if (e.type !== "label") return;
    labels++;
    if (opts.json && !outClosed) {
      const l = e.label;
      process.stdout.write(
        `${toJson({ type: "label", stamp: l.stamp, x: l.x, y: l.y, roughness: l.roughness, energy: l.energy, speed: l.speed })}\n`,
      );
    }
  });

  log(
    `run: serial ${config.serial.path} @ ${config.serial.baud_rate} (${config.serial.mode})` +
      (config.mqtt.url ? `, MQTT ${redactUrl(config.mqtt.url)} as '${config.mqtt.robot_id}'` : ", no MQTT") +
      "; no camera: labels only. Ctrl-C to stop.",
  );
  source.start();

  const onSignal = () => stop();
  if (opts.signal) {
    // A signal during start-up (loading the model, opening the broker) has already fired.
    if (opts.signal.aborted) stop();
    else opts.signal.addEventListener("abort", onSignal, { once: true });
  } else {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  const timer =
    opts.duration !== undefined
      ? setTimeout(() => {
          stoppedBy = "duration";
          stop();
        }, opts.duration * 1000)
      : undefined;
  // A status line now and then, for someone watching the console.
  const status = setInterval(() => {
    const s = source.stats();
    const m = mqtt?.telemetry.stats();
    log(
      `run: ${s.imu} imu, ${s.odom} odom, ${labels} labels; serial ${s.state}, ${s.checksumErrors} checksum errors` +
        (m
          ? `; mqtt ${m.connected ? "connected" : "offline"}, sent ${m.sent}, queued ${m.queued}, dropped ${m.dropped} (${m.droppedByKind.labels} labels)`
          : ""),
    );
  }, 10_000);
  status.unref();

  try {
    await stopped;
  } finally {
    if (timer) clearTimeout(timer);
    clearInterval(status);
    clearInterval(heartbeat);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    opts.signal?.removeEventListener("abort", onSignal);
  }
  // Shutdown: no new samples, finish what was fed (final stats go out), then say goodbye on MQTT.
  await source.stop();
  await pipeline.idle();
  const summary = await pipeline.finish();
  sub.unsubscribe();
  live?.close();
  // Stats after close: they count what an unreachable broker never took.
  await mqtt?.close();
  const mqttStats = mqtt?.telemetry.stats();
  await pipeline.close();
  const result: RunResult = {
    stats: summary,
    serial: source.stats(),
    mqtt: mqttStats,
    stoppedBy,
    warnings: units.warnings,
  };
  log(
    `run: done: ${summary.labels} labels from ${result.serial.imu} IMU and ${result.serial.odom} odometry samples`,
  );
  return result;
}
