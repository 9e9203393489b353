// `npm run bench` (bench/run.ts): the results file is replaced whole (temporary name, rename), only
// once every part has finished; a failing part exits 1 naming it and leaves the file as it was.
// Runs the cheapest real part (the labeller, --quick: 300 s of synthetic IMU).

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "tl-bench-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bench = (args: string[], env: Record<string, string> = {}) =>
  runProcess(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });

describe("npm run bench --out", () => {
  it("replaces the results file by a rename, keeping what --only did not measure", async () => {
    const out = join(dir, "results.json");
    writeFileSync(out, `${JSON.stringify({ fleet: { shareOfPipelineFloor: 0.02 } })}\n`);
    const before = statSync(out).ino;
    const r = await bench(["--quick", "--only", "labeller", "--out", out]);
    expect(r.status).toBe(0);
    const doc = JSON.parse(readFileSync(out, "utf8")) as {
      labellerSamplesPerSec: number;
      fleet: unknown;
      goals: { fleetShareOfFrame: { measured: number } };
    };
    expect(doc.labellerSamplesPerSec).toBeGreaterThan(0);
    expect(doc.goals.fleetShareOfFrame.measured).toBe(0.02);
    // A new file renamed over the old one, not the old one rewritten in place.
    expect(statSync(out).ino).not.toBe(before);
    expect(readdirSync(dir).filter((n) => n !== "results.json")).toEqual([]);
  }, 120_000);

  it("a part that fails: exit 1 naming it, the results file unchanged", async () => {
    const out = join(dir, "kept.json");
    writeFileSync(out, '{"committed": true}\n');
    // An IMU rate the labeller refuses: its bench process exits 1.
    const r = await bench(["--only", "labeller", "--out", out], { BENCH_IMU_RATE: "-5" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/labeller failed: bench\/labeller\.ts: exit 1/);
    expect(r.stderr).toMatch(/kept\.json unchanged/);
    expect(readFileSync(out, "utf8")).toBe('{"committed": true}\n');
  }, 120_000);

  it("refuses --out onto its input bench/history.json", async () => {
    const r = await bench(["--only", "labeller", "--out", "bench/history.json"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("refusing to overwrite");
  });
});
