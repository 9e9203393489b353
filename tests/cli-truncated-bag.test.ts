// `label` and `replay` on a bag cut short (a recorder that lost power): they use every message still
// readable, and say where the bag broke, on stderr and in label's JSON warnings. A count of
// "truncated 1" alone reads like one lost message, while the rest of the drive is missing.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "cli-truncated-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

beforeAll(async () => {
  const full = join(dir, "full.mcap");
  await generateWorldBag({
    out: full,
    duration: 8,
    camera: { width: 64, height: 48, rate: 5 },
    // One uncompressed chunk (the ground-truth grids first): whole records of a chunk cut short
    // are read, as from rosbag2's default MCAP preset.
    compression: "none",
  });
  const bytes = readFileSync(full);
  writeFileSync(join(dir, "cut.mcap"), bytes.subarray(0, Math.floor(bytes.length * 0.85)));
  // Cut inside the first records: no sensor message is left.
  writeFileSync(join(dir, "stub.mcap"), bytes.subarray(0, 20_000));
}, 120_000);

const WHERE = /cut\.mcap: truncated at byte \d+ of \d+ .*read \d+ messages/;

describe("a bag cut short", () => {
  it("label: the labels there are, and one warning naming where it broke (also in --json and --stats)", async () => {
    const r = await cli("label", "cut.mcap", "--json");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary.labels).toBeGreaterThan(0);
    expect(summary.warnings).toEqual([expect.stringMatching(WHERE)]);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^warning: .*truncated at byte/)]);
    const stats = await cli("label", "cut.mcap", "--stats");
    expect(stats.code).toBe(0);
    expect(stats.stderr).toMatch(WHERE);
  }, 120_000);

  it("label's summary counts the cut as the bag's state, not as one dropped message", async () => {
    const r = await cli("label", "cut.mcap");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\ndropped messages: none; the bag is cut short: labels cover what was readable \(warning above\)\n/,
    );
    expect(r.stdout).not.toMatch(/truncated 1/);
  }, 120_000);

  it("label on the whole bag: no such warning", async () => {
    const r = await cli("label", "full.mcap", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).summary.warnings).toEqual([]);
  }, 120_000);

  it("a bag cut before its sensor topics: the refusal says what reading it found (the cut), not only which flag to use", async () => {
    for (const cmd of ["label", "replay"]) {
      const r = await cli(cmd, "stub.mcap");
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(
          /no messages on IMU topic .*; topics: .*; reading the bag found: stub\.mcap: truncated at byte \d+ of 20000/,
        ),
      ]);
    }
  }, 120_000);

  it("a healthy bag read without metadata.yaml is not called damaged in a refusal", async () => {
    const folder = join(dir, "talker");
    mkdirSync(folder);
    copyFileSync(fixture("rosbag2_talker_mcap/talker.mcap"), join(folder, "talker_0.mcap"));
    const r = await cli("replay", folder);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /; reading the bag found: .*talker: no metadata\.yaml; reading talker_0\.mcap\n$/,
    );
    expect(r.stderr).not.toMatch(/damaged/);
  }, 120_000);

  it("replay: runs over what was readable and says once where the bag broke", async () => {
    const r = await cli("replay", "cut.mcap");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/problems: .*truncated 1/);
    expect(r.stderr.match(new RegExp(WHERE.source, "g"))).toHaveLength(1);
  }, 120_000);
});
