// `terrain-learner demo`: its options, their checks and the summary it prints. The simulation,
// the replay and their modules (tfjs, the pipeline, the bag readers) load once the flags and the
// config have been checked, so a mistyped flag is refused at once.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { checkOutputs, discardFolderTempsSync } from "../io/safe-output.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { trapInterrupts } from "./interrupt.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP, numberOption, positiveNumber } from "./options.ts";
import type { ReplayResult } from "./replay-result.ts";

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
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          const { forceNote, runDemo } = await import("./demo.ts");
          const { formatSummary, jsonResult, REPORT_FILES } = await import("./replay.ts");
          try {
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
