// `terrain-learner sim convert-recording`: the real BorealTC and U2IS files into the recording CSV,
// through the CLI as a user runs it: one success and one refusal in a child process, the rest
// in-process through the same commander setup (runSimInProcess), without a child's start-up each.

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { dump } from "npyjs";
import { afterAll, describe, expect, it } from "vitest";
import { convertU2is } from "../sim/convert-recording.ts";
import { parseRecordingCsv, WORLDS_DIR } from "../sim/index.ts";
import { BOREAL_DIR } from "./core-borealtc-helpers.ts";
import { runSimInProcess } from "./helpers/sim-cli-in-process.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const U2IS = fileURLToPath(new URL("./fixtures/u2is/path_t6_v1.npy", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "convert-recording-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real command line, in a child process: kept for one success and one refusal. */
async function cliReal(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      "node",
      ["bin/terrain-learner.js", "sim", "convert-recording", ...args],
      {
        cwd: ROOT,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The same command in-process (same commander setup and action), without a child's start-up. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSimInProcess(["sim", "convert-recording", ...args], ROOT);
}

describe("sim convert-recording", () => {
  it("BorealTC: every IMU row, speed from the wheel speeds of pro_NN.csv", async () => {
    const out = join(dir, "asphalt.csv");
    const r = await cliReal("--format", "borealtc", join(BOREAL_DIR, "ASPHALT/imu_04.csv"), out, "--json");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.columns).toEqual(["t", "ax", "ay", "az", "gx", "gy", "gz", "speed"]);
    const rec = parseRecordingCsv(readFileSync(out, "utf8"), out);
    const imu = readFileSync(join(BOREAL_DIR, "ASPHALT/imu_04.csv"), "utf8").trim().split("\n");
    expect(rec.t.length).toBe(imu.length - 1);
    const row = imu[100]!.split(",").map(Number); // time, wx, wy, wz, ax, ay, az
    expect(rec.az[99]).toBeCloseTo(row[6]!, 5);
    expect(rec.gyro![0][99]).toBeCloseTo(row[1]!, 5);
    // The _04 run is one of the faster ones (0.4–0.6 m/s).
    const mid = rec.speed![Math.floor(rec.t.length / 2)]!;
    expect(mid).toBeGreaterThan(0.35);
    expect(mid).toBeLessThan(0.7);
    expect(summary.naturalRoughness).toBeGreaterThan(0);
  }, 300_000);

  it("a recording louder than the synthetic scale's top is not said to play at its own level at roughness 1", async () => {
    const out = join(dir, "snow.csv");
    const json = await cli("--format", "borealtc", join(BOREAL_DIR, "SNOW/imu_09.csv"), out, "--json");
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout);
    expect(summary.naturalRoughness).toBe(1);
    expect(summary.gainAtNatural).toBeLessThan(0.9);
    const r = await cli("--format", "borealtc", join(BOREAL_DIR, "SNOW/imu_09.csv"), out);
    expect(r.stdout).not.toMatch(/own level/);
    expect(r.stdout).toMatch(
      new RegExp(
        `RMS, above the synthetic model's level at roughness 1 \\([\\d.]+ m/s², default world\\): at any roughness it plays quieter than recorded \\(gain ${summary.gainAtNatural.toFixed(2)} at roughness 1\\)`,
      ),
    );
    // Within the scale the natural roughness plays it at gain 1.
    const asphalt = await cli("--format", "borealtc", join(BOREAL_DIR, "ASPHALT/imu_04.csv"), out, "--json");
    expect(JSON.parse(asphalt.stdout).gainAtNatural).toBeCloseTo(1, 6);
  }, 300_000);

  it("U2IS: reproduces the shipped world's recording byte for byte; ax, ay, gz written as 0", async () => {
    const out = join(dir, "u2is-path_t6_v1.csv");
    const r = await cli("--format", "u2is", U2IS, out);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/U2IS files have no ax, ay, gz: written as 0/);
    expect(r.stdout).toMatch(/259 rows, 6\.0 s at 43\.\d Hz/);
    expect(readFileSync(out, "utf8")).toBe(
      readFileSync(join(WORLDS_DIR, "recordings/u2is-path_t6_v1.csv"), "utf8"),
    );
    const rec = parseRecordingCsv(readFileSync(out, "utf8"), out);
    expect(
      rec.ax.every((v) => v === 0) && rec.ay.every((v) => v === 0) && rec.gyro![2].every((v) => v === 0),
    ).toBe(true);
    expect(Math.max(...rec.az)).toBeGreaterThan(11);
  }, 300_000);

  it("bad input: a clear error, and the input is never overwritten", async () => {
    const before = statSync(U2IS).mtimeMs;
    let r = await cli("--format", "u2is", U2IS, U2IS);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/OUT .*path_t6_v1\.npy is the input .*; refusing to overwrite it/);
    expect(statSync(U2IS).mtimeMs).toBe(before);

    r = await cli("--format", "kitti", U2IS, join(dir, "x.csv"));
    expect(r.stderr).toMatch(/--format 'kitti': expected borealtc, u2is or csv/);

    const noRate = join(dir, "grass.npy");
    // Rows of az, wx, wy, vx: at rest, gravity on az.
    const rows = Float64Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 9.8 : 0));
    writeFileSync(noRate, Buffer.from(dump(rows, [10, 4])));
    r = await cli("--format", "u2is", noRate, join(dir, "z.csv"), "--rate", "40");
    // 10 rows at 40 Hz is a quarter of a second: too short to play, so nothing is written.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /cannot be played as a world's recording, nothing written: .*only 0\.\d+ s with the robot moving/,
    );
    expect(() => statSync(join(dir, "z.csv"))).toThrow(/ENOENT/);

    // A wrong --up: the message is about the input, and names no output file as a recording.
    const mine = join(dir, "mine.csv");
    writeFileSync(
      mine,
      `t,ax,ay,az,speed\n${Array.from({ length: 500 }, (_, i) => `${i / 100},0,0,9.8,1`).join("\n")}\n`,
    );
    r = await cli("--format", "csv", "--up", "0,0,-1", mine, join(dir, "checked.csv"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /^terrain-learner: \S*mine\.csv: cannot be played as a world's recording, nothing written: its mean acceleration \(0, 0, 9\.8\) m\/s² is 180° from up/,
    );
    expect(r.stderr).not.toMatch(/checked\.csv/);
  }, 300_000);

  it("a file of the other format: one line naming the --format that reads it", async () => {
    const npy = await cliReal("--format", "borealtc", U2IS, join(dir, "w1.csv"));
    expect(npy.code).toBe(1);
    expect(npy.stderr.trim().split("\n")).toEqual([
      `terrain-learner: ${U2IS}: a NumPy .npy file, not a BorealTC CSV: use --format u2is`,
    ]);
    const csv = join(BOREAL_DIR, "ICE/imu_07.csv");
    const b = await cli("--format", "u2is", csv, join(dir, "w2.csv"));
    expect(b.code).toBe(1);
    expect(b.stderr.trim().split("\n")).toEqual([
      `terrain-learner: ${csv}: a CSV file, not a U2IS .npy: use --format borealtc`,
    ]);
    expect(() => statSync(join(dir, "w1.csv"))).toThrow(/ENOENT/);
  }, 300_000);

  it("U2IS files of the wrong shape, without a rate, or not NumPy at all", () => {
    const npy = (shape: number[]) => new Uint8Array(dump(new Float64Array(shape[0]! * shape[1]!), shape));
    expect(() => convertU2is(npy([10, 3]), "grass_t5_v1.npy", undefined)).toThrow(
      /grass_t5_v1\.npy: shape \(10, 3\); U2IS samples are \(N, 4\)/,
    );
    expect(() => convertU2is(npy([10, 4]), "grass.npy", undefined)).toThrow(
      /grass\.npy: no sample rate .*give --rate HZ/,
    );
    expect(convertU2is(npy([10, 4]), "grass_t5_v1.npy", undefined).t[1]).toBeCloseTo(0.5, 12);
    expect(() => convertU2is(new TextEncoder().encode("not numpy"), "text.npy", 40)).toThrow(
      /text\.npy: not a NumPy \.npy file/,
    );
    // A NaN is said by the array's row, not by the line of the CSV written from it.
    const data = new Float64Array(40);
    data[4 * 7 + 3] = Number.NaN;
    expect(() => convertU2is(new Uint8Array(dump(data, [10, 4])), "grass_t5_v1.npy", undefined)).toThrow(
      /^grass_t5_v1\.npy: row 7 \(from 0\), vx is NaN, not a finite number$/,
    );
  });
});

describe("sim convert-recording: BorealTC-layout logs of one's own", () => {
  const imuText = readFileSync(join(BOREAL_DIR, "ASPHALT/imu_04.csv"), "utf8");
  const proText = readFileSync(join(BOREAL_DIR, "ASPHALT/pro_04.csv"), "utf8");
  /** The rows of a CSV with `f` applied to each data row's fields. */
  const rows = (text: string, f: (fields: string[], i: number) => string[][]) => {
    const [head, ...body] = text.trim().split("\n");
    return `${[head, ...body.flatMap((l, i) => f(l.split(","), i).map((r) => r.join(",")))].join("\n")}\n`;
  };
  const epoch = (fields: string[]) => [[(Number(fields[0]) + 1_700_000_000).toFixed(6), ...fields.slice(1)]];

  it("stamped in epoch seconds: converted, t from 0 (7 digits merged every row into one stamp)", async () => {
    const sub = mkdtempSync(join(dir, "epoch-"));
    writeFileSync(join(sub, "imu_04.csv"), rows(imuText, epoch));
    writeFileSync(join(sub, "pro_04.csv"), rows(proText, epoch));
    const out = join(sub, "out.csv");
    const r = await cli("--format", "borealtc", join(sub, "imu_04.csv"), out, "--json");
    expect(r.code, r.stderr).toBe(0);
    const rec = parseRecordingCsv(readFileSync(out, "utf8"), out);
    expect(rec.t.length).toBe(imuText.trim().split("\n").length - 1);
    expect(rec.t[0]).toBe(0);
    expect(rec.t[1]).toBeCloseTo(0.01, 9);
    expect(JSON.parse(r.stdout).levelAt1ms).toBeCloseTo(2.76, 2);
  }, 300_000);

  it("a repeated stamp or a speed file out of order: one line naming the input's line", async () => {
    const sub = mkdtempSync(join(dir, "order-"));
    writeFileSync(
      join(sub, "imu_04.csv"),
      rows(imuText, (f, i) => (i === 98 ? [f, f] : [f])),
    );
    writeFileSync(join(sub, "pro_04.csv"), proText);
    let r = await cli("--format", "borealtc", join(sub, "imu_04.csv"), join(sub, "out.csv"));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `terrain-learner: ${join(sub, "imu_04.csv")}: line 101: time 0.98 repeats line 100's 0.98: rows must be in time order, one per stamp\n`,
    );
    writeFileSync(join(sub, "imu_04.csv"), imuText);
    const pro = proText.trim().split("\n");
    [pro[2], pro[3]] = [pro[3]!, pro[2]!];
    writeFileSync(join(sub, "pro_04.csv"), `${pro.join("\n")}\n`);
    r = await cli("--format", "borealtc", join(sub, "imu_04.csv"), join(sub, "out.csv"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /pro_04\.csv: line 4: time 0\.153\d* is before line 3's 0\.307\d*: rows must be in time order/,
    );
  }, 300_000);
});

describe("sim convert-recording --format csv: a recording of one's own, checked", () => {
  const shipped = join(WORLDS_DIR, "recordings/u2is-path_t6_v1.csv");

  it("read as a world reads it, its comments kept, its level printed", async () => {
    const out = join(dir, "own.csv");
    const r = await cli("--format", "csv", shipped, out, "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.levelAt1ms).toBeCloseTo(1.274, 3);
    expect(summary.warnings).toEqual([]);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(
      /^# converted from U2IS path_t6_v1\.npy.*\n# checked from u2is-path_t6_v1\.csv\nt,ax,/,
    );
    expect(parseRecordingCsv(text, out).t.length).toBe(259);
    // Read as BorealTC it failed on its first line ("line 2: 8 fields, the header has 2").
    const b = await cli("--format", "borealtc", shipped, join(dir, "own2.csv"));
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(
      `terrain-learner: ${shipped}: a recording CSV (t, ax, ay, az, ...), not a BorealTC file: use --format csv\n`,
    );
  }, 300_000);

  it("without a speed column, --speed gives the level a world driving it at vibration.speed plays", async () => {
    // BorealTC without its pro_NN.csv: no speed column. The run was driven at about 0.4 m/s.
    mkdirSync(join(dir, "nospeed/rec"), { recursive: true });
    const imu = join(dir, "nospeed/imu_04.csv");
    writeFileSync(imu, readFileSync(join(BOREAL_DIR, "ASPHALT/imu_04.csv")));
    const out = join(dir, "nospeed/rec/asphalt.csv");
    const assumed = await cli("--format", "borealtc", imu, out);
    expect(assumed.code, assumed.stderr).toBe(0);
    expect(assumed.stdout).toMatch(/no speed column: driven at 1 m\/s assumed; give --speed/);
    const r = await cli("--format", "borealtc", imu, out, "--speed", "0.4", "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.assumedSpeed).toBe(0.4);
    const world = join(dir, "nospeed/world.yaml");
    writeFileSync(
      world,
      [
        "name: nospeed",
        "bounds: { xMin: -20, xMax: 20, yMin: -20, yMax: 20 }",
        "layout: { kind: stripes, cellSize: 10 }",
        "terrains:",
        "  - type: concrete",
        "  - type: asphalt",
        "    vibration: { recordings: [rec/asphalt.csv], up: [0, 0, 1], speed: 0.4 }",
        "",
      ].join("\n"),
    );
    const sim = await runSimInProcess(
      ["sim", "-w", world, "-d", "1", "--json", "-o", join(dir, "nospeed/w.mcap")],
      ROOT,
    );
    expect(sim.code, sim.stderr).toBe(0);
    const played = JSON.parse(sim.stdout).recordedVibration[0];
    expect(summary.levelAt1ms).toBeCloseTo(played.level, 6);
    expect(summary.naturalRoughness).toBeCloseTo(played.naturalRoughness, 6);
    // Assumed at 1 m/s it read as far smoother ground than the world plays.
    expect(
      JSON.parse((await cli("--format", "csv", out, join(dir, "x.csv"), "--json")).stdout).naturalRoughness,
    ).toBeLessThan(played.naturalRoughness - 0.3);
    const own = await cli("--format", "csv", shipped, join(dir, "y.csv"), "--speed", "0.4");
    expect(own.code).toBe(1);
    expect(own.stderr).toBe(
      `terrain-learner: --speed: ${shipped} has a speed column of its own; --speed is for recordings without one\n`,
    );
  }, 300_000);

  it("a log with a gap: the median rate (not rows over seconds) and the gap are printed", async () => {
    // The real 100 Hz ASPHALT run with 5 s of rows missing, as a logger that stalled leaves it.
    const lines = readFileSync(join(BOREAL_DIR, "ASPHALT/imu_04.csv"), "utf8").trim().split("\n");
    const t0 = Number(lines[1]!.split(",")[0]);
    const kept = lines.filter((l, i) => {
      const t = Number(l.split(",")[0]) - t0;
      return i === 0 || t < 20 || t >= 25;
    });
    const input = join(dir, "gap", "imu_04.csv");
    mkdirSync(join(dir, "gap"), { recursive: true });
    writeFileSync(input, `${kept.join("\n")}\n`);
    const pro = join(BOREAL_DIR, "ASPHALT/pro_04.csv");
    const out = join(dir, "gap.csv");
    const r = await cli("--format", "borealtc", input, out, "--pro", pro);
    expect(r.code, r.stderr).toBe(0);
    // Rows over seconds would say 90.1 Hz.
    expect(r.stdout).toMatch(
      /^wrote .*gap\.csv: 4562 rows, 50\.6 s at 100\.0 Hz \(median rate\), 1 gap of 5\.0 s at 20\.0 s, /,
    );
    const json = JSON.parse((await cli("--format", "borealtc", input, out, "--pro", pro, "--json")).stdout);
    expect(json.rate).toBeCloseTo(100, 6);
    expect(json.gaps.count).toBe(1);
    expect(json.gaps.longest.seconds).toBeCloseTo(5, 1);
    // A log without a gap says none.
    const plain = await cli("--format", "borealtc", join(BOREAL_DIR, "ASPHALT/imu_04.csv"), out);
    expect(plain.stdout).toMatch(/ s at 100\.0 Hz \(median rate\), [\d.]+ s moving, columns /);
  }, 300_000);

  /** The shipped recording with `columns` multiplied by `factor` (a log in other units), written as `name`. */
  function scaled(name: string, columns: readonly string[], factor: number): string {
    const lines = readFileSync(shipped, "utf8").trim().split("\n");
    const head = lines.findIndex((l) => l.startsWith("t,"));
    const cols = lines[head]!.split(",");
    const out = lines.map((l, i) =>
      i <= head
        ? l
        : l
            .split(",")
            .map((v, c) => (columns.includes(cols[c]!) ? String(Number(v) * factor) : v))
            .join(","),
    );
    const input = join(dir, name);
    writeFileSync(input, `${out.join("\n")}\n`);
    return input;
  }

  it("a speed column in km/h is warned about; the shipped recordings in m/s are not", async () => {
    const r = await cli("--format", "csv", scaled("kmh.csv", ["speed"], 3.6), join(dir, "kmh-out.csv"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: the robot moves at a median 3\.\d\d m\/s in the speed column, .*: km\/h, not m\/s\? .*divide speed by 3\.6$/m,
    );
    const plain = await cli("--format", "csv", shipped, join(dir, "ms-out.csv"));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toMatch(/km\/h/);
  }, 300_000);

  it("a gyro in deg/s is warned about (the level printed is the vertical acceleration's)", async () => {
    const input = scaled("deg.csv", ["gx", "gy", "gz"], 180 / Math.PI);
    const r = await cli("--format", "csv", input, join(dir, "deg-out.csv"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: the roll and pitch rates \(gx, gy\) vary by [\d.]+ rad\/s RMS, more than a ground robot rocks .*: deg\/s, not rad\/s\? .*multiply gx, gy, gz by 0\.0174533$/m,
    );
  }, 300_000);
});
