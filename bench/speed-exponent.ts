// The speed-exponent table of docs/calibration.md, step 3, made the way the doc tells a user to make
// it: BorealTC Husky runs (tests/fixtures/borealtc; wheel speeds integrated into 50 Hz odometry)
// written as MCAP bags and labelled by the command line, `terrain-learner label BAG --config raw.yaml
// --json` with `labeler.speed_exponent: 0` (raw energy), and again with the defaults (normalised).
// Each run is written twice: once with TF base_link → imu_link (the IMU mounted level: its z axis is
// the vertical) and once without TF (the vertical is the low-passed mean acceleration).
// Run: node --import tsx bench/speed-exponent.ts [--out bench/speed-exponent.json]

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { transformsToRos } from "../src/io/ros/convert.ts";
import { WheelOdometry } from "../tests/core-borealtc-helpers.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BIN = join(ROOT, "bin/terrain-learner.js");
const DATA = join(ROOT, "tests/fixtures/borealtc");
const T0 = 1_700_000_000;

const PAIRS = [
  ["ASPHALT", "00", "04"],
  ["SANDY_LOAM", "00", "08"],
  ["SNOW", "00", "08"],
  ["SNOW", "09", "08"],
] as const;
type Vertical = "tf" | "gravity";

function csv(path: string): number[][] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",").map(Number));
}

/** One run as a robot would record it: /imu/data as logged, /odom at 50 Hz, TF if asked. */
async function writeBag(path: string, terrain: string, id: string, vertical: Vertical): Promise<void> {
  const imu = csv(join(DATA, terrain, `imu_${id}.csv`)); // t, wx, wy, wz, ax, ay, az (z up)
  const pro = csv(join(DATA, terrain, `pro_${id}.csv`)); // t, curL, curR, velL, velR
  const w = await Ros2McapWriter.create(path, { compression: "none" });
  const hdr = (t: number, frame_id: string) => ({
    stamp: { sec: Math.floor(t), nanosec: Math.round((t - Math.floor(t)) * 1e9) },
    frame_id,
  });
  if (vertical === "tf")
    await w.write(
      "/tf_static",
      "tf2_msgs/msg/TFMessage",
      T0,
      transformsToRos([
        {
          stamp: T0,
          parent: "base_link",
          child: "imu_link",
          isStatic: true,
          translation: { x: 0, y: 0, z: 0.2 },
          rotation: { x: 0, y: 0, z: 0, w: 1 },
        },
      ]),
    );
  // Poses at the encoder stamps (midpoint rule), then linear in between at 50 Hz.
  const odometry = new WheelOdometry(pro);
  const msgs: { t: number; topic: string; type: string; m: unknown }[] = [];
  const end = imu[imu.length - 1]![0]!;
  for (let t = 0; t <= end; t += 0.02) {
    const o = odometry.at(t);
    msgs.push({
      t,
      topic: "/odom",
      type: "nav_msgs/msg/Odometry",
      m: {
        header: hdr(T0 + t, "odom"),
        child_frame_id: "base_link",
        pose: {
          pose: {
            position: { x: o.x, y: o.y, z: 0 },
            orientation: { x: 0, y: 0, z: Math.sin(o.yaw / 2), w: Math.cos(o.yaw / 2) },
          },
          covariance: new Float64Array(36),
        },
        twist: {
          twist: { linear: { x: o.v, y: 0, z: 0 }, angular: { x: 0, y: 0, z: o.w } },
          covariance: new Float64Array(36),
        },
      },
    });
  }
  const cov = Float64Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const noOrientation = Float64Array.from([-1, 0, 0, 0, 0, 0, 0, 0, 0]);
  for (const [t, wx, wy, wz, ax, ay, az] of imu as [number, number, number, number, number, number, number][])
    msgs.push({
      t: t + 0.005,
      topic: "/imu/data",
      type: "sensor_msgs/msg/Imu",
      m: {
        header: hdr(T0 + t, "imu_link"),
        orientation: { x: 0, y: 0, z: 0, w: 1 },
        orientation_covariance: noOrientation,
        angular_velocity: { x: wx, y: wy, z: wz },
        angular_velocity_covariance: cov,
        linear_acceleration: { x: ax, y: ay, z: az },
        linear_acceleration_covariance: cov,
      },
    });
  msgs.sort((p, q) => p.t - q.t);
  for (const m of msgs) await w.write(m.topic, m.type, T0 + m.t, m.m);
  await w.close();
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

interface RunResult {
  labels: number;
  speed: number; // median label speed, m/s
  raw: number; // median energy with speed_exponent 0
  energy: number; // median energy with the default exponent
  verticalSource: string; // "tf" or "gravity", as the summary says
  verticalAngle: number | null; // degrees between the vertical used and the mean acceleration
}

async function label(
  bag: string,
  config?: string,
): Promise<{ speed: number; energy: number; n: number; source: string; angle: number | null }> {
  const args = [BIN, "label", bag, "--json", ...(config ? ["--config", config] : [])];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 26 });
  const lines = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const labels = lines.filter((l) => !("summary" in l)) as { energy: number; speed: number }[];
  const summary = (
    lines.find((l) => "summary" in l) as { summary: { vertical: { source: string; angle: number | null } } }
  ).summary;
  return {
    speed: median(labels.map((l) => l.speed)),
    energy: median(labels.map((l) => l.energy)),
    n: labels.length,
    source: summary.vertical.source,
    angle: summary.vertical.angle,
  };
}

const dir = mkdtempSync(join(tmpdir(), "speed-exponent-"));
try {
  const rawYaml = join(dir, "raw.yaml");
  writeFileSync(rawYaml, "labeler:\n  speed_exponent: 0\n");
  const runs = new Map<string, RunResult>();
  const ids = [...new Set(PAIRS.flatMap(([t, a, b]) => [`${t}/${a}`, `${t}/${b}`]))];
  for (const vertical of ["tf", "gravity"] as const)
    for (const name of ids) {
      const [terrain, id] = name.split("/") as [string, string];
      const bag = join(dir, `${terrain}_${id}_${vertical}.mcap`);
      await writeBag(bag, terrain, id, vertical);
      const raw = await label(bag, rawYaml);
      const norm = await label(bag);
      runs.set(`${name} ${vertical}`, {
        labels: raw.n,
        speed: raw.speed,
        raw: raw.energy,
        energy: norm.energy,
        verticalSource: raw.source,
        verticalAngle: raw.angle,
      });
      rmSync(bag);
    }
  const table = (vertical: Vertical) => {
    const rows = PAIRS.map(([terrain, slow, fast]) => {
      const a = runs.get(`${terrain}/${slow} ${vertical}`)!;
      const b = runs.get(`${terrain}/${fast} ${vertical}`)!;
      const speedRatio = b.speed / a.speed;
      const rawRatio = b.raw / a.raw;
      return {
        pair: `${terrain} ${slow}/${fast}`,
        terrain,
        speedRatio,
        rawRatio,
        normalisedRatio: b.energy / a.energy,
        exponent: Math.log(rawRatio) / Math.log(speedRatio),
      };
    });
    const lsq = (rs: typeof rows) =>
      rs.reduce((s, r) => s + Math.log(r.speedRatio) * Math.log(r.rawRatio), 0) /
      rs.reduce((s, r) => s + Math.log(r.speedRatio) ** 2, 0);
    const meanAbsLog = (k: "rawRatio" | "normalisedRatio") =>
      rows.reduce((s, r) => s + Math.abs(Math.log(r[k])), 0) / rows.length;
    return {
      rows: rows.map(({ terrain, ...r }) => ({
        ...r,
        // Fit on the other terrains, applied to this one: the ratio left after normalising.
        leaveOneTerrainOut: r.rawRatio / r.speedRatio ** lsq(rows.filter((x) => x.terrain !== terrain)),
      })),
      leastSquaresExponent: lsq(rows),
      meanAbsLogRaw: meanAbsLog("rawRatio"),
      meanAbsLogNormalised: meanAbsLog("normalisedRatio"),
    };
  };
  const result = {
    command:
      "terrain-learner label BAG --config raw.yaml --json (raw.yaml: labeler.speed_exponent: 0); normalised: without --config",
    runs: Object.fromEntries(runs),
    tf: table("tf"),
    gravity: table("gravity"),
  };
  const out = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1] : undefined;
  const text = `${JSON.stringify(result, null, 2)}\n`;
  if (out) {
    writeFileSync(`${out}.tmp`, text);
    renameSync(`${out}.tmp`, out);
  }
  process.stdout.write(text);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
