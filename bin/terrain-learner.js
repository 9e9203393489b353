#!/usr/bin/env node
// Runs dist/ when `npm run build` (run by `npm ci`) compiled it from the current sources, otherwise
// the TypeScript sources directly through tsx's loader, so a clone works without a build step.
// The version is checked before anything is loaded: an older Node.js fails in tsx or the sources
// with an error that does not say why.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`terrain-learner: Node.js ${process.versions.node} is too old: install Node.js 20.19 or newer`);
  process.exit(1);
}
const { fileURLToPath, pathToFileURL } = await import("node:url");
const { compiledEntry } = await import("./compiled.cjs");

const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = process.env.TERRAIN_LEARNER_SOURCES ? null : compiledEntry(root, "src/cli/main.ts");
if (compiled) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
