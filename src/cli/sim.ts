// `terrain-learner sim`: generate a synthetic drive with known ground truth as a ROS 2 MCAP bag.

import { stat } from "node:fs/promises";
import { basename } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import {
  BUILTIN_TERRAINS,
  DEFAULT_WORLD,
  generateWorldBag,
  loadWorldFile,
  WORLDS_DIR,
} from "../../sim/index.ts";
import { checkOutputs, discardTempsSync } from "../io/safe-output.ts";
import { registerConvertRecording } from "./convert-recording.ts";
import { action, isWorldProblem, UserError, worldUserError } from "./errors.ts";
import { interruptedError, trapInterrupts } from "./interrupt.ts";

interface SimCliOptions {
  world?: string;
  seed: string;
  duration: string;
  camera?: string;
  imuRate?: string;
  jpeg?: boolean;
  compression: string;
  out?: string;
  listTerrains?: boolean;
  json?: boolean;
}

/** `WxH@HZ`, `WxH` or `@HZ` → overrides. */
export function parseCameraSpec(spec: string): { width?: number; height?: number; rate?: number } {
  const m = /^(?:(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$/i.exec(spec.trim());
  if (!m || (m[1] === undefined && m[3] === undefined)) {
    throw new UserError(`--camera '${spec}': expected WIDTHxHEIGHT@HZ, e.g. 320x240@15 or 640x480@30`);
  }
  const out: { width?: number; height?: number; rate?: number } = {};
  if (m[1] !== undefined) {
    out.width = Number(m[1]);
    out.height = Number(m[2]);
    if (out.width < 16 || out.height < 16 || out.width > 1920 || out.height > 1440) {
      throw new UserError(`--camera '${spec}': size ${out.width}x${out.height} outside 16x16 .. 1920x1440`);
    }
  }
  if (m[3] !== undefined) {
    out.rate = Number(m[3]);
    if (!(out.rate > 0 && out.rate <= 60))
      throw new UserError(`--camera '${spec}': rate ${out.rate} Hz outside (0, 60]`);
  }
  return out;
}

function number(value: string, flag: string, check: (n: number) => boolean, expected: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new UserError(`${flag} '${value}': expected ${expected}`);
  return n;
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

async function run(opts: SimCliOptions): Promise<void> {
  if (opts.listTerrains) {
    for (const t of BUILTIN_TERRAINS) {
      process.stdout.write(`${t.name.padEnd(10)} roughness ${t.roughness.toFixed(2)}  ${t.description}\n`);
    }
    return;
  }
  if (!opts.out) throw new UserError("--out PATH.mcap is required");
  const seed = number(
    opts.seed,
    "--seed",
    (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32,
    "an integer 0 .. 2^32-1",
  );
  const duration = number(
    opts.duration,
    "--duration",
    (n) => n > 0 && n <= 24 * 3600,
    "seconds in (0, 86400]",
  );
  const imuRate =
    opts.imuRate === undefined
      ? undefined
      : number(opts.imuRate, "--imu-rate", (n) => n >= 50 && n <= 2000, "a rate in Hz between 50 and 2000");
  const camera = opts.camera ? parseCameraSpec(opts.camera) : undefined;
  if (!["zstd", "lz4", "none"].includes(opts.compression)) {
    throw new UserError(`--compression '${opts.compression}': expected zstd, lz4 or none`);
  }
  const worldPath = opts.world ?? DEFAULT_WORLD;
  let world: ReturnType<typeof loadWorldFile>;
  try {
    world = loadWorldFile(worldPath);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  // The world's photos and recordings are inputs too.
  const assetPaths = world.terrains.flatMap((t) => [...(t.photos ?? []), ...(t.vibration?.recordings ?? [])]);
  try {
    await checkOutputs([{ path: opts.out, kind: "file", what: "--out" }], [worldPath, ...assetPaths]);
  } catch (err) {
    throw new UserError((err as Error).message);
  }

  let bar: cliProgress.SingleBar | undefined;
  if (process.stderr.isTTY) {
    bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `sim ${basename(worldPath)} [{bar}] {percentage}% | {value}/{total} s simulated | {speed}× real time`,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.round(duration), 0, { speed: "…" });
  }
  const t0 = performance.now();
  const out = opts.out;
  // The bag is written under a temporary name and renamed when complete; an interrupt drops it.
  const interrupt = trapInterrupts(() => {
    discardTempsSync(out);
    return `${out} not written`;
  });
  let result: Awaited<ReturnType<typeof generateWorldBag>>;
  try {
    result = await generateWorldBag({
      out,
      signal: interrupt.signal,
      world,
      seed,
      duration,
      camera,
      imuRate,
      jpeg: opts.jpeg === true,
      compression: opts.compression as "zstd" | "lz4" | "none",
      onProgress: (done) => {
        const wall = (performance.now() - t0) / 1000;
        bar?.update(Math.round(done), { speed: wall > 0 ? (done / wall).toFixed(1) : "…" });
      },
    });
  } catch (err) {
    if (interrupt.signal.aborted)
      throw interruptedError(
        interrupt.signal.reason,
        `${out} not written; a file already there is unchanged`,
      );
    if (isWorldProblem(err)) throw worldUserError(err, worldPath);
    throw err;
  } finally {
    bar?.stop();
    interrupt.dispose();
  }
  const wall = (performance.now() - t0) / 1000;
  const size = (await stat(opts.out)).size;
  for (const w of result.recordedVibration.flatMap((r) => r.warnings))
    process.stderr.write(`warning: ${w}\n`);
  const cam = result.world.file.camera;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        path: opts.out,
        world: result.world.name,
        seed,
        duration,
        frames: result.frames,
        imuSamples: result.imuSamples,
        odomSamples: result.odomSamples,
        bytes: size,
        wallSeconds: wall,
        realTimeFactor: duration / wall,
        distance: result.distance,
        stops: result.stops,
        timeOnTerrain: result.timeOnTerrain,
        framesSeeing: result.framesSeeing,
        recordedVibration: result.recordedVibration,
      })}\n`,
    );
    return;
  }
  process.stdout.write(
    `wrote ${opts.out}: ${duration} s of world '${result.world.name}' (seed ${seed}), ` +
      `${result.frames} frames ${cam.width}x${cam.height}@${cam.rate}${opts.jpeg ? " jpeg" : ""}, ` +
      `${result.imuSamples} IMU samples @${result.world.file.imu.rate} Hz, ${result.odomSamples} odometry, ` +
      `${result.distance.toFixed(1)} m driven, ${result.stops} stops, ${formatBytes(size)}, ` +
      `${(duration / wall).toFixed(1)}× real time (${wall.toFixed(1)} s)\n`,
  );
  for (const r of result.recordedVibration) {
    // A gain for recordings that never play would read as if they did (the warning says why).
    const driven = result.world.terrains.find((t) => t.name === r.terrain)?.driven ?? true;
    process.stdout.write(
      `recorded vibration on ${r.terrain}: ${r.level.toFixed(3)} m/s² RMS at 1 m/s (natural roughness ` +
        `${r.naturalRoughness.toFixed(2)}), ${driven ? `played with gain ${r.gain.toFixed(3)}` : "never played: driven: false (the robot never drives on it)"}\n`,
    );
  }
}

export function register(program: Command): void {
  const sim = program
    .command("sim")
    .description("generate a synthetic drive (camera, IMU, odometry, TF, ground truth) as a ROS 2 MCAP bag")
    .option(
      "-w, --world <file>",
      `world file, YAML or JSON (default ${DEFAULT_WORLD}; others in ${WORLDS_DIR})`,
    )
    .option(
      "-s, --seed <n>",
      "seed for the route and sensor noise (and the layout if the world has no layout.seed)",
      "1",
    )
    .option("-d, --duration <seconds>", "simulated seconds", "60")
    .option(
      "--camera <WxH@HZ>",
      "camera size and rate (WxH@HZ, WxH or @HZ), e.g. 640x480@30; 16x16 to 1920x1440, up to 60 Hz (default from the world)",
    )
    .option("--imu-rate <hz>", "IMU rate in Hz (default from the world, 200)")
    .option(
      "--jpeg",
      "write JPEG sensor_msgs/CompressedImage on /camera/image_raw/compressed instead of raw Image",
    )
    .option("--compression <kind>", "MCAP chunk compression: zstd, lz4 or none", "zstd")
    .option(
      "-o, --out <path.mcap>",
      "output MCAP file (an existing file is replaced once the bag is complete; never an input)",
    )
    .option("--list-terrains", "list the built-in terrain types and exit")
    .option("--json", "print a JSON summary instead of the one-line summary")
    .addHelpText(
      "after",
      "\nSame world + seed + options give a byte-identical bag. Topics: /camera/image_raw (or /compressed),\n" +
        "/camera/camera_info, /imu/data, /odom, /tf, /tf_static, /sim/ground_truth/{roughness,terrain,pose}.\n" +
        "Example: terrain-learner sim --duration 120 --camera 640x480@30 --out /tmp/drive.mcap",
    )
    .action(action(run));
  registerConvertRecording(sim);
}
