// NMEA-style sentences, one per line (the `$` is consumed by the line framing):
//   $TLIMU,<t_us>,ax,ay,az,gx,gy,gz*HH    accelerations m/s² (gravity included), rates rad/s
//   $TLODO,<t_us>,v,w*HH                  forward speed m/s, yaw rate rad/s (base frame)
// HH is the XOR of every byte between `$` and `*`, two hex digits (either case). `t_us` is the
// device clock in microseconds; left empty, the line is stamped with its arrival time instead.

import type { Stamp } from "../core/types.ts";
import type { DeviceClock } from "./serial-clock.ts";
import { bytesEqual, type LineDecoder, type LineFields, parseNumber, UNPARSABLE } from "./serial-fields.ts";
import type { SerialCounters } from "./serial-protocol-types.ts";
import type { SerialSampleEmitter } from "./serial-samples.ts";

const STAR = 0x2a;
const KIND_IMU = 1;
const KIND_ODOM = 2;

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

export class NmeaDecoder implements LineDecoder {
  private readonly fields: LineFields;
  private readonly counters: SerialCounters;
  private readonly clock: DeviceClock;
  private readonly emit: SerialSampleEmitter;
  private readonly requireChecksum: boolean;

  constructor(
    fields: LineFields,
    counters: SerialCounters,
    clock: DeviceClock,
    emit: SerialSampleEmitter,
    requireChecksum: boolean,
  ) {
    this.fields = fields;
    this.counters = counters;
    this.clock = clock;
    this.emit = emit;
    this.requireChecksum = requireChecksum;
  }

  decode(len: number, arrival: Stamp): void {
    const c = this.counters;
    const f = this.fields;
    const line = f.line;
    let end = len;
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
    } else if (this.requireChecksum) {
      c.checksumErrors++;
      return;
    }
    const n = f.split(0, bodyEnd);
    if (n < 2) {
      c.malformed++;
      return;
    }
    const s0 = f.fieldStart[0]!;
    const e0 = f.fieldEnd[0]!;
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
    if (f.fieldEnd[1]! > f.fieldStart[1]!) {
      const t = parseNumber(line, f.fieldStart[1]!, f.fieldEnd[1]!);
      if (t === UNPARSABLE || !Number.isInteger(t) || t < 0) {
        c.malformed++;
        return;
      }
      device = t * 1e-6;
    }
    if (!f.parseFields(2, n - 2)) return;
    const stamp = this.clock.stamp(device, arrival);
    const v = f.values;
    if (kind === KIND_IMU) this.emit.imu(stamp, v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!);
    else this.emit.odom(stamp, v[0]!, v[1]!);
  }
}
