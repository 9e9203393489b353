// The demo's bag cache is named after the world file's base name, seed and duration; the bag's own
// metadata says which world it holds. Another world under the same name (another folder's
// default.yaml, an edited world) regenerates the bag instead of replaying the wrong one. And a
// second Ctrl-C during the replay says the cached bag stays (not "nothing cached").

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WORLDS_DIR } from "../sim/index.ts";
import { ensureWorldBag, forceNote } from "../src/cli/demo.ts";
import { readMcapMetadata } from "../src/eval/sim-metadata.ts";

const BIN = fileURLToPath(new URL("../bin/terrain-learner.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "demo-world-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stripes = readFileSync(join(WORLDS_DIR, "stripes.yaml"), "utf8");

async function worldName(bag: string): Promise<unknown> {
  return (JSON.parse((await readMcapMetadata(bag))?.get("world") ?? "{}") as { name?: string }).name;
}

describe("what a second Ctrl-C of the demo says it leaves", () => {
  it("nothing while simulating, the cached bag once it replays", () => {
    expect(forceNote(undefined)).toBe("nothing cached");
    expect(forceNote("/c/default-world-seed1-jpeg95.mcap")).toBe(
      "no report written; /c/default-world-seed1-jpeg95.mcap stays cached",
    );
  });
});

describe("demo cache keyed on the world's content", () => {
  it("regenerates for a different world of the same file name, reuses an unchanged one", async () => {
    const cacheDir = join(dir, "cache");
    mkdirSync(join(dir, "w1"));
    mkdirSync(join(dir, "w2"));
    // w1/default.yaml: stripes renamed; w2/default.yaml: the same without its grass band.
    const w1 = join(dir, "w1", "default.yaml");
    const w2 = join(dir, "w2", "default.yaml");
    writeFileSync(w1, stripes.replace("name: stripes", "name: one"));
    writeFileSync(w2, stripes.replace("name: stripes", "name: two").replace("  - { type: grass }\n", ""));
    const logs: string[] = [];
    const opts = { seed: 1, duration: 1, cacheDir, log: (l: string) => logs.push(l) };

    const first = await ensureWorldBag({ ...opts, world: w1 });
    expect(basename(first)).toBe("default-world-seed1-1s-jpeg95.mcap");
    expect(await worldName(first)).toBe("one");
    const mtime = statSync(first).mtimeMs;
    expect(await ensureWorldBag({ ...opts, world: w1 })).toBe(first);
    expect(statSync(first).mtimeMs).toBe(mtime);
    expect(logs).toHaveLength(1);

    // Same cache name, different world: generated again, and the log says why.
    expect(await ensureWorldBag({ ...opts, world: w2 })).toBe(first);
    expect(await worldName(first)).toBe("two");
    expect(logs).toHaveLength(2);
    expect(logs[1]).toMatch(/\(the cached bag is of a different default world\)$/);
    const json = JSON.parse((await readMcapMetadata(first))!.get("world")!) as { terrains: unknown[] };
    expect(json.terrains).toHaveLength(7);

    // Only the layout differs (narrower stripes, same name, terrains and seed): the world summary is
    // the same, the world is not.
    writeFileSync(
      w2,
      stripes
        .replace("name: stripes", "name: two")
        .replace("  - { type: grass }\n", "")
        .replace("cellSize: 12", "cellSize: 6"),
    );
    expect(await ensureWorldBag({ ...opts, world: w2 })).toBe(first);
    expect(logs).toHaveLength(3);
    expect(logs[2]).toMatch(/\(the cached bag is of a different default world\)$/);
    // The digest does not depend on where the world lives: a copy elsewhere reuses the bag.
    mkdirSync(join(dir, "w3"));
    writeFileSync(join(dir, "w3", "default.yaml"), readFileSync(w2));
    expect(await ensureWorldBag({ ...opts, world: join(dir, "w3", "default.yaml") })).toBe(first);
    expect(logs).toHaveLength(3);
  }, 180_000);

  it("a cached bag cut short is generated again, and the log says it was unreadable", async () => {
    const cacheDir = join(dir, "cache-cut");
    const world = join(dir, "cut.yaml");
    writeFileSync(world, stripes);
    const logs: string[] = [];
    const opts = { world, seed: 1, duration: 1, cacheDir, log: (l: string) => logs.push(l) };
    const bag = await ensureWorldBag(opts);
    truncateSync(bag, Math.floor(statSync(bag).size / 2));
    expect(await ensureWorldBag(opts)).toBe(bag);
    expect(logs[1]).toMatch(/\(the cached bag is unreadable \(cut short, or not a simulator bag\)\)$/);
    expect(await worldName(bag)).toBe("stripes");
  }, 120_000);

  it("a second Ctrl-C during the replay says the bag stays cached and no report is written", async () => {
    const cacheDir = join(dir, "cache2");
    const world = join(dir, "stripes.yaml");
    writeFileSync(world, stripes);
    const bag = await ensureWorldBag({ world, seed: 1, duration: 2, cacheDir, log: () => {} });
    const out = join(dir, "report");
    const child = spawn(
      process.execPath,
      [BIN, "demo", "--world", world, "--duration", "2", "--cache", cacheDir, "--out", out],
      { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("replaying")) resolve();
      });
    });
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGINT");
    await exited;
    // The first signal's orderly stop can end the process before the second arrives (nothing is
    // left to write this early); when the second does arrive, it must say the bag stays.
    if (stderr.includes("second SIGINT"))
      expect(stderr).toContain(`second SIGINT: stopping now; no report written; ${bag} stays cached`);
    else expect(stderr).toMatch(/interrupted by SIGINT/);
    expect(stderr).not.toContain("nothing cached");
    expect(statSync(bag).isFile()).toBe(true);
    expect(() => statSync(join(out, "report.json"))).toThrow(/ENOENT/);
  }, 180_000);
});
