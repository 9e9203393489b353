// A world and a recording built from one's own ground, with the mistakes a user makes in them: each
// is one line naming the file and the fix, exit 1, and nothing written.
//
// Most cases run the sim command in-process (runSimInProcess: the same commander setup and action);
// one per message path goes through the real CLI (runCli), so exit status and output stay covered.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { runSimInProcess } from "./helpers/sim-cli-in-process.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-user-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 10 s of a 100 Hz IMU shaking at 1 m/s, with `t` multiplied by `factor` (seconds → another unit). */
function recordingWithTimeIn(name: string, factor: number): string {
  const rows = Array.from({ length: 1000 }, (_, i) => {
    const t = (i / 100) * factor;
    return `${t},0,0,${(9.8 + Math.sin(i * 1.3)).toFixed(4)},1`;
  });
  writeFileSync(join(dir, name), `t,ax,ay,az,speed\n${rows.join("\n")}\n`);
  return name;
}

function expectOneLine(r: { code: number; stderr: string }, message: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

describe("a recording whose t is not in seconds", () => {
  it.each([
    ["milliseconds", 1e3, "divide t by 1000"],
    ["nanoseconds", 1e9, "divide t by 1000000000"],
  ])("in %s: refused by the world and by convert-recording, naming the fix", async (unit, factor, fix) => {
    const csv = recordingWithTimeIn(`t-${unit}.csv`, factor);
    const world = join(dir, `t-${unit}.yaml`);
    writeFileSync(world, `terrains:\n  - { type: grass, vibration: { recordings: [${csv}] } }\n`);
    const out = join(dir, `t-${unit}.mcap`);
    const cli = unit === "milliseconds" ? runCli : runSimInProcess;
    const sim = await cli(["sim", "--world", world, "--duration", "1", "--out", out], dir);
    expectOneLine(sim, new RegExp(`recording .*${csv}: .*looks like ${unit}: ${fix}$`));
    expect(existsSync(out)).toBe(false);

    const conv = await cli(["sim", "convert-recording", "--format", "csv", csv, "out.csv"], dir);
    expectOneLine(conv, new RegExp(`${csv}: .*looks like ${unit}: ${fix}$`));
    expect(readdirSync(dir).filter((f) => f.includes("out.csv"))).toEqual([]);
  });

  it("the same file in seconds is played", async () => {
    const csv = recordingWithTimeIn("t-seconds.csv", 1);
    const r = await runSimInProcess(
      ["sim", "convert-recording", "--format", "csv", csv, "seconds-out.csv"],
      dir,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("vibration.speed with recordings that have a speed column", () => {
  it("is refused (it would be ignored), naming the terrain, the file and the fix; no bag", async () => {
    const csv = recordingWithTimeIn("with-speed.csv", 1);
    const world = join(dir, "speed-twice.yaml");
    writeFileSync(
      world,
      `terrains:\n  - { type: grass, vibration: { recordings: [${csv}], speed: 2 } }\n  - { type: gravel }\n`,
    );
    const out = join(dir, "speed-twice.mcap");
    const r = await runSimInProcess(["sim", "--world", world, "--duration", "1", "--out", out], dir);
    expectOneLine(
      r,
      /^terrain-learner: invalid world .*speed-twice\.yaml: terrain 'grass': vibration\.speed is for recordings without a speed column, and .*with-speed\.csv has one \(used instead\): remove vibration\.speed$/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe("convert-recording given the wrong --format", () => {
  it("names the format that reads the file: csv for a recording CSV, borealtc for a BorealTC file", async () => {
    const own = recordingWithTimeIn("own.csv", 1);
    writeFileSync(join(dir, "imu_01.csv"), "time,wx,wy,wz,ax,ay,az\n0,0,0,0,0,0,9.8\n0.01,0,0,0,0,0,9.8\n");
    expectOneLine(
      await runCli(["sim", "convert-recording", "--format", "u2is", own, "a.csv"], dir),
      /^terrain-learner: own\.csv: a CSV file, not a U2IS \.npy: use --format csv$/,
    );
    expectOneLine(
      await runSimInProcess(["sim", "convert-recording", "--format", "csv", "imu_01.csv", "b.csv"], dir),
      /^terrain-learner: imu_01\.csv: a BorealTC file \(time, wx, \.\.\.\), not a recording CSV: use --format borealtc$/,
    );
    expect(readdirSync(dir).filter((f) => /^[ab]\.csv|\.[ab]\.csv/.test(f))).toEqual([]);
  });
});

describe("a photo folder where the world wants photo files", () => {
  it("says it is a folder and to list its photos; no bag", async () => {
    mkdirSync(join(dir, "grass-photos"));
    const world = join(dir, "folder.yaml");
    writeFileSync(world, "terrains:\n  - { name: lawn, roughness: 0.3, photos: [grass-photos] }\n");
    const out = join(dir, "folder.mcap");
    const r = await runSimInProcess(["sim", "--world", world, "--duration", "1", "--out", out], dir);
    expectOneLine(
      r,
      /^terrain-learner: invalid world .*folder\.yaml: terrain 'lawn': photo .*grass-photos: cannot read: a folder, not a file \(EISDIR\); list its photos one by one \(photos: \[grass-photos\/a\.jpg, \.\.\.\]\)$/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe("a recording with its gyro in deg/s, played by a world", () => {
  /** 10 s at 100 Hz, rocking 0.1 rad/s RMS about x and y, the gyro columns multiplied by `scale`. */
  function rocking(name: string, scale: number): string {
    const rows = Array.from({ length: 1000 }, (_, i) => {
      const g = (0.1 * Math.SQRT2 * Math.sin(i * 0.9) * scale).toFixed(5);
      return `${i / 100},0,0,${(9.8 + Math.sin(i * 1.3)).toFixed(4)},${g},${g},0,1`;
    });
    writeFileSync(join(dir, name), `t,ax,ay,az,gx,gy,gz,speed\n${rows.join("\n")}\n`);
    return name;
  }

  it("is warned about like convert-recording does (naming terrain, file, fix); rad/s is not", async () => {
    for (const [csv, warned] of [
      [rocking("gyro-deg.csv", 180 / Math.PI), true],
      [rocking("gyro-rad.csv", 1), false],
    ] as const) {
      const world = join(dir, `${csv}.yaml`);
      writeFileSync(world, `terrains:\n  - { type: grass, vibration: { recordings: [${csv}] } }\n`);
      // The warning through the real CLI; the quiet case in-process.
      const r = await (warned ? runCli : runSimInProcess)(
        ["sim", "--world", world, "--duration", "1", "--out", join(dir, `${csv}.mcap`)],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      if (warned) {
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(
          /^warning: terrain 'grass': recording .*gyro-deg\.csv: the roll and pitch rates \(gx, gy\) vary by 5\.\d\d rad\/s RMS.*deg\/s, not rad\/s\?.*multiply gx, gy, gz by 0\.0174533\n$/,
        );
      } else expect(r.stderr).toBe("");
    }
  });

  it("a speed column in km/h is warned about the same way; m/s is not", async () => {
    const walking = (name: string, speed: number) => {
      const rows = Array.from(
        { length: 1000 },
        (_, i) => `${i / 100},0,0,${(9.8 + Math.sin(i * 1.3)).toFixed(4)},${speed}`,
      );
      writeFileSync(join(dir, name), `t,ax,ay,az,speed\n${rows.join("\n")}\n`);
      return name;
    };
    for (const [csv, warned] of [
      [walking("speed-kmh.csv", 3.6), true],
      [walking("speed-ms.csv", 1), false],
    ] as const) {
      const world = join(dir, `${csv}.yaml`);
      writeFileSync(world, `terrains:\n  - { type: grass, vibration: { recordings: [${csv}] } }\n`);
      const r = await runSimInProcess(
        ["sim", "--world", world, "--duration", "1", "--out", join(dir, `${csv}.mcap`)],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      if (warned)
        expect(r.stderr).toMatch(
          /^warning: terrain 'grass': recording .*speed-kmh\.csv: the robot moves at a median 3\.60 m\/s in the speed column.*km\/h, not m\/s\?.*divide speed by 3\.6\n$/,
        );
      else expect(r.stderr).toBe("");
    }
  });

  it("is warned about by demo --world too, when it generates the bag", async () => {
    const csv = rocking("gyro-deg-demo.csv", 180 / Math.PI);
    const world = join(dir, "gyro-deg-demo.yaml");
    writeFileSync(
      world,
      `terrains:\n  - { type: grass, vibration: { recordings: [${csv}] } }\n` +
        `  - { type: rubble, driven: false, vibration: { recordings: [${csv}] } }\n`,
    );
    // The warning comes when the bag is generated, before the demo replays it: once it is there the
    // demo is stopped (a demo that never warns runs to its end and fails the match below).
    const warning = /^warning: terrain 'grass': recording .*gyro-deg-demo\.csv: .*deg\/s, not rad\/s\?/m;
    const demo = spawnCli(
      [
        "demo",
        "--world",
        world,
        "--duration",
        "1",
        "--cache",
        join(dir, "cache"),
        "--out",
        join(dir, "demo"),
      ],
      dir,
    );
    let exited = false;
    void demo.exit.then(() => {
      exited = true;
    });
    while (!exited && !warning.test(demo.stderr())) await new Promise((r) => setTimeout(r, 50));
    if (!exited) demo.child.kill("SIGTERM");
    await demo.exit;
    expect(demo.stderr()).toMatch(warning);
    expect(demo.stderr()).toMatch(
      /^warning: terrain 'rubble': driven: false, so its vibration\.recordings are never played/m,
    );
  });
});

describe("a world pointing vibration.recordings at a dataset's own file", () => {
  it.each([
    [
      "a U2IS .npy",
      "grass_t15_v1.npy",
      Buffer.from("\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'shape': (4, 4)}\n", "latin1"),
      /not a CSV file \(a NumPy \.npy: convert a U2IS file with terrain-learner sim convert-recording --format u2is .*grass_t15_v1\.npy OUT\.csv\)$/,
    ],
    [
      "a BorealTC imu_NN.csv",
      "imu_02.csv",
      "time,wx,wy,wz,ax,ay,az\n0,0,0,0,0,0,9.8\n",
      /a BorealTC IMU file \(time, wx, \.\.\.\), not a recording CSV: convert it with terrain-learner sim convert-recording --format borealtc .*imu_02\.csv OUT\.csv$/,
    ],
    [
      "a photo",
      "ground.jpg",
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]),
      /ground\.jpg: not a CSV file \(binary data\)$/,
    ],
  ])("%s: names the converter (or says it is binary); no bag", async (_what, name, bytes, message) => {
    writeFileSync(join(dir, name), bytes);
    const world = join(dir, `${name}.yaml`);
    writeFileSync(world, `terrains:\n  - { type: grass, vibration: { recordings: [${name}] } }\n`);
    const out = join(dir, `${name}.mcap`);
    const r = await runSimInProcess(["sim", "--world", world, "--duration", "1", "--out", out], dir);
    expectOneLine(r, message);
    expect(existsSync(out)).toBe(false);
  });
});

describe("a misspelt key in a world file", () => {
  // Without `type`, a misspelt roughness also left the terrain without one: that was said too.
  it.each([
    ["roughnes: 0.3", "terrains.0: unknown key 'roughnes': did you mean 'roughness'?"],
    ["roughness: 0.3, photosize: 1", "terrains.0: unknown key 'photosize': did you mean 'photoSize'?"],
    [
      "roughness: 0.3, vibration: { recording: [a.csv] }",
      "terrains.0.vibration: unknown key 'recording': did you mean 'recordings'?",
    ],
  ])("%s: names the key it was meant to be, and only that", async (keys, message) => {
    const world = join(dir, "misspelt.yaml");
    writeFileSync(world, `terrains:\n  - { name: lawn, photos: [lawn.jpg], ${keys} }\n`);
    // The first through the real CLI (a schema error's exit and line), the others in-process.
    const r = await (keys.startsWith("roughnes:") ? runCli : runSimInProcess)(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "misspelt.mcap")],
      dir,
    );
    expectOneLine(
      r,
      new RegExp(
        `^terrain-learner: invalid world .*misspelt\\.yaml: ${message.replace(/[.?()[\]{}]/g, "\\$&")}$`,
      ),
    );
  });

  it("a key with no near match lists the keys known there", async () => {
    const world = join(dir, "unknown.yaml");
    writeFileSync(world, "terrains:\n  - { type: grass }\nroute: { start: { x: 0, y: 0, z: 1 } }\n");
    const r = await runSimInProcess(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "unknown.mcap")],
      dir,
    );
    expectOneLine(r, /: route\.start: unknown key 'z' \(known here: x, y, yaw\)$/);
  });
});

describe("a world file that is empty or lacks a required key", () => {
  it.each([
    [
      "empty",
      "# my field, to be written\n",
      "empty; a world needs at least its terrains (e.g. terrains: [{ type: grass }])",
    ],
    ["without terrains", "name: field\n", "terrains: missing (expected array)"],
    [
      "without recordings",
      "terrains:\n  - { type: grass, vibration: { up: [0, 0, 1] } }\n",
      "terrains.0.vibration.recordings: missing (expected array)",
    ],
    // A wrong type is not a missing key, nor left out beside a misspelt one.
    [
      "with a decimal comma",
      "terrains:\n  - name: g\n    roughness: 0,3\n    photos: [a.jpg]\n",
      "terrains.0.roughness: Invalid input: expected number, received string",
    ],
    [
      "with a wrong type beside a misspelt key",
      "terrains:\n  - { type: grass, vibration: { recording: [a.csv], speed: fast } }\n",
      "terrains.0.vibration.speed: Invalid input: expected number, received string; terrains.0.vibration: unknown key 'recording': did you mean 'recordings'?",
    ],
  ])("%s: says what is missing or wrong", async (_what, text, message) => {
    const world = join(dir, "lacking.yaml");
    writeFileSync(world, text);
    const r = await runSimInProcess(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "lacking.mcap")],
      dir,
    );
    expectOneLine(
      r,
      new RegExp(
        `^terrain-learner: invalid world .*lacking\\.yaml: ${message.replace(/[.?()[\]{}]/g, "\\$&")}$`,
      ),
    );
  });
});

describe("a recording CSV exported with ';' or tabs", () => {
  it.each([
    ["semicolons", ";", "';'"],
    ["tabs", "\t", "tabs"],
  ])("%s: says the separator, in the world and in convert-recording", async (name, sep, said) => {
    const csv = `sep-${name}.csv`;
    const rows = Array.from({ length: 300 }, (_, i) => [i / 100, 0, 0, 9.8 + Math.sin(i), 1].join(sep));
    writeFileSync(join(dir, csv), `${["t", "ax", "ay", "az", "speed"].join(sep)}\n${rows.join("\n")}\n`);
    const message = new RegExp(
      `${csv}: line 1: columns separated by ${said}; a recording CSV separates them with ',' \\(and writes decimals with '\\.'\\)$`,
    );
    const world = join(dir, `sep-${name}.yaml`);
    writeFileSync(world, `terrains:\n  - { type: grass, vibration: { recordings: [${csv}] } }\n`);
    const out = join(dir, `sep-${name}.mcap`);
    expectOneLine(
      await runSimInProcess(["sim", "--world", world, "--duration", "1", "--out", out], dir),
      message,
    );
    expect(existsSync(out)).toBe(false);
    expectOneLine(
      await runSimInProcess(["sim", "convert-recording", "--format", "csv", csv, "sep-out.csv"], dir),
      message,
    );
  });
});

// `driven: false` keeps the robot off a terrain, so its recordings can never play: they were
// loaded, checked and reported with a gain, and nothing said they would never be heard.
describe("recordings on a terrain the robot never drives", () => {
  const world = join(dir, "undriven.yaml");
  const warning =
    /^warning: terrain 'grass': driven: false, so its vibration\.recordings are never played \(the robot never drives on it\)/m;
  function writeWorld(driven: boolean): void {
    const rows = Array.from({ length: 500 }, (_, i) => `${i / 100},0,0,${(9.8 + Math.sin(i)).toFixed(4)},1`);
    writeFileSync(join(dir, "undriven.csv"), `t,ax,ay,az,speed\n${rows.join("\n")}\n`);
    writeFileSync(
      world,
      `terrains:\n  - { type: asphalt }\n  - { type: grass, driven: ${driven}, vibration: { recordings: [undriven.csv] } }\n`,
    );
  }

  // demo --world prints the same warnings: its test is the deg/s one below, with a terrain like this.
  it("are warned about by sim (stderr and --json), naming the terrain, and not summarised as played; driven ones are", async () => {
    writeWorld(false);
    const r = await runSimInProcess(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "undriven.mcap"), "--json"],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(warning);
    expect(JSON.parse(r.stdout).recordedVibration[0].warnings).toEqual([
      expect.stringMatching(/^terrain 'grass': driven: false/),
    ]);
    // The summary line said "played with gain" for it too; it says it is not driven instead.
    const text = await runSimInProcess(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "undriven.mcap")],
      dir,
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^recorded vibration on grass: [\d.]+ m\/s² RMS at 1 m\/s \(natural roughness [\d.]+\), never played: driven: false \(the robot never drives on it\)$/m,
    );
    expect(text.stdout).not.toMatch(/played with gain/);
    writeWorld(true);
    const ok = await runSimInProcess(
      ["sim", "--world", world, "--duration", "1", "--out", join(dir, "driven.mcap")],
      dir,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/^recorded vibration on grass: .*, played with gain [\d.]+$/m);
  });
});

describe("a recording CSV written by R's write.csv", () => {
  const rows = Array.from({ length: 300 }, (_, i) => `"${i + 1}",${i / 100},0,0,${9.8 + Math.sin(i)},1`);
  it("with quoted names is read; its row-number column is named as the problem", async () => {
    writeFileSync(
      join(dir, "r-quoted.csv"),
      `"t","ax","ay","az","speed"\n${rows.map((r) => r.replace(/^"\d+",/, "")).join("\n")}\n`,
    );
    const ok = await runSimInProcess(
      ["sim", "convert-recording", "--format", "csv", "r-quoted.csv", "r-out.csv", "--json"],
      dir,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 300, columns: ["t", "ax", "ay", "az", "speed"] });

    writeFileSync(join(dir, "r-rownames.csv"), `"","t","ax","ay","az","speed"\n${rows.join("\n")}\n`);
    expectOneLine(
      await runSimInProcess(
        ["sim", "convert-recording", "--format", "csv", "r-rownames.csv", "r-out2.csv"],
        dir,
      ),
      /r-rownames\.csv: line 1: column 1 has no name \(row numbers\? write the CSV without them\)/,
    );
  });
});

// Loggers that print `value,` per column end every line with a comma: one empty field at the end of
// the header or of a row is nothing, read as if it were not there. It was 'column 9 has no name
// (row numbers? ...)' for the header and '9 fields, the header has 8' for the rows.
describe("a recording CSV whose lines end with a comma", () => {
  const rows = Array.from({ length: 300 }, (_, i) => `${i / 100},0,0,${(9.8 + Math.sin(i)).toFixed(4)},1,`);
  it.each([
    ["every line", "t,ax,ay,az,speed,"],
    ["the rows only", "t,ax,ay,az,speed"],
  ])("on %s: read as without it", async (_, header) => {
    writeFileSync(join(dir, "trailing.csv"), `${header}\n${rows.join("\n")}\n`);
    const r = await runSimInProcess(
      ["sim", "convert-recording", "--format", "csv", "trailing.csv", "trailing-out.csv", "--json"],
      dir,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 300, columns: ["t", "ax", "ay", "az", "speed"] });
  });

  it("two commas at the end are an unnamed column, not row numbers", async () => {
    writeFileSync(join(dir, "trailing2.csv"), `t,ax,ay,az,speed,,\n${rows.map((r) => `${r},`).join("\n")}\n`);
    expectOneLine(
      await runSimInProcess(
        ["sim", "convert-recording", "--format", "csv", "trailing2.csv", "t2-out.csv"],
        dir,
      ),
      /trailing2\.csv: line 1: column 6 has no name \(expected t, ax/,
    );
  });
});

describe("a phone's HEIC photo (or a corrupt one)", () => {
  it("is one line, naming the file and the fix; no bag", async () => {
    // An ISO box header as HEIC files start, then junk: libvips reports one 'bad seek' line per try.
    const heic = Buffer.concat([
      Buffer.from("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "latin1"),
      Buffer.alloc(2000, 0x5a),
    ]);
    writeFileSync(join(dir, "IMG_0001.HEIC"), heic);
    const world = join(dir, "heic.yaml");
    writeFileSync(world, "terrains:\n  - { name: lawn, roughness: 0.3, photos: [IMG_0001.HEIC] }\n");
    const out = join(dir, "heic.mcap");
    const r = await runSimInProcess(["sim", "--world", world, "--duration", "1", "--out", out], dir);
    expectOneLine(
      r,
      /terrain 'lawn': photo .*IMG_0001\.HEIC: (not an image|cannot decode) \(.*\); a HEIC\/HEIF photo: convert it to JPEG or PNG$/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
