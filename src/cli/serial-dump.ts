// `terrain-learner serial-dump /dev/ttyX [--json]`: bring-up tool for a microcontroller streaming
// IMU / wheel odometry. Prints every parsed sample (one JSON object per line with --json) and the
// parser's counters at exit, so a wiring, baud-rate or checksum problem shows up as numbers.

import type { Command } from "commander";
import {
  notASerialDevice,
  SerialSource,
  type SerialSourceStats,
  serialOptionsFromConfig,
} from "../adapters/serial.ts";
import type { ImuSample, OdomSample } from "../core/types.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { CONFIG_HELP, collect, positiveInteger, positiveNumber } from "./options.ts";
import { SerialUnitCheck } from "./serial-checks.ts";

interface DumpOptions {
  json?: boolean;
  baud?: number;
  mode?: string;
  config?: string[];
  count?: number;
  duration?: number;
}

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;

function imuLine(s: ImuSample, json: boolean): string {
  const a = s.linearAcceleration;
  const g = s.angularVelocity;
  if (json) {
    return JSON.stringify({
      type: "imu",
      stamp: s.stamp,
      frameId: s.frameId,
      ax: a.x,
      ay: a.y,
      az: a.z,
      gx: g.x,
      gy: g.y,
      gz: g.z,
    });
  }
  return `${s.stamp.toFixed(6)} imu  a=(${r6(a.x)}, ${r6(a.y)}, ${r6(a.z)}) m/s²  w=(${r6(g.x)}, ${r6(g.y)}, ${r6(g.z)}) rad/s`;
}

function odomLine(s: OdomSample, json: boolean): string {
  const p = s.pose.position;
  const yaw = 2 * Math.atan2(s.pose.orientation.z, s.pose.orientation.w);
  if (json) {
    return JSON.stringify({
      type: "odom",
      stamp: s.stamp,
      frameId: s.frameId,
      v: s.linear.x,
      w: s.angular.z,
      x: p.x,
      y: p.y,
      yaw,
    });
  }
  return `${s.stamp.toFixed(6)} odom v=${r6(s.linear.x)} m/s w=${r6(s.angular.z)} rad/s  pose=(${r6(p.x)}, ${r6(p.y)}, ${r6(yaw)})`;
}

export function formatCounters(s: SerialSourceStats): string {
  const { state, lastError, ...counts } = s;
  return `${Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}${lastError ? `; last error: ${lastError}` : ""}`;
}

/**
 * Why a run that --duration ended did nothing: no sample was parsed in all that time (the device
 * never opened, sent nothing, or sent nothing that parses). Undefined when a sample came through.
 */
export function nothingReadReason(path: string, seconds: number, s: SerialSourceStats): string | undefined {
  if (s.imu + s.odom > 0) return undefined;
  const why =
    s.bytes > 0
      ? `${s.bytes} bytes read but no IMU or odometry sample parsed (check --baud and --mode: ${s.garbageBytes} garbage bytes, ${s.checksumErrors} checksum errors, ${s.malformed} malformed lines)`
      : s.openFailures > 0
        ? `it could not be opened (${s.openFailures} failed attempts${s.lastError ? `; last error: ${s.lastError}` : ""})`
        : "the device sent nothing";
  return `${path}: no samples in ${seconds} s: ${why}`;
}

export async function runSerialDump(
  path: string,
  o: DumpOptions,
  config: Config,
): Promise<SerialSourceStats> {
  const notDevice = notASerialDevice(path);
  if (notDevice) throw new UserError(notDevice);
  if (o.baud !== undefined) config.serial.baud_rate = o.baud;
  if (o.mode !== undefined) config.serial.mode = o.mode as Config["serial"]["mode"];
  const json = o.json ?? false;
  let samples = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  // `serial-dump | head` closes stdout early: the reader has had enough, so end as Ctrl-C does
  // (device closed, counters on stderr) instead of dying on EPIPE. The listener stays: an EPIPE
  // for a write still buffered may come after the device is closed.
  let outClosed = false;
  // Any other failure (a full disk) ends it the same way; main's handler says why, exit 1.
  const onOutError = () => {
    outClosed = true;
    done();
  };
  process.stdout.on("error", onOutError);
  // One chunk from the device holds many samples: print no more than --count of them.
  const print = (line: string) => {
    if (outClosed || (o.count !== undefined && samples >= o.count)) return;
    process.stdout.write(`${line}\n`);
    samples++;
    if (o.count !== undefined && samples >= o.count) done();
  };
  // Bring-up is where a device in g or deg/s should be caught: the samples look plausible.
  const units = new SerialUnitCheck(config, (m) => process.stderr.write(`serial-dump: warning: ${m}\n`));
  const source = new SerialSource(
    serialOptionsFromConfig(config, {
      path,
      onWarning: (m) => process.stderr.write(`serial-dump: ${m}\n`),
      onState: (state, detail, repeat) => {
        if (state !== "opening" && !repeat)
          process.stderr.write(
            `serial-dump: ${path} ${state}${detail && detail !== path ? `: ${detail}` : ""}\n`,
          );
      },
    }),
    {
      imu: (s) => {
        units.imu(s);
        print(imuLine(s, json));
      },
      odom: (s) => {
        units.odom(s);
        print(odomLine(s, json));
      },
    },
  );
  const onSignal = () => done();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let timedOut = false;
  const timer =
    o.duration !== undefined
      ? setTimeout(() => {
          timedOut = true;
          done();
        }, o.duration * 1000)
      : undefined;
  source.start();
  try {
    await finished;
  } finally {
    if (timer) clearTimeout(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await source.stop();
  }
  const stats = source.stats();
  process.stderr.write(
    json ? `${JSON.stringify({ type: "counters", ...stats })}\n` : `counters: ${formatCounters(stats)}\n`,
  );
  // Ctrl-C ends a bring-up session as the user wants it (exit 0); a --duration that passed
  // without one sample did nothing and says why.
  const nothing = timedOut ? nothingReadReason(path, o.duration!, stats) : undefined;
  if (nothing) throw new UserError(nothing);
  return stats;
}

export function register(program: Command): void {
  program
    .command("serial-dump")
    .description(
      "print IMU / odometry samples parsed from a serial device (bring-up), with error counters at exit",
    )
    .argument("<device>", "serial device, e.g. /dev/ttyACM0 or /dev/ttyUSB0")
    .option("--json", "one JSON object per sample on stdout (counters as JSON on stderr at exit)")
    .option("--baud <n>", "baud rate (default: serial.baud_rate, 115200)", positiveInteger)
    .option("--mode <mode>", "line protocol: nmea or csv (default: serial.mode)")
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--count <n>", "exit after n samples", positiveInteger)
    .option("--duration <s>", "exit after s seconds (exit 1 if no sample was read by then)", positiveNumber)
    .addHelpText(
      "after",
      `
Line protocol (NMEA mode), one sentence per line, XOR checksum of the characters between $ and *:
  $TLIMU,<t_us>,ax,ay,az,gx,gy,gz*HH    m/s² (gravity included), rad/s
  $TLODO,<t_us>,v,w*HH                  forward speed m/s, yaw rate rad/s
The device keeps trying to open while it is absent and reopens after it is unplugged (one open but
sending nothing for 5 s is said silent); Ctrl-C ends and prints the counters (checksum errors,
garbage bytes, over-long lines, clock resets, reconnects).

Examples:
  terrain-learner serial-dump /dev/ttyACM0
  terrain-learner serial-dump /dev/ttyUSB0 --baud 921600 --json | head`,
    )
    .action(
      action(async (device: string, o: DumpOptions) => {
        if (o.mode !== undefined && o.mode !== "nmea" && o.mode !== "csv")
          throw new UserError(`--mode must be nmea or csv, got '${o.mode}'`);
        let config: Config;
        try {
          config = loadConfig(o.config);
        } catch (err) {
          throw new UserError((err as Error).message);
        }
        await runSerialDump(device, o, config);
      }),
    );
}
