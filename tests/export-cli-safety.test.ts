// `export` through the real CLI as a user runs it, on a checkpoint from a real replay of a simulator
// bag: an --out naming an existing file that is not an ONNX model (the bag, a params file) is refused;
// a Ctrl-C while the graph is built or checked stops the export (the file under --out stays as it
// was, no temporary file is left); an earlier export in the checkpoint folder is replaced, the
// checkpoint's own files never; the Node.js snippet of docs/export.md runs on an exported file.

import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { configFromObject } from "../src/runtime/config.ts";
import { waitFor } from "./helpers/wait.ts";

const BIN = join(import.meta.dirname, "..", "bin", "terrain-learner.js");
const dir = mkdtempSync(join(tmpdir(), "tl-export-cli-"));
const bag = join(dir, "drive.mcap");
const ckpt = join(dir, "ckpt");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  // A short, small drive: export needs a trained checkpoint, not a good one (training starts near 6 s).
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 3,
    duration: 10,
    camera: { width: 64, height: 48 },
  });
  const r = await runReplay({ bag, config: configFromObject({}), saveCheckpoint: ckpt, warn: () => {} });
  expect(r.trainSteps).toBeGreaterThan(0);
}, 120_000);

function exportCli(args: string[]) {
  const child = spawn(process.execPath, [BIN, "export", "--checkpoint", "ckpt", ...args], {
    cwd: dir,
    env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

describe("export: Ctrl-C", () => {
  it("during onnxruntime's check of a large model: exit 130, --out as it was, no temporary file", async () => {
    const earlier = Buffer.from([8, 8, 18, 0]);
    writeFileSync(join(dir, "big.onnx"), earlier);
    // At 8192x8192 onnxruntime's run on the probe image blocks the process for seconds: the signal
    // arrives while its handler cannot run yet.
    const run = exportCli(["--out", "big.onnx", "--image-size", "8192x8192"]);
    // The temporary file is written whole, then loaded and run: the signal comes during the run.
    let size = -1;
    await waitFor(
      "the temporary export written whole",
      () => {
        const tmp = readdirSync(dir).find((n) => n.startsWith(".big.onnx.tmp-"));
        const now = tmp ? (statSync(join(dir, tmp), { throwIfNoEntry: false })?.size ?? -1) : -1;
        const still = now > 0 && now === size;
        size = now;
        return still;
      },
      60_000,
      100,
    );
    // Soon after: on a fast machine the check may take little more than a second.
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("terrain-learner: interrupted by SIGINT: big.onnx not written\n");
    expect(readFileSync(join(dir, "big.onnx"))).toEqual(earlier);
    expect(readdirSync(dir).filter((n) => n.includes("big.onnx"))).toEqual(["big.onnx"]);
  }, 120_000);
});

describe("export: --out onto an existing file that is not a model", () => {
  it.each(["drive.mcap", "params.yaml"])(
    "%s: refused in one line, left as it was",
    async (name) => {
      if (name === "params.yaml") writeFileSync(join(dir, name), "labeler:\n  speed_exponent: 0\n");
      const before = readFileSync(join(dir, name));
      const r = await exportCli(["--out", name]).done;
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `terrain-learner: --out ${name}: an existing file that is not an ONNX model; refusing to replace it (give another name, or remove it first)\n`,
      );
      // Buffer.equals: a deep toEqual of a bag of megabytes runs the test worker out of memory.
      expect(readFileSync(join(dir, name)).equals(before)).toBe(true);
      expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
    },
    60_000,
  );

  it("an earlier export, and an empty file, are replaced", async () => {
    writeFileSync(join(dir, "empty.onnx"), "");
    expect((await exportCli(["--out", "empty.onnx"]).done).code).toBe(0);
    const first = readFileSync(join(dir, "empty.onnx"));
    expect(first[0]).toBe(0x08);
    const again = await exportCli(["--out", "empty.onnx", "--image-size", "320x240"]).done;
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(dir, "empty.onnx")).equals(first)).toBe(false);
  }, 60_000);
});

describe("export: --out in the checkpoint folder", () => {
  it("an earlier export there is replaced; the checkpoint's files are not", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await exportCli(["--out", "ckpt/terrain.onnx", "--image-size", `${160 * (i + 1)}x120`]).done;
      expect(r.code, r.stderr).toBe(0);
    }
    expect(readFileSync(join(ckpt, "terrain.onnx"))[0]).toBe(0x08);
    for (const name of readdirSync(ckpt).filter((n) => n.startsWith("ckpt-"))) {
      const before = readFileSync(join(ckpt, name));
      const r = await exportCli(["--out", `ckpt/${name}`]).done;
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `terrain-learner: --out ckpt/${name} is the input ckpt/${name}; refusing to overwrite it\n`,
      );
      expect(readFileSync(join(ckpt, name)).equals(before)).toBe(true);
    }
  }, 120_000);
});

describe("docs/export.md", () => {
  it("the Node.js snippet runs on an exported model and reads its metadata", async () => {
    expect((await exportCli(["--out", "terrain.onnx", "--image-size", "320x240"]).done).code).toBe(0);
    const doc = readFileSync(join(import.meta.dirname, "..", "docs", "export.md"), "utf8");
    const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(code).toBeDefined();
    // The packages a user installs, taken from this checkout (the snippet runs from a temporary folder).
    const require = createRequire(import.meta.url);
    const local = code!.replace(
      /from "(onnx-proto|onnxruntime-node)"/g,
      (_, name: string) => `from "${pathToFileURL(require.resolve(name)).href}"`,
    );
    expect(local).not.toBe(code);
    writeFileSync(join(dir, "snippet.mjs"), local);
    const { stdout } = await promisify(execFile)(process.execPath, ["snippet.mjs"], { cwd: dir });
    const m =
      /^roughest cell (\d+),(\d+): [01]\.\d\d \(confidence [01]\.\d\d\), centred at pixel u=([\d.]+), v=([\d.]+)\n$/.exec(
        stdout,
      );
    expect(m, stdout).not.toBeNull();
    // 320x240 with the bundled backbone: 30x40 cells of 8 px.
    const [r, c, u, v] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(r).toBeLessThan(30);
    expect(c).toBeLessThan(40);
    expect(u).toBe((c + 0.5) * 8 - 0.5);
    expect(v).toBe((r + 0.5) * 8 - 0.5);
  }, 60_000);
});
