// The `terrain-learner` command. Each sub-command lives in its own file and exports `register`.

import { Command } from "commander";
import { tuneHeap } from "../runtime/heap-tuning.ts";
import { register as registerBag } from "./bag.ts";
import { register as registerDemo } from "./demo.ts";
import { register as registerLabel } from "./label.ts";
import { register as registerReplay } from "./replay.ts";
import { register as registerRos } from "./ros.ts";
import { register as registerRun } from "./run.ts";
import { register as registerSerialDump } from "./serial-dump.ts";
import { register as registerSim } from "./sim.ts";

const program = new Command();
program
  .name("terrain-learner")
  .description(
    "Self-supervised terrain roughness for ground robots: label ground by vibration, learn to see it in images.",
  )
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)");

registerBag(program);
registerReplay(program);
registerDemo(program);
registerSim(program);
registerLabel(program);
registerRun(program);
registerRos(program);
registerSerialDump(program);

try {
  tuneHeap();
} catch (err) {
  process.stderr.write(`terrain-learner: ${(err as Error).message}\n`);
  process.exit(2);
}
await program.parseAsync(process.argv);
