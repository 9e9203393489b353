// Fuzzing the bag readers: thousands of mutated and truncated copies of real bags (bit flips, byte
// runs, truncations, splices, inserted/deleted bytes, a mangled rosbag2 metadata.yaml). Whatever
// the bytes, opening, info() and reading every event must end — in time — with either events
// (messages and Problem values) or one plain Error whose message names the file. A crash, a hang,
// a non-Error throw or an anonymous message fails the test, and the failing case's seed and
// mutation are in the failure message so it can be replayed.
//
// Mutations are made in memory from a seeded PRNG (same cases every run) and written to a tmpfs
// folder where there is one. The default 600 cases per seed bag (3,600 files, 100 folders) keep the
// suite quick; each seed's PRNG stream is the same whatever the count, so these are the first cases
// of a longer run: FUZZ_CASES=1700 (10,200 files) or more for a deeper search.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { seededRandom } from "../src/core/random.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imuToRos, odomToRos } from "../src/io/ros/convert.ts";
import { fixture } from "./helpers/bag-test-utils.ts";
import { ros1Imu, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const root = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "tl-fuzz-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Cases per seed bag; 6 seed bags → 3,600 file cases, plus the metadata.yaml cases. */
const CASES_PER_SEED = Number(process.env.FUZZ_CASES ?? 600);
/** A single input that takes longer than this is a hang. */
const CASE_TIMEOUT_MS = 5000;

/** mulberry32: small, fast, seedable. */
const prng = seededRandom;

type Mutation = { buf: Uint8Array; what: string };

/**
 * One random mutation of `src` (another seed bag `other` for splices). A Buffer's slice() is a view,
 * so the seeds are plain Uint8Arrays (`bytesOf`): every case mutates a copy of the intact seed.
 */
function mutate(src: Uint8Array, other: Uint8Array, rnd: () => number): Mutation {
  const int = (n: number) => Math.floor(rnd() * n);
  const n = src.length;
  const kind = int(7);
  switch (kind) {
    case 0: {
      // A few bit flips anywhere; biased to the first 512 bytes (headers, schemas) half the time.
      const out = src.slice();
      const flips = 1 + int(8);
      const at: number[] = [];
      for (let k = 0; k < flips; k++) {
        const i = rnd() < 0.5 ? int(Math.min(n, 512)) : int(n);
        out[i] = out[i]! ^ (1 << int(8));
        at.push(i);
      }
      return { buf: out, what: `bit flips at ${at.join(",")}` };
    }
    case 1: {
      // A run of bytes overwritten with one value (0x00, 0xff) or noise: a bad sector, a length field.
      const out = src.slice();
      const start = int(n);
      const len = 1 + int(Math.min(256, n - start));
      const mode = int(3);
      for (let i = start; i < start + len; i++) out[i] = mode === 0 ? 0 : mode === 1 ? 0xff : int(256);
      return { buf: out, what: `byte run ${["00", "ff", "noise"][mode]} at ${start}+${len}` };
    }
    case 2: {
      const cut = int(n);
      return { buf: src.slice(0, cut), what: `truncated to ${cut}` };
    }
    case 3: {
      // Splice: the head of this bag + a tail of another (or of itself, from elsewhere).
      const from = rnd() < 0.5 ? other : src;
      const cut = int(n);
      const at = int(from.length);
      const tail = from.subarray(at, at + int(from.length - at + 1));
      const out = new Uint8Array(cut + tail.length);
      out.set(src.subarray(0, cut));
      out.set(tail, cut);
      return { buf: out, what: `splice ${cut} + ${from === src ? "self" : "other"}[${at}..+${tail.length}]` };
    }
    case 4: {
      // Bytes inserted (shifts every later offset).
      const at = int(n);
      const len = 1 + int(64);
      const out = new Uint8Array(n + len);
      out.set(src.subarray(0, at));
      for (let i = 0; i < len; i++) out[at + i] = int(256);
      out.set(src.subarray(at), at + len);
      return { buf: out, what: `insert ${len} at ${at}` };
    }
    case 5: {
      const at = int(n);
      const len = 1 + int(Math.min(64, n - at));
      const out = new Uint8Array(n - len);
      out.set(src.subarray(0, at));
      out.set(src.subarray(at + len), at);
      return { buf: out, what: `delete ${len} at ${at}` };
    }
    default: {
      // A 32-bit little-endian field set to an extreme value (lengths, counts, offsets).
      const out = src.slice();
      const at = int(Math.max(1, n - 4));
      const v = [0, 0xffffffff, 0x7fffffff, 0x80000000, n, n + 1][int(6)]!;
      new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(at, v >>> 0, true);
      return { buf: out, what: `u32 ${v} at ${at}` };
    }
  }
}

/** The file's bytes as a plain Uint8Array, whose slice() copies. */
const bytesOf = (path: string) => new Uint8Array(readFileSync(path));

type Outcome = { kind: "read"; messages: number; problems: number } | { kind: "error"; message: string };

/** Opens and reads everything; rejects on anything that is not a clean outcome, or after the cap. */
async function readAll(path: string): Promise<Outcome> {
  const signal = AbortSignal.timeout(CASE_TIMEOUT_MS);
  const run = async (): Promise<Outcome> => {
    let source: Awaited<ReturnType<typeof openBag>> | undefined;
    try {
      source = await openBag(path);
      await source.info();
      let messages = 0;
      let problems = 0;
      for await (const e of source.messages({ signal })) {
        if (e.type === "message") messages++;
        else if (e.type === "problem" && typeof e.message === "string" && e.message.length > 0) problems++;
        else throw new TypeError(`unexpected event ${JSON.stringify(e).slice(0, 200)}`);
      }
      if (signal.aborted) throw new TypeError(`read not finished after ${CASE_TIMEOUT_MS} ms (hang)`);
      return { kind: "read", messages, problems };
    } catch (err) {
      if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError) throw err;
      return { kind: "error", message: err.message };
    } finally {
      await source?.close();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`HANG: no outcome after ${CASE_TIMEOUT_MS + 1000} ms`)),
      CASE_TIMEOUT_MS + 1000,
    );
  });
  try {
    return await Promise.race([run(), cap]);
  } finally {
    clearTimeout(timer);
  }
}

// Seed bags: the real rosbag2 fixtures (MCAP, sqlite3) plus a multi-chunk MCAP and ROS 1 bags of
// our own, so every reader and compression path is exercised.
async function seedBags(): Promise<{ name: string; ext: string; bytes: Uint8Array }[]> {
  const own = join(root, "seed-own.mcap");
  const w = await Ros2McapWriter.create(own, { compression: "zstd", chunkSize: 2048 });
  for (let i = 0; i < 120; i++) {
    const t = 100 + i * 0.01;
    await w.write(
      "/imu/data",
      "sensor_msgs/msg/Imu",
      t,
      imuToRos({
        stamp: t,
        frameId: "imu_link",
        orientation: undefined,
        angularVelocity: { x: 0, y: 0, z: i },
        linearAcceleration: { x: 0, y: 0, z: 9.81 },
      }),
    );
    if (i % 4 === 0)
      await w.write(
        "/odom",
        "nav_msgs/msg/Odometry",
        t,
        odomToRos({
          stamp: t,
          frameId: "odom",
          childFrameId: "base_link",
          pose: { position: { x: i * 0.01, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
          linear: { x: 1, y: 0, z: 0 },
          angular: { x: 0, y: 0, z: 0 },
        }),
      );
  }
  await w.close();
  const ros1 = (compression: "none" | "bz2" | "lz4") => {
    const msgs = Array.from({ length: 60 }, (_, i) => ros1Imu(i, { sec: 100, nsec: i * 10_000_000 }));
    return writeRos1Bag(msgs, { compression, chunkMessages: 15 });
  };
  return [
    {
      name: "cdr_test_mcap",
      ext: "mcap",
      bytes: bytesOf(fixture("rosbag2_cdr_test_mcap/cdr_test_0.mcap")),
    },
    { name: "talker_mcap", ext: "mcap", bytes: bytesOf(fixture("rosbag2_talker_mcap/talker.mcap")) },
    { name: "own_zstd_mcap", ext: "mcap", bytes: bytesOf(own) },
    {
      name: "cdr_test_sqlite3",
      ext: "db3",
      bytes: bytesOf(fixture("rosbag2_cdr_test_sqlite3/cdr_test_0.db3")),
    },
    { name: "ros1_bz2", ext: "bag", bytes: new Uint8Array(ros1("bz2")) },
    { name: "ros1_lz4", ext: "bag", bytes: new Uint8Array(ros1("lz4")) },
  ];
}

async function fuzz(
  label: string,
  paths: (i: number) => string,
  count: number,
  make: (i: number) => Mutation,
  write: (path: string, m: Mutation) => void,
) {
  const tally = { read: 0, error: 0, messages: 0, problems: 0 };
  for (let i = 0; i < count; i++) {
    const m = make(i);
    const path = paths(i);
    write(path, m);
    let out: Outcome;
    try {
      out = await readAll(path);
    } catch (err) {
      throw new Error(
        `${label} case ${i} (${m.what}): ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`,
      );
    }
    if (out.kind === "error") {
      tally.error++;
      // The message names the input (the file, or the folder that holds it).
      if (!out.message.includes(basename(path)) && !out.message.includes(basename(join(path, ".."))))
        throw new Error(`${label} case ${i} (${m.what}): error does not name ${path}: ${out.message}`);
    } else {
      tally.read++;
      tally.messages += out.messages;
      tally.problems += out.problems;
    }
  }
  return tally;
}

describe("bag readers under fuzzed input", () => {
  it(`${CASES_PER_SEED * 6} mutated and truncated bags: events or one clear Error each, no crash, no hang`, {
    timeout: 240_000,
  }, async () => {
    const seeds = await seedBags();
    let total = 0;
    let errors = 0;
    const summary: Record<string, unknown> = {};
    for (const [k, seed] of seeds.entries()) {
      const rnd = prng(0xbadba9 + k * 7919);
      const other = seeds[(k + 1) % seeds.length]!.bytes;
      const dir = join(root, seed.name);
      mkdirSync(dir, { recursive: true });
      const tally = await fuzz(
        seed.name,
        (i) => join(dir, `case-${i % 8}.${seed.ext}`),
        CASES_PER_SEED,
        () => mutate(seed.bytes, other, rnd),
        (p, m) => writeFileSync(p, m.buf),
      );
      // Every seed has mutations that still read, and corruption shows up as Problem values.
      expect(tally.read, `${seed.name}: ${JSON.stringify(tally)}`).toBeGreaterThan(0);
      expect(tally.problems, `${seed.name}: ${JSON.stringify(tally)}`).toBeGreaterThan(0);
      errors += tally.error;
      summary[seed.name] = tally;
      total += CASES_PER_SEED;
    }
    expect(total).toBeGreaterThanOrEqual(CASES_PER_SEED * seeds.length);
    // ... and some are refused outright (broken magic, headers): one clear Error each.
    expect(errors, JSON.stringify(summary)).toBeGreaterThan(0);
    if (process.env.FUZZ_VERBOSE) console.log(summary);
  });

  it("rosbag2 folders with a mangled metadata.yaml (and a mutated data file)", {
    timeout: 120_000,
  }, async () => {
    const src = fixture("rosbag2_cdr_test_mcap");
    const yaml = bytesOf(join(src, "metadata.yaml"));
    const data = bytesOf(join(src, "cdr_test_0.mcap"));
    const rnd = prng(0x5eed);
    const count = Math.max(50, Math.round(CASES_PER_SEED / 6));
    // Two cases in three mangle metadata.yaml, the third the data file it lists.
    const target = (i: number) => (i % 3 === 2 ? "cdr_test_0.mcap" : "metadata.yaml");
    const tally = await fuzz(
      "rosbag2 folder",
      (i) => join(root, `folder-${i}`),
      count,
      (i) => (target(i) === "metadata.yaml" ? mutate(yaml, data, rnd) : mutate(data, yaml, rnd)),
      (p, m) => {
        const i = Number(basename(p).slice("folder-".length));
        mkdirSync(p);
        writeFileSync(join(p, "metadata.yaml"), target(i) === "metadata.yaml" ? m.buf : yaml);
        writeFileSync(join(p, "cdr_test_0.mcap"), target(i) === "cdr_test_0.mcap" ? m.buf : data);
      },
    );
    expect(tally.read + tally.error).toBe(count);
    expect(tally.error).toBeGreaterThan(0);
  });
});
