// A rosbag2 .db3 in SQLite's WAL mode (what rosbag2's `resilient` storage preset records), read by a
// user who cannot write its folder (a colleague's recordings, a read-only share). SQLite wants to
// create a `-shm` index beside such a file; it cannot, and the bag would not open at all. Run as
// `nobody` when the tests run as root (root may write anywhere).

import { execFile } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { BIN } from "./helpers/cli.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "tl-wal-"));
afterAll(() => {
  chmodSync(join(dir, "bag"), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

const root = process.getuid?.() === 0;

/** A copy of a real rosbag2 sqlite bag switched to WAL mode; returns its folder's listing. */
function walBag(bag: string): string[] {
  cpSync(fixture("stinger_test_bag"), bag, { recursive: true });
  const db = new Database(join(bag, "test_bag_0.db3"));
  db.pragma("journal_mode = WAL");
  db.close();
  const listing = readdirSync(bag).sort();
  expect(listing).toEqual(["NOTICE.md", "metadata.yaml", "test_bag_0.db3"]);
  return listing;
}

describe("a WAL-mode .db3 in a folder the user cannot write", () => {
  it("opens and reads every message, and nothing is written beside it", async () => {
    const bag = join(dir, "bag");
    const before = walBag(bag);
    chmodSync(dir, 0o755);
    for (const f of before) chmodSync(join(bag, f), 0o444);
    chmodSync(bag, 0o555);
    // Its own temporary folder, to see that the copy read there is removed.
    const tmp = join(dir, "tmp");
    mkdirSync(tmp, { mode: 0o777 });
    chmodSync(tmp, 0o777);
    const [cmd, args] = root
      ? ["runuser", ["-u", "nobody", "--", process.execPath, BIN]]
      : [process.execPath, [BIN]];
    const { stdout } = await run(cmd, [...args, "bag", "info", bag, "--json"], {
      cwd: dir,
      env: { ...process.env, TMPDIR: tmp },
    });
    const info = JSON.parse(stdout);
    expect(info.topics).toEqual([{ name: "/imu/data", type: "sensor_msgs/msg/Imu", count: 104 }]);
    expect(info.warnings).toBeUndefined();
    expect(readdirSync(bag).sort()).toEqual(before);
    expect(readdirSync(tmp).filter((f) => f.startsWith("terrain-learner-bag-"))).toEqual([]);
  }, 60_000);
});

describe("a WAL-mode .db3 in a folder the user can write", () => {
  it("reading it leaves no -shm or -wal file beside it", async () => {
    const bag = join(dir, "writable");
    const before = walBag(bag);
    // bag info counts by SQL; a read goes through every message on a connection of its own.
    await run(process.execPath, [BIN, "bag", "info", bag, "--json"], { cwd: dir });
    expect(readdirSync(bag).sort()).toEqual(before);
    const source = await openBag(bag);
    let n = 0;
    for await (const e of source.messages()) if (e.type !== "problem") n++;
    await source.close();
    expect(n).toBe(104);
    expect(readdirSync(bag).sort()).toEqual(before);
  }, 60_000);
});
