// The serial line protocol spoken by a robot's microcontroller (IMU, wheel encoders), parsed from
// raw bytes. Pure: no I/O, no clock (the caller passes each chunk's arrival time), so tests feed
// it exact byte sequences and the serial adapter feeds it whatever the port delivers.
//
// NMEA-style sentences, one per line (CR, LF or CRLF):
//   $TLIMU,<t_us>,ax,ay,az,gx,gy,gz*HH    accelerations m/s² (gravity included), rates rad/s
//   $TLODO,<t_us>,v,w*HH                  forward speed m/s, yaw rate rad/s (base frame)
// HH is the XOR of every byte between `$` and `*`, two hex digits (either case). `t_us` is the
// device clock in microseconds; left empty, the line is stamped with its arrival time instead.
//
// CSV mode: one record per line, columns named by `csv_columns` (t_us, t_ms, t_s, ax, ay, az, gx,
// gy, gz, v, w; any other name is ignored). A row with all six IMU columns yields an ImuSample, a
// row with v and w an OdomSample (both if it has both). Lines starting with `#` and a header row
// (first field not a number) are skipped.
//
// Robustness, because serial links drop and corrupt bytes: a `$` always starts a new sentence (so
// the parser resyncs after garbage or a lost line end), bytes outside sentences are counted as
// garbage, lines over `max_line_length` are dropped up to the next line end, bad checksums,
// malformed fields and non-finite values are counted and the line is skipped. Nothing throws.
//
// Device time: the device clock is mapped to sensor time with an offset fixed at the first sample
// (arrival time − device time), so jitter in USB/UART delivery does not reach the stamps. A counter
// that wraps (`clock_wrap_bits`, 32 for a micros() counter: every 71.6 min) is unwrapped; a clock
// that jumps back further than `max_clock_jump` (device reboot) or runs ahead of arrival by more than
// `max_clock_jump` is re-anchored to arrival time, never going backwards, and counted.

import { wrapAngle } from "../core/geometry.ts";
import type { ImuSample, OdomSample, Stamp } from "../core/types.ts";

export type SerialMode = "nmea" | "csv";

export interface SerialParserOptions {
  mode: SerialMode;
  /** Longest accepted line in bytes, `$` and `*HH` included, line end excluded. */
  maxLineLength: number;
  /** CSV mode: the name of each column. */
  csvColumns: readonly string[];
  /** NMEA mode: reject sentences without `*HH`. */
  requireChecksum: boolean;
  imuFrame: string;
  odomFrame: string;
  baseFrame: string;
  /** Multiplies accelerations (e.g. 9.80665 for a device that reports g). */
  accelScale: number;
  /** Multiplies angular rates (e.g. π/180 for a device that reports deg/s). */
  gyroScale: number;
  /** Width of the device's µs counter; 0 for a counter that never wraps. */
  clockWrapBits: number;
  /** Seconds: a larger backward step or lead over arrival time re-anchors the device clock. */
  maxClockJump: number;
  /** Seconds: odometry is not integrated across a larger gap. */
  maxOdomGap: number;
}

export const DEFAULT_SERIAL_PARSER_OPTIONS: SerialParserOptions = {
  mode: "nmea",
  maxLineLength: 256,
  csvColumns: ["t_us", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"],
  requireChecksum: true,
  imuFrame: "imu_link",
  odomFrame: "odom",
  baseFrame: "base_link",
  accelScale: 1,
  gyroScale: 1,
  clockWrapBits: 32,
  maxClockJump: 1,
  maxOdomGap: 0.5,
};

export interface SerialCounters {
  bytes: number;
  /** Complete lines seen (valid or not). */
  lines: number;
  imu: number;
  odom: number;
  /** NMEA: bytes outside any sentence. */
  garbageBytes: number;
  checksumErrors: number;
  /** Wrong field count, unparsable number, or a sentence cut short by the next `$`. */
  malformed: number;
  unknownSentences: number;
  overlong: number;
  nonFinite: number;
  /** CSV header rows and comments skipped. */
  skipped: number;
  clockWraps: number;
  clockResets: number;
  /** Samples stamped with arrival time because the line had no device time. */
  arrivalStamped: number;
}

export interface SerialSink {
  imu(sample: ImuSample): void;
  odom(sample: OdomSample): void;
}

const DOLLAR = 0x24;
const STAR = 0x2a;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const MAX_FIELDS = 32;

const KIND_IMU = 1;
const KIND_ODOM = 2;

// Column roles in CSV mode.
const ROLE_NAMES = ["t_us", "t_ms", "t_s", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"] as const;
type Role = (typeof ROLE_NAMES)[number];

export function zeroSerialCounters(): SerialCounters {
  return {
    bytes: 0,
    lines: 0,
    imu: 0,
    odom: 0,
    garbageBytes: 0,
    checksumErrors: 0,
    malformed: 0,
    unknownSentences: 0,
    overlong: 0,
    nonFinite: 0,
    skipped: 0,
    clockWraps: 0,
    clockResets: 0,
    arrivalStamped: 0,
  };
}

/** XOR of the bytes of `text`: the checksum a device appends after `*`. */
export function nmeaChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i) & 0xff;
  return x;
}

/** `TLIMU,1,2,...` → `$TLIMU,1,2,...*HH` (for simulators, tests and firmware authors). */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, "0")}`;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];

const NON_FINITE_TEXT = /^[+-]?(nan|inf|infinity)$/i;

/** Sentinel for "not a number at all" (as opposed to a NaN/inf the device sent). */
const UNPARSABLE = Symbol("unparsable");

/**
 * Parses a decimal number from bytes without building a string. Integers with up to 15 digits and
 * at most 22 fractional digits are exact in float64 and one division rounds correctly (Clinger's
 * fast path), so the result equals Number(text); anything else falls back to Number(text).
 */
function parseNumber(buf: Uint8Array, start: number, end: number): number | typeof UNPARSABLE {
  let i = start;
  while (i < end && buf[i] === 0x20) i++;
  let e = end;
  while (e > i && buf[e - 1] === 0x20) e--;
  if (i >= e) return UNPARSABLE;
  let neg = false;
  if (buf[i] === 0x2d || buf[i] === 0x2b) {
    neg = buf[i] === 0x2d;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let frac = 0;
  let sawDot = false;
  let ok = i < e;
  for (; i < e; i++) {
    const b = buf[i]!;
    if (b >= 0x30 && b <= 0x39) {
      mantissa = mantissa * 10 + (b - 0x30);
      digits++;
      if (sawDot) frac++;
    } else if (b === 0x2e && !sawDot) {
      sawDot = true;
    } else {
      ok = false;
      break;
    }
  }
  if (ok && digits > 0 && digits <= 15 && frac <= 22) {
    const v = frac === 0 ? mantissa : mantissa / POW10[frac]!;
    return neg ? -v : v;
  }
  let text = "";
  for (let k = start; k < end; k++) text += String.fromCharCode(buf[k]!);
  text = text.trim();
  if (NON_FINITE_TEXT.test(text)) return text.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.NaN;
  const v = Number(text);
  // Number("") is 0 and Number("0x1F") is 31: accept only decimal text.
  if (text === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return UNPARSABLE;
  return v;
}

function bytesEqual(buf: Uint8Array, start: number, end: number, ascii: string): boolean {
  if (end - start !== ascii.length) return false;
  for (let k = 0; k < ascii.length; k++) if (buf[start + k] !== ascii.charCodeAt(k)) return false;
  return true;
}

/**
 * Incremental parser: `push` every chunk the port delivers, samples come out through the sink.
 * One instance per device (the device clock state is per device).
 */
export class SerialLineParser {
  readonly counters: SerialCounters = zeroSerialCounters();
  private readonly opts: SerialParserOptions;
  private readonly sink: SerialSink;
  private readonly line: Uint8Array;
  private len = 0;
  private inLine = false;
  private skipping = false;
  // Field boundaries of the current line, reused for every line.
  private readonly fieldStart = new Int32Array(MAX_FIELDS);
  private readonly fieldEnd = new Int32Array(MAX_FIELDS);
  private readonly values = new Float64Array(MAX_FIELDS);
  // CSV: column index of each role, -1 when absent.
  private readonly roleColumn = new Int32Array(ROLE_NAMES.length).fill(-1);
  private readonly csvHasImu: boolean;
  private readonly csvHasOdom: boolean;
  private csvFirstRow = true;
  // Device clock.
  private readonly wrap: number;
  private anchored = false;
  private offset = 0;
  private lastDevice = 0;
  private wraps = 0;
  private lastStamp = Number.NEGATIVE_INFINITY;
  // Odometry integration.
  private odomX = 0;
  private odomY = 0;
  private odomYaw = 0;
  private lastOdomStamp = Number.NaN;

  constructor(sink: SerialSink, options: Partial<SerialParserOptions> = {}) {
    this.opts = { ...DEFAULT_SERIAL_PARSER_OPTIONS, ...options };
    if (!(this.opts.maxLineLength >= 8))
      throw new Error(`maxLineLength ${this.opts.maxLineLength} is too small (min 8)`);
    this.sink = sink;
    this.line = new Uint8Array(this.opts.maxLineLength);
    this.wrap = this.opts.clockWrapBits > 0 ? 2 ** this.opts.clockWrapBits : 0;
    if (this.opts.mode === "csv") {
      if (this.opts.csvColumns.length > MAX_FIELDS) {
        throw new Error(
          `csvColumns has ${this.opts.csvColumns.length} columns, at most ${MAX_FIELDS} are supported`,
        );
      }
      this.opts.csvColumns.forEach((name, col) => {
        const role = ROLE_NAMES.indexOf(name.trim().toLowerCase() as Role);
        if (role >= 0) this.roleColumn[role] = col;
      });
      const has = (r: Role) => this.roleColumn[ROLE_NAMES.indexOf(r)]! >= 0;
      this.csvHasImu = (["ax", "ay", "az", "gx", "gy", "gz"] as const).every(has);
      this.csvHasOdom = has("v") && has("w");
      if (!this.csvHasImu && !this.csvHasOdom) {
        throw new Error(
          `csvColumns [${this.opts.csvColumns.join(", ")}] name neither an IMU (ax, ay, az, gx, gy, gz) nor an odometry (v, w) record`,
        );
      }
    } else {
      this.csvHasImu = false;
      this.csvHasOdom = false;
    }
  }

  /** Feeds bytes that arrived at `arrival` (seconds, the stamp base for the device clock). */
  push(chunk: Uint8Array, arrival: Stamp): void {
    const c = this.counters;
    c.bytes += chunk.length;
    const nmea = this.opts.mode === "nmea";
    // In NMEA mode the `$` is implied, so the buffer holds one byte less than the line cap.
    const cap = nmea ? this.opts.maxLineLength - 1 : this.opts.maxLineLength;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF || b === CR) {
        if (this.inLine) this.finishLine(arrival);
        this.inLine = false;
        this.skipping = false;
        continue;
      }
      if (nmea && b === DOLLAR) {
        // A new sentence before the previous one ended: a lost line end. Resync here.
        if (this.inLine) {
          c.lines++;
          c.malformed++;
        }
        this.inLine = true;
        this.skipping = false;
        this.len = 0;
        continue;
      }
      if (this.skipping) continue;
      if (!this.inLine) {
        if (nmea) {
          c.garbageBytes++;
          continue;
        }
        this.inLine = true;
        this.len = 0;
      }
      if (this.len >= cap) {
        c.lines++;
        c.overlong++;
        this.inLine = false;
        this.skipping = true;
        continue;
      }
      this.line[this.len++] = b;
    }
  }

  /**
   * Forgets a partial line without counting it: the link was interrupted (device lost and reopened),
   * so the bytes before the cut must not glue onto the first line after it.
   */
  breakLine(): void {
    this.inLine = false;
    this.skipping = false;
    this.len = 0;
  }

  /** Where the device clock stands (for diagnostics). */
  clockState(): { anchored: boolean; offset: number; wraps: number } {
    return { anchored: this.anchored, offset: this.offset, wraps: this.wraps };
  }

  /** Current integrated odometry pose. */
  odomPose(): { x: number; y: number; yaw: number } {
    return { x: this.odomX, y: this.odomY, yaw: this.odomYaw };
  }

  private finishLine(arrival: Stamp): void {
    this.counters.lines++;
    if (this.opts.mode === "nmea") this.parseNmea(arrival);
    else this.parseCsv(arrival);
  }

  /** Splits line[from, to) at commas into fieldStart/fieldEnd; returns the count or -1 if too many. */
  private split(from: number, to: number): number {
    let n = 0;
    let s = from;
    for (let k = from; k <= to; k++) {
      if (k === to || this.line[k] === COMMA) {
        if (n >= MAX_FIELDS) return -1;
        this.fieldStart[n] = s;
        this.fieldEnd[n] = k;
        n++;
        s = k + 1;
      }
    }
    return n;
  }

  /** Parses fields [first, first+count) into values; false (and counted) on a bad field. */
  private parseFields(first: number, count: number): boolean {
    let nonFinite = false;
    for (let f = 0; f < count; f++) {
      const v = parseNumber(this.line, this.fieldStart[first + f]!, this.fieldEnd[first + f]!);
      if (v === UNPARSABLE) {
        this.counters.malformed++;
        return false;
      }
      if (!Number.isFinite(v)) nonFinite = true;
      this.values[f] = v;
    }
    if (nonFinite) {
      this.counters.nonFinite++;
      return false;
    }
    return true;
  }

  private parseNmea(arrival: Stamp): void {
    const c = this.counters;
    const line = this.line;
    let end = this.len;
    // Tolerate trailing spaces some firmware prints before the line end.
    while (end > 0 && line[end - 1] === 0x20) end--;
    let star = -1;
    for (let k = end - 1; k >= 0 && k >= end - 3; k--) {
      if (line[k] === STAR) {
        star = k;
        break;
      }
    }
    let bodyEnd = end;
    if (star >= 0) {
      const hi = end - star === 3 ? hexValue(line[star + 1]!) : -1;
      const lo = end - star === 3 ? hexValue(line[star + 2]!) : -1;
      if (hi < 0 || lo < 0) {
        c.checksumErrors++;
        return;
      }
      let x = 0;
      for (let k = 0; k < star; k++) x ^= line[k]!;
      if (x !== hi * 16 + lo) {
        c.checksumErrors++;
        return;
      }
      bodyEnd = star;
    } else if (this.opts.requireChecksum) {
      c.checksumErrors++;
      return;
    }
    const n = this.split(0, bodyEnd);
    if (n < 2) {
      c.malformed++;
      return;
    }
    const s0 = this.fieldStart[0]!;
    const e0 = this.fieldEnd[0]!;
    let kind: number;
    let expected: number;
    if (bytesEqual(line, s0, e0, "TLIMU")) {
      kind = KIND_IMU;
      expected = 8;
    } else if (bytesEqual(line, s0, e0, "TLODO")) {
      kind = KIND_ODOM;
      expected = 4;
    } else {
      c.unknownSentences++;
      return;
    }
    if (n !== expected) {
      c.malformed++;
      return;
    }
    // Device time: an empty field means "stamp with arrival".
    let device = Number.NaN;
    if (this.fieldEnd[1]! > this.fieldStart[1]!) {
      const t = parseNumber(line, this.fieldStart[1]!, this.fieldEnd[1]!);
      if (t === UNPARSABLE || !Number.isInteger(t) || t < 0) {
        c.malformed++;
        return;
      }
      device = t * 1e-6;
    }
    if (!this.parseFields(2, n - 2)) return;
    const stamp = this.stampFor(device, arrival);
    const v = this.values;
    if (kind === KIND_IMU) this.emitImu(stamp, v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!);
    else this.emitOdom(stamp, v[0]!, v[1]!);
  }

  private parseCsv(arrival: Stamp): void {
    const c = this.counters;
    const line = this.line;
    if (line[0] === HASH) {
      c.skipped++;
      return;
    }
    const n = this.split(0, this.len);
    const cols = this.opts.csvColumns.length;
    if (n !== cols) {
      // A header row is the one exception that is not an error.
      if (this.csvFirstRow && parseNumber(line, this.fieldStart[0]!, this.fieldEnd[0]!) === UNPARSABLE) {
        this.csvFirstRow = false;
        c.skipped++;
        return;
      }
      this.csvFirstRow = false;
      c.malformed++;
      return;
    }
    const firstRow = this.csvFirstRow;
    this.csvFirstRow = false;
    // Parse only the columns with a role; others (labels, temperatures) are ignored.
    const values = this.values;
    let nonFinite = false;
    for (let r = 0; r < ROLE_NAMES.length; r++) {
      const col = this.roleColumn[r]!;
      if (col < 0) continue;
      const start = this.fieldStart[col]!;
      const end = this.fieldEnd[col]!;
      if (r < 3 && end === start) {
        values[r] = Number.NaN; // empty time column: stamp with arrival
        continue;
      }
      const v = parseNumber(line, start, end);
      if (v === UNPARSABLE) {
        if (firstRow) c.skipped++;
        else c.malformed++;
        return;
      }
      if (!Number.isFinite(v)) nonFinite = true;
      values[r] = v;
    }
    if (nonFinite) {
      c.nonFinite++;
      return;
    }
    const tUs = this.roleColumn[0]! >= 0 ? values[0]! * 1e-6 : Number.NaN;
    const tMs = this.roleColumn[1]! >= 0 ? values[1]! * 1e-3 : Number.NaN;
    const tS = this.roleColumn[2]! >= 0 ? values[2]! : Number.NaN;
    const device = Number.isNaN(tUs) ? (Number.isNaN(tMs) ? tS : tMs) : tUs;
    if (device < 0) {
      c.malformed++;
      return;
    }
    const stamp = this.stampFor(device, arrival);
    if (this.csvHasImu)
      this.emitImu(stamp, values[3]!, values[4]!, values[5]!, values[6]!, values[7]!, values[8]!);
    if (this.csvHasOdom) this.emitOdom(stamp, values[9]!, values[10]!);
  }

  /** Device seconds (NaN: none) → sensor time. */
  private stampFor(device: number, arrival: Stamp): Stamp {
    const c = this.counters;
    if (Number.isNaN(device)) {
      c.arrivalStamped++;
      const s = Math.max(arrival, this.lastStamp);
      this.lastStamp = s;
      return s;
    }
    const jump = this.opts.maxClockJump;
    if (!this.anchored) {
      this.anchored = true;
      this.offset = arrival - device;
      this.lastDevice = device;
      this.wraps = 0;
    } else {
      const wrapS = this.wrap * 1e-6;
      let unwrapped = device + this.wraps * wrapS;
      if (
        unwrapped < this.lastDevice - jump &&
        wrapS > 0 &&
        unwrapped + wrapS - this.lastDevice < wrapS / 4
      ) {
        // The counter rolled over: keep counting from where it was.
        this.wraps++;
        c.clockWraps++;
        unwrapped += wrapS;
      }
      const stamp = this.offset + unwrapped;
      if (unwrapped < this.lastDevice - jump || stamp > arrival + jump) {
        // Device reboot or a clock that ran away: re-anchor, never earlier than what was sent.
        c.clockResets++;
        this.wraps = 0;
        this.offset = Math.max(arrival, this.lastStamp) - device;
        unwrapped = device;
        this.lastDevice = device;
      } else if (unwrapped > this.lastDevice) {
        // Small backward steps (IMU and odometry lines interleaved out of order) keep the anchor.
        this.lastDevice = unwrapped;
      }
      const s = this.offset + unwrapped;
      if (s > this.lastStamp) this.lastStamp = s;
      return s;
    }
    const s = this.offset + device;
    if (s > this.lastStamp) this.lastStamp = s;
    return s;
  }

  private emitImu(
    stamp: Stamp,
    ax: number,
    ay: number,
    az: number,
    gx: number,
    gy: number,
    gz: number,
  ): void {
    const a = this.opts.accelScale;
    const g = this.opts.gyroScale;
    this.counters.imu++;
    this.sink.imu({
      stamp,
      frameId: this.opts.imuFrame,
      orientation: undefined,
      angularVelocity: { x: gx * g, y: gy * g, z: gz * g },
      linearAcceleration: { x: ax * a, y: ay * a, z: az * a },
    });
  }

  private emitOdom(stamp: Stamp, v: number, w: number): void {
    const dt = stamp - this.lastOdomStamp;
    // Integrate with the heading at mid-step (exact for constant v, w up to second order).
    if (dt > 0 && dt <= this.opts.maxOdomGap) {
      const mid = this.odomYaw + 0.5 * w * dt;
      this.odomX += v * Math.cos(mid) * dt;
      this.odomY += v * Math.sin(mid) * dt;
      this.odomYaw = wrapAngle(this.odomYaw + w * dt);
    }
    if (!(dt < 0)) this.lastOdomStamp = stamp;
    this.counters.odom++;
    const half = 0.5 * this.odomYaw;
    this.sink.odom({
      stamp,
      frameId: this.opts.odomFrame,
      childFrameId: this.opts.baseFrame,
      pose: {
        position: { x: this.odomX, y: this.odomY, z: 0 },
        orientation: { x: 0, y: 0, z: Math.sin(half), w: Math.cos(half) },
      },
      linear: { x: v, y: 0, z: 0 },
      angular: { x: 0, y: 0, z: w },
    });
  }
}
