// User errors (bad path, bad flag, corrupt input) are reported as one line and a non-zero exit,
// never as a stack trace; anything else is a bug and keeps its stack.

import { isDiskError } from "../io/safe-output.ts";
import { UserError } from "../runtime/errors.ts";

export { UserError };

/** Wraps a command action: prints `terrain-learner: <message>` for user errors and sets the exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof UserError) {
        process.stderr.write(`terrain-learner: ${err.message}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      if (process.env.TERRAIN_LEARNER_DEBUG) throw err;
      const e = err as Error;
      process.stderr.write(`terrain-learner: ${e.message ?? String(err)}\n`);
      // A full disk or a read-only filesystem is not a bug: no stack trace to ask for.
      if (isDiskError(err)) {
        process.exitCode = 1;
        return;
      }
      process.stderr.write("(set TERRAIN_LEARNER_DEBUG=1 for the stack trace)\n");
      process.exitCode = 1;
    }
  };
}

/**
 * Whether a simulator error is about the world file's content (a bad terrain or layout, a photo or
 * recording it names, no start position): the user's to fix, so one line and no stack-trace hint.
 */
export function isWorldProblem(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /^(terrains?\b|layout|route|world|invalid world|cannot (parse|read) world)/.test(msg);
}

/** A simulator world problem as a user error that names the world file, as the schema's errors do. */
export function worldUserError(err: unknown, worldPath: string): UserError {
  const msg = err instanceof Error ? err.message : String(err);
  return new UserError(
    /^(invalid world|cannot (parse|read) world)/.test(msg) ? msg : `invalid world ${worldPath}: ${msg}`,
  );
}
