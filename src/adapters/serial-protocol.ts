// The serial line protocol spoken by a robot's microcontroller (IMU, wheel encoders), parsed from
// raw bytes. Pure: no I/O, no clock (the caller passes each chunk's arrival time), so tests feed
// it exact byte sequences and the serial adapter feeds it whatever the port delivers.
//
// This file frames bytes into lines (CR, LF or CRLF) and hands each to the decoder of its mode:
// NMEA-style `$TLIMU` / `$TLODO` sentences (serial-nmea.ts) or CSV records (serial-csv.ts). Device
// time becomes sensor time in serial-clock.ts, samples are built in serial-samples.ts.
//
// Robustness, because serial links drop and corrupt bytes: a `$` always starts a new sentence (so
// the parser resyncs after garbage or a lost line end), bytes outside sentences are counted as
// garbage, lines over `max_line_length` are dropped up to the next line end, bad checksums,
// malformed fields and non-finite values are counted and the line is skipped. Nothing throws.

import type { Stamp } from "../core/types.ts";
import { DeviceClock } from "./serial-clock.ts";
import { CsvDecoder } from "./serial-csv.ts";
import { type LineDecoder, LineFields } from "./serial-fields.ts";
import { NmeaDecoder } from "./serial-nmea.ts";
import {
  DEFAULT_SERIAL_PARSER_OPTIONS,
  type SerialCounters,
  type SerialParserOptions,
  type SerialSink,
  zeroSerialCounters,
} from "./serial-protocol-types.ts";
import { SerialSampleEmitter } from "./serial-samples.ts";

// Re-exported so importers of the protocol module keep finding everything here.
export { nmeaChecksum, nmeaSentence } from "./serial-nmea.ts";
export {
  DEFAULT_SERIAL_PARSER_OPTIONS,
  type SerialCounters,
  type SerialMode,
  type SerialParserOptions,
  type SerialSink,
  zeroSerialCounters,
} from "./serial-protocol-types.ts";

const DOLLAR = 0x24;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Incremental parser: `push` every chunk the port delivers, samples come out through the sink.
 * One instance per device (the device clock state is per device).
 */
export class SerialLineParser {
  readonly counters: SerialCounters = zeroSerialCounters();
  private readonly opts: SerialParserOptions;
  private readonly line: Uint8Array;
  private len = 0;
  private inLine = false;
  private skipping = false;
  /** CSV: the next line is the first since an open, possibly joined mid-line. */
  private afterOpen = false;
  private readonly clock: DeviceClock;
  private readonly emit: SerialSampleEmitter;
  private readonly decoder: LineDecoder;

  constructor(sink: SerialSink, options: Partial<SerialParserOptions> = {}) {
    this.opts = { ...DEFAULT_SERIAL_PARSER_OPTIONS, ...options };
    const opts = this.opts;
    if (!(opts.maxLineLength >= 8))
      throw new Error(`maxLineLength ${opts.maxLineLength} is too small (min 8)`);
    const fields = new LineFields(opts.maxLineLength, this.counters);
    this.line = fields.line;
    this.clock = new DeviceClock(this.counters, opts.clockWrapBits, opts.maxClockJump);
    this.emit = new SerialSampleEmitter(opts, sink, this.counters);
    this.decoder =
      opts.mode === "nmea"
        ? new NmeaDecoder(fields, this.counters, this.clock, this.emit, opts.requireChecksum)
        : new CsvDecoder(fields, this.counters, this.clock, this.emit, opts.csvColumns, opts.onWarning);
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
        // A line end with no line (or after an overlong one, dropped): at a line boundary now.
        else this.afterOpen = false;
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

  /**
   * The device was (re)opened. Breaks a partial line, and in CSV mode drops the first line that
   * follows: a device that was already streaming is usually joined mid-line, and a cut row still
   * parses (a cut time field gives a wrong device time). NMEA needs none of this: `$` starts a sentence.
   */
  opened(): void {
    this.breakLine();
    this.afterOpen = this.opts.mode === "csv";
  }

  /** Where the device clock stands (for diagnostics). */
  clockState(): { anchored: boolean; offset: number; wraps: number } {
    return this.clock.state();
  }

  /** Current integrated odometry pose. */
  odomPose(): { x: number; y: number; yaw: number } {
    return this.emit.pose();
  }

  private finishLine(arrival: Stamp): void {
    this.counters.lines++;
    const afterOpen = this.afterOpen;
    this.afterOpen = false;
    this.decoder.decode(this.len, arrival, afterOpen);
  }
}
