// Recorded vibration: the CSV format, resampling, splicing, rotation into the mount, and the one
// roughness scale shared with the synthetic model. The recordings are the real U2IS Husky runs the
// shipped world plays (sim/worlds/recordings).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { formatRecordingCsv } from "../sim/convert-recording.ts";
import {
  buildWorld,
  ImuModel,
  type ImuReading,
  levelAt,
  loadWorldAssets,
  newState,
  parseRecordingCsv,
  parseWorld,
  prepareRecording,
  RecordingPlayer,
  recordingLevel,
  rotationToZ,
  syntheticLevelCurve,
  terrainAt,
  WORLDS_DIR,
  type World,
} from "../sim/index.ts";
import { resampleColumns } from "../sim/recording.ts";
import { VibrationLabeller } from "../src/core/labeller.ts";
import { PoseHistory } from "../src/core/pose-history.ts";
import type { RoughnessLabel } from "../src/core/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";

const GRASS = `${WORLDS_DIR}/recordings/u2is-grass_t15_v1.csv`;
const ROAD = `${WORLDS_DIR}/recordings/u2is-road_t20_v1.csv`;
const HERE = fileURLToPath(new URL(".", import.meta.url));

describe("recording CSV", () => {
  const ok = "t,ax,ay,az\n0,0,0,9.8\n0.01,0,0,9.9\n0.02,0,0,9.7\n";
  it("parses columns in any order, with comments and optional gyro and speed", () => {
    const r = parseRecordingCsv(
      "# a comment\naz,t,ay,ax,speed,gz,gy,gx\n9.8,0,0,0,1,0,0,0.1\n9.9,0.01,0,0,1,0,0,0.2\n",
      "x.csv",
    );
    expect(Array.from(r.t)).toEqual([0, 0.01]);
    expect(Array.from(r.az)).toEqual([9.8, 9.9]);
    expect(Array.from(r.gyro![0])).toEqual([0.1, 0.2]);
    expect(Array.from(r.speed!)).toEqual([1, 1]);
    expect(parseRecordingCsv(ok, "ok.csv").gyro).toBeUndefined();
  });

  it("rejects a bad header, naming the file, the line and the column", () => {
    expect(() => parseRecordingCsv("t,ax,ay\n0,0,0\n1,0,0\n", "a.csv")).toThrow(
      /a\.csv: line 1: header lacks column 'az'/,
    );
    expect(() => parseRecordingCsv("t,ax,ay,accz\n0,0,0,1\n", "b.csv")).toThrow(
      /b\.csv: line 1: unknown column 'accz'/,
    );
    expect(() => parseRecordingCsv("t,ax,ay,az,ax\n", "c.csv")).toThrow(/column 'ax' appears twice/);
    expect(() => parseRecordingCsv("t,ax,ay,az,gx\n0,0,0,1,0\n1,0,0,1,0\n", "d.csv")).toThrow(
      /gx, gy, gz must be given all three/,
    );
    expect(() => parseRecordingCsv("", "e.csv")).toThrow(/e\.csv: empty file/);
  });

  it("rejects NaN and malformed rows", () => {
    expect(() => parseRecordingCsv("t,ax,ay,az\n0,0,0,9.8\n0.01,0,NaN,9.8\n", "n.csv")).toThrow(
      /n\.csv: line 3: column 'ay' is 'NaN', not a finite number/,
    );
    expect(() => parseRecordingCsv("t,ax,ay,az\n0,0,0,9.8\n0.01,0,,9.8\n", "n.csv")).toThrow(
      /line 3: column 'ay' is ''/,
    );
    expect(() => parseRecordingCsv("t,ax,ay,az\n0,0,0\n", "f.csv")).toThrow(
      /line 2: 3 fields, the header has 4/,
    );
  });

  it("rejects time that does not increase", () => {
    expect(() => parseRecordingCsv("t,ax,ay,az\n0,0,0,9.8\n0.02,0,0,9.8\n0.01,0,0,9.8\n", "m.csv")).toThrow(
      /m\.csv: line 4: t = 0\.01 does not increase \(previous 0\.02\)/,
    );
    expect(() => parseRecordingCsv("t,ax,ay,az\n0,0,0,9.8\n0,0,0,9.8\n", "m.csv")).toThrow(
      /line 3: t = 0 does not increase/,
    );
  });

  it("writes what it reads (the converters' output format)", () => {
    const r = parseRecordingCsv(readFileSync(GRASS, "utf8"), GRASS);
    const again = parseRecordingCsv(formatRecordingCsv(r), "again");
    expect(Array.from(again.az)).toEqual(Array.from(r.az));
    expect(Array.from(again.speed!)).toEqual(Array.from(r.speed!));
  });

  it("names the terrain and asks for a speed when the file has none", async () => {
    const file = parseWorld(
      {
        terrains: [
          { name: "ground", roughness: 0.3, type: "dirt", vibration: { recordings: ["fixtures/nope.csv"] } },
        ],
      },
      "w",
      HERE,
    );
    await expect(loadWorldAssets(file)).rejects.toThrow(
      /terrain 'ground': recording .*fixtures\/nope\.csv: cannot read: no such file \(ENOENT\)/,
    );
    const rec = parseRecordingCsv(ok.replace(/\n$/, "") + "\n0.03,0,0,9.8\n", "s.csv");
    expect(() =>
      prepareRecording(rec, { up: [0, 0, 1], speed: undefined, rate: 200, speedExponent: 1.35 }, "ground"),
    ).toThrow(/terrain 'ground': recording s\.csv: no 'speed' column; give the terrain's vibration\.speed/);
  });
});

describe("gravity in a recording", () => {
  const opts = { speed: undefined, rate: 200, speedExponent: 1.35 };
  it("rejects a log in g and the wrong up, which would play another axis or a tenth of it unsaid", () => {
    const rec = parseRecordingCsv(readFileSync(ROAD, "utf8"), ROAD);
    expect(() => prepareRecording(rec, { ...opts, up: [0, 0, 1] }, "road")).not.toThrow();
    expect(() => prepareRecording(rec, { ...opts, up: [1, 0, 0] }, "road")).toThrow(
      /^terrain 'road': recording .*u2is-road_t20_v1\.csv: its mean acceleration \(0, 0, 9\.8\d\) m\/s² is 90° from up \(1, 0, 0\): up is the direction that reads \+9\.8 m\/s² at rest, here about \(0, 0, 1\)$/,
    );
    const inG = {
      ...rec,
      ax: rec.ax.map((v) => v / 9.81),
      ay: rec.ay.map((v) => v / 9.81),
      az: rec.az.map((v) => v / 9.81),
    };
    expect(() => prepareRecording(inG, { ...opts, up: [0, 0, 1] }, "road")).toThrow(
      /terrain 'road': recording .*: the mean acceleration is 1\.00 m\/s², not about 9\.8: ax, ay, az must be m\/s² with gravity included \(a log in g: multiply by 9\.81\)$/,
    );
  });
});

describe("resampling", () => {
  it("keeps a 5 Hz sine's amplitude and frequency from ~43 Hz (jittery stamps) to 200 Hz and 30 Hz", () => {
    const n = 430;
    const t = Float64Array.from({ length: n }, (_, i) => i / 43 + 0.002 * Math.sin(i * 1.7));
    const x = t.map((s) => Math.sin(2 * Math.PI * 5 * s));
    for (const rate of [200, 30]) {
      const { columns } = resampleColumns(t, [x], rate);
      const y = columns[0]!;
      // Middle 80 %: away from the ends, where the kernel is truncated.
      const a = Math.floor(0.1 * y.length);
      const b = Math.floor(0.9 * y.length);
      let ss = 0;
      let crossings = 0;
      for (let i = a; i < b; i++) {
        ss += y[i]! * y[i]!;
        if (i > a && Math.sign(y[i]!) !== Math.sign(y[i - 1]!)) crossings++;
      }
      expect(Math.sqrt(ss / (b - a))).toBeCloseTo(Math.SQRT1_2, 1);
      const seconds = (b - a) / rate;
      expect(crossings / (2 * seconds)).toBeGreaterThan(4.8);
      expect(crossings / (2 * seconds)).toBeLessThan(5.2);
    }
  });
});

describe("splicing", () => {
  it("joins segments without a step larger than the recording's own sample-to-sample changes", () => {
    for (const path of [GRASS, ROAD]) {
      const prep = prepareRecording(
        parseRecordingCsv(readFileSync(path, "utf8"), path),
        { up: [0, 0, 1], speed: undefined, rate: 200, speedExponent: 1.35 },
        "t",
      );
      const player = new RecordingPlayer([prep], 1, 7);
      const out = new Float64Array(6);
      let prev = Number.NaN;
      let maxStep = 0;
      const n = 200 * 120;
      for (let i = 0; i < n; i++) {
        player.next(out);
        if (i > 0) maxStep = Math.max(maxStep, Math.abs(out[2]! - prev));
        prev = out[2]!;
      }
      expect(player.joins).toBeGreaterThan(25); // 1–4 s segments over 120 s
      expect(maxStep).toBeLessThanOrEqual(prep.maxVerticalStep);
      // The same cuts without the cross-fade would step further: the bound is not met trivially.
      const z = prep.channels[2];
      let hardCutMax = 0;
      for (let k = 0; k < 200; k++) {
        const i = Math.floor((k * 7919) % (z.length - 1));
        const j = Math.floor((k * 104729) % (z.length - 1));
        hardCutMax = Math.max(hardCutMax, Math.abs(z[j]! - z[i]!));
      }
      expect(hardCutMax).toBeGreaterThan(prep.maxVerticalStep);
    }
  });
});

/** Drives straight along +x at `speed` through the world, feeding the labeller with the simulated IMU. */
async function driveAndLabel(
  world: World,
  seconds: number,
  speed = 1,
  x0 = 0.5,
): Promise<{ labels: RoughnessLabel[]; az: number[][] }> {
  const rate = world.file.imu.rate;
  const imu = new ImuModel(world, 3, rate);
  const poses = new PoseHistory({ maxAge: 1e9 });
  const lab = new VibrationLabeller(
    { ...defaultConfig().labeler, calibration: { ...defaultConfig().labeler.calibration, mode: "fixed" } },
    poses,
  );
  for (let i = 0; i <= seconds * 50; i++) {
    const t = i / 50;
    poses.pushRaw(t, x0 + speed * t, 0, 0, 0, 0, 0, 1, speed, 0);
  }
  const s = newState();
  const r: ImuReading = { ax: 0, ay: 0, az: 0, gx: 0, gy: 0, gz: 0, roughness: 0 };
  const az: number[][] = world.terrains.map(() => []);
  for (let i = 0; i <= seconds * rate; i++) {
    const t = i / rate;
    s.t = t;
    s.x = x0 + speed * t;
    s.v = speed;
    imu.sample(s, r);
    lab.pushImu(t, r.ax, r.ay, r.az, r.gx, r.gy, r.gz);
    const k = terrainAt(world, s.x, 0);
    if (k >= 0) az[k]!.push(r.ax); // imu_link x is up (mounted on its side)
    // Let the test runner's messages through on a busy machine.
    if (i % 20_000 === 0) await new Promise((done) => setImmediate(done));
  }
  lab.finish();
  return { labels: lab.takeLabels(), az };
}

async function stripeWorld(terrains: Record<string, unknown>[], width = 40): Promise<World> {
  const file = parseWorld(
    {
      bounds: { xMin: -10, xMax: 3.3 * width, yMin: -10, yMax: 10 },
      layout: { kind: "stripes", cellSize: width, angle: 0, margin: 5, seed: 1, warp: 0 },
      terrains,
    },
    "test",
  );
  return buildWorld(file, 1, await loadWorldAssets(file));
}

describe("rotation into the mount", () => {
  it("the same recording mounted three ways gives equal labels", async () => {
    const base = parseRecordingCsv(readFileSync(GRASS, "utf8"), GRASS);
    // Three mounts: z up as recorded, on its side (up = −x), and tilted arbitrarily.
    const mounts: { up: [number, number, number]; m: number[] }[] = [
      { up: [0, 0, 1], m: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
      { up: [-1, 0, 0], m: [0, 0, -1, 0, 1, 0, 1, 0, 0] },
    ];
    const u = [0.3, -0.5, 0.81];
    const nu = Math.hypot(...u);
    const up = u.map((v) => v / nu) as [number, number, number];
    // Rotation taking z to `up`: the transpose of rotationToZ(up).
    const R = rotationToZ(up);
    mounts.push({ up, m: [R[0]!, R[3]!, R[6]!, R[1]!, R[4]!, R[7]!, R[2]!, R[5]!, R[8]!] });
    const results: RoughnessLabel[][] = [];
    const dir = await import("node:fs").then((fs) => fs.mkdtempSync(`${HERE}/../.tmp-rot-`));
    try {
      for (const [k, { up: mountUp, m }] of mounts.entries()) {
        const rot = (a: Float64Array, b: Float64Array, c: Float64Array, row: number) =>
          a.map((_, i) => m[3 * row]! * a[i]! + m[3 * row + 1]! * b[i]! + m[3 * row + 2]! * c[i]!);
        const g = base.gyro!;
        const rec = {
          ...base,
          ax: rot(base.ax, base.ay, base.az, 0),
          ay: rot(base.ax, base.ay, base.az, 1),
          az: rot(base.ax, base.ay, base.az, 2),
          gyro: [rot(g[0], g[1], g[2], 0), rot(g[0], g[1], g[2], 1), rot(g[0], g[1], g[2], 2)] as [
            Float64Array,
            Float64Array,
            Float64Array,
          ],
        };
        const path = `${dir}/mount${k}.csv`;
        (await import("node:fs")).writeFileSync(path, formatRecordingCsv(rec));
        const world = await stripeWorld([
          { name: "grass", roughness: 0.44, type: "grass", vibration: { recordings: [path], up: mountUp } },
        ]);
        results.push((await driveAndLabel(world, 40)).labels);
      }
    } finally {
      (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
    }
    expect(results[0]!.length).toBeGreaterThan(100);
    for (const other of results.slice(1)) {
      expect(other.length).toBe(results[0]!.length);
      for (let i = 0; i < other.length; i++) {
        // 7 significant digits in the CSV: equal to ~1e-5 relative.
        expect(other[i]!.energy).toBeCloseTo(results[0]![i]!.energy, 3);
        expect(other[i]!.roughness).toBeCloseTo(results[0]![i]!.roughness, 4);
      }
    }
  });
});

describe("one roughness scale for recorded and synthetic vibration", () => {
  it("a recorded terrain vibrates at the synthetic level of its roughness, so labels order terrains as the truth does", async () => {
    // 80 s on each stripe: the recording's level over a 40 s stretch still varies by ±8 %.
    // Synthetic 0.15, recorded at 0.3, synthetic 0.45; then the recording at 0.6 between 0.45 and 0.75.
    for (const [lo, rec, hi] of [
      [0.15, 0.3, 0.45],
      [0.45, 0.6, 0.75],
    ] as const) {
      const world = await stripeWorld(
        [
          { name: "lo", type: "dirt", roughness: lo },
          { name: "rec", type: "grass", roughness: rec, vibration: { recordings: [ROAD] } },
          { name: "hi", type: "sand", roughness: hi },
        ],
        80,
      );
      const { labels, az } = await driveAndLabel(world, 245);
      const curve = syntheticLevelCurve(world.file, world.file.imu.rate);
      // The rule itself: the recorded stripe's vertical RMS at 1 m/s is the synthetic level at its roughness.
      const rms = (xs: number[]) => {
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
      };
      const levels = az.map(rms);
      expect(levels[1]! / levelAt(curve, rec)).toBeGreaterThan(0.88);
      expect(levels[1]! / levelAt(curve, rec)).toBeLessThan(1.12);
      for (const k of [0, 2]) expect(levels[k]! / levelAt(curve, [lo, rec, hi][k]!)).toBeCloseTo(1, 1);
      // What a labeller sees: mean log-energy per terrain, away from the stripe edges.
      const byTerrain: number[][] = [[], [], []];
      for (const l of labels) {
        const k = terrainAt(world, l.x, l.y);
        const edge = ((l.x % 80) + 80) % 80;
        if (k >= 0 && edge > 3 && edge < 77) byTerrain[k]!.push(Math.log10(l.energy));
      }
      const mean = byTerrain.map((v) => v.reduce((a, b) => a + b, 0) / v.length);
      expect(byTerrain.every((v) => v.length > 150)).toBe(true);
      expect(mean[0]!).toBeLessThan(mean[1]!);
      expect(mean[1]!).toBeLessThan(mean[2]!);
    }
  });

  it("reports the roughness at which a recording plays at its own level (gain 1)", async () => {
    const file = parseWorld({ terrains: [{ type: "grass", vibration: { recordings: [GRASS] } }] }, "w");
    const world = buildWorld(file, 1, await loadWorldAssets(file));
    const imu = new ImuModel(world, 1, 200);
    const t = imu.recordedTerrains![0]!;
    const prep = t.player.recordings;
    expect(t.level).toBeCloseTo(recordingLevel(prep), 12);
    expect(t.gain).toBeCloseTo(levelAt(syntheticLevelCurve(file, 200), 0.35) / t.level, 12);
    // At its natural roughness the gain is 1.
    const natural = parseWorld(
      { terrains: [{ type: "grass", roughness: t.naturalRoughness, vibration: { recordings: [GRASS] } }] },
      "w",
    );
    const w2 = buildWorld(natural, 1, await loadWorldAssets(natural));
    expect(new ImuModel(w2, 1, 200).recordedTerrains![0]!.gain).toBeCloseTo(1, 6);
  });
});
