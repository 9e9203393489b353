#!/usr/bin/env node
// `npm run build` (also run by `npm ci` and `npm install`): compiles src/ and sim/ to dist/ so the
// command line starts without compiling TypeScript on every run (about 40 % less CPU and memory per
// start; docs/benchmarks.md). Without TypeScript installed (`npm ci --omit=dev`) it says so and
// leaves the command line on the sources. The stamp is written last: a build that stops part-way
// leaves none, and the command line keeps to the sources.

import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SOURCE_DIRS, STAMP, sourceState } from "../bin/compiled.cjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.error("build: TypeScript is not installed (a production install): the command line runs the sources through tsx");
  process.exit(0);
}
const stamp = join(root, STAMP);
rmSync(stamp, { force: true });
// Outputs of sources since removed would otherwise stay behind.
for (const dir of SOURCE_DIRS) rmSync(join(root, "dist", dir), { recursive: true, force: true });
// Sources edited from here on are newer than the stamp, so the build counts as stale for them.
const before = sourceState(root);
const startedMs = Date.now();
const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (r.status !== 0) {
  console.error(`build: tsc failed (exit ${r.status ?? r.signal}): the command line runs the sources through tsx`);
  process.exit(1);
}
if (!existsSync(join(root, "dist", "src", "cli", "main.js"))) {
  console.error("build: tsc wrote no dist/src/cli/main.js");
  process.exit(1);
}
const tmp = `${stamp}.tmp`;
writeFileSync(tmp, `${JSON.stringify({ startedMs: Math.max(startedMs, before.newest), sources: before.count })}\n`);
renameSync(tmp, stamp);
