// bench/replay-bench.ts on a bad command line: one line naming the script and exit 2, no stack trace.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess } from "./helpers/cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "tl-replay-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bench = (...args: string[]) =>
  runProcess(process.execPath, ["--import", "tsx", "bench/replay-bench.ts", ...args], { cwd: ROOT });

describe("bench/replay-bench.ts usage", () => {
  it("refuses a missing mode, an unknown mode, a missing bag, a bad config and a bad number in one line", async () => {
    const bag = join(dir, "x.mcap");
    writeFileSync(bag, "");
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "learner: [\n");
    const cases: [string[], RegExp][] = [
      [[], /needs a mode and a bag/],
      [["fast", bag], /unknown mode fast/],
      [["replay", join(dir, "none.mcap")], /no bag .*none\.mcap/],
      [["replay", bag, "-c", join(dir, "none.yaml")], /cannot read config .*none\.yaml/],
      [["replay", bag, "-c", bad], /.*bad\.yaml/],
      [["replay", bag, "-c"], /-c needs a value/],
      [["replay", bag, "--seconds", "ten"], /--seconds must be a number, 0 or more, got 'ten'/],
    ];
    for (const [args, message] of cases) {
      const r = await bench(...args);
      expect(r.stderr).toMatch(new RegExp(`^bench/replay-bench\\.ts: ${message.source}`));
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.status).toBe(2);
    }
  }, 120_000);
});
