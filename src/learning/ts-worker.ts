// Starts a worker thread on a module that may be TypeScript source. Under tsx a worker does not
// inherit the loader (and `execArgv: ["--import", "tsx"]` does not cover a worker's own .ts entry
// on Node 20), so a small bootstrap imports the module through tsx's API; a compiled .js module is
// started directly.

import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/** `moduleUrl` is the worker module's `import.meta.url`; the module checks `isMainThread` itself. */
export function spawnModuleWorker(moduleUrl: string, workerData: unknown): Worker {
  const file = fileURLToPath(moduleUrl);
  if (!file.endsWith(".ts")) return new Worker(file, { workerData });
  // tsx's package exports give require() the .cjs build of esm/api; the ESM build sits beside it.
  const api = pathToFileURL(
    createRequire(moduleUrl)
      .resolve("tsx/esm/api")
      .replace(/index\.cjs$/, "index.mjs"),
  ).href;
  const self = pathToFileURL(file).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  return new Worker(boot, { eval: true, workerData });
}
