// The `terrain-learner` command. Each sub-command lives in its own file and exports `register`.
// Only the command being run is imported: every command pulls in heavy modules (onnxruntime, tfjs,
// the simulator), and loading all of them made each start take seconds.

import { Command } from "commander";
import { tuneHeap } from "../runtime/heap-tuning.ts";
import { COMMANDS } from "./commands.ts";

const program = new Command();
program
  .name("terrain-learner")
  .description(
    "Self-supervised terrain roughness for ground robots: label ground by vibration, learn to see it in images.",
  )
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)");

// `terrain-learner --help`, `help CMD` or a mistyped command: register every command (in this order).
const named = process.argv[2];
const selected = named !== undefined && named in COMMANDS ? [named] : Object.keys(COMMANDS);
for (const name of selected) {
  const load = COMMANDS[name];
  if (load) (await load()).register(program);
}

// `sim --list-terrains | head -3` closes the pipe early: the reader has had enough, not an error.
// Later writes are dropped and the command finishes its work (outputs, reports) instead of dying
// with an EPIPE stack trace. Commands with a handler of their own (label, run, serial-dump) decide
// what EPIPE means for them. Any other failure (stdout redirected to a full disk or past a file
// size limit) is one line here and exit 1, said once; the command still finishes its files, which
// are written apart from stdout.
let outputFailed = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || outputFailed) return;
    outputFailed = true;
    process.exitCode = 1;
    // A failed stderr cannot say so: the exit status does.
    if (stream === process.stdout)
      process.stderr.write(`terrain-learner: cannot write standard output: ${err.message}\n`);
  });
}

try {
  tuneHeap();
} catch (err) {
  process.stderr.write(`terrain-learner: ${(err as Error).message}\n`);
  process.exit(2);
}
await program.parseAsync(process.argv);
