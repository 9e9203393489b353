// The command line runs dist/ only while it matches the sources: a copy of the sources is built
// with the real build script (tsc), then a source is edited, added or the stamp removed, and each
// time the command line must fall back to the sources. A marker line put into the copy's
// compiled entry tells which of the two ran.

import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(import.meta.dirname, "..");
const COPIED = ["bin", "src", "sim", "scripts", "tsconfig.json", "tsconfig.build.json", "package.json"];
let copy: string;

const MARK = "ran-from-dist";
const entry = () => join(copy, "dist", "src", "cli", "main.js");
// First in the module body: `--help` exits inside it.
const mark = () =>
  writeFileSync(entry(), `process.stderr.write("${MARK}\\n");\n${readFileSync(entry(), "utf8")}`);
const build = () => runProcess(process.execPath, [join(copy, "scripts", "build.mjs")], { cwd: copy });
const cli = (env: NodeJS.ProcessEnv = {}) =>
  runProcess(process.execPath, [join(copy, "bin", "terrain-learner.js"), "sim", "--help"], {
    cwd: copy,
    env: { ...process.env, ...env },
  });

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), "tl-compiled-"));
  for (const p of COPIED) cpSync(join(ROOT, p), join(copy, p), { recursive: true });
  rmSync(join(copy, "dist"), { recursive: true, force: true });
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const r = await build();
  expect(r.status, r.stderr).toBe(0);
  mark();
}, 120_000);

afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe("the compiled command line", () => {
  it("a fresh build runs from dist/, and says what the sources say", async () => {
    expect(JSON.parse(readFileSync(join(copy, "dist", "build.json"), "utf8")).sources).toBeGreaterThan(100);
    const compiled = await cli();
    const sources = await cli({ TERRAIN_LEARNER_SOURCES: "1" });
    expect(compiled.status).toBe(0);
    expect(compiled.stderr).toContain(MARK);
    expect(sources.stderr).not.toContain(MARK);
    // The world files stay in sim/worlds: the compiled simulator finds them there.
    expect(compiled.stdout).toContain(join(copy, "sim", "worlds", "default.yaml"));
    expect(compiled.stdout).toBe(sources.stdout);
  });

  it("a worker thread started from the sources runs its compiled twin while dist/ is current", async () => {
    // In-process users (the tests, the benchmarks) load the sources through tsx; their worker threads
    // start from dist/ when it matches, as the command line does.
    type TsWorker = {
      compiledTwin: (file: string) => string | null;
      spawnModuleWorker: (url: string, data: unknown) => Worker;
    };
    const tsWorker = (await import(join(copy, "src", "learning", "ts-worker.ts"))) as TsWorker;
    const source = join(copy, "sim", "frames.ts");
    const twin = join(copy, "dist", "sim", "frames.js");
    // The build beforeAll made is still current (this runs before any source is touched).
    expect(tsWorker.compiledTwin(source)).toBe(twin);
    // The twin says it ran before it reads its (here empty) init.
    writeFileSync(
      twin,
      `import { parentPort as p0 } from "node:worker_threads";\np0?.postMessage("${MARK}");\n${readFileSync(twin, "utf8")}`,
    );
    const worker = tsWorker.spawnModuleWorker(pathToFileURL(source).href, {});
    const first = await new Promise<unknown>((resolve) => {
      worker.once("message", resolve);
      worker.once("error", (e) => resolve(e.message));
      worker.once("exit", () => resolve("exit"));
    });
    await worker.terminate();
    expect(first).toBe(MARK);

    process.env.TERRAIN_LEARNER_SOURCES = "1";
    try {
      expect(tsWorker.compiledTwin(source)).toBeNull();
    } finally {
      delete process.env.TERRAIN_LEARNER_SOURCES;
    }
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(copy, "src", "core", "fft.ts"), later, later);
    expect(tsWorker.compiledTwin(source)).toBeNull();
    expect(tsWorker.compiledTwin(join(tmpdir(), "elsewhere.ts"))).toBeNull();
  });

  it("an edited source, an added one, or a missing stamp sends it back to the sources", async () => {
    const edited = join(copy, "src", "cli", "commands.ts");
    const later = new Date(Date.now() + 5_000);
    utimesSync(edited, later, later);
    expect((await cli()).stderr).not.toContain(MARK);

    // Rebuilt: current again (the new build's stamp is later than the edit).
    expect((await build()).status).toBe(0);
    mark();
    expect((await cli()).stderr).toContain(MARK);

    const added = join(copy, "src", "core", "added-later.ts");
    writeFileSync(added, "export const x = 1;\n");
    utimesSync(added, new Date(0), new Date(0)); // older than the stamp: only the count gives it away
    expect((await cli()).stderr).not.toContain(MARK);
    rmSync(added);
    expect((await cli()).stderr).toContain(MARK);

    rmSync(join(copy, "dist", "build.json"));
    const r = await cli();
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain(MARK);
  });

  it("a build whose tsc fails leaves no stamp and exits non-zero", async () => {
    writeFileSync(join(copy, "tsconfig.build.json"), JSON.stringify({ include: ["no-such-dir"] }));
    const r = await build();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/build: tsc failed/);
    expect(existsSync(join(copy, "dist", "build.json"))).toBe(false);
  });

  it("without TypeScript (a production install) the build says so, exits 0 and leaves the sources to run", async () => {
    const bare = mkdtempSync(join(tmpdir(), "tl-compiled-bare-"));
    try {
      for (const p of ["bin", "scripts"]) cpSync(join(ROOT, p), join(bare, p), { recursive: true });
      mkdirSync(join(bare, "node_modules"));
      const r = await runProcess(process.execPath, [join(bare, "scripts", "build.mjs")], { cwd: bare });
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/^build: TypeScript is not installed .*runs the sources through tsx\n$/);
      expect(existsSync(join(bare, "dist"))).toBe(false);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
