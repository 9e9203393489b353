// Starts a worker thread on a module that may be TypeScript source. A compiled .js module is started
// directly. A .ts module whose compiled twin in dist/ is current (bin/compiled.cjs, the check the
// command line makes) starts that twin: the thread then skips tsx's loader, about 0.2–0.4 CPU-s per
// thread. Otherwise, since a worker does not inherit tsx's loader (and `execArgv: ["--import", "tsx"]`
// does not cover a worker's own .ts entry on Node 20), a small bootstrap imports the module through
// tsx's API.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

type CompiledCheck = { compiledEntry: (root: string, rel: string) => string | null };

/** dist/'s current build of a source file of this package, or null (no build, or a stale one). */
export function compiledTwin(file: string): string | null {
  if (process.env.TERRAIN_LEARNER_SOURCES === "1") return null;
  // The package root holds bin/compiled.cjs; sources sit under its src/ or sim/.
  let root = dirname(file);
  while (!existsSync(join(root, "bin", "compiled.cjs"))) {
    const up = dirname(root);
    if (up === root) return null;
    root = up;
  }
  const check = createRequire(import.meta.url)(join(root, "bin", "compiled.cjs")) as CompiledCheck;
  const twin = check.compiledEntry(root, relative(root, file));
  return twin && existsSync(twin) ? twin : null;
}

/** `moduleUrl` is the worker module's `import.meta.url`; the module checks `isMainThread` itself. */
export function spawnModuleWorker(moduleUrl: string, workerData: unknown): Worker {
  const file = fileURLToPath(moduleUrl);
  if (!file.endsWith(".ts")) return new Worker(file, { workerData });
  const twin = compiledTwin(file);
  if (twin) return new Worker(twin, { workerData });
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
