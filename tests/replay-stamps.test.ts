// Bags whose stamps do not merge: a camera delivered later than fusion.reorder_window after its
// stamp (a slow driver, recorded at arrival), and a bag joined from two recordings whose stamps go
// back. A late message is dropped and the replay says so once, with what to do, instead of a
// misleading reason (or nothing) for a run that lost its frames; stamps that go back start a new
// timeline, and nothing is dropped.

import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-stamps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);
// `replay a.mcap --json` is the reference of two tests: replayed once, its result shared.
let stampedReplay: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
const replayStamped = () => {
  stampedReplay ??= cli("replay", "a.mcap", "--json");
  return stampedReplay;
};

interface Rec {
  topic: string;
  schema: string;
  log: number;
  message: unknown;
}

async function read(path: string): Promise<Rec[]> {
  const bag = await openBag(path);
  const out: Rec[] = [];
  for await (const e of bag.messages())
    if (e.type === "message")
      out.push({ topic: e.topic, schema: e.schemaName, log: e.logTime, message: e.message });
  await bag.close();
  return out;
}

async function write(path: string, recs: Rec[]): Promise<void> {
  const out = await Ros2McapWriter.create(path, { compression: "none" });
  for (const r of recs) await out.write(r.topic, r.schema, r.log, r.message);
  await out.close();
}

beforeAll(async () => {
  const camera = { width: 64, height: 48, rate: 5 };
  const a = join(dir, "a.mcap");
  const b = join(dir, "b.mcap");
  await generateWorldBag({ out: a, duration: 6, camera });
  await generateWorldBag({ out: b, duration: 6, camera, seed: 2 });
  const first = await read(a);
  // The camera recorded 0.5 s after its stamps (header stamps unchanged), in log-time order.
  const late = first
    .map((r) => (r.topic.startsWith("/camera/") ? { ...r, log: r.log + 0.5 } : r))
    .sort((x, y) => x.log - y.log);
  await write(join(dir, "camlate.mcap"), late);
  // A second recording of the same simulation appended: its stamps start again at the first's.
  const end = Math.max(...first.map((r) => r.log));
  const second = await read(b);
  const start = Math.min(...second.map((r) => r.log));
  await write(join(dir, "two.mcap"), [
    ...first,
    ...second.map((r) => ({ ...r, log: end + 1 + (r.log - start) })),
  ]);
  // Drivers that leave header.stamp at 0 on the IMU and the camera; the log times are as recorded.
  const unset = new Set(["/imu/data", "/camera/image_raw", "/camera/camera_info"]);
  await write(
    join(dir, "unstamped.mcap"),
    first.map((r) => {
      if (!unset.has(r.topic)) return r;
      const m = r.message as { header: object };
      return { ...r, message: { ...m, header: { ...m.header, stamp: { sec: 0, nanosec: 0 } } } };
    }),
  );
}, 120_000);

describe("replay of a bag whose stamps do not merge", () => {
  it("a camera later than the reorder window: one line per stream, the reason names it; a wider window fixes it", async () => {
    // Both replays at once (independent runs), checked in turn.
    const fixedRun = windowConfig(0.8).then((cfg) => cli("replay", "camlate.mcap", "-c", cfg));
    const r = await cli("replay", "camlate.mcap");
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.filter((l) => /^terrain-learner: image message dropped: /.test(l))).toHaveLength(1);
    expect(r.stderr).toMatch(/raise fusion\.reorder_window by more than that/);
    expect(lines.at(-1)).toMatch(
      /^terrain-learner: camlate\.mcap: (no camera frame could be used|nothing learned from \d+ frames): \d+ camera frames were dropped for their stamps .*raise fusion\.reorder_window/,
    );
    const fixed = await fixedRun;
    expect(fixed.code).toBe(0);
    expect(fixed.stderr).not.toMatch(/dropped/);
  }, 120_000);

  it("two recordings joined: one line for the jump, nothing dropped, the second learned from as if replayed alone", async () => {
    // The joined bag and each recording on its own, replayed at once.
    const aloneRuns = [replayStamped(), cli("replay", "b.mcap", "--json")];
    const r = await cli("replay", "two.mcap", "--json");
    expect(r.code).toBe(0);
    expect(r.stderr.match(/the clock jumped back/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/dropped|reorder_window/);
    const two = JSON.parse(r.stdout);
    expect(two.problems).toEqual({ clockJump: 1 });
    // Each recording on its own: what the joined one must add up to (nothing of the first is
    // associated with the second, and the second loses nothing to the first's stamps).
    const alone = await Promise.all(aloneRuns.map(async (run) => JSON.parse((await run).stdout)));
    for (const k of ["frames", "keyframes", "labels", "samples"])
      expect(two[k], k).toBe(alone[0][k] + alone[1][k]);
    expect(alone[1].samples).toBeGreaterThan(0);
    expect(two.supervisor.odom.dropped).toEqual({ nan: 0, backwards: 0, duplicate: 0 });
    expect(two.supervisor.imu.dropped).toEqual({ nan: 0, backwards: 0, duplicate: 0 });
  }, 240_000);
});

describe("a bag whose drivers leave header.stamp at 0", () => {
  it("replay and label use the log times, say so once per topic, and get what the stamped bag gets", async () => {
    // The replays and the labels below are independent runs: started together, checked in turn.
    const labelRuns = ["unstamped.mcap", "a.mcap"].map((bag) => cli("label", bag, "--json"));
    const stampedRun = replayStamped();
    const r = await cli("replay", "unstamped.mcap", "--json");
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split("\n");
    for (const topic of ["/imu/data", "/camera/image_raw", "/camera/camera_info"])
      expect(
        lines.filter((l) => l.startsWith(`terrain-learner: ${topic}: header.stamp is 0`)),
        topic,
      ).toHaveLength(1);
    expect(r.stderr).not.toMatch(/dropped|reorder_window/);
    const got = JSON.parse(r.stdout);
    const stamped = JSON.parse((await stampedRun).stdout);
    expect(got.labels).toBeGreaterThan(0);
    for (const k of ["frames", "keyframes", "labels", "samples"]) expect(got[k], k).toBe(stamped[k]);
    expect(got.supervisor.imu.dropped).toEqual({ nan: 0, backwards: 0, duplicate: 0 });
    // The simulator logs each message at its stamp: the labels are the stamped bag's exactly.
    const labels = async (run: Promise<{ code: number; stdout: string }>) => {
      const r = await run;
      expect(r.code).toBe(0);
      const out = r.stdout.trim().split("\n");
      // The last line is the summary, naming the bag.
      return { labels: out.slice(0, -1), warnings: JSON.parse(out.at(-1)!).summary.warnings as string[] };
    };
    const unstamped = await labels(labelRuns[0]!);
    const plain = await labels(labelRuns[1]!);
    expect(unstamped.labels.length).toBeGreaterThan(0);
    expect(unstamped.labels).toEqual(plain.labels);
    // label says it too, once per topic it reads (it reads no camera).
    expect(unstamped.warnings.filter((w) => /header\.stamp is 0/.test(w))).toEqual([
      expect.stringMatching(/^\/imu\/data: header\.stamp is 0/),
    ]);
    expect(plain.warnings).toEqual([]);
  }, 240_000);
});

async function windowConfig(seconds: number): Promise<string> {
  const path = join(dir, `window-${seconds}.yaml`);
  await writeFile(path, `fusion:\n  reorder_window: ${seconds}\n`);
  return path;
}
