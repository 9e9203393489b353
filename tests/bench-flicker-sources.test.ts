// bench/flicker-sources.ts: a run that fails part-way exits 1 naming the world and step, keeps the
// finished worlds in FILE.partial and leaves --out as it was; --out onto a -c config is refused.

import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "tl-flicker-"));
// The script finds bags by name in .cache/: seeds no other run uses, removed afterwards.
const seedGood = 80000 + (process.pid % 9000);
const seedBad = seedGood + 9000;
const cacheBag = (seed: number) => join(ROOT, ".cache", `default-world-seed${seed}.mcap`);
const shortBag = join(dir, "short.mcap");
afterAll(() => {
  for (const s of [seedGood, seedBad]) rmSync(cacheBag(s), { force: true });
  rmSync(join(ROOT, "out/flicker-sources", `default-s${seedGood}`), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});
beforeAll(async () => {
  // A small camera: the test is about the failure handling, not the figures (half the CPU).
  const r = await runProcess(
    process.execPath,
    ["bin/terrain-learner.js", "sim", "--duration", "12", "--camera", "160x120", "--out", shortBag],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  expect(r.status, r.stderr).toBe(0);
  symlinkSync(shortBag, cacheBag(seedGood));
  writeFileSync(cacheBag(seedBad), "not a bag");
}, 120_000);

const flicker = (...args: string[]) =>
  runProcess(process.execPath, ["--import", "tsx", "bench/flicker-sources.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });

describe("bench/flicker-sources.ts", () => {
  it("fails part-way: exit 1 naming the world, finished ones in FILE.partial, --out unchanged", async () => {
    const out = join(dir, "flicker.json");
    writeFileSync(out, "committed figures\n");
    const r = await flicker("--worlds", `default:${seedGood},default:${seedBad}`, "--out", out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`default s${seedBad}: learning failed: .*${out.replace(/[.]/g, "\\.")} unchanged`),
    );
    expect(readFileSync(out, "utf8")).toBe("committed figures\n");
    const partial = JSON.parse(readFileSync(`${out}.partial`, "utf8")) as {
      rows: {
        seed: number;
        learning: number | null;
        costmapRho: { learning: number | null; frozen: number | null; truth: number | null };
      }[];
      unfinished: string[];
    };
    expect(partial.rows.map((x) => x.seed)).toEqual([seedGood]);
    // Each run's costmap ρ is kept. In 12 s the model's costmap knows only the ground it stands on
    // (one type: ρ undefined, null); the one built from the ground truth knows every type in view.
    const rho = partial.rows[0]!.costmapRho;
    expect(Object.keys(rho).sort()).toEqual(["frozen", "learning", "truth"]);
    expect(rho.truth!).toBeGreaterThan(0);
    expect(partial.unfinished).toEqual([`default:${seedBad}`]);
  }, 300_000);

  it("refuses --out onto a -c config", async () => {
    const config = join(dir, "mine.yaml");
    writeFileSync(config, "learner:\n  seed: 1\n");
    const r = await flicker("--worlds", `default:${seedGood}`, "-c", config, "--out", config);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("refusing to overwrite");
    expect(readFileSync(config, "utf8")).toBe("learner:\n  seed: 1\n");
    expect(existsSync(`${config}.partial`)).toBe(false);
  });
});
