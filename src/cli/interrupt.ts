// Ctrl-C and SIGTERM for commands that write files: the first signal asks the command to stop
// reading and finish what it has (close recordings with their footer, rename outputs into place);
// a second one ends the process at once. The command then exits non-zero with one line.

import { UserError } from "./errors.ts";

/** Conventional exit status of a process ended by a signal: 128 + signal number. */
export const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** The abort reason of an interrupt: which signal, and the exit status it calls for. */
export class Interrupted extends Error {
  override name = "Interrupted";
  readonly sig: NodeJS.Signals;
  readonly exitCode: number;
  constructor(sig: NodeJS.Signals) {
    super(`interrupted by ${sig}`);
    this.sig = sig;
    this.exitCode = SIGNAL_EXIT[sig] ?? 1;
  }
}

export interface Interrupt {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Removes the handlers (the default behaviour returns). */
  dispose(): void;
}

/**
 * Traps SIGINT, SIGTERM and SIGHUP until disposed. `onForce` says what a second signal leaves
 * behind (one line, printed before the process exits with the signal's status).
 */
export function trapInterrupts(onForce?: () => string | undefined): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const handler = (sig: NodeJS.Signals) => {
    if (received) {
      const note = onForce?.();
      process.stderr.write(`terrain-learner: second ${sig}: stopping now${note ? `; ${note}` : ""}\n`);
      // End by the signal itself, with its default action: the kernel ends every thread at once.
      // process.exit() would run the native add-ons' exit-time teardown while onnxruntime's worker
      // threads are still inside a call, which can abort (exit 134, "terminate called after
      // throwing an instance of 'Napi::Error'"). With no listener left Node restores the default
      // action; the parent sees the process killed by `sig` (a shell: 128 + its number).
      for (const s of signals) process.off(s, handler);
      process.kill(process.pid, sig);
      // Only reached if the signal is ignored (e.g. SIGHUP under nohup).
      process.exit(SIGNAL_EXIT[sig] ?? 1);
    }
    received = sig;
    controller.abort(new Interrupted(sig));
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose() {
      for (const s of signals) process.off(s, handler);
    },
  };
}

/** The one-line error a command ends with after an interrupt; its exit status says which signal. */
export function interruptedError(reason: unknown, what: string): UserError {
  const why = reason instanceof Error ? reason.message : "interrupted";
  return new UserError(
    `${why}${what ? `: ${what}` : ""}`,
    reason instanceof Interrupted ? reason.exitCode : 130,
  );
}
