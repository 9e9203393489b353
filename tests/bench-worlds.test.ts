// `npm run bench:worlds` (bench/worlds.ts): --collect refuses reports that are missing, cut short,
// of another length or of other settings, and leaves --out as it was; a run that fails part-way
// exits 1 naming the world, keeps the finished ones in FILE.partial and leaves --out as it was.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { McapWriter } from "@mcap/core";
import { FileHandleWritable } from "@mcap/nodejs";
import { afterAll, describe, expect, it } from "vitest";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "tl-bench-worlds-"));
// A bag no replay can read, under the name bench/worlds.ts looks for (a seed no other run uses).
const badBag = join(ROOT, ".cache", `default-world-seed${90000 + (process.pid % 9000)}-5s.mcap`);
// A fixed seed: on some seeds a 5 s drive gives no label in a keyframe's view, and the run fails.
const staleSeed = 70001;
const staleBag = join(ROOT, ".cache", `default-world-seed${staleSeed}-5s.mcap`);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(badBag, { force: true });
  rmSync(staleBag, { force: true });
});

const worlds = (...args: string[]) =>
  runProcess(process.execPath, ["--import", "tsx", "bench/worlds.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });

/** A report.json as `demo --json` writes it, with what the table reads. */
function report(sensorSeconds: number, config?: unknown): string {
  return JSON.stringify({
    labels: 100,
    realtimeFactor: 5,
    wallSeconds: 4,
    sensorSeconds,
    eval: {
      spearman: 0.8,
      confidenceAuroc: 0.9,
      knowledge: { timeToRank: null, curve: [{ t: 10, terrainRho: 0.5, terrainRhoAll: 0.6 }] },
      stability: { minTrailingRho: null, costmapFlicker: 2, flickerPairs: 10, costmapRho: 0.6 },
    },
    curve: [{ t: 10, trailingSpearman: 0.7 }],
    ...(config ? { config } : {}),
  });
}

function setup(name: string, reports: Record<string, string>): { root: string; out: string } {
  const root = join(dir, name, "reports");
  for (const [folder, text] of Object.entries(reports)) {
    mkdirSync(join(root, folder), { recursive: true });
    writeFileSync(join(root, folder, "report.json"), text);
  }
  const out = join(dir, name, "table.json");
  writeFileSync(out, "committed figures\n");
  return { root, out };
}

const collect = (root: string, out: string, ...extra: string[]) =>
  worlds(
    "--collect",
    "--worlds",
    "default:1,default:2",
    "--seconds",
    "20",
    "--reports",
    root,
    "--out",
    out,
    ...extra,
  );

describe("bench:worlds --collect", () => {
  it("builds the table when every report is there, of this length and these settings", async () => {
    const { root, out } = setup("ok", {
      "default-s1-20s": report(19.95),
      "default-s2-20s": report(19.95, { learner: { seed: 1 }, ros: { output_image_reliability: "x" } }),
    });
    const r = await collect(root, out);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.status).toBe(0);
    const doc = JSON.parse(readFileSync(out, "utf8")) as { rows: { world: string; seed: number }[] };
    expect(doc.rows.map((x) => `${x.world}:${x.seed}`)).toEqual(["default:1", "default:2"]);
    expect(r.stdout).toContain("| default s2 |");
  });

  it("records the -c files it measured with, and reads the costmap's ρ", async () => {
    const { root, out } = setup("config", {
      "default-s1-20s": report(19.95, { outputs: { costmap_half_life: 60 } }),
      "default-s2-20s": report(19.95, { outputs: { costmap_half_life: 60 } }),
    });
    const config = join(dir, "config", "half-life.yaml");
    writeFileSync(config, "outputs:\n  costmap_half_life: 60\n");
    const r = await collect(root, out, "-c", config);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(out, "utf8")) as {
      config: { file: string; text: string }[];
      rows: { costmapRho: number | null }[];
    };
    // Outside the repository the file is named by its absolute path.
    expect(doc.config).toEqual([{ file: config, text: "outputs:\n  costmap_half_life: 60\n" }]);
    expect(doc.rows.map((x) => x.costmapRho)).toEqual([0.6, 0.6]);
    expect(r.stdout).toContain("costmap ρ in view");
  });

  it("refuses a missing report: exit 1, names it, --out unchanged", async () => {
    const { root, out } = setup("missing", { "default-s1-20s": report(20) });
    const r = await collect(root, out);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(join(root, "default-s2-20s", "report.json"));
    expect(r.stderr).toContain("not written");
    expect(readFileSync(out, "utf8")).toBe("committed figures\n");
  });

  it("refuses a report cut short, of another length, or made with other settings", async () => {
    const { root, out } = setup("bad", {
      "default-s1-20s": report(20).slice(0, 40),
      "default-s2-20s": report(180),
    });
    const r = await collect(root, out);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toMatch(/default s1: .* not readable JSON/);
    expect(r.stderr).toMatch(/default s2: .* 180\.0-s run, not 20 s/);
    expect(readFileSync(out, "utf8")).toBe("committed figures\n");

    const seed = setup("seed", {
      "default-s1-20s": report(20, { learner: { seed: 2 } }),
      "default-s2-20s": report(20),
    });
    const s = await collect(seed.root, seed.out);
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/default s1: .* other settings .*learner\.seed 2 \(not 1\)/);
    expect(readFileSync(seed.out, "utf8")).toBe("committed figures\n");
  });

  it("refuses --out onto a -c config, and a bad option, in one line", async () => {
    const config = join(dir, "mine.yaml");
    writeFileSync(config, "learner:\n  seed: 1\n");
    const r = await worlds("--collect", "--worlds", "default:1", "-c", config, "--out", config);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("refusing to overwrite");
    expect(readFileSync(config, "utf8")).toBe("learner:\n  seed: 1\n");
    const bad = await worlds("--no-such-option");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^bench:worlds: Unknown option '--no-such-option'/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("bench:worlds run", () => {
  it("fails part-way: exit 1 naming the world, finished ones in FILE.partial, --out unchanged", async () => {
    mkdirSync(dirname(badBag), { recursive: true });
    writeFileSync(badBag, "not a bag");
    const seed = badBag.match(/seed(\d+)-5s/)![1]!;
    const out = join(dir, "run", "table.json");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, "committed figures\n");
    const r = await worlds(
      "--raw",
      "--worlds",
      `default:1,default:${seed}`,
      "--seconds",
      "5",
      "--reports",
      join(dir, "run", "reports"),
      "--out",
      out,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`bench:worlds: default s${seed} failed (exit`);
    expect(readFileSync(out, "utf8")).toBe("committed figures\n");
    const partial = JSON.parse(readFileSync(`${out}.partial`, "utf8")) as {
      rows: { world: string; seed: number; finalTrailingRho: number | null }[];
      unfinished: string[];
    };
    expect(partial.rows.map((x) => `${x.world}:${x.seed}`)).toEqual(["default:1"]);
    expect(partial.unfinished).toEqual([`default:${seed}`]);
    expect(existsSync(join(dir, "run", "reports", "default-s1-raw-5s", "report.json"))).toBe(true);
  }, 300_000);
});

describe("bench:worlds --raw cache", () => {
  it("generates again a cached bag of an earlier simulator version", async () => {
    // An MCAP carrying only the simulator's record, as version 5 wrote it.
    mkdirSync(dirname(staleBag), { recursive: true });
    const fh = await open(staleBag, "w");
    const w = new McapWriter({ writable: new FileHandleWritable(fh) });
    await w.start({ profile: "", library: "terrain-learner sim 5" });
    await w.addMetadata({ name: "terrain_learner_sim", metadata: new Map([["version", "5"]]) });
    await w.end();
    await fh.close();
    const out = join(dir, "stale", "table.json");
    const r = await worlds(
      "--raw",
      "--worlds",
      `default:${staleSeed}`,
      "--seconds",
      "5",
      "--reports",
      join(dir, "stale", "reports"),
      "--out",
      out,
    );
    expect(r.stderr).toContain("is of simulator version 5, not");
    expect(r.status, r.stderr).toBe(0);
    const meta = await readMcapMetadata(staleBag);
    expect(meta?.get("version")).not.toBe("5");
    expect(meta?.get("seed")).toBe(String(staleSeed));
  }, 300_000);
});
