// Serial IMU / wheel-odometry source: opens the device with `serialport`, feeds the bytes to the
// pure line parser (serial-protocol.ts), and keeps the device open across unplugging: when it
// vanishes (USB cable, microcontroller reset, a pty whose other end went away) the source retries
// with exponential backoff until it is back, and counts it. Samples come out as core types.
// On Linux the open keeps bytes the device sent before it completed (serial-open.ts).

import { readFileSync, readlinkSync, type Stats, statSync } from "node:fs";
import { basename } from "node:path";
import { SerialPortStream } from "@serialport/stream";
import { Observable } from "rxjs";
import { SerialPort } from "serialport";
import type { ImuSample, OdomSample } from "../core/types.ts";
import type { Config } from "../runtime/config.ts";
import { keepInputBinding } from "./serial-open.ts";
import {
  type SerialCounters,
  SerialLineParser,
  type SerialParserOptions,
  type SerialSink,
} from "./serial-protocol.ts";

export interface SerialSourceOptions extends Partial<SerialParserOptions> {
  path: string;
  baudRate: number;
  /** Seconds before the first reopen attempt; doubles up to reconnect_max. */
  reconnectMin?: number;
  reconnectMax?: number;
  /** Arrival clock in seconds (default: wall clock), the anchor of device time. */
  now?: () => number;
  /**
   * State changes, for a log line or diagnostics. `repeat`: a retry that failed as the one before
   * did (a log says it once, not every few seconds for as long as the device is away).
   */
  onState?: (state: SerialState, detail: string, repeat?: boolean) => void;
  /**
   * Told once when the device cannot be opened without discarding queued input (and why), and of
   * the parser's warnings (a CSV header that changed after a device restart).
   */
  onWarning?: (message: string) => void;
}

/** `silent`: open, but nothing received for SILENT_S (the device lost power, its firmware hung). */
export type SerialState = "opening" | "open" | "silent" | "lost" | "waiting" | "stopped";

/**
 * Seconds without a byte before an open device counts as silent. A USB-serial adapter whose
 * microcontroller died, or a bridge whose far end went away, stays open: without this the log and
 * the fleet would show it `open` for good while nothing comes.
 */
export const SILENT_S = 5;

export interface SerialSourceStats extends SerialCounters {
  state: SerialState;
  /** Times the device came back after being lost. */
  reconnects: number;
  /** Failed open attempts (device absent, permission, busy). */
  openFailures: number;
  lastError: string;
}

/**
 * Why `path` can never be a serial device, or undefined: an absent path may still appear (a USB
 * device plugged in later), but a regular file or a folder never becomes a tty, and retrying it
 * would wait for ever. Character devices (ttys, ptys, and links to them) pass.
 */
export function notASerialDevice(path: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (st.isCharacterDevice()) {
    const cls = charDeviceClass(st.rdev);
    if (cls === undefined || cls === "tty") return undefined;
    return `${path}: a character device of class ${cls}, not a tty: not a serial device (give a tty such as /dev/ttyACM0, /dev/ttyUSB0 or a pty)`;
  }
  const what = st.isDirectory() ? "a folder" : st.isFile() ? "a regular file" : "not a character device";
  return `${path}: ${what}, not a serial device (give a tty such as /dev/ttyACM0, /dev/ttyUSB0 or a pty)`;
}

/**
 * The kernel's class of a character device (`tty`, `mem` for /dev/null, `i2c-dev`, `hidraw`,
 * `video4linux`...) from sysfs, read without opening it (an open raises DTR, which resets many
 * boards); undefined where sysfs does not say (pty slaves have no entry, other systems no sysfs).
 */
function charDeviceClass(rdev: number): string | undefined {
  // glibc's encoding of major and minor in dev_t.
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev % 2 ** 32;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00);
  try {
    return basename(readlinkSync(`/sys/dev/char/${major}:${minor}/subsystem`));
  } catch {
    return undefined;
  }
}

/** The name of group `gid` from /etc/group, or its number. */
function groupName(gid: number): string {
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === gid) return name;
    }
  } catch {
    // No /etc/group (a container): the number will do.
  }
  return String(gid);
}

/**
 * The fix for an open that failed for want of permission (a user not in `dialout`) or because
 * another process holds the port, appended to its error; undefined for other failures.
 */
export function openFailureHint(path: string, err: NodeJS.ErrnoException): string | undefined {
  if (err.code === "EACCES" || err.code === "EPERM" || /permission denied/i.test(err.message)) {
    let st: Stats | undefined;
    try {
      st = statSync(path);
    } catch {
      st = undefined;
    }
    const groupCanRead = st !== undefined && (st.mode & 0o060) === 0o060;
    if (st && st.gid !== 0 && groupCanRead) {
      const group = groupName(st.gid);
      return `this user may not open it: add it to the device's group ${group} (sudo usermod -aG ${group} $USER, then log in again)`;
    }
    return `this user may not open it (mode ${st ? (st.mode & 0o777).toString(8).padStart(4, "0") : "?"}): give it access with a udev rule (GROUP="dialout", MODE="0660") or run as a user who has it`;
  }
  if (/cannot lock port/i.test(err.message))
    return `find which with: fuser -v ${path} (a serial console, ModemManager, another terrain-learner)`;
  return undefined;
}

export type SerialSample = { kind: "imu"; sample: ImuSample } | { kind: "odom"; sample: OdomSample };

/** Parser and reconnect options from the `serial` and `frames` sections of the config. */
export function serialOptionsFromConfig(
  config: Config,
  overrides: Partial<SerialSourceOptions> = {},
): SerialSourceOptions {
  const s = config.serial;
  return {
    path: s.path,
    baudRate: s.baud_rate,
    mode: s.mode,
    csvColumns: s.csv_columns,
    maxLineLength: s.max_line_length,
    requireChecksum: s.require_checksum,
    imuFrame: s.imu_frame,
    odomFrame: config.frames.odom,
    baseFrame: config.frames.base,
    accelScale: s.accel_scale,
    gyroScale: s.gyro_scale,
    clockWrapBits: s.clock_wrap_bits,
    maxClockJump: s.max_clock_jump,
    maxOdomGap: s.max_odom_gap,
    reconnectMin: s.reconnect_min,
    reconnectMax: s.reconnect_max,
    ...overrides,
  };
}

export class SerialSource {
  private readonly options: SerialSourceOptions;
  private readonly parser: SerialLineParser;
  private readonly now: () => number;
  private port: SerialPortStream | undefined;
  private readonly binding: ReturnType<typeof keepInputBinding> | undefined;
  private state: SerialState = "stopped";
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private everOpened = false;
  private reconnects = 0;
  private openFailures = 0;
  private lastError = "";
  /** The error of the last retry said, so that an unchanged one is not said again. */
  private waitingFor = "";
  /** Wall clock (ms) of the last byte, and the check that turns an open device silent. */
  private lastByte = 0;
  private silenceCheck: NodeJS.Timeout | undefined;
  private stopping = false;
  private closed: Promise<void> = Promise.resolve();

  constructor(options: SerialSourceOptions, sink: SerialSink) {
    if (!options.path) throw new Error("serial: no device path (set serial.path or pass --serial)");
    this.options = options;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.parser = new SerialLineParser(sink, options);
    this.binding =
      process.platform === "linux" ? keepInputBinding((why) => options.onWarning?.(why)) : undefined;
  }

  /** Opens the device, and keeps trying (with backoff) while it is absent. Never throws for a missing device. */
  start(): void {
    if (this.state !== "stopped") return;
    this.stopping = false;
    this.open();
  }

  /** Closes the device and stops retrying. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.silenceCheck);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    await this.closed;
    this.setState("stopped", "");
  }

  stats(): SerialSourceStats {
    return {
      ...this.parser.counters,
      state: this.state,
      reconnects: this.reconnects,
      openFailures: this.openFailures,
      lastError: this.lastError,
    };
  }

  get counters(): Readonly<SerialCounters> {
    return this.parser.counters;
  }

  private setState(state: SerialState, detail: string, repeat = false): void {
    this.state = state;
    this.options.onState?.(state, detail, repeat);
  }

  private open(): void {
    if (this.stopping) return;
    this.setState("opening", this.options.path);
    const settings = { path: this.options.path, baudRate: this.options.baudRate, autoOpen: false };
    const port: SerialPortStream = this.binding
      ? new SerialPortStream({ ...settings, binding: this.binding })
      : new SerialPort(settings);
    this.port = port;
    let settle!: () => void;
    this.closed = new Promise<void>((resolve) => {
      settle = resolve;
    });
    port.open((err) => {
      if (this.stopping || this.port !== port) {
        if (!err) port.close(() => settle());
        else settle();
        return;
      }
      if (err) {
        this.openFailures++;
        const hint = openFailureHint(this.options.path, err as NodeJS.ErrnoException);
        this.lastError = hint ? `${err.message}: ${hint}` : err.message;
        this.port = undefined;
        settle();
        this.retry();
        return;
      }
      if (this.everOpened) this.reconnects++;
      this.everOpened = true;
      this.attempt = 0;
      this.waitingFor = "";
      // Bytes of a line cut by the disconnect must not glue onto the first line after it, and a
      // CSV device already streaming is joined mid-line.
      this.parser.opened();
      this.setState("open", this.options.path);
      this.lastByte = Date.now();
      clearInterval(this.silenceCheck);
      this.silenceCheck = setInterval(() => {
        if (this.state !== "open" || this.port !== port) return;
        const s = (Date.now() - this.lastByte) / 1000;
        if (s >= SILENT_S)
          this.setState(
            "silent",
            `nothing received for ${s.toFixed(0)} s (is the device powered, its firmware running and sending on this port?)`,
          );
      }, 1000);
      this.silenceCheck.unref();
      port.on("data", (chunk: Buffer) => {
        if (this.state === "silent") {
          const s = (Date.now() - this.lastByte) / 1000;
          this.setState("open", `receiving again after ${s.toFixed(0)} s of silence`);
        }
        this.lastByte = Date.now();
        this.parser.push(chunk, this.now());
      });
      let lost = false;
      const onLost = (why: string) => {
        if (lost) return;
        lost = true;
        clearInterval(this.silenceCheck);
        this.parser.breakLine();
        if (this.stopping || this.port !== port) return;
        this.port = undefined;
        this.lastError = why;
        this.setState("lost", why);
        if (port.isOpen) port.close(() => undefined);
        this.retry();
      };
      port.on("close", (e: (Error & { disconnected?: boolean }) | null) => {
        settle();
        onLost(e?.message ?? "port closed");
      });
      port.on("end", () => onLost("end of stream"));
      port.on("error", (e: Error) => onLost(e.message));
    });
  }

  private retry(): void {
    if (this.stopping) return;
    const min = this.options.reconnectMin ?? 0.2;
    const max = this.options.reconnectMax ?? 5;
    const delay = Math.min(max, min * 2 ** this.attempt);
    this.attempt++;
    const repeat = this.waitingFor === this.lastError;
    this.waitingFor = this.lastError;
    this.setState("waiting", `${this.lastError}; retrying in ${delay.toFixed(1)} s`, repeat);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, delay * 1000);
  }
}

/**
 * Samples of a serial device as an Observable: subscribing opens the device (retrying while it is
 * absent), unsubscribing closes it. `onSource` exposes the source for stats.
 */
export function serialSamples$(
  options: SerialSourceOptions,
  onSource?: (source: SerialSource) => void,
): Observable<SerialSample> {
  return new Observable<SerialSample>((subscriber) => {
    const source = new SerialSource(options, {
      imu: (sample) => subscriber.next({ kind: "imu", sample }),
      odom: (sample) => subscriber.next({ kind: "odom", sample }),
    });
    onSource?.(source);
    source.start();
    return () => {
      void source.stop();
    };
  });
}
