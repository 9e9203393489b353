// `terrain-learner run`: its options and their checks. The serial reader, the pipeline and the MQTT
// client load once the flags and the config have been checked, so a mistyped flag is refused at once.

import { type Command, Option } from "commander";
import type { MqttTelemetry } from "../adapters/mqtt.ts";
import { validateMqttOptions } from "../adapters/mqtt-connection.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { trapInterrupts } from "./interrupt.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, positiveInteger, positiveNumber } from "./options.ts";
import type { RunResult } from "./run.ts";

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
        const { missingStream, noLabelsReason, runLive } = await import("./run.ts");
        const { nothingReadReason } = await import("./serial-dump.ts");
        const { toJson } = await import("../adapters/mqtt-payloads.ts");
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
