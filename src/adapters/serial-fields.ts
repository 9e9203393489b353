// One received serial line split into comma-separated fields, and numbers parsed straight from its
// bytes: the parser sees thousands of lines a second, so nothing here builds strings or allocates.

import type { Stamp } from "../core/types.ts";
import type { SerialCounters } from "./serial-protocol-types.ts";

export const MAX_FIELDS = 32;
const COMMA = 0x2c;

const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];

const NON_FINITE_TEXT = /^[+-]?(nan|inf|infinity)$/i;

/** Sentinel for "not a number at all" (as opposed to a NaN/inf the device sent). */
export const UNPARSABLE = Symbol("unparsable");

/**
 * Parses a decimal number from bytes without building a string. Integers with up to 15 digits and
 * at most 22 fractional digits are exact in float64 and one division rounds correctly (Clinger's
 * fast path), so the result equals Number(text); anything else falls back to Number(text).
 */
export function parseNumber(buf: Uint8Array, start: number, end: number): number | typeof UNPARSABLE {
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

export function bytesEqual(buf: Uint8Array, start: number, end: number, ascii: string): boolean {
  if (end - start !== ascii.length) return false;
  for (let k = 0; k < ascii.length; k++) if (buf[start + k] !== ascii.charCodeAt(k)) return false;
  return true;
}

/** The current line's bytes and field boundaries, reused for every line. */
export class LineFields {
  readonly line: Uint8Array;
  readonly fieldStart = new Int32Array(MAX_FIELDS);
  readonly fieldEnd = new Int32Array(MAX_FIELDS);
  readonly values = new Float64Array(MAX_FIELDS);
  private readonly counters: SerialCounters;

  constructor(maxLineLength: number, counters: SerialCounters) {
    this.line = new Uint8Array(maxLineLength);
    this.counters = counters;
  }

  /** Splits line[from, to) at commas into fieldStart/fieldEnd; returns the count or -1 if too many. */
  split(from: number, to: number): number {
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
  parseFields(first: number, count: number): boolean {
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
}

/** Turns the complete line in LineFields (its first `len` bytes) into samples, or counts why not. */
export interface LineDecoder {
  /** `afterOpen`: the first line since the device was opened, which may have been joined mid-line. */
  decode(len: number, arrival: Stamp, afterOpen: boolean): void;
}
