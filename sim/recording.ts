// Recorded IMU vibration: the CSV format a world file's `vibration.recordings` point at, and its
// preparation for playback in the simulated IMU.
//
// CSV: a header row naming the columns (any order): t (s), ax, ay, az (m/s², gravity included),
// optionally gx, gy, gz (rad/s, all three or none) and speed (m/s). `#` lines are comments.
//
// Preparation, once per recording and IMU rate:
//  1. rotate from the recording's `up` into a z-up frame (the smallest rotation that takes `up` to
//     +z; heading about the vertical is kept as recorded, which no label depends on);
//  2. resample to the simulated IMU rate: linear onto a uniform grid at the recording's median rate,
//     then Lanczos-3 (low-passed at the lower of the two Nyquist frequencies when decimating);
//  3. remove the 2 s centred moving mean of every axis: the recording's own gravity, tilt, turns and
//     bias go (the simulator adds its own), vibration above ~0.5 Hz stays;
//  4. normalise to the reference speed (1 m/s): amplitude / max(speed, 0.1)^k, k the world's
//     `imu.speedExponent` (the synthetic model's rule, amplitude ∝ speed^k); playback multiplies by
//     the simulated robot's speed^k. Samples where the recorded robot moved slower than 0.1 m/s
//     (smoothed over 0.5 s) or across a gap in the log are never played.

import { readFileSync } from "node:fs";
import { readErrorText } from "../src/core/read-error.ts";

export const RECORDING_COLUMNS = ["t", "ax", "ay", "az", "gx", "gy", "gz", "speed"] as const;
/** Recorded robot slower than this (m/s) carries no terrain vibration: never played. */
export const MIN_RECORDED_SPEED = 0.1;
/** Window of the moving mean removed from every axis (s). */
export const DETREND_SECONDS = 2;
/** Shortest usable recording (s of samples where the robot moved). */
export const MIN_RECORDING_SECONDS = 2;
/** Standard gravity (m/s²), what a level IMU at rest reads along up. */
const STANDARD_GRAVITY = 9.80665;
/** Most a recording's mean acceleration may point away from its `up` (a slope, a tilted mount). */
const MAX_UP_ANGLE_DEG = 45;
/** Slowest IMU log (median Hz) that can hold terrain vibration; slower is `t` in other units. */
export const MIN_RECORDING_RATE = 20;

export interface Recording {
  path: string;
  t: Float64Array;
  ax: Float64Array;
  ay: Float64Array;
  az: Float64Array;
  /** Angular rate, when the file has it. */
  gyro: [Float64Array, Float64Array, Float64Array] | undefined;
  speed: Float64Array | undefined;
}

const convert = (format: string, source: string) =>
  `terrain-learner sim convert-recording --format ${format} ${source} OUT.csv`;

/** A CSV field without its spaces and the double quotes some writers (R's write.csv) put around it. */
function unquote(field: string): string {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).trim() : f;
}

/** Parses a recording CSV; errors name the source and the line. */
export function parseRecordingCsv(text: string, source: string): Recording {
  const lines = text.split(/\r?\n/);
  let headerLine = -1;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === "" || l.startsWith("#")) continue;
    headerLine = i;
    break;
  }
  if (headerLine < 0)
    throw new Error(`recording ${source}: empty file (expected a header row t,ax,ay,az,...)`);
  const header = lines[headerLine]!.split(",").map(unquote);
  // Loggers printing `value,` per column end each line with a comma: one empty last field is nothing.
  if (header.length > 1 && header.at(-1) === "") header.pop();
  // The datasets' own files are what one has at hand: name the converter rather than their bytes.
  // NUL, or bytes that are not UTF-8 (decoded as U+FFFD): binary.
  if (lines[headerLine]!.includes("\u0000") || lines[headerLine]!.includes("\uFFFD")) {
    throw new Error(
      `recording ${source}: not a CSV file${lines[headerLine]!.includes("NUMPY") ? ` (a NumPy .npy: convert a U2IS file with ${convert("u2is", source)})` : " (binary data)"}`,
    );
  }
  const separator = header.length === 1 ? /[;\t]/.exec(header[0]!)?.[0] : undefined;
  if (separator) {
    throw new Error(
      `recording ${source}: line ${headerLine + 1}: columns separated by ${separator === ";" ? "';'" : "tabs"}; a recording CSV separates them with ',' (and writes decimals with '.')`,
    );
  }
  if (header.includes("time") && header.includes("wx")) {
    throw new Error(
      `recording ${source}: a BorealTC IMU file (time, wx, ...), not a recording CSV: convert it with ${convert("borealtc", source)}`,
    );
  }
  const index = new Map<string, number>();
  header.forEach((h, i) => {
    if (!(RECORDING_COLUMNS as readonly string[]).includes(h)) {
      throw new Error(
        `recording ${source}: line ${headerLine + 1}: ${h === "" ? `column ${i + 1} has no name${i === 0 ? " (row numbers? write the CSV without them)" : ""}` : `unknown column '${h}'`} (expected ${RECORDING_COLUMNS.join(", ")})`,
      );
    }
    if (index.has(h))
      throw new Error(`recording ${source}: line ${headerLine + 1}: column '${h}' appears twice`);
    index.set(h, i);
  });
  for (const need of ["t", "ax", "ay", "az"]) {
    if (!index.has(need)) {
      throw new Error(
        `recording ${source}: line ${headerLine + 1}: header lacks column '${need}' (needs t, ax, ay, az)`,
      );
    }
  }
  const gyroCols = ["gx", "gy", "gz"].filter((c) => index.has(c));
  if (gyroCols.length !== 0 && gyroCols.length !== 3) {
    throw new Error(
      `recording ${source}: gx, gy, gz must be given all three or none (found ${gyroCols.join(", ")})`,
    );
  }
  const cols = header.map(() => [] as number[]);
  let prevT = Number.NEGATIVE_INFINITY;
  const tCol = index.get("t")!;
  for (let i = headerLine + 1; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === "" || l.startsWith("#")) continue;
    const f = l.split(",");
    if (f.length === header.length + 1 && unquote(f.at(-1)!) === "") f.pop();
    if (f.length !== header.length) {
      throw new Error(
        `recording ${source}: line ${i + 1}: ${f.length} fields, the header has ${header.length}`,
      );
    }
    for (let c = 0; c < f.length; c++) {
      const s = unquote(f[c]!);
      const v = s === "" ? Number.NaN : Number(s);
      if (!Number.isFinite(v)) {
        throw new Error(
          `recording ${source}: line ${i + 1}: column '${header[c]}' is '${s}', not a finite number`,
        );
      }
      cols[c]!.push(v);
    }
    const t = cols[tCol]!.at(-1)!;
    if (!(t > prevT)) {
      throw new Error(`recording ${source}: line ${i + 1}: t = ${t} does not increase (previous ${prevT})`);
    }
    prevT = t;
  }
  const n = cols[0]!.length;
  if (n < 2) throw new Error(`recording ${source}: ${n} data rows; needs at least 2`);
  const col = (name: string) => Float64Array.from(cols[index.get(name)!]!);
  const t = col("t");
  checkRate(t, source);
  return {
    path: source,
    t,
    ax: col("ax"),
    ay: col("ay"),
    az: col("az"),
    gyro: gyroCols.length === 3 ? [col("gx"), col("gy"), col("gz")] : undefined,
    speed: index.has("speed") ? col("speed") : undefined,
  };
}

/**
 * `t` in milliseconds or nanoseconds (a ROS stamp) still increases, and would play a 20 s log as
 * hours of vibration slowed a thousandfold: the median rate says which unit it was.
 */
function checkRate(t: Float64Array, source: string): void {
  const rate = 1 / medianInterval(t);
  if (rate >= MIN_RECORDING_RATE) return;
  const unit = (
    [
      ["milliseconds", 1e3],
      ["microseconds", 1e6],
      ["nanoseconds", 1e9],
    ] as const
  ).find(([, f]) => rate * f >= MIN_RECORDING_RATE && rate * f <= 100_000);
  throw new Error(
    `recording ${source}: t rises by ${+(1 / rate).toPrecision(4)} per row (median), a ${+rate.toPrecision(3)} Hz IMU: ` +
      (unit
        ? `t must be seconds, this looks like ${unit[0]}: divide t by ${unit[1]}`
        : `t must be seconds, and the IMU at least ${MIN_RECORDING_RATE} Hz to hold vibration`),
  );
}

/** Roll and pitch rates above this RMS (rad/s) are no ground robot's vibration (real runs: 0.01–0.25). */
export const MAX_ROCKING_RMS = 1;

/**
 * A gyro logged in deg/s plays 57× too hard (the labeller reads roll and pitch rates), and nothing
 * else shows it: the level printed is the vertical acceleration's. Its roll and pitch rates (mean
 * removed) give it away. Undefined when they look like rad/s.
 */
export function gyroUnitWarning(rec: Recording): string | undefined {
  if (!rec.gyro) return undefined;
  let sum = 0;
  for (const axis of [rec.gyro[0], rec.gyro[1]]) {
    let mean = 0;
    for (const v of axis) mean += v / axis.length;
    for (const v of axis) sum += (v - mean) ** 2 / axis.length;
  }
  const rms = Math.sqrt(sum / 2);
  if (rms <= MAX_ROCKING_RMS) return undefined;
  return `the roll and pitch rates (gx, gy) vary by ${rms.toFixed(2)} rad/s RMS, more than a ground robot rocks (0.01–0.25 rad/s in the BorealTC and U2IS runs): deg/s, not rad/s? The simulator would play them ${(180 / Math.PI).toFixed(0)}× too hard; multiply gx, gy, gz by 0.0174533`;
}

/**
 * Fastest median speed (m/s, while moving) taken for m/s without a word: terrain recordings come
 * from robots at walking pace (0.7–1.0 m/s in the U2IS runs), and the same log in km/h reads 3.6×.
 */
const MAX_PLAUSIBLE_SPEED = 3;

/** A warning when the speed column looks logged in km/h, else undefined. */
export function speedUnitWarning(rec: Recording): string | undefined {
  if (!rec.speed) return undefined;
  const moving = Array.from(rec.speed, Math.abs)
    .filter((v) => v >= MIN_RECORDED_SPEED)
    .sort((a, b) => a - b);
  const median = moving[moving.length >> 1];
  if (median === undefined || median <= MAX_PLAUSIBLE_SPEED) return undefined;
  return `the robot moves at a median ${median.toFixed(2)} m/s in the speed column, faster than the ground robots terrain recordings come from (0.7–1.0 m/s in the U2IS runs): km/h, not m/s? The simulator would take its vibration for that of a 3.6× faster drive and play it too softly; divide speed by 3.6`;
}

export function loadRecording(path: string, terrain: string): Recording {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`terrain '${terrain}': recording ${path}: cannot read: ${readErrorText(err)}`);
  }
  try {
    return parseRecordingCsv(text, path);
  } catch (err) {
    throw new Error(`terrain '${terrain}': ${(err as Error).message}`);
  }
}

/**
 * The mean specific force is gravity's reaction: about 9.8 m/s² along `up`. A log in g, one with
 * gravity taken out, or the wrong `up` would otherwise play some other axis, or a tenth of the
 * vibration, as the vertical one without a word.
 */
function checkGravity(rec: Recording, up: readonly [number, number, number], where: string): void {
  const n = rec.t.length;
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < n; i++) {
    x += rec.ax[i]!;
    y += rec.ay[i]!;
    z += rec.az[i]!;
  }
  const mean = [x / n, y / n, z / n];
  const g = Math.hypot(mean[0]!, mean[1]!, mean[2]!);
  const fmt = (v: readonly number[]) => `(${v.map((c) => +c.toFixed(2)).join(", ")})`;
  if (g < 0.5 * STANDARD_GRAVITY || g > 2 * STANDARD_GRAVITY) {
    throw new Error(
      `${where}: the mean acceleration is ${g.toFixed(2)} m/s², not about 9.8: ax, ay, az must be m/s² with gravity included (a log in g: multiply by 9.81)`,
    );
  }
  const u = Math.hypot(up[0], up[1], up[2]);
  const cos = (mean[0]! * up[0] + mean[1]! * up[1] + mean[2]! * up[2]) / (g * u);
  const angle = (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI;
  if (angle > MAX_UP_ANGLE_DEG) {
    throw new Error(
      `${where}: its mean acceleration ${fmt(mean)} m/s² is ${angle.toFixed(0)}° from up ${fmt(up)}: up is the direction that reads +9.8 m/s² at rest, here about ${fmt(mean.map((c) => c / g))}`,
    );
  }
}

/** Row-major 3×3 rotation taking the unit vector along `up` to +z (smallest angle). */
export function rotationToZ(up: readonly [number, number, number]): number[] {
  const n = Math.hypot(up[0], up[1], up[2]);
  const [ux, uy, uz] = [up[0] / n, up[1] / n, up[2] / n];
  if (uz < -1 + 1e-12) return [1, 0, 0, 0, -1, 0, 0, 0, -1]; // upside down: half turn about x
  // Rodrigues with v = u × z, c = u·z: R = I + [v]× + [v]×² / (1 + c).
  const vx = uy;
  const vy = -ux;
  const k = 1 / (1 + uz);
  return [
    1 - k * vy * vy,
    k * vx * vy,
    vy,
    k * vx * vy,
    1 - k * vx * vx,
    -vx,
    -vy,
    vx,
    1 - k * (vx * vx + vy * vy),
  ];
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** Median sample interval (s). */
export function medianInterval(t: Float64Array): number {
  const d = new Float64Array(t.length - 1);
  for (let i = 1; i < t.length; i++) d[i - 1] = t[i]! - t[i - 1]!;
  d.sort();
  return d[d.length >> 1]!;
}

/** A gap in a log: an interval longer than this many median intervals (never played). */
export const GAP_INTERVALS = 3;

export interface RecordingGaps {
  count: number;
  /** Seconds of all gaps together. */
  seconds: number;
  /** The longest gap: where it starts (s, the log's time) and how long it is (s); null without gaps. */
  longest: { at: number; seconds: number } | null;
}

/** The gaps of a log (intervals over GAP_INTERVALS × the median). */
export function recordingGaps(t: Float64Array): RecordingGaps {
  const out: RecordingGaps = { count: 0, seconds: 0, longest: null };
  if (t.length < 2) return out;
  const limit = GAP_INTERVALS * medianInterval(t);
  for (let i = 1; i < t.length; i++) {
    const d = t[i]! - t[i - 1]!;
    if (!(d > limit)) continue;
    out.count++;
    out.seconds += d;
    if (!out.longest || d > out.longest.seconds) out.longest = { at: t[i - 1]!, seconds: d };
  }
  return out;
}

/**
 * Resamples the columns of a (possibly jittery) log to `rate` Hz: linear onto a uniform grid at the
 * log's median rate, then Lanczos-3 at the new rate. Returns the columns and, per output sample,
 * whether it lies across a gap in the log (an interval over 3× the median).
 */
export function resampleColumns(
  t: Float64Array,
  columns: readonly Float64Array[],
  rate: number,
): { columns: Float64Array[]; gap: Uint8Array } {
  const dt = medianInterval(t);
  const t0 = t[0]!;
  const nIn = Math.floor((t[t.length - 1]! - t0) / dt) + 1;
  const uniform = columns.map(() => new Float64Array(nIn));
  const gapIn = new Uint8Array(nIn);
  let j = 0;
  for (let i = 0; i < nIn; i++) {
    const ti = t0 + i * dt;
    while (j < t.length - 2 && t[j + 1]! < ti) j++;
    const ta = t[j]!;
    const tb = t[j + 1]!;
    const f = Math.max(0, Math.min(1, (ti - ta) / (tb - ta)));
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c]!;
      uniform[c]![i] = col[j]! + (col[j + 1]! - col[j]!) * f;
    }
    gapIn[i] = tb - ta > GAP_INTERVALS * dt ? 1 : 0;
  }
  const rateIn = 1 / dt;
  const ratio = rateIn / rate; // input samples per output sample
  const cutoff = Math.min(1, 1 / ratio);
  const reach = 3 / cutoff;
  const nOut = Math.floor((nIn - 1) / ratio) + 1;
  const out = columns.map(() => new Float64Array(nOut));
  const gap = new Uint8Array(nOut);
  for (let k = 0; k < nOut; k++) {
    const x = k * ratio;
    const lo = Math.max(0, Math.ceil(x - reach));
    const hi = Math.min(nIn - 1, Math.floor(x + reach));
    let wSum = 0;
    for (let i = lo; i <= hi; i++) wSum += lanczos3((x - i) * cutoff);
    for (let c = 0; c < columns.length; c++) {
      const u = uniform[c]!;
      let acc = 0;
      for (let i = lo; i <= hi; i++) acc += u[i]! * lanczos3((x - i) * cutoff);
      out[c]![k] = acc / wSum;
    }
    gap[k] = gapIn[Math.min(nIn - 1, Math.round(x))]!;
  }
  return { columns: out, gap };
}

/** Subtracts the centred moving mean over `window` samples (shorter at the ends), in place. */
export function removeMovingMean(x: Float64Array, window: number): void {
  const n = x.length;
  const half = Math.max(1, Math.floor(window / 2));
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + x[i]!;
  const copy = Float64Array.from(x);
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - half);
    const b = Math.min(n, i + half + 1);
    x[i] = copy[i]! - (prefix[b]! - prefix[a]!) / (b - a);
  }
}

/** Moving average over `window` samples (centred, shorter at the ends). */
function movingAverage(x: Float64Array, window: number): Float64Array {
  const y = Float64Array.from(x);
  removeMovingMean(y, window);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! - y[i]!;
  return y;
}

/** A recording ready to play at one IMU rate: z-up, detrended, normalised to 1 m/s. */
export interface PreparedRecording {
  path: string;
  rate: number;
  /** Acceleration x, y, z and angular rate x, y, z (zeros when the file has none), z-up frame. */
  channels: [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  hasGyro: boolean;
  /** 1 where the sample may be played (robot moving, no gap). */
  usable: Uint8Array;
  usableCount: number;
  /** Largest |x[i+1] − x[i]| of the vertical axis over usable neighbours (the splice bound). */
  maxVerticalStep: number;
}

export function prepareRecording(
  rec: Recording,
  opts: {
    up: readonly [number, number, number];
    speed: number | undefined;
    rate: number;
    speedExponent: number;
  },
  terrain: string,
): PreparedRecording {
  const where = `terrain '${terrain}': recording ${rec.path}`;
  if (!rec.speed && opts.speed === undefined) {
    throw new Error(`${where}: no 'speed' column; give the terrain's vibration.speed (m/s)`);
  }
  checkGravity(rec, opts.up, where);
  const R = rotationToZ(opts.up);
  const n = rec.t.length;
  const rot = (x: Float64Array, y: Float64Array, z: Float64Array): Float64Array[] => {
    const out = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < 3; r++)
        out[r]![i] = R[3 * r]! * x[i]! + R[3 * r + 1]! * y[i]! + R[3 * r + 2]! * z[i]!;
    }
    return out;
  };
  const acc = rot(rec.ax, rec.ay, rec.az);
  const gyro = rec.gyro ? rot(...rec.gyro) : [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const speedIn = rec.speed ?? new Float64Array(n).fill(opts.speed!);
  const { columns, gap } = resampleColumns(rec.t, [...acc, ...gyro, speedIn], opts.rate);
  const m = columns[0]!.length;
  const detrend = Math.round(DETREND_SECONDS * opts.rate);
  for (let c = 0; c < 6; c++) removeMovingMean(columns[c]!, detrend);
  const speed = movingAverage(columns[6]!.map(Math.abs), Math.round(0.5 * opts.rate));
  const usable = new Uint8Array(m);
  let usableCount = 0;
  const channels = Array.from({ length: 6 }, () => new Float32Array(m)) as PreparedRecording["channels"];
  for (let i = 0; i < m; i++) {
    const v = speed[i]!;
    const ok = v >= MIN_RECORDED_SPEED && gap[i] === 0;
    usable[i] = ok ? 1 : 0;
    if (ok) usableCount++;
    const norm = 1 / Math.max(v, MIN_RECORDED_SPEED) ** opts.speedExponent;
    for (let c = 0; c < 6; c++) channels[c]![i] = columns[c]![i]! * norm;
  }
  if (usableCount < MIN_RECORDING_SECONDS * opts.rate) {
    throw new Error(
      `${where}: only ${(usableCount / opts.rate).toFixed(2)} s with the robot moving ≥ ${MIN_RECORDED_SPEED} m/s; needs ${MIN_RECORDING_SECONDS} s`,
    );
  }
  let maxStep = 0;
  const z = channels[2];
  for (let i = 1; i < m; i++) {
    if (usable[i] && usable[i - 1]) maxStep = Math.max(maxStep, Math.abs(z[i]! - z[i - 1]!));
  }
  return {
    path: rec.path,
    rate: opts.rate,
    channels,
    hasGyro: rec.gyro !== undefined,
    usable,
    usableCount,
    maxVerticalStep: maxStep,
  };
}

/**
 * Vibration level (m/s²) of a prepared recording at the reference speed: RMS of the detrended
 * vertical acceleration over its usable samples. The one-roughness-scale rule compares this with the
 * synthetic model's level (syntheticLevelCurve in imu.ts).
 */
export function recordingLevel(recs: readonly PreparedRecording[]): number {
  let sum = 0;
  let count = 0;
  for (const r of recs) {
    const z = r.channels[2];
    for (let i = 0; i < z.length; i++) {
      if (r.usable[i]) {
        sum += z[i]! * z[i]!;
        count++;
      }
    }
  }
  return Math.sqrt(sum / Math.max(1, count));
}
