// bench/oracle.ts: a bag it cannot score (the demo's JPEG frames) is an error naming why, not a run
// that prints null figures and exits 0; bad options are one line.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "tl-oracle-"));
const jpegBag = join(dir, "jpeg.mcap");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  const r = await runProcess(
    process.execPath,
    ["bin/terrain-learner.js", "sim", "--duration", "3", "--jpeg", "--out", jpegBag],
    { cwd: ROOT, encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
}, 120_000);

const oracle = (...args: string[]) =>
  runProcess(process.execPath, ["--import", "tsx", "bench/oracle.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });

describe("bench/oracle.ts", () => {
  it("refuses a bag of compressed frames: exit 1, says why, no JSON of nulls", async () => {
    const r = await oracle(jpegBag, "--json");
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/no camera frames on \/camera\/image_raw \(the bag's 45 frames are compressed/);
  }, 120_000);

  it("bad options: one line, exit 2", async () => {
    for (const args of [
      [jpegBag, "--every", "0"],
      [jpegBag, "--test", "-1"],
      [jpegBag, "--bogus"],
      [join(dir, "none.mcap")],
    ]) {
      const r = await oracle(...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^bench\/oracle\.ts: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000);
});
