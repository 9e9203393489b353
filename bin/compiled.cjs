// Whether dist/ (the TypeScript sources compiled by `npm run build`) matches the sources. The
// command line runs dist/ only when it does: an edited, added or removed source, or a build that
// did not finish, sends it back to the sources through tsx, which is slower to start but never stale.
// CommonJS, so the sources can require() it synchronously when they start a worker thread
// (src/learning/ts-worker.ts).

const { readdirSync, readFileSync, statSync } = require("node:fs");
const { join } = require("node:path");

const SOURCE_DIRS = ["src", "sim"];
const STAMP = join("dist", "build.json");

/** The number of .ts sources and the newest one's modification time (ms). */
function sourceState(root) {
  let count = 0;
  let newest = 0;
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
      count++;
      const m = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
      if (m > newest) newest = m;
    }
  }
  return { count, newest };
}

/** dist/'s entry for `rel` (e.g. "src/cli/main.ts") when the build is complete and current, else null. */
function compiledEntry(root, rel) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), "utf8"));
  } catch {
    return null;
  }
  const now = sourceState(root);
  if (now.count !== stamp.sources || now.newest > stamp.startedMs) return null;
  return join(root, "dist", rel.replace(/\.ts$/, ".js"));
}

exports.SOURCE_DIRS = SOURCE_DIRS;
exports.STAMP = STAMP;
exports.sourceState = sourceState;
exports.compiledEntry = compiledEntry;
