// Runs the real command line (bin/terrain-learner.js) in a child process and returns its exit code
// and output instead of throwing on a non-zero exit.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const BIN = fileURLToPath(new URL("../../bin/terrain-learner.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: readonly string[], cwd: string, timeout = 120_000): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, timeout });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CliResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A running command line whose output is collected as it comes (for signals and live devices). */
export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Collects a child's stdout and stderr as they come. */
function collectOutput(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  return { stdout: () => out, stderr: () => err };
}

export function spawnCli(args: readonly string[], cwd?: string): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const output = collectOutput(child);
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, ...output, exit };
}

export interface ProcessResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a child process to its end without blocking the test worker: a spawnSync of a long run
 * stalls the worker's messages to vitest, which then fails the run with "Timeout calling
 * onTaskUpdate" on a loaded machine. `encoding` and `maxBuffer` are accepted (and ignored) so
 * spawnSync's options carry over.
 */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; encoding?: string; maxBuffer?: number } = {},
): Promise<ProcessResult> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  const output = collectOutput(child);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout: output.stdout(), stderr: output.stderr() }));
  });
}
