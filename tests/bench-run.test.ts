// `npm run bench` (bench/run.ts): the results file is replaced whole (temporary name, rename), only
// once every part has finished; a failing part exits 1 naming it and leaves the file as it was.
// Runs the cheapest real part (the labeller, --quick: 300 s of synthetic IMU).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
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

  it("a bad option: one line naming --help, exit 2", async () => {
    const r = await bench(["--bogus"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([
      "bench: Unknown option '--bogus' (npm run bench -- --help for the options)",
    ]);
  });

  it("checks every run length before measuring anything", async () => {
    // --seconds320 belongs to a part not selected; a bad --live-seconds used to surface only after
    // the replay part had run for minutes, and its results were lost.
    const out = join(dir, "never.json");
    const r = await bench(["--only", "labeller", "--seconds320", "0", "--out", out]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("bench: --seconds320 0: expected a positive number of seconds");
    expect(existsSync(out)).toBe(false);
  });

  it("an --out that cannot be written is refused before measuring, in one line", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x\n");
    for (const out of [join(file, "results.json"), dir]) {
      const r = await bench(["--only", "labeller", "--out", out]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^bench: --out /);
      expect(r.stderr).not.toContain("labeller.ts");
    }
    expect(readFileSync(file, "utf8")).toBe("x\n");
  });

  it("an interrupt names what was not measured, stops the measurement and leaves the file", async () => {
    const out = join(dir, "interrupted.json");
    writeFileSync(out, '{"earlier": true}\n');
    // The labeller's process holds still for a minute before it starts, so the interrupt lands
    // while it is measuring; the bench itself is not held.
    const hold = join(dir, "hold.mjs");
    writeFileSync(
      hold,
      'if (process.argv[1]?.endsWith("labeller.ts")) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);\n',
    );
    const c = spawn(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--only", "labeller,fleet", "--out", out],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_OPTIONS: `--import=${hold}` },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    const exit = new Promise<number | null>((res) => c.once("exit", (code) => res(code)));
    // A failed expectation must not leave the bench and its held labeller behind.
    onTestFinished(() => {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
    });
    await new Promise<void>((res) =>
      c.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        if (stderr.includes("labeller.ts")) res();
      }),
    );
    // The log line comes just before the process starts.
    const child = () => spawnSync("pgrep", ["-P", String(c.pid)], { encoding: "utf8" }).stdout.trim();
    await expect.poll(child, { timeout: 10_000 }).toMatch(/^\d+$/);
    const measuring = child();
    // The bench alone gets it, as from a process manager, not the terminal's whole group.
    c.kill("SIGINT");
    expect(await exit).toBe(130);
    expect(stderr).toContain("interrupted (SIGINT) during labeller; not measured: labeller, fleet");
    expect(stderr).toContain("interrupted.json unchanged");
    expect(readFileSync(out, "utf8")).toBe('{"earlier": true}\n');
    // Its measurement process does not go on (an exited one waiting to be reaped counts as gone).
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${measuring}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    await expect.poll(alive, { timeout: 5000 }).toBe(false);
  }, 120_000);

  it("refuses --out onto its input bench/history.json", async () => {
    const r = await bench(["--only", "labeller", "--out", "bench/history.json"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("refusing to overwrite");
  });
});
