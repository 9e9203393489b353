// `terrain-learner sim convert-recording`: a public IMU dataset file → the recording CSV that world
// files play as recorded vibration (sim/recording.ts), with what the recording means on the
// simulator's roughness scale.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { checkOutputs, writeFileAtomic } from "../io/safe-output.ts";
import { action, UserError } from "./errors.ts";

interface Options {
  format: string;
  rate?: string;
  pro?: string;
  speed?: string;
  world?: string;
  up: string;
  json?: boolean;
}

/** BorealTC's wheel-speed file beside an IMU file: imu_NN.csv → pro_NN.csv. */
function defaultProFile(input: string): string {
  return join(dirname(input), basename(input).replace(/^imu_/, "pro_"));
}

async function run(input: string, output: string, o: Options): Promise<void> {
  const sim = await import("../../sim/index.ts");
  const conv = await import("../../sim/convert-recording.ts");
  const recording = await import("../../sim/recording.ts");
  if (o.format !== "borealtc" && o.format !== "u2is" && o.format !== "csv")
    throw new UserError(`--format '${o.format}': expected borealtc, u2is or csv`);
  if (!existsSync(input)) throw new UserError(`${input}: no such file`);
  if (o.world !== undefined && !existsSync(o.world)) throw new UserError(`--world ${o.world}: no such file`);
  // Every file this command reads is an input the output must not replace: the speed file too when
  // it is found beside the IMU file rather than named with --pro, and the world file.
  const pro = o.format === "borealtc" ? (o.pro ?? defaultProFile(input)) : undefined;
  try {
    await checkOutputs(
      [{ path: output, kind: "file", what: "OUT" }],
      [input, ...(pro && existsSync(pro) ? [pro] : []), ...(o.world ? [o.world] : [])],
    );
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const rate = o.rate === undefined ? undefined : Number(o.rate);
  if (rate !== undefined && !(rate > 0)) throw new UserError(`--rate '${o.rate}': expected a rate in Hz > 0`);
  const speed = o.speed === undefined ? undefined : Number(o.speed);
  if (speed !== undefined && !(speed > 0 && Number.isFinite(speed)))
    throw new UserError(`--speed '${o.speed}': expected the recording's speed in m/s > 0`);
  const up = o.up.split(",").map(Number);
  if (up.length !== 3 || up.some((v) => !Number.isFinite(v)) || Math.hypot(...up) === 0)
    throw new UserError(`--up '${o.up}': expected three numbers, e.g. 0,0,1`);

  // The world gives the roughness scale; a bad world file is found before any conversion.
  let world: ReturnType<typeof sim.loadWorldFile>;
  try {
    world = sim.loadWorldFile(o.world ?? sim.DEFAULT_WORLD);
  } catch (err) {
    if (o.world === undefined) throw err;
    throw new UserError(`--world ${o.world}: ${(err as Error).message}`);
  }

  // A file of the other format would fail deep in the parser ("line 2: 1 fields"): name the fix.
  const head = new Uint8Array(await readFile(input)).subarray(0, 256);
  const isNpy = head[0] === 0x93 && new TextDecoder().decode(head.subarray(1, 6)) === "NUMPY";
  const firstRow = new TextDecoder()
    .decode(head)
    .split(/\r?\n/)
    .find((l) => l.trim() !== "" && !l.startsWith("#"));
  const columns = (firstRow ?? "").split(",").map((c) => c.trim());
  const ownCsv = columns.includes("t") && columns.includes("ax") && !columns.includes("time");
  const borealCsv = columns.includes("time") && columns.includes("wx");
  if (o.format === "borealtc" && isNpy)
    throw new UserError(`${input}: a NumPy .npy file, not a BorealTC CSV: use --format u2is`);
  if (o.format === "u2is" && !isNpy && (ownCsv || /^[^\n]*,[^\n]*\n/.test(new TextDecoder().decode(head))))
    throw new UserError(`${input}: a CSV file, not a U2IS .npy: use --format ${ownCsv ? "csv" : "borealtc"}`);
  if (o.format === "csv" && isNpy)
    throw new UserError(`${input}: a NumPy .npy file, not a recording CSV: use --format u2is`);
  if (o.format === "csv" && borealCsv)
    throw new UserError(
      `${input}: a BorealTC file (time, wx, ...), not a recording CSV: use --format borealtc`,
    );
  // A recording CSV of one's own (t, ax, ...) read as BorealTC failed on its first line.
  if (o.format === "borealtc" && ownCsv)
    throw new UserError(
      `${input}: a recording CSV (t, ax, ay, az, ...), not a BorealTC file: use --format csv`,
    );

  let rec: import("../../sim/recording.ts").Recording;
  const notes: string[] = [];
  try {
    if (pro !== undefined) {
      const hasPro = pro !== input && existsSync(pro);
      if (o.pro && !hasPro) throw new UserError(`--pro ${o.pro}: no such file`);
      rec = conv.convertBorealTc(
        await readFile(input, "utf8"),
        input,
        hasPro ? await readFile(pro, "utf8") : undefined,
        pro,
      );
      notes.push(`converted from BorealTC ${basename(input)}${hasPro ? ` + ${basename(pro)} (speed)` : ""}`);
      if (!hasPro) {
        process.stderr.write(
          `terrain-learner: no ${basename(pro)} beside ${basename(input)}: no speed column; give the terrain's vibration.speed\n`,
        );
      }
    } else if (o.format === "csv") {
      // Already the world's format: read as a world reads it, written back as read.
      const csvText = await readFile(input, "utf8");
      const own = sim.parseRecordingCsv(csvText, input);
      rec = { ...own, t: conv.fromZero(own.t) };
      // Its own comments (where it came from) are kept.
      for (const l of csvText.split(/\r?\n/)) if (l.startsWith("#")) notes.push(l.replace(/^#\s?/, ""));
      notes.push(`checked from ${basename(input)}`);
    } else {
      rec = conv.convertU2is(new Uint8Array(await readFile(input)), input, rate);
      notes.push(`converted from U2IS ${basename(input)}; ax, ay and gz are not in U2IS files: written as 0`);
      process.stderr.write("terrain-learner: U2IS files have no ax, ay, gz: written as 0\n");
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError((err as Error).message);
  }
  let text: string;
  try {
    text = conv.formatRecordingCsv(rec, notes);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (rec.speed && speed !== undefined)
    throw new UserError(
      `--speed: ${input} has a speed column of its own; --speed is for recordings without one`,
    );
  // Without a speed column the level at 1 m/s depends on the speed the world will say it was driven
  // at (vibration.speed): the same speed here, or the natural roughness printed is another's.
  const assumedSpeed = rec.speed ? undefined : (speed ?? 1);
  // What it means on the simulator's scale: the roughness whose synthetic vibration matches it. A
  // recording that cannot be played (too short, never moving) is not written at all.
  let prepared: import("../../sim/recording.ts").PreparedRecording;
  try {
    prepared = sim.prepareRecording(
      sim.parseRecordingCsv(text, input),
      {
        up: up as [number, number, number],
        speed: assumedSpeed,
        rate: world.imu.rate,
        speedExponent: world.imu.speedExponent,
      },
      basename(input),
    );
  } catch (err) {
    // The message names a world's terrain and recording; here there is only the input, said first.
    const where = `terrain '${basename(input)}': recording ${input}: `;
    const msg = (err as Error).message;
    throw new UserError(
      `${input}: cannot be played as a world's recording, nothing written: ${msg.startsWith(where) ? msg.slice(where.length) : msg}`,
    );
  }
  // Under a temporary name, synced and renamed: an earlier file at `output` stays whole until then.
  await writeFileAtomic(output, text);

  const level = sim.recordingLevel([prepared]);
  const curve = sim.syntheticLevelCurve(world, world.imu.rate);
  const natural = sim.roughnessAtLevel(curve, level);
  // Beyond the ends of the synthetic scale no roughness plays the recording at its own level: the
  // one-scale rule scales it to the level at roughness 1 (or 0) instead.
  const gainAtNatural = sim.levelAt(curve, natural) / level;
  const duration = rec.t[rec.t.length - 1]! - rec.t[0]!;
  // The median rate: rows over the duration understates a log with a gap (100 Hz with a 5 s gap in
  // 55 s reads 90.9 Hz); the gaps are said on their own.
  const gaps = recording.recordingGaps(rec.t);
  const summary = {
    path: output,
    rows: rec.t.length,
    seconds: duration,
    rate: 1 / recording.medianInterval(rec.t),
    gaps,
    columns: text
      .split("\n")
      .find((l) => !l.startsWith("#"))!
      .split(","),
    movingSeconds: prepared.usableCount / prepared.rate,
    levelAt1ms: level,
    /** m/s the level assumes for a recording without a speed column (its vibration.speed); null: it has one. */
    assumedSpeed: assumedSpeed ?? null,
    naturalRoughness: natural,
    gainAtNatural,
    warnings: [recording.gyroUnitWarning(rec), recording.speedUnitWarning(rec)].filter(
      (w) => w !== undefined,
    ),
  };
  for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const worldName = o.world ? basename(o.world) : "default world";
  const end = natural >= 1 ? 1 : 0;
  const onScale =
    Math.abs(gainAtNatural - 1) < 0.005
      ? ` = the synthetic model's level at roughness ${natural.toFixed(2)} (${worldName}); give the terrain ` +
        "that roughness to play it at its own level"
      : `, ${end ? "above" : "below"} the synthetic model's level at roughness ${end} ` +
        `(${sim.levelAt(curve, end).toFixed(3)} m/s², ${worldName}): at any roughness it plays ` +
        `${end ? "quieter" : "louder"} than recorded (gain ${gainAtNatural.toFixed(2)} at roughness ${end})`;
  const speedText =
    assumedSpeed === undefined
      ? ""
      : ` (no speed column: driven at ${assumedSpeed} m/s${speed === undefined ? " assumed; give --speed, the terrain's vibration.speed" : ", the terrain's vibration.speed"})`;
  const gapText = !gaps.longest
    ? ""
    : gaps.count === 1
      ? `, 1 gap of ${gaps.seconds.toFixed(1)} s at ${gaps.longest.at.toFixed(1)} s`
      : `, ${gaps.count} gaps (${gaps.seconds.toFixed(1)} s in all, the longest ${gaps.longest.seconds.toFixed(1)} s at ${gaps.longest.at.toFixed(1)} s)`;
  process.stdout.write(
    `wrote ${output}: ${summary.rows} rows, ${duration.toFixed(1)} s at ${summary.rate.toFixed(1)} Hz (median rate)` +
      `${gapText}, ${summary.movingSeconds.toFixed(1)} s moving, columns ${summary.columns.join(",")}\n` +
      `vertical vibration at 1 m/s: ${level.toFixed(3)} m/s² RMS${speedText}${onScale}\n`,
  );
}

export function registerConvertRecording(sim: Command): void {
  sim
    .command("convert-recording")
    .description(
      "convert a BorealTC or U2IS IMU recording into the CSV a world's vibration.recordings plays (or check one)",
    )
    .argument("<in>", "BorealTC imu_NN.csv, U2IS .npy, or a recording CSV of your own")
    .argument("<out>", "output CSV (t,ax,ay,az,gx,gy,gz,speed)")
    .requiredOption(
      "--format <name>",
      "borealtc, u2is, or csv (a recording CSV of your own: checked as a world reads it) (required)",
    )
    .option("--rate <hz>", "u2is: sample rate (default: rows / the seconds in the file name's _tSECONDS_)")
    .option("--pro <file>", "borealtc: wheel-speed file (default pro_NN.csv beside imu_NN.csv)")
    .option(
      "--speed <m/s>",
      "a recording without a speed column: the speed it was driven at, as the terrain's vibration.speed will say (default 1)",
    )
    .option("--up <x,y,z>", "the recording's up axis, for the level it reports", "0,0,1")
    .option("-w, --world <file>", "world whose IMU model gives the roughness scale (default world)")
    .option("--json", "print a JSON summary")
    .addHelpText(
      "after",
      "\nMissing axes: U2IS files hold only az, wx, wy and vx: ax, ay and gz are written as 0.\n" +
        "BorealTC speed is the mean of the wheel speeds in pro_NN.csv (no pro file: no speed column).\n" +
        "csv: a recording you exported yourself (docs/worlds.md), checked and its level printed.\n" +
        "Example: terrain-learner sim convert-recording --format borealtc data/ASPHALT/imu_00.csv asphalt.csv",
    )
    // --world and --json are also options of `sim`, which commander gives them to: merge both levels.
    .action(
      action((input: string, output: string, _o: Options, cmd: Command) =>
        run(input, output, cmd.optsWithGlobals<Options>()),
      ),
    );
}
