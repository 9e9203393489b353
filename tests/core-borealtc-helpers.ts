// Loads BorealTC runs (tests/fixtures/borealtc) and feeds them through the labeller. The dataset
// has no odometry poses: they are integrated here from the wheel speeds of `pro_NN.csv`
// (v = (velL + velR)/2, yaw rate = (velR − velL)/track, Husky track ≈ 0.555 m).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type LabellerSettings, VibrationLabeller } from "../src/core/labeller.ts";
import { PoseHistory } from "../src/core/pose-history.ts";
import type { RoughnessLabel } from "../src/core/types.ts";

export const BOREAL_DIR = fileURLToPath(new URL("./fixtures/borealtc/", import.meta.url));
export const HUSKY_TRACK = 0.555;

export interface BorealRun {
  name: string;
  imu: Float64Array[]; // columns t, wx, wy, wz, ax, ay, az
  pro: Float64Array[]; // columns t, curL, curR, velL, velR
}

function readCsv(path: string): Float64Array[] {
  const lines = readFileSync(path, "utf8").trim().split("\n");
  const header = lines[0]!.split(",");
  const cols = header.map(() => new Float64Array(lines.length - 1));
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.split(",");
    for (let c = 0; c < cols.length; c++) cols[c]![i - 1] = Number(f[c]);
  }
  return cols;
}

export function loadRun(terrain: string, id: string): BorealRun {
  return {
    name: `${terrain}/${id}`,
    imu: readCsv(`${BOREAL_DIR}${terrain}/imu_${id}.csv`),
    pro: readCsv(`${BOREAL_DIR}${terrain}/pro_${id}.csv`),
  };
}

/** Integrates wheel speeds into planar poses (x, y, yaw) at the `pro` stamps. */
export function integratePoses(run: BorealRun, track = HUSKY_TRACK): PoseHistory {
  const [t, , , vl, vr] = run.pro as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const poses = new PoseHistory({ maxAge: 1e9 });
  let x = 0,
    y = 0,
    yaw = 0;
  for (let i = 0; i < t.length; i++) {
    const v = (vl[i]! + vr[i]!) / 2;
    const w = (vr[i]! - vl[i]!) / track;
    if (i > 0) {
      // Midpoint rule with the previous sample's speeds (zero-order hold of the wheel encoders).
      const dt = t[i]! - t[i - 1]!;
      const vp = (vl[i - 1]! + vr[i - 1]!) / 2;
      const wp = (vr[i - 1]! - vl[i - 1]!) / track;
      const ym = yaw + (wp * dt) / 2;
      x += vp * dt * Math.cos(ym);
      y += vp * dt * Math.sin(ym);
      yaw += wp * dt;
    }
    poses.pushRaw(t[i]!, x, y, 0, 0, 0, Math.sin(yaw / 2), Math.cos(yaw / 2), Math.abs(v), w);
  }
  return poses;
}

export interface Rotation3 {
  m: number[]; // row-major 3×3, applied to both acceleration and angular rate
}

/** Runs the labeller over one run; `rotate` mounts the IMU rotated (samples are rotated by m). */
export function labelRun(
  run: BorealRun,
  cfg: LabellerSettings,
  rotate?: Rotation3,
): { labels: RoughnessLabel[]; labeller: VibrationLabeller } {
  const poses = integratePoses(run);
  const labeller = new VibrationLabeller(cfg, poses, { robotWidth: 0.67 });
  const [t, wx, wy, wz, ax, ay, az] = run.imu as [
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  const m = rotate?.m;
  for (let i = 0; i < t.length; i++) {
    if (m) {
      const a0 = ax[i]!,
        a1 = ay[i]!,
        a2 = az[i]!,
        w0 = wx[i]!,
        w1 = wy[i]!,
        w2 = wz[i]!;
      labeller.pushImu(
        t[i]!,
        m[0]! * a0 + m[1]! * a1 + m[2]! * a2,
        m[3]! * a0 + m[4]! * a1 + m[5]! * a2,
        m[6]! * a0 + m[7]! * a1 + m[8]! * a2,
        m[0]! * w0 + m[1]! * w1 + m[2]! * w2,
        m[3]! * w0 + m[4]! * w1 + m[5]! * w2,
        m[6]! * w0 + m[7]! * w1 + m[8]! * w2,
      );
    } else {
      labeller.pushImu(t[i]!, ax[i]!, ay[i]!, az[i]!, wx[i]!, wy[i]!, wz[i]!);
    }
  }
  labeller.finish();
  return { labels: labeller.takeLabels(), labeller };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export interface WheelPose {
  t: number;
  x: number;
  y: number;
  yaw: number;
  v: number;
  w: number;
}

/**
 * Odometry as a robot would publish it from `pro_NN.csv` rows (t, curL, curR, velL, velR): poses
 * integrated at the encoder stamps (midpoint rule), linear in between. `at` takes increasing times.
 */
export class WheelOdometry {
  readonly poses: WheelPose[] = [];
  #k = 0;

  constructor(pro: readonly (readonly number[])[], track = HUSKY_TRACK) {
    let x = 0,
      y = 0,
      yaw = 0;
    for (let i = 0; i < pro.length; i++) {
      const [t, , , vl, vr] = pro[i]! as [number, number, number, number, number];
      if (i > 0) {
        const p = this.poses[i - 1]!;
        const dt = t - p.t;
        x += p.v * dt * Math.cos(yaw + (p.w * dt) / 2);
        y += p.v * dt * Math.sin(yaw + (p.w * dt) / 2);
        yaw += p.w * dt;
      }
      this.poses.push({ t, x, y, yaw, v: (vl + vr) / 2, w: (vr - vl) / track });
    }
  }

  at(t: number): Omit<WheelPose, "t"> {
    const poses = this.poses;
    while (this.#k < poses.length - 2 && poses[this.#k + 1]!.t <= t) this.#k++;
    const a = poses[this.#k]!,
      b = poses[this.#k + 1]!;
    const u = Math.min(1, (t - a.t) / (b.t - a.t));
    const at = (f: "x" | "y" | "yaw" | "v" | "w") => a[f] + u * (b[f] - a[f]);
    return { x: at("x"), y: at("y"), yaw: at("yaw"), v: at("v"), w: at("w") };
  }
}
