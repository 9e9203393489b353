// Polling wait for tests that watch real processes (brokers, ptys, CLIs). The timeout only bounds
// a hang; no test asserts on how long anything took.

/** Resolves once `predicate()` is true; rejects after `timeoutMs` naming what it waited for. */
export async function waitFor(
  what: string | (() => string),
  predicate: () => boolean,
  timeoutMs = 15_000,
  stepMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
