// The sub-commands, in the order --help lists them. Each loads only its registration module, which
// loads the command's heavy parts (onnxruntime, tfjs, the simulator) once its flags have been checked.

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
