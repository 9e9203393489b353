// Per-test cleanups for tests that run at once (describe.concurrent): a shared array emptied by
// afterEach would undo another running test's pty or broker.
import type { TestContext } from "vitest";

/** What a test undoes when it ends, last first. */
export function cleanupsFor(onTestFinished: TestContext["onTestFinished"]): (() => Promise<void> | void)[] {
  const cleanups: (() => Promise<void> | void)[] = [];
  onTestFinished(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}
