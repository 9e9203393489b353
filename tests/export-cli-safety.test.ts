// `export` through the real CLI as a user runs it, on a checkpoint from a real replay of a simulator
// bag: a Ctrl-C while the graph is built or checked stops the export (the file under --out stays as
// it was, no temporary file is left).

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  await generateWorldBag({
    out: bag,
    world: "sim/worlds/stripes.yaml",
    seed: 3,
    duration: 20,
    camera: { width: 160, height: 120 },
  });
  await runReplay({ bag, config: configFromObject({}), saveCheckpoint: ckpt, warn: () => {} });
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
    await new Promise((r) => setTimeout(r, 1000));
    run.child.kill("SIGINT");
    const r = await run.done;
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("terrain-learner: interrupted by SIGINT: big.onnx not written\n");
    expect(readFileSync(join(dir, "big.onnx"))).toEqual(earlier);
    expect(readdirSync(dir).filter((n) => n.includes("big.onnx"))).toEqual(["big.onnx"]);
  }, 120_000);
});
