// Nothing lost, nothing silent, through the real CLI as a user runs it: no output may replace an
// input, output paths fail before the first message is read, Ctrl-C / SIGTERM finish a recording,
// a bag without the topics replay needs is an error that lists what it has, and a folder of
// unrelated recordings is not read as one.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { writeCheckpoint } from "../src/learning/checkpoint.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { runSimInProcess } from "./helpers/sim-cli-in-process.ts";
import { waitFor } from "./helpers/wait.ts";

const BIN = join(import.meta.dirname, "..", "bin", "terrain-learner.js");
const FIXTURES = join(import.meta.dirname, "fixtures", "bags");
const dir = mkdtempSync(join(tmpdir(), "cli-safety-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], cwd = dir): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, done };
}

async function cli(args: string[], cwd = dir) {
  const r = start(args, cwd);
  const { code } = await r.done;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

async function bagInfo(path: string) {
  const src = await openBag(path);
  try {
    return await src.info();
  } finally {
    await src.close();
  }
}

let bag: string;
// The first 10 s of the same drive: for runs that must finish (and train, from ~6 s) but whose
// length the test does not read; half the work of the full drive.
let short: string;
beforeAll(async () => {
  bag = join(dir, "drive.mcap");
  short = join(dir, "short.mcap");
  const camera = { width: 160, height: 120, rate: 10 };
  await generateWorldBag({ out: bag, seed: 3, duration: 20, camera });
  await generateWorldBag({ out: short, seed: 3, duration: 10, camera });
}, 120_000);

describe("an output never replaces an input (replay --record)", () => {
  it("refuses the input itself, a symlink to it and a hard link to it; the input is unchanged", async () => {
    const input = join(dir, "input.mcap");
    copyFileSync(bag, input);
    const before = sha(input);
    const r = await cli(["replay", "input.mcap", "--record", "input.mcap"]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toBe(
      "terrain-learner: --record input.mcap is the input input.mcap; refusing to overwrite it\n",
    );
    expect(r.stdout).toBe("");
    expect(sha(input)).toBe(before);
    // The same through the function the command runs, for a symlink and a hard link to the input.
    symlinkSync(input, join(dir, "input-sym.mcap"));
    linkSync(input, join(dir, "input-hard.mcap"));
    for (const out of ["input-sym.mcap", "input-hard.mcap"]) {
      await expect(runReplay({ bag: input, config: loadConfig(), record: join(dir, out) })).rejects.toThrow(
        /is the input .*input\.mcap \(the same file under another name\); refusing to overwrite it/,
      );
      expect(sha(input)).toBe(before);
    }
  }, 120_000);

  it("refuses a recording inside an input rosbag2 folder", async () => {
    const folder = join(dir, "talker");
    cpSync(join(FIXTURES, "rosbag2_talker_mcap"), folder, { recursive: true });
    const r = await cli(["replay", "talker", "--record", "talker/outputs.mcap"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--record talker\/outputs\.mcap is inside the input folder .*talker; refusing/);
    expect(existsSync(join(folder, "outputs.mcap"))).toBe(false);
  }, 60_000);
});

describe("output paths are checked before the first message is read", () => {
  it("--report-dir under a file fails at once with a clear message; no recording is started", async () => {
    writeFileSync(join(dir, "notes.txt"), "a file, not a folder");
    const r = await cli([
      "replay",
      bag,
      "--eval",
      "--record",
      "early.mcap",
      "--report-dir",
      "notes.txt/report",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(
      `terrain-learner: --report-dir notes.txt/report: ${join(dir, "notes.txt")} is a file, not a folder\n`,
    );
    expect(r.stdout).toBe("");
    expect(readdirSync(dir).filter((n) => n.includes("early.mcap"))).toEqual([]);
  }, 60_000);
});

describe("a signal finishes the recording", () => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`${sig} during replay --record: a complete MCAP with what was written, one line, exit ${sig === "SIGINT" ? 130 : 143}`, async () => {
      const name = `interrupted-${sig}.mcap`;
      // Paced at real time, so the replay is still running when the signal comes.
      const run = start(["replay", bag, "--rate", "1", "--record", name]);
      const size = () =>
        readdirSync(dir)
          .filter((n) => n === name || n.startsWith(`.${name}.tmp-`))
          .reduce((a, n) => a + statSync(join(dir, n)).size, 0);
      // The first compressed chunk is on disk: the replay is well under way.
      await waitFor(
        () => `the recording to grow (stderr: ${run.stderr()})`,
        () => size() > 64 * 1024,
        120_000,
      );
      run.child.kill(sig);
      const { code } = await run.done;
      expect(code, run.stderr()).toBe(sig === "SIGINT" ? 130 : 143);
      expect(run.stderr()).toMatch(
        new RegExp(
          `^terrain-learner: interrupted by ${sig}: [\\d.]+ of 20\\.0 s of data read; recording ${name} finished with \\d+ messages\\n$`,
        ),
      );
      // Finished under its own name, nothing left under a temporary one.
      expect(readdirSync(dir).filter((n) => n.includes(name))).toEqual([name]);
      const info = await bagInfo(join(dir, name));
      expect(info.warnings).toEqual([]);
      const count = (t: string) => info.topics.find((x) => x.name === t)?.count ?? 0;
      expect(count("/imu/data")).toBeGreaterThan(0);
      expect(count("/terrain_learner/roughness/image")).toBeGreaterThan(0);
      const written = Number(/finished with (\d+) messages/.exec(run.stderr())![1]);
      expect(info.topics.reduce((a, t) => a + t.count, 0)).toBe(written);
      expect(info.duration).toBeLessThan(20);
    }, 180_000);
  }
});

describe("a signal keeps what was learned", () => {
  it("SIGINT during replay --save-checkpoint: the checkpoint of the steps so far is saved and named, and loads", async () => {
    const name = "interrupted-ck.mcap";
    // Twice real time: training follows sensor time, not the clock, so the steps by ~12 s of data
    // are the same, and the rest of the drive still takes 4 s after the signal is due.
    const run = start([
      "replay",
      bag,
      "--rate",
      "2",
      "--record",
      name,
      "--save-checkpoint",
      "ck-interrupted",
    ]);
    await waitFor(
      () => `the recording to grow (stderr: ${run.stderr()})`,
      () =>
        readdirSync(dir).some(
          // About 10 of the 20 s (the recording grows 0.8 MB per second of data): training starts near 6 s.
          (n) => n.startsWith(`.${name}.tmp-`) && statSync(join(dir, n)).size > 8 * 1024 * 1024,
        ),
      120_000,
    );
    run.child.kill("SIGINT");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(
      new RegExp(
        `^terrain-learner: interrupted by SIGINT: [\\d.]+ of 20\\.0 s of data read; recording ${name} finished with \\d+ messages; checkpoint ck-interrupted/ckpt-\\d+\\.json saved \\([1-9]\\d* train steps\\)\\n$`,
      ),
    );
    expect(readdirSync(join(dir, "ck-interrupted")).filter((n) => n.endsWith(".json"))).toHaveLength(1);
    // Replayed from on the short drive: loading is what is checked, not the whole drive.
    // Loaded by the function the command runs, in this process (no second CLI start).
    const resumed = await runReplay({
      bag: short,
      config: loadConfig(),
      checkpoint: join(dir, "ck-interrupted"),
      warn: () => {},
    });
    expect(resumed.frames).toBeGreaterThan(0);
  }, 180_000);

  it("SIGINT before the first training step: no untrained checkpoint is saved, and the line says why", async () => {
    const name = "early.mcap";
    const run = start(["replay", bag, "--rate", "1", "--record", name, "--save-checkpoint", "ck-early"]);
    await waitFor(
      () => `the recording to start (stderr: ${run.stderr()})`,
      () => readdirSync(dir).some((n) => n.startsWith(`.${name}.tmp-`) && statSync(join(dir, n)).size > 0),
      120_000,
    );
    run.child.kill("SIGINT");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(
      /^terrain-learner: interrupted by SIGINT: [\d.]+ of 20\.0 s of data read; recording early\.mcap finished with \d+ messages; no checkpoint saved: the learner had not trained yet\n$/,
    );
    expect(existsSync(join(dir, "ck-early"))).toBe(false);
  }, 180_000);
});

// `ulimit -f` (512-byte blocks) fails writes past the limit with EFBIG, as a full disk does with
// ENOSPC; Node's write error names no file, and was printed with the stack-trace hint.
function limited(blocks: number, args: string[]) {
  const child = spawn(
    "/bin/sh",
    ["-c", `ulimit -f ${blocks} && exec "$@"`, "sh", process.execPath, BIN, ...args],
    {
      cwd: dir,
      env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stderr })),
  );
}

describe("a recording the disk cannot take", () => {
  it("replay --record past the file size limit (as on a full disk) stops at once with one line; an earlier file is kept", async () => {
    const name = "too-big.mcap";
    writeFileSync(join(dir, name), "an earlier file");
    // `ulimit -f` makes every write past ~1 MB fail (EFBIG; Node ignores SIGXFSZ), as a full disk does
    // with ENOSPC, without root. The writer used to retry its unwritten chunk with every message, the
    // chunk growing without end: the replay ran for many minutes, gigabytes in memory.
    const { code, stderr } = await limited(2000, ["replay", bag, "--record", name]);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `^terrain-learner: --record ${name}: cannot write: EFBIG: file too large, write; replay stopped after [\\d.]+ of 20\\.0 s; no recording written \\(a file there before is kept\\)\\n$`,
      ),
    );
    expect(readFileSync(join(dir, name), "utf8")).toBe("an earlier file");
    expect(readdirSync(dir).filter((n) => n.includes(name))).toEqual([name]);
  }, 90_000);
});

describe("a full disk is one line naming the output, not a bug report", () => {
  it("sim --out", async () => {
    writeFileSync(join(dir, "full.mcap"), "an earlier file");
    const r = await limited(200, ["sim", "--duration", "5", "--camera", "160x120@10", "--out", "full.mcap"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe("terrain-learner: cannot write full.mcap: EFBIG: file too large, write\n");
    expect(readFileSync(join(dir, "full.mcap"), "utf8")).toBe("an earlier file");
    expect(readdirSync(dir).filter((n) => n.includes("full.mcap"))).toEqual(["full.mcap"]);
  }, 60_000);

  it("demo --cache: the cached bag is named, not its temporary file", async () => {
    const r = await limited(200, [
      "demo",
      "--duration",
      "5",
      "--cache",
      "full-cache",
      "--out",
      "full-report",
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split("\n").at(-2)).toMatch(
      /^terrain-learner: cannot write \S*full-cache\/default-world-seed1-5s-jpeg95\.mcap: EFBIG: file too large, write$/,
    );
    expect(readdirSync(join(dir, "full-cache"))).toEqual([]);
    expect(existsSync(join(dir, "full-report"))).toBe(false);
  }, 60_000);

  it("sim --out: a disk that fills during the last write (the footer) is a failure, not a truncated bag", async () => {
    // A write that reaches the limit is short; the next one fails. A short last write used to go
    // unnoticed: the bag without its footer was renamed into place and sim exited 0.
    const args = (seed: number, out: string) => [
      "sim",
      "--duration",
      "1",
      "--seed",
      String(seed),
      "--camera",
      "160x120@10",
      "--out",
      out,
    ];
    let seed = 0;
    let size = 0;
    // A drive whose size puts a 512-byte block boundary inside the footer and magic (37 bytes).
    // Sized in this process (the same world, seed and options give a byte-identical bag), without
    // a CLI start per try; the sim command's own bag of that seed (run in this process too) is then
    // checked to be the same size.
    // Drives of 1 s, the seed varied: each try is short.
    for (let s = 1; s <= 80 && !(size % 512 > 0 && size % 512 < 37); s++) {
      await generateWorldBag({
        out: join(dir, "sized.mcap"),
        seed: s,
        duration: 1,
        camera: { width: 160, height: 120, rate: 10 },
      });
      size = statSync(join(dir, "sized.mcap")).size;
      seed = s;
    }
    expect(size % 512, "no 1 s drive of seed 1..80 ends its file just past a block boundary").toBeLessThan(
      37,
    );
    expect((await runSimInProcess(args(seed, "sized-cli.mcap"), dir)).code).toBe(0);
    expect(statSync(join(dir, "sized-cli.mcap")).size, "the CLI's bag is the size found").toBe(size);
    const r = await limited(Math.floor(size / 512), args(seed, "footer.mcap"));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe("terrain-learner: cannot write footer.mcap: EFBIG: file too large, write\n");
    expect(readdirSync(dir).filter((n) => n.includes("footer.mcap"))).toEqual([]);
  }, 180_000);

  it("replay --eval: a report that cannot be written whole keeps the earlier report whole", async () => {
    const report = join(dir, "rep-full");
    mkdirSync(report);
    const earlier = {
      "report.json": '{"earlier":true}',
      "learning-curve.png": "earlier",
      "frames.png": "earlier",
    };
    for (const [n, text] of Object.entries(earlier)) writeFileSync(join(report, n), text);
    // 200 KB per file: the learning curve fits, the frame panels do not.
    const r = await limited(400, ["replay", short, "--eval", "--report-dir", "rep-full"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split("\n").at(-2)).toBe(
      "terrain-learner: cannot write rep-full/frames.png: EFBIG: file too large, write",
    );
    // Not a new learning curve beside the earlier report.json and frames.
    for (const [n, text] of Object.entries(earlier)) expect(readFileSync(join(report, n), "utf8")).toBe(text);
    expect(readdirSync(report).sort()).toEqual(Object.keys(earlier).sort());
  }, 120_000);

  it("export --out", async () => {
    await runReplay({
      bag: short,
      config: loadConfig(),
      saveCheckpoint: join(dir, "ck-export"),
      warn: () => {},
    });
    // An earlier export (starts with byte 0x08, as a serialised ModelProto does).
    writeFileSync(join(dir, "full.onnx"), "\ban earlier file");
    const r = await limited(40, ["export", "--checkpoint", "ck-export", "--out", "full.onnx"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe("terrain-learner: cannot write full.onnx: EFBIG: file too large, write\n");
    expect(readFileSync(join(dir, "full.onnx"), "utf8")).toBe("\ban earlier file");
    expect(readdirSync(dir).filter((n) => n.includes("full.onnx"))).toEqual(["full.onnx"]);
  }, 120_000);
});

describe("replay --save-checkpoint never deletes another run's checkpoint", () => {
  it("a folder already holding learner.checkpoint_keep checkpoints is refused before any work", async () => {
    // A save prunes all but the newest checkpoint_keep (3): the oldest model here was deleted.
    const ck = join(dir, "ck-full");
    for (let i = 0; i < 3; i++) await writeCheckpoint(ck, new Uint8Array(64).fill(i), { run: i }, 3);
    const before = readdirSync(ck).sort();
    const r = await cli(["replay", bag, "--save-checkpoint", "ck-full"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "terrain-learner: --save-checkpoint ck-full holds 3 checkpoints of other runs; saving here would delete ckpt-00000001.json (a save keeps the newest learner.checkpoint_keep = 3): give another folder, or move them away\n",
    );
    expect(readdirSync(ck).sort()).toEqual(before);
    // Below the limit a save only adds one.
    rmSync(join(ck, "ckpt-00000003.json"));
    rmSync(join(ck, "ckpt-00000003.bin"));
    // Through the function the command runs, in this process: the refusal above was the command's.
    const ok = await runReplay({ bag: short, config: loadConfig(), saveCheckpoint: ck, warn: () => {} });
    expect(ok.checkpoint).toBeDefined();
    expect(
      readdirSync(ck)
        .filter((n) => n.endsWith(".json"))
        .sort(),
    ).toEqual(["ckpt-00000001.json", "ckpt-00000002.json", "ckpt-00000003.json"]);
  }, 120_000);
});

describe("replay needs its topics", () => {
  it("a bag without camera, IMU or odometry topics is an error naming what was looked for and listing the bag", async () => {
    const r = await cli(["replay", join(FIXTURES, "rosbag2_talker_mcap")]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    const line = r.stderr;
    expect(line.split("\n").filter(Boolean)).toHaveLength(1);
    expect(line).toContain(
      "no messages on camera image topic /camera/image_raw or /camera/image_raw/compressed (use --image or --compressed-image)",
    );
    expect(line).toContain("camera info topic /camera/camera_info (use --camera-info)");
    expect(line).toContain("IMU topic /imu/data (use --imu)");
    expect(line).toContain("odometry topic /odom (use --odom)");
    expect(line).toContain(
      "topics: /rosout (rcl_interfaces/msg/Log, 10), /parameter_events (rcl_interfaces/msg/ParameterEvent, 0), /topic (std_msgs/msg/String, 10)",
    );
  }, 60_000);

  it("--image, --camera-info, --imu and --odom point replay at a bag's own topic names", async () => {
    // The simulated drive with every topic under /robot, as another robot would record it.
    const renamed = join(dir, "robot.mcap");
    const src = await openBag(bag);
    const w = await Ros2McapWriter.create(renamed, { compression: "zstd" });
    for await (const ev of src.messages({ end: (await src.info()).start + 8 })) {
      if (ev.type !== "message") continue;
      const topic = ev.topic.startsWith("/tf") ? ev.topic : `/robot${ev.topic}`;
      await w.write(topic, ev.schemaName, ev.logTime, ev.message);
    }
    await w.close();
    await src.close();

    const wrong = await cli(["replay", "robot.mcap", "--json"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("/robot/camera/image_raw (sensor_msgs/msg/Image,");

    const r = await cli([
      "replay",
      "robot.mcap",
      "--json",
      "--image",
      "/robot/camera/image_raw",
      "--camera-info",
      "/robot/camera/camera_info",
      "--imu",
      "/robot/imu/data",
      "--odom",
      "/robot/odom",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { frames: number; labels: number };
    expect(result.frames).toBeGreaterThan(0);
    expect(result.labels).toBeGreaterThan(0);
  }, 180_000);
});

describe("bag info on a folder of unrelated recordings", () => {
  it("refuses to merge them and names the files; reads the one the user names", async () => {
    const mixed = join(dir, "mixed");
    mkdirSync(mixed);
    copyFileSync(join(FIXTURES, "rosbag2_talker_mcap", "talker.mcap"), join(mixed, "talker.mcap"));
    copyFileSync(join(FIXTURES, "rosbag2_cdr_test_mcap", "cdr_test_0.mcap"), join(mixed, "cdr_test_0.mcap"));
    const r = await cli(["bag", "info", "mixed"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^terrain-learner: mixed: holds 2 bag files that are not the split parts of one recording \(cdr_test_0\.mcap, talker\.mcap\) and no metadata\.yaml; name the file to read/,
    );
    const one = await bagInfo(join(mixed, "talker.mcap"));
    expect(one.topics).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "/topic", count: 10 })]),
    );
  });

  it("still reads the split parts of one recording without metadata.yaml, in index order", async () => {
    const split = join(dir, "split");
    mkdirSync(split);
    // Parts 0, 1 and 10: index order, not name order.
    for (const i of [0, 1, 10])
      copyFileSync(join(FIXTURES, "rosbag2_talker_mcap", "talker.mcap"), join(split, `run_${i}.mcap`));
    const info = await bagInfo(split);
    expect(info.topics).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "/topic", count: 30 })]),
    );
    expect(info.warnings.join("\n")).toMatch(/reading run_0\.mcap, run_1\.mcap, run_10\.mcap/);
    expect(info.warnings.join("\n")).toMatch(/split parts 2, 3, 4, 5, 6, 7, 8, 9 are missing/);
  });
});

describe("the other commands that write", () => {
  it("sim --out onto its own world file is refused; the world file is unchanged", async () => {
    const world = join(dir, "world.yaml");
    copyFileSync(join(import.meta.dirname, "..", "sim", "worlds", "stripes.yaml"), world);
    const before = sha(world);
    const r = await cli(["sim", "--world", "world.yaml", "--duration", "1", "--out", "world.yaml"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--out world\.yaml is the input world\.yaml; refusing to overwrite it/);
    expect(sha(world)).toBe(before);
  }, 60_000);

  it("SIGINT during sim: no bag under the output name (an earlier one is kept), no temporary file, exit 130", async () => {
    const out = "sim-out.mcap";
    writeFileSync(join(dir, out), "an earlier file");
    const run = start(["sim", "--duration", "600", "--camera", "160x120@10", "--out", out]);
    await waitFor(
      () => `the simulation to start writing (stderr: ${run.stderr()})`,
      () => readdirSync(dir).some((n) => n.startsWith(`.${out}.tmp-`) && statSync(join(dir, n)).size > 0),
      120_000,
    );
    run.child.kill("SIGINT");
    const { code } = await run.done;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(
      /^terrain-learner: interrupted by SIGINT: sim-out\.mcap not written; a file already there is unchanged\n$/,
    );
    expect(readFileSync(join(dir, out), "utf8")).toBe("an earlier file");
    expect(readdirSync(dir).filter((n) => n.includes(out))).toEqual([out]);
  }, 180_000);

  it("sim --out through a symbolic link writes the file it points to; the link stays a link", async () => {
    // The rename used to replace the link itself with a regular file: as root, `--out /dev/stdout >
    // f` replaced the system's /dev/stdout.
    mkdirSync(join(dir, "runs"));
    writeFileSync(join(dir, "runs", "r1.mcap"), "an earlier file");
    symlinkSync(join("runs", "r1.mcap"), join(dir, "latest.mcap"));
    const r = await runSimInProcess(
      ["sim", "--duration", "1", "--camera", "160x120@10", "--out", "latest.mcap"],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(join(dir, "latest.mcap")).isSymbolicLink()).toBe(true);
    expect((await bagInfo(join(dir, "runs", "r1.mcap"))).topics.length).toBeGreaterThan(0);
    expect(readdirSync(join(dir, "runs"))).toEqual(["r1.mcap"]);
  }, 60_000);

  it("sim --out /dev/stdout on a pipe is refused in one line", async () => {
    const r = await cli(["sim", "--duration", "1", "--out", "/dev/stdout"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "terrain-learner: --out /dev/stdout: not a regular file (a device or pipe cannot be replaced safely)\n",
    );
  }, 60_000);

  it("demo --out under a file fails before simulating anything", async () => {
    writeFileSync(join(dir, "demo-file"), "x");
    const r = await cli(["demo", "--out", "demo-file/report", "--cache", "demo-cache"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(
      `terrain-learner: --out demo-file/report: ${join(dir, "demo-file")} is a file, not a folder\n`,
    );
    expect(existsSync(join(dir, "demo-cache"))).toBe(false);
  }, 60_000);

  it("run: a checkpoint folder under a file fails before the serial port or the learner start", async () => {
    writeFileSync(join(dir, "ckpt-file"), "x");
    writeFileSync(join(dir, "ckpt.yaml"), "learner:\n  checkpoint_dir: ckpt-file/checkpoints\n");
    const r = await cli(["run", "--serial", join(dir, "no-such-tty"), "--config", "ckpt.yaml"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(
      `terrain-learner: learner.checkpoint_dir ckpt-file/checkpoints: ${join(dir, "ckpt-file")} is a file, not a folder\n`,
    );
  }, 60_000);
});
