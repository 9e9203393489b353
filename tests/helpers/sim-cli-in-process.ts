// Runs `terrain-learner sim ...` in the test's own process: the same commander setup and action
// wrapper as bin/terrain-learner.js, without the second or so each child process spends starting.
// Tests keep one real CLI run per message path (exit status, one-line output) and use this for the
// rest. It swaps process-wide state (cwd, stdout/stderr writes, exitCode), so calls run one at a time.

import { Command, CommanderError } from "commander";
import { register } from "../../src/cli/sim.ts";
import type { CliResult } from "./cli.ts";

let queue: Promise<unknown> = Promise.resolve();

/** `args` as after `terrain-learner` (starting with "sim"); relative paths resolve against `cwd`. */
export function runSimInProcess(args: readonly string[], cwd: string): Promise<CliResult> {
  const next = queue.then(() => runOnce(args, cwd));
  queue = next.catch(() => undefined);
  return next;
}

async function runOnce(args: readonly string[], cwd: string): Promise<CliResult> {
  if (args[0] !== "sim") throw new Error(`runSimInProcess runs sim commands only, not '${args[0]}'`);
  let stdout = "";
  let stderr = "";
  const program = new Command()
    .name("terrain-learner")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        stdout += s;
      },
      writeErr: (s) => {
        stderr += s;
      },
    });
  register(program);
  const saved = {
    cwd: process.cwd(),
    out: process.stdout.write,
    err: process.stderr.write,
    exitCode: process.exitCode,
  };
  const capture =
    (append: (s: string) => void) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      append(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    };
  process.exitCode = undefined;
  process.chdir(cwd);
  process.stdout.write = capture((s) => {
    stdout += s;
  }) as typeof process.stdout.write;
  process.stderr.write = capture((s) => {
    stderr += s;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    await program.parseAsync(["node", "terrain-learner", ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    code = err.exitCode;
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.chdir(saved.cwd);
  }
  process.exitCode = saved.exitCode;
  return { code, stdout, stderr };
}
