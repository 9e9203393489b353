// The sub-commands, in the order --help lists them; main.ts loads only the one being run. The
// *-command.ts modules register options from light modules and load the command's heavy parts
// (onnxruntime, tfjs, the pipeline) once its flags have been checked (tests/cli-startup.test.ts).

import type { Command } from "commander";

export type Register = (program: Command) => void;

export const COMMANDS: Record<string, () => Promise<{ register: Register }>> = {
  bag: () => import("./bag.ts"),
  replay: () => import("./replay-command.ts"),
  demo: () => import("./demo-command.ts"),
  sim: () => import("./sim.ts"),
  label: () => import("./label.ts"),
  run: () => import("./run-command.ts"),
  ros: () => import("./ros-command.ts"),
  "serial-dump": () => import("./serial-dump.ts"),
  export: () => import("./export-command.ts"),
};
