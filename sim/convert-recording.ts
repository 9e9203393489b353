// Converters from public IMU datasets to the recording CSV of world files (recording.ts).
//
// BorealTC (norlab-ulaval, Husky A200, 100 Hz): `imu_NN.csv` has time, wx, wy, wz, ax, ay, az with
// z up; the wheel speeds of the matching `pro_NN.csv` (time, curL, curR, velL, velR at ~6.5 Hz) give
// speed = (velL + velR) / 2, interpolated at the IMU stamps. Nothing is missing.
//
// U2IS (ENSTA Paris, Husky, ~43 Hz): NumPy .npy float64 (N, 4): az (m/s², gravity included), roll
// rate wx, pitch rate wy (rad/s), forward speed vx (m/s). No time column (t = i / rate, the rate
// from --rate or from the file name's duration `_tSECONDS_`: N / SECONDS). The authors kept one
// acceleration axis and no yaw rate: ax, ay and gz are written as 0, so a world playing these files
// has no recorded horizontal vibration or yaw vibration (the labeller uses neither).

import { parse as parseNpy } from "npyjs";
import { parseRecordingCsv, type Recording } from "./recording.ts";

export type RecordingFormat = "borealtc" | "u2is";

function parsePlainCsv(text: string, source: string): Map<string, Float64Array> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new Error(`${source}: no data rows`);
  const header = lines[0]!.split(",").map((h) => h.trim());
  const cols = header.map(() => new Float64Array(lines.length - 1));
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.split(",");
    if (f.length !== header.length)
      throw new Error(`${source}: line ${i + 1}: ${f.length} fields, the header has ${header.length}`);
    for (let c = 0; c < f.length; c++) {
      const v = Number(f[c]);
      if (!Number.isFinite(v)) throw new Error(`${source}: line ${i + 1}: '${f[c]}' is not a number`);
      cols[c]![i - 1] = v;
    }
  }
  return new Map(header.map((h, i) => [h, cols[i]!]));
}

function need(cols: Map<string, Float64Array>, name: string, source: string): Float64Array {
  const c = cols.get(name);
  if (!c) throw new Error(`${source}: no column '${name}' (found ${[...cols.keys()].join(", ")})`);
  return c;
}

/** Linear interpolation of (t, y) at the stamps `at` (held constant beyond the ends). */
function interpolate(t: Float64Array, y: Float64Array, at: Float64Array): Float64Array {
  const out = new Float64Array(at.length);
  let j = 0;
  for (let i = 0; i < at.length; i++) {
    const x = at[i]!;
    while (j < t.length - 2 && t[j + 1]! < x) j++;
    if (x <= t[0]!) out[i] = y[0]!;
    else if (x >= t[t.length - 1]!) out[i] = y[t.length - 1]!;
    else out[i] = y[j]! + ((y[j + 1]! - y[j]!) * (x - t[j]!)) / (t[j + 1]! - t[j]!);
  }
  return out;
}

/** Rows must come in time order, one per stamp (said with the input's line, header = line 1). */
function checkIncreasing(t: Float64Array, source: string): void {
  for (let i = 1; i < t.length; i++) {
    if (!(t[i]! > t[i - 1]!)) {
      throw new Error(
        `${source}: line ${i + 2}: time ${t[i]} ${t[i] === t[i - 1] ? "repeats" : "is before"} line ${i + 1}'s ${t[i - 1]}: rows must be in time order, one per stamp`,
      );
    }
  }
}

/**
 * Stamps from 0: the CSV keeps 7 significant digits, which would merge the samples of a log stamped
 * in epoch seconds (1.7e9 s). To the microsecond, below what a float64 epoch stamp holds. The
 * datasets' own files start at 0 already and are kept as they are.
 */
export function fromZero(t: Float64Array): Float64Array {
  const t0 = t[0]!;
  return t0 === 0 ? t : t.map((x) => Math.round((x - t0) * 1e6) / 1e6);
}

/** Most IMU seconds a BorealTC speed file may leave uncovered (the dataset's own pairs: ≤ 1.1 s). */
const MAX_UNCOVERED_S = 2;

const span = (t: Float64Array) => `${+t[0]!.toFixed(2)}..${+t[t.length - 1]!.toFixed(2)}`;

/** BorealTC imu_NN.csv (+ pro_NN.csv text for the speed, if available). */
export function convertBorealTc(
  imuText: string,
  imuSource: string,
  proText?: string,
  proSource = "pro",
): Recording {
  const imu = parsePlainCsv(imuText, imuSource);
  const t = need(imu, "time", imuSource);
  checkIncreasing(t, imuSource);
  let speed: Float64Array | undefined;
  if (proText !== undefined) {
    const pro = parsePlainCsv(proText, proSource);
    const pt = need(pro, "time", proSource);
    checkIncreasing(pt, proSource);
    const vl = need(pro, "velL", proSource);
    const vr = need(pro, "velR", proSource);
    // Outside the speed file's time the speed is held at its end value: fine for the second or so
    // by which the dataset's own files differ, a made-up speed for a truncated or mismatched file.
    const uncovered = Math.max(pt[0]! - t[0]!, 0) + Math.max(t[t.length - 1]! - pt[pt.length - 1]!, 0);
    if (uncovered > MAX_UNCOVERED_S) {
      throw new Error(
        `${proSource} covers t ${span(pt)} s but ${imuSource} runs ${span(t)} s: ${uncovered.toFixed(1)} s without a speed (not the matching speed file?)`,
      );
    }
    speed = interpolate(
      pt,
      vl.map((v, i) => (v + vr[i]!) / 2),
      t,
    );
  }
  return {
    path: imuSource,
    t: fromZero(t),
    ax: need(imu, "ax", imuSource),
    ay: need(imu, "ay", imuSource),
    az: need(imu, "az", imuSource),
    gyro: [need(imu, "wx", imuSource), need(imu, "wy", imuSource), need(imu, "wz", imuSource)],
    speed,
  };
}

/** The sample rate a U2IS file name implies (`grass_t15_v1.npy`: N rows over 15 s), if it does. */
export function u2isRateFromName(name: string, rows: number): number | undefined {
  const m = /_t(\d+(?:\.\d+)?)_/.exec(name);
  if (!m) return undefined;
  const seconds = Number(m[1]);
  return seconds > 0 ? rows / seconds : undefined;
}

/** U2IS .npy bytes → recording (ax, ay, gz written as 0: not in the files). */
export function convertU2is(bytes: Uint8Array, source: string, rate: number | undefined): Recording {
  let arr: ReturnType<typeof parseNpy>;
  try {
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    arr = parseNpy(ab);
  } catch (err) {
    throw new Error(`${source}: not a NumPy .npy file (${(err as Error).message})`);
  }
  if (arr.shape.length !== 2 || arr.shape[1] !== 4) {
    throw new Error(`${source}: shape (${arr.shape.join(", ")}); U2IS samples are (N, 4): az, wx, wy, vx`);
  }
  if (arr.fortranOrder) throw new Error(`${source}: Fortran-ordered arrays are not supported`);
  if (!(arr.data instanceof Float64Array || arr.data instanceof Float32Array)) {
    throw new Error(`${source}: dtype ${arr.dtype}; expected float64 or float32`);
  }
  const n = arr.shape[0]!;
  const hz = rate ?? u2isRateFromName(source.split(/[\\/]/).pop() ?? source, n);
  if (!(hz !== undefined && hz > 0)) {
    throw new Error(`${source}: no sample rate (the name has no _tSECONDS_; give --rate HZ)`);
  }
  const d = arr.data;
  // Said by the array's row (as numpy indexes it), not by the line of the CSV written from it.
  const names = ["az", "wx", "wy", "vx"];
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!))
      throw new Error(
        `${source}: row ${Math.floor(i / 4)} (from 0), ${names[i % 4]} is ${d[i]}, not a finite number`,
      );
  }
  const col = (k: number) => Float64Array.from({ length: n }, (_, i) => d[4 * i + k]!);
  return {
    path: source,
    t: Float64Array.from({ length: n }, (_, i) => i / hz),
    ax: new Float64Array(n),
    ay: new Float64Array(n),
    az: col(0),
    gyro: [col(1), col(2), new Float64Array(n)],
    speed: col(3),
  };
}

function fmt(v: number): string {
  // 7 significant digits: below the IMUs' own resolution, and a small file.
  return Number.parseFloat(v.toPrecision(7)).toString();
}

/** The recording CSV (header t,ax,ay,az[,gx,gy,gz][,speed]); it parses back with parseRecordingCsv. */
export function formatRecordingCsv(rec: Recording, comments: readonly string[] = []): string {
  const header = [
    "t",
    "ax",
    "ay",
    "az",
    ...(rec.gyro ? ["gx", "gy", "gz"] : []),
    ...(rec.speed ? ["speed"] : []),
  ];
  const lines = [...comments.map((c) => `# ${c}`), header.join(",")];
  for (let i = 0; i < rec.t.length; i++) {
    const row = [rec.t[i]!, rec.ax[i]!, rec.ay[i]!, rec.az[i]!];
    if (rec.gyro) row.push(rec.gyro[0][i]!, rec.gyro[1][i]!, rec.gyro[2][i]!);
    if (rec.speed) row.push(rec.speed[i]!);
    lines.push(row.map(fmt).join(","));
  }
  const text = `${lines.join("\n")}\n`;
  // What we write must be what a world can read.
  parseRecordingCsv(text, rec.path);
  return text;
}
