// CSV records: one per line, columns named by `csv_columns` (t_us, t_ms, t_s, ax, ay, az, gx, gy,
// gz, v, w; any other name is ignored). A row with all six IMU columns yields an ImuSample, a row
// with v and w an OdomSample (both if it has both). Lines starting with `#` and a header row (first
// field not a number) are skipped; so is a header the device prints again after a restart (every
// field a name), with one warning if it names other columns than the first header did. The first
// line after an open is dropped unless it is a header (see SerialLineParser.opened).

import type { Stamp } from "../core/types.ts";
import type { DeviceClock } from "./serial-clock.ts";
import { type LineDecoder, type LineFields, MAX_FIELDS, parseNumber, UNPARSABLE } from "./serial-fields.ts";
import type { SerialCounters } from "./serial-protocol-types.ts";
import type { SerialSampleEmitter } from "./serial-samples.ts";

const HASH = 0x23;

// Column roles; the time roles come first (decode relies on r < 3).
const ROLE_NAMES = ["t_us", "t_ms", "t_s", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"] as const;
type Role = (typeof ROLE_NAMES)[number];

export class CsvDecoder implements LineDecoder {
  private readonly fields: LineFields;
  private readonly counters: SerialCounters;
  private readonly clock: DeviceClock;
  private readonly emit: SerialSampleEmitter;
  private readonly csvColumns: readonly string[];
  // Column index of each role, -1 when absent.
  private readonly roleColumn = new Int32Array(ROLE_NAMES.length).fill(-1);
  private readonly hasImu: boolean;
  private readonly hasOdom: boolean;
  private firstRow = true;
  /** The first header seen (fields joined by commas), and whether it may have been cut at its start. */
  private header: string | undefined;
  private headerMaybeCut = false;
  private headerWarned = false;
  private readonly onWarning: ((message: string) => void) | undefined;
  /** Lower-case column names of serial.csv_columns and of the first header. */
  private readonly knownNames: Set<string>;

  /** Throws for too many columns, or for columns that make neither an IMU nor an odometry record. */
  constructor(
    fields: LineFields,
    counters: SerialCounters,
    clock: DeviceClock,
    emit: SerialSampleEmitter,
    csvColumns: readonly string[],
    onWarning?: (message: string) => void,
  ) {
    this.onWarning = onWarning;
    this.fields = fields;
    this.counters = counters;
    this.clock = clock;
    this.emit = emit;
    this.csvColumns = csvColumns;
    this.knownNames = new Set(csvColumns.map((name) => name.trim().toLowerCase()));
    if (csvColumns.length > MAX_FIELDS) {
      throw new Error(`csvColumns has ${csvColumns.length} columns, at most ${MAX_FIELDS} are supported`);
    }
    csvColumns.forEach((name, col) => {
      const role = ROLE_NAMES.indexOf(name.trim().toLowerCase() as Role);
      if (role >= 0) this.roleColumn[role] = col;
    });
    const has = (r: Role) => this.roleColumn[ROLE_NAMES.indexOf(r)]! >= 0;
    this.hasImu = (["ax", "ay", "az", "gx", "gy", "gz"] as const).every(has);
    this.hasOdom = has("v") && has("w");
    if (!this.hasImu && !this.hasOdom) {
      throw new Error(
        `csvColumns [${csvColumns.join(", ")}] name neither an IMU (ax, ay, az, gx, gy, gz) nor an odometry (v, w) record`,
      );
    }
  }

  decode(len: number, arrival: Stamp, afterOpen = false): void {
    const c = this.counters;
    const f = this.fields;
    const line = f.line;
    if (line[0] === HASH) {
      c.skipped++;
      return;
    }
    const n = f.split(0, len);
    const names = this.names(n);
    const header = names && this.isHeader(names) ? names : undefined;
    if (afterOpen) {
      // Joined mid-line, most likely. A header is harmless to skip; a row, even one that parses, may
      // have lost the start of its time field.
      if (header) this.sawHeader(header, true);
      else c.partialLines++;
      return;
    }
    if (header && !this.firstRow) {
      // The device restarted and printed its header again.
      this.sawHeader(header, false);
      return;
    }
    if (n !== this.csvColumns.length) {
      // A header row is the one exception that is not an error.
      if (this.firstRow && parseNumber(line, f.fieldStart[0]!, f.fieldEnd[0]!) === UNPARSABLE) {
        this.firstRow = false;
        c.skipped++;
        if (names) this.remember(names, false);
        return;
      }
      this.firstRow = false;
      c.malformed++;
      return;
    }
    const firstRow = this.firstRow;
    this.firstRow = false;
    // Parse only the columns with a role; others (labels, temperatures) are ignored.
    const values = f.values;
    let nonFinite = false;
    for (let r = 0; r < ROLE_NAMES.length; r++) {
      const col = this.roleColumn[r]!;
      if (col < 0) continue;
      const start = f.fieldStart[col]!;
      const end = f.fieldEnd[col]!;
      if (r < 3 && end === start) {
        values[r] = Number.NaN; // empty time column: stamp with arrival
        continue;
      }
      const v = parseNumber(line, start, end);
      if (v === UNPARSABLE) {
        if (firstRow) {
          c.skipped++;
          if (names) this.remember(names, false);
        } else c.malformed++;
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
    const stamp = this.clock.stamp(device, arrival);
    if (this.hasImu)
      this.emit.imu(stamp, values[3]!, values[4]!, values[5]!, values[6]!, values[7]!, values[8]!);
    if (this.hasOdom) this.emit.odom(stamp, values[9]!, values[10]!);
  }

  /** The line's `n` fields if every one is a name (none empty, none a number, NaN or inf). */
  private names(n: number): string[] | undefined {
    if (n < 2) return undefined;
    const f = this.fields;
    for (let k = 0; k < n; k++) {
      const start = f.fieldStart[k]!;
      const end = f.fieldEnd[k]!;
      if (end === start || parseNumber(f.line, start, end) !== UNPARSABLE) return undefined;
    }
    const names: string[] = [];
    for (let k = 0; k < n; k++) {
      let t = "";
      for (let i = f.fieldStart[k]!; i < f.fieldEnd[k]!; i++) t += String.fromCharCode(f.line[i]!);
      names.push(t.trim());
    }
    return names;
  }

  /**
   * Whether names past the first row are a header: as many as serial.csv_columns, or one in common
   * with them or the first header (so a boot message such as "IMU ok, version 1.2" is not one).
   */
  private isHeader(names: string[]): boolean {
    return (
      names.length === this.csvColumns.length || names.some((name) => this.knownNames.has(name.toLowerCase()))
    );
  }

  /** A header after the first row: skipped, and compared with the first header. */
  private sawHeader(names: string[], maybeCut: boolean): void {
    this.counters.skipped++;
    this.firstRow = false;
    this.clock.restartHint();
    const first = this.header;
    if (first === undefined) {
      this.remember(names, maybeCut);
      return;
    }
    const text = names.join(",");
    // A header cut at its start (joined mid-line) matches the whole one it ends.
    if (
      text === first ||
      (maybeCut && first.endsWith(text)) ||
      (this.headerMaybeCut && text.endsWith(first))
    ) {
      if (!maybeCut && this.headerMaybeCut) {
        this.header = text;
        this.headerMaybeCut = false;
      }
      return;
    }
    if (this.headerWarned) return;
    this.headerWarned = true;
    const want = this.csvColumns.length;
    const fit =
      names.length === want
        ? `its rows are still read as serial.csv_columns (${this.csvColumns.join(",")})`
        : `it has ${names.length} columns and serial.csv_columns ${want}: its rows are counted as malformed`;
    this.onWarning?.(`CSV header changed after the device restarted: was "${first}", now "${text}"; ${fit}`);
  }

  /** Keeps the first header seen, to compare with those printed after a restart. */
  private remember(names: string[], maybeCut: boolean): void {
    if (this.header !== undefined) return;
    // A line that may be cut is a header worth keeping only if it has all the columns.
    if (maybeCut && names.length !== this.csvColumns.length) return;
    this.header = names.join(",");
    this.headerMaybeCut = maybeCut;
    for (const name of names) this.knownNames.add(name.toLowerCase());
  }
}
