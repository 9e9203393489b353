// `terrain-learner demo` (what `npm start` runs): generate the default synthetic world if it is not
// cached, replay it with learning and prequential evaluation, print the learning curve, and leave
// report.json + PNG plots in out/demo/. Its options and checks are in demo-command.ts.

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { LiveViewServer } from "../adapters/live-view/index.ts";
import { readMcapMetadata } from "../eval/sim-metadata.ts";
import { commitTemp, discardTemp, isDiskError, outputWriteError, tempPathFor } from "../io/safe-output.ts";
import type { Config } from "../runtime/config.ts";
import { isWorldProblem, UserError, worldUserError } from "./errors.ts";
import { interruptedError } from "./interrupt.ts";
import { progressReporter, type ReplayResult, runReplay } from "./replay.ts";

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
