// `terrain-learner demo` (what `npm start` runs): generate the default synthetic world if it is not
// cached, replay it with learning and prequential evaluation, print the learning curve, and leave
// report.json + PNG plots in out/demo/.

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { LiveViewServer } from "../adapters/live-view/index.ts";
import { readMcapMetadata } from "../eval/sim-metadata.ts";
import {
  checkOutputs,
  commitTemp,
  discardFolderTempsSync,
  discardTemp,
  isDiskError,
  outputWriteError,
  tempPathFor,
} from "../io/safe-output.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, isWorldProblem, UserError, worldUserError } from "./errors.ts";
import { interruptedError, trapInterrupts } from "./interrupt.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP, numberOption, positiveNumber } from "./options.ts";
import {
  formatSummary,
  jsonResult,
  progressReporter,
  REPORT_FILES,
  type ReplayResult,
  runReplay,
} from "./replay.ts";

export interface DemoOptions {
  world?: string;
  seed: number;
  duration: number;
  outDir: string;
  cacheDir: string;
  config: Config;
  regenerate?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
  /** Aborting stops the simulation (nothing cached) or the replay (no report). */
  signal?: AbortSignal;
  liveView?: LiveViewServer;
  /** Pace the replay at rate × real time (to watch it live); undefined = as fast as possible. */
  rate?: number;
  /** Called with the cached bag when the replay starts (the simulation, if any, is over). */
  onReplay?: (bag: string) => void;
}

/**
 * Loads `learner.backbone` once and closes it: a model that will not load is then refused before a
 * minute of simulation rather than after it.
 */
export async function checkBackbone(config: Config): Promise<void> {
  const { Backbone } = await import("../learning/backbone.ts");
  let backbone: Awaited<ReturnType<typeof Backbone.fromConfig>>;
  try {
    backbone = await Backbone.fromConfig(config.learner, { warn: () => {} });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  await backbone.close();
}

/** JPEG quality of the demo's cached camera frames. */
export const DEMO_JPEG_QUALITY = 95;

/** What a second signal leaves: nothing while the bag is simulated; once it is cached, the report. */
export function forceNote(cached: string | undefined): string {
  return cached ? `no report written; ${cached} stays cached` : "nothing cached";
}

/** The cached bag for a world/seed/duration (generated when missing). */
export async function ensureWorldBag(
  o: Pick<
    DemoOptions,
    "world" | "seed" | "duration" | "cacheDir" | "regenerate" | "progress" | "log" | "signal"
  > & { beforeSimulate?: () => Promise<void> },
): Promise<string> {
  // The simulator is imported lazily: `replay` and the ROS node never need it.
  const sim = await import("../../sim/index.ts");
  const worldPath = o.world ?? sim.DEFAULT_WORLD;
  const worldName = basename(worldPath, extname(worldPath));
  const suffix = o.duration === 180 ? "" : `-${o.duration}s`;
  // The camera is cached as JPEG (CompressedImage): a twelfth of the raw bag's size, and nearer to
  // what a real camera gives than the simulator's raw pixel noise (what it moves: docs/simulator.md).
  const path = resolve(o.cacheDir, `${worldName}-world-seed${o.seed}${suffix}-jpeg${DEMO_JPEG_QUALITY}.mcap`);
  // The name says which world file, seed and duration; the bag's own metadata holds a digest of the
  // world it was made from (the parsed file and the bytes of its photos and recordings). A bag of
  // another world under the same file name (an edited layout, lighting or route, another folder's
  // default.yaml) is regenerated rather than replayed as this one.
  // A bad world file, or a photo or recording it names, is reported in one line before anything
  // is generated (or said to be).
  let file: ReturnType<typeof sim.loadWorldFile>;
  try {
    file = sim.loadWorldFile(worldPath);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  let stale: string | undefined;
  if (!o.regenerate && existsSync(path)) {
    const meta = await readMcapMetadata(path);
    if (meta === undefined) stale = "is unreadable (cut short, or not a simulator bag)";
    else if (meta.get("version") !== sim.SIM_VERSION) stale = "is of an earlier simulator version";
    else if (meta.get("digest") !== cachedWorldDigest(sim, file, worldPath))
      stale = `is of a different ${worldName} world`;
    else return path;
  }
  try {
    await sim.loadWorldAssets(file);
  } catch (err) {
    throw worldUserError(err, worldPath);
  }
  await o.beforeSimulate?.();
  await mkdir(o.cacheDir, { recursive: true });
  const tmp = tempPathFor(path);
  const bar =
    o.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: "simulate [{bar}] {percentage}% | {value}/{total} s",
            clearOnComplete: true,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  try {
    const result = await sim.generateWorldBag({
      out: tmp,
      world: worldPath,
      seed: o.seed,
      duration: o.duration,
      jpeg: true,
      camera: { jpegQuality: DEMO_JPEG_QUALITY },
      signal: o.signal,
      // Said once the world is known to be good: a recording too short to play is found only when
      // the IMU model is made, and is then the one line printed.
      onStart: () => {
        o.log?.(
          `generating ${worldName} world (seed ${o.seed}, ${o.duration} s) → ${path}${stale ? ` (the cached bag ${stale})` : ""}`,
        );
        bar?.start(o.duration, 0);
      },
      onProgress: (t: number) => bar?.update(Math.round(t)),
    });
    // Written under a temporary name, synced and renamed: an interrupted run never leaves a half
    // bag in the cache.
    await commitTemp(tmp, path);
    // A recording that plays wrongly (its gyro in deg/s) is said here too, as `sim` says it.
    for (const w of result.recordedVibration.flatMap((r) => r.warnings)) o.log?.(`warning: ${w}`);
  } catch (err) {
    await discardTemp(tmp);
    if (o.signal?.aborted) throw interruptedError(o.signal.reason, `${path} not generated`);
    if (isWorldProblem(err)) throw worldUserError(err, worldPath);
    // Named as the cached bag, not the temporary file it was being written as.
    if (isDiskError(err)) throw outputWriteError(path, (err as Error).cause ?? err);
    throw err;
  } finally {
    bar?.stop();
  }
  return path;
}

/** The world digest a bag generated now from `file` with the demo's camera settings would store. */
function cachedWorldDigest(
  sim: typeof import("../../sim/index.ts"),
  file: ReturnType<typeof sim.loadWorldFile>,
  worldPath: string,
): string {
  try {
    return sim.worldDigest(sim.withOverrides(file, { camera: { jpegQuality: DEMO_JPEG_QUALITY } }));
  } catch (err) {
    // A photo or recording the world names cannot be read.
    throw worldUserError(err, worldPath);
  }
}

export async function runDemo(o: DemoOptions): Promise<ReplayResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const bag = await ensureWorldBag({ ...o, log, beforeSimulate: () => checkBackbone(o.config) });
  o.onReplay?.(bag);
  log(`replaying ${bag} with learning and prequential evaluation`);
  const progress = o.progress ? progressReporter("learn") : { update: () => {}, stop: () => {} };
  try {
    return await runReplay({
      bag,
      config: o.config,
      evaluate: true,
      reportDir: o.outDir,
      title: `${basename(bag, ".mcap")}`,
      goal: 0.85,
      liveView: o.liveView,
      rate: o.rate,
      onProgress: progress.update,
      signal: o.signal,
    });
  } finally {
    progress.stop();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command("demo")
    .description(
      "simulate the default world (cached), learn while replaying it, and report how well the robot learned to see roughness",
    )
    .option("--world <file>", "world file (default sim/worlds/default.yaml)")
    .option(
      "--seed <n>",
      "simulation seed (route and sensor noise)",
      numberOption((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, "a whole number 0 .. 2^32-1"),
      1,
    )
    .option("--duration <s>", "simulated seconds", positiveNumber, 180)
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--out <dir>", "where report.json and the plots go", "out/demo")
    .option("--cache <dir>", "where generated bags are cached", ".cache")
    .option("--regenerate", "generate the bag even if it is cached")
    .option(
      "--rate <x>",
      "pace the replay at x times real time (to watch it with --live-view)",
      positiveNumber,
    )
    .option("--json", "print one JSON object with the results")
    .option("--fleet <url>", FLEET_HELP)
    .option("--robot-id <id>", "robot id in the fleet's topics (default: mqtt.robot_id)");
  addLiveViewOptions(cmd)
    .addHelpText(
      "after",
      `
The default world has 11 terrain types, 2 of which the robot sees but never drives on. The learner
starts from nothing; every camera frame is scored against ground truth before any label for the
ground it shows exists (prequential), next to a baseline that always predicts the mean label.`,
    )
    .action(
      action(
        async (
          o: {
            world?: string;
            seed: number;
            duration: number;
            config?: string[];
            out: string;
            cache: string;
            regenerate?: boolean;
            rate?: number;
            json?: boolean;
            fleet?: string;
            robotId?: string;
          } & LiveViewFlags,
        ) => {
          if (o.world && !existsSync(o.world)) throw new UserError(`${o.world}: no such world file`);
          let config: Config;
          try {
            config = loadConfig(o.config);
            if (o.fleet !== undefined) config.fleet.url = o.fleet;
            if (o.robotId !== undefined) config.mqtt.robot_id = o.robotId;
            // The demo shows learning; a model that does not learn, from no checkpoint, shows nothing.
            if (!config.learner.enabled)
              throw new Error(
                "learner.enabled is false: the demo shows a model learning from nothing, so it needs learning on (to judge a trained model on a bag: replay BAG --checkpoint DIR with learner.enabled: false)",
              );
            // Before minutes of simulation: the report folder and the cache must be usable.
            await checkOutputs(
              [
                { path: o.out, kind: "dir", what: "--out", files: REPORT_FILES },
                { path: o.cache, kind: "dir", what: "--cache" },
              ],
              [...(o.world ? [o.world] : []), ...(o.config ?? [])],
            );
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          applyLiveViewFlags(config, o);
          const liveView = await maybeStartLiveView(config, (l) => process.stderr.write(`${l}\n`));
          // What a second signal loses depends on the phase: the bag being simulated, or (once it
          // is cached) the replay's report.
          let cached: string | undefined;
          const interrupt = trapInterrupts(() => {
            discardFolderTempsSync(o.cache);
            discardFolderTempsSync(o.out);
            return forceNote(cached);
          });
          let result: ReplayResult;
          try {
            result = await runDemo({
              world: o.world,
              seed: o.seed,
              duration: o.duration,
              outDir: o.out,
              cacheDir: o.cache,
              config,
              regenerate: o.regenerate,
              rate: o.rate,
              progress: true,
              signal: interrupt.signal,
              liveView,
              onReplay: (bag) => {
                cached = bag;
              },
            });
          } finally {
            interrupt.dispose();
            await liveView?.close();
          }
          // Too short a drive: the figures below are an untrained model's.
          const untrained = result.idle ?? result.warning;
          if (untrained) process.stderr.write(`warning: ${untrained}\n`);
          if (o.json) {
            process.stdout.write(`${jsonResult(result)}\n`);
            return;
          }
          process.stdout.write(formatSummary(result));
          const e = result.eval;
          if (e) {
            const verdict = e.spearman >= 0.85 ? "meets" : "does not meet";
            process.stdout.write(
              `\nThe learner ${verdict} the goal ρ ≥ 0.85 over the last simulated minute (ρ = ${e.spearman.toFixed(3)}, baseline ${e.baseline.spearman.toFixed(3)}).\n`,
            );
          }
          process.stdout.write(
            `Plots and report.json are in ${resolve(o.out)} (open ${join(o.out, "learning-curve.png")}).\n`,
          );
        },
      ),
    );
}
