// `terrain-learner run --serial /dev/ttyX [--mqtt URL]`: the learner on a robot without ROS. IMU
// and wheel odometry stream from a microcontroller over a serial line; the vibration labeller turns
// them into roughness labels (no camera here: labels only, no image predictions), and labels and
// stats go to an MQTT broker for the fleet. Runs until Ctrl-C / SIGTERM / SIGHUP (or --duration).

import { existsSync, readdirSync } from "node:fs";
import { type Command, Option } from "commander";
import { map } from "rxjs";
import { mqttHandlers, pipelineControls, type RuntimeControls } from "../adapters/controls.ts";
import { attachLiveView, type LiveViewServer } from "../adapters/live-view/index.ts";
import {
  attachMqtt,
  type MqttCommandHandlers,
  type MqttTelemetry,
  redactUrl,
  toJson,
  validateMqttOptions,
} from "../adapters/mqtt.ts";
import {
  notASerialDevice,
  SerialSource,
  type SerialSourceStats,
  serialOptionsFromConfig,
} from "../adapters/serial.ts";
import { checkOutputs } from "../io/safe-output.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { type CoreInput, createPipeline, type PipelineStats } from "../runtime/pipeline.ts";
import { action, UserError } from "./errors.ts";
import { trapInterrupts } from "./interrupt.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, positiveInteger, positiveNumber } from "./options.ts";
import { SerialUnitCheck } from "./serial-checks.ts";
import { nothingReadReason } from "./serial-dump.ts";

export interface RunCliOptions extends LiveViewFlags {
  serial?: string;
  baud?: number;
  mode?: string;
  mqtt?: string;
  fleet?: string;
  robotId?: string;
  config?: string[];
  duration?: number;
  json?: boolean;
}

export interface RunResult {
  stats: PipelineStats;
  serial: SerialSourceStats;
  mqtt: ReturnType<MqttTelemetry["stats"]> | undefined;
  /** What ended the run: --duration running out, a signal / abort, or --json's reader closing stdout. */
  stoppedBy: "duration" | "signal" | "stdout";
  /** What the IMU's units look wrong by (also logged as `warning:` lines while it ran). */
  warnings: string[];
}

/** Flags override the config file (which overrides defaults). */
export function applyRunFlags(config: Config, o: RunCliOptions): Config {
  if (o.serial !== undefined) config.serial.path = o.serial;
  if (o.baud !== undefined) config.serial.baud_rate = o.baud;
  if (o.mode !== undefined) {
    if (o.mode !== "nmea" && o.mode !== "csv")
      throw new UserError(`--mode must be nmea or csv, got '${o.mode}'`);
    config.serial.mode = o.mode;
  }
  if (o.mqtt !== undefined) config.mqtt.url = o.mqtt;
  if (o.robotId !== undefined) config.mqtt.robot_id = o.robotId;
  // Fleet samples are camera features with their labels; without a camera there is nothing to send,
  // and nothing here learns from what peers send.
  if (o.fleet !== undefined)
    throw new UserError(
      "--fleet needs a camera (fleet samples are image features): use it with ros, replay or demo",
    );
  if (config.fleet.url) {
    process.stderr.write(
      "terrain-learner: fleet.url ignored: run has no camera, so it has no fleet samples to share or use\n",
    );
    config.fleet.url = "";
  }
  if (config.mqtt.url) validateMqttOptions(config.mqtt);
  return config;
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

export function register(program: Command): void {
  const cmd = program
    .command("run")
    .description(
      "run the labeller from serial IMU/odometry (no ROS, no camera: labels only) and publish to MQTT",
    )
    .option("--serial <device>", "serial device with the IMU / odometry stream (default: serial.path)")
    .option("--baud <n>", "baud rate (default: serial.baud_rate, 115200)", positiveInteger)
    .option("--mode <mode>", "line protocol: nmea or csv (default: serial.mode)")
    .option(
      "--mqtt <url>",
      "broker URL, mqtt://host:1883 or mqtts://host:8883 (default: mqtt.url; none: no MQTT)",
    )
    .option("--robot-id <id>", "robot id in the MQTT topics (default: mqtt.robot_id)")
    // Accepted only to say why it cannot apply here.
    .addOption(new Option("--fleet <url>").hideHelp())
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--json", "print each label as one JSON object per line on stdout")
    .option(
      "--duration <s>",
      "stop after s seconds (exit 1, saying why, if no label was made by then)",
      positiveNumber,
    );
  addLiveViewOptions(cmd)
    .addHelpText(
      "after",
      `
MQTT topics (prefix mqtt.topic_prefix, default terrain-learner):
  <prefix>/<robot-id>/status        retained online / offline (Last Will)
  <prefix>/<robot-id>/labels        one JSON object per label
  <prefix>/<robot-id>/learner       stats JSON (pipeline, serial counters, MQTT)
  <prefix>/<robot-id>/cmd           save_checkpoint (text or JSON)  →  .../cmd/response; reset and
                                    pause_learning are answered ok: false (no camera: no model is trained)
The serial device and the broker may come and go: both are retried until they are back.

Examples:
  terrain-learner run --serial /dev/ttyACM0 --mqtt mqtt://broker.local:1883 --robot-id rover7
  terrain-learner run --serial /dev/ttyUSB0 --mode csv --config robot.yaml --json`,
    )
    .action(
      action(async (o: RunCliOptions) => {
        let config: Config;
        try {
          config = applyRunFlags(loadConfig(o.config), o);
        } catch (err) {
          throw err instanceof UserError ? err : new UserError((err as Error).message);
        }
        applyLiveViewFlags(config, o);
        // SIGINT, SIGTERM and SIGHUP (the ssh session that started it closed) all stop it cleanly:
        // final stats, `offline` on MQTT, queued labels given their chance. A second one stops at once.
        let telemetry: MqttTelemetry | undefined;
        const interrupt = trapInterrupts(() => {
          const queued = telemetry?.stats().queued ?? 0;
          return queued ? `${queued} queued MQTT messages not delivered` : undefined;
        });
        let result: RunResult;
        const started = Date.now();
        try {
          const liveView = await maybeStartLiveView(config, (l) => process.stderr.write(`${l}\n`));
          try {
            result = await runLive(config, {
              duration: o.duration,
              json: o.json,
              liveView,
              signal: interrupt.signal,
              onMqtt: (t) => {
                telemetry = t;
              },
            });
          } finally {
            await liveView?.close();
          }
        } finally {
          interrupt.dispose();
        }
        process.stderr.write(
          `${toJson({ serial: result.serial, mqtt: result.mqtt, problems: result.stats.problems })}\n`,
        );
        // Ctrl-C / SIGTERM is how a robot stops it (exit 0, with a warning when one stream never
        // came); a --duration that passed without one sample, or without any label because IMU or
        // odometry never came, did nothing and says why.
        // Both streams came but no label: the labeller skipped every step (units, a removed gravity)
        // or the robot never drove one; a --duration run did nothing then too.
        const read = result.serial.imu + result.serial.odom > 0;
        const missing =
          result.stats.labels === 0 && read
            ? (missingStream(config, result.serial) ?? noLabelsReason(config, result))
            : undefined;
        if (result.stoppedBy === "duration" && o.duration !== undefined) {
          const nothing =
            nothingReadReason(config.serial.path, o.duration, result.serial) ??
            (missing && `${config.serial.path}: no labels in ${o.duration} s: ${missing}`);
          if (nothing) throw new UserError(nothing);
        } else {
          // Stopped by a signal: exit 0 as ever, but a run that parsed nothing (a wrong --baud gives
          // only garbage, a device that never opened) says so rather than ending on the counters.
          const seconds = Math.round((Date.now() - started) / 1000);
          const why = missing ?? nothingReadReason(config.serial.path, seconds, result.serial);
          if (why) process.stderr.write(`terrain-learner: no labels: ${why}\n`);
        }
      }),
    );
}
