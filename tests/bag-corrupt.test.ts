// Bad input never crashes or hangs: a bag cut short yields what is readable plus one warning that
// names the file (and the byte where it broke, where the format has one); a file that is not a
// bag is one clear Error naming it; a message that does not decode is a Problem and reading goes on.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McapWriter } from "@mcap/core";
import { FileHandleWritable } from "@mcap/nodejs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imuToRos } from "../src/io/ros/convert.ts";
import { schemaTextFor } from "../src/io/ros/definitions.ts";
import { collect, fixture } from "./helpers/bag-test-utils.ts";
import { ros1Imu, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-corrupt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Opens, reads info and every event; returns what happened instead of throwing. */
async function attempt(path: string) {
  let source: Awaited<ReturnType<typeof openBag>>;
  try {
    source = await openBag(path);
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    const info = await source.info();
    const events = await collect(source);
    return { info, ...events };
  } finally {
    await source.close();
  }
}

function imuMessage(i: number) {
  return imuToRos({
    stamp: 100 + i * 0.01,
    frameId: "imu_link",
    orientation: undefined,
    angularVelocity: { x: 0, y: 0, z: i },
    linearAcceleration: { x: 0, y: 0, z: 9.81 },
  });
}

// A multi-chunk MCAP of our own, so cuts land inside, between and after chunks.
const ownMcap = join(dir, "own.mcap");
async function writeOwnMcap(): Promise<number> {
  const w = await Ros2McapWriter.create(ownMcap, { compression: "zstd", chunkSize: 4096 });
  for (let i = 0; i < 300; i++)
    await w.write("/imu/data", "sensor_msgs/msg/Imu", 100 + i * 0.01, imuMessage(i));
  await w.close();
  return 300;
}

const ros1Path = join(dir, "own.bag");
function writeOwnRos1(): number {
  const msgs = [];
  for (let i = 0; i < 200; i++) {
    const t = { sec: 100 + Math.floor(i / 100), nsec: (i % 100) * 10_000_000 };
    msgs.push(ros1Imu(i, t));
  }
  writeFileSync(ros1Path, writeRos1Bag(msgs, { compression: "bz2", chunkMessages: 25 }));
  return 200;
}

describe("truncated bags (a robot that lost power)", () => {
  const cases: [string, () => Promise<{ path: string; total: number }>][] = [
    ["talker.mcap", async () => ({ path: fixture("rosbag2_talker_mcap/talker.mcap"), total: 20 })],
    ["cdr_test_0.mcap", async () => ({ path: fixture("rosbag2_cdr_test_mcap/cdr_test_0.mcap"), total: 7 })],
    ["own multi-chunk .mcap", async () => ({ path: ownMcap, total: await writeOwnMcap() })],
    ["own bz2 ROS 1 .bag", async () => ({ path: ros1Path, total: writeOwnRos1() })],
    [
      "stinger .db3",
      async () => ({ path: fixture("stinger_localization_bag/localization_bag_0.db3"), total: 774 }),
    ],
  ];
  it.each(cases)(
    "%s cut at many offsets: readable part + one warning, or a clear error",
    async (_name, make) => {
      const { path, total } = await make();
      const bytes = readFileSync(path);
      const ext = path.slice(path.lastIndexOf("."));
      const cuts = [
        9,
        17,
        100,
        4200,
        ...[0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 0.995].map((f) => Math.floor(bytes.length * f)),
        bytes.length - 1,
      ];
      let partial = 0;
      for (const cut of cuts.filter((c) => c < bytes.length)) {
        const cutPath = join(dir, `cut-${cut}${ext}`);
        writeFileSync(cutPath, bytes.subarray(0, cut));
        const r = await attempt(cutPath);
        if ("error" in r) {
          // Errors are one line and name the file.
          expect(r.error).toContain(cutPath);
          expect(r.error).not.toContain("\n");
          continue;
        }
        const { info, messages, problems } = r;
        const warnings = problems.filter((p) => p.kind !== "decode" && p.kind !== "unknown_type");
        expect(warnings, `cut at ${cut}`).toHaveLength(1);
        expect(warnings[0]!.message).toContain(cutPath);
        expect(info!.warnings).toHaveLength(1);
        expect(messages.length).toBeLessThanOrEqual(total);
        // info counts what reading yields.
        expect(info!.topics.reduce((a, t) => a + t.count, 0)).toBe(messages.length);
        for (let i = 1; i < messages.length; i++)
          expect(messages[i]!.logTime).toBeGreaterThanOrEqual(messages[i - 1]!.logTime);
        if (ext !== ".db3") expect(warnings[0]!.message).toMatch(/at byte \d+ of \d+/);
        if (messages.length > 0) partial++;
      }
      // Cuts late in the file keep most of the messages (not all-or-nothing).
      expect(partial).toBeGreaterThan(0);
    },
  );

  it("a late cut in a multi-chunk MCAP keeps every message of the complete chunks", async () => {
    const total = await writeOwnMcap();
    const bytes = readFileSync(ownMcap);
    const cutPath = join(dir, "late.mcap");
    writeFileSync(cutPath, bytes.subarray(0, Math.floor(bytes.length * 0.5)));
    const r = await attempt(cutPath);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages.length).toBeGreaterThan(total / 3);
    expect(r.messages.length).toBeLessThan(total);
    expect(
      r.messages.map((m) => (m.message as { angular_velocity: { z: number } }).angular_velocity.z),
    ).toEqual(r.messages.map((_, i) => i));
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(/late\.mcap: truncated at byte \d+ of \d+/);
  });
});

describe("an uncompressed chunk cut short (rosbag2's default MCAP preset)", () => {
  it("MCAP: the whole messages at the start of the chunk come out, equal to the full file's", async () => {
    const full = await attempt(fixture("rosbag2_cdr_test_mcap/cdr_test_0.mcap"));
    if ("error" in full) throw new Error(full.error);
    const bytes = readFileSync(fixture("rosbag2_cdr_test_mcap/cdr_test_0.mcap"));
    const cutPath = join(dir, "half-chunk.mcap");
    // The file holds one uncompressed chunk from byte 42 to ~7150; cut in its middle.
    writeFileSync(cutPath, bytes.subarray(0, 5313));
    const r = await attempt(cutPath);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages.length).toBeGreaterThan(2);
    expect(r.messages.length).toBeLessThan(7);
    expect(r.messages.map((m) => m.message)).toEqual(
      full.messages.slice(0, r.messages.length).map((m) => m.message),
    );
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(
      /half-chunk\.mcap: truncated at byte 42 of 5313 \(incomplete chunk.*of them from the incomplete chunk/,
    );
    expect(r.info!.topics.reduce((a, t) => a + t.count, 0)).toBe(r.messages.length);
  });

  it("ROS 1: the whole messages at the start of the chunk come out", async () => {
    const msgs = [];
    for (let i = 0; i < 40; i++) {
      const t = { sec: 10, nsec: i * 1_000_000 };
      const zeros = new Array<number>(9).fill(0);
      msgs.push({
        topic: "/imu",
        type: "sensor_msgs/Imu",
        time: t,
        message: {
          header: { seq: i, stamp: t, frame_id: "imu" },
          orientation: { x: 0, y: 0, z: 0, w: 1 },
          orientation_covariance: zeros,
          angular_velocity: { x: 0, y: 0, z: 0 },
          angular_velocity_covariance: zeros,
          linear_acceleration: { x: 0, y: 0, z: 9.8 },
          linear_acceleration_covariance: zeros,
        },
      });
    }
    const bytes = writeRos1Bag(msgs, { compression: "none", chunkMessages: 40 });
    const cutPath = join(dir, "half-chunk.bag");
    writeFileSync(cutPath, bytes.subarray(0, 4109 + Math.floor((bytes.length - 4109) / 2)));
    const r = await attempt(cutPath);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages.length).toBeGreaterThan(10);
    expect(r.messages.length).toBeLessThan(40);
    expect(r.messages.map((m) => (m.message as { header: { seq: number } }).header.seq)).toEqual(
      r.messages.map((_, i) => i),
    );
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toMatch(
      /half-chunk\.bag: truncated at byte 4109 of \d+ \(incomplete chunk, \d+ messages recovered/,
    );
  });
});

describe("not a bag", () => {
  it("a missing path is a clear error", async () => {
    await expect(openBag(join(dir, "nope.mcap"))).rejects.toThrow(/nope\.mcap: no such file or directory/);
  });

  it("an empty file is a clear error", async () => {
    const p = join(dir, "empty.mcap");
    writeFileSync(p, "");
    await expect(openBag(p)).rejects.toThrow(/empty\.mcap: empty file/);
  });

  it("random bytes are a clear error", async () => {
    const p = join(dir, "random.bag");
    const bytes = new Uint8Array(50_000);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    writeFileSync(p, bytes);
    await expect(openBag(p)).rejects.toThrow(/random\.bag: not a bag/);
  });

  it("a folder without metadata.yaml or bag files is a clear error", async () => {
    const d = join(dir, "not-a-bag-folder");
    mkdirSync(d);
    writeFileSync(join(d, "notes.txt"), "hello");
    await expect(openBag(d)).rejects.toThrow(/not-a-bag-folder: not a rosbag2 folder/);
  });

  it("a folder whose metadata.yaml lists a missing file is a clear error", async () => {
    const d = join(dir, "missing-db3");
    mkdirSync(d);
    copyFileSync(fixture("stinger_test_bag/metadata.yaml"), join(d, "metadata.yaml"));
    await expect(openBag(d)).rejects.toThrow(
      /missing-db3: metadata\.yaml lists test_bag_0\.db3, which is missing/,
    );
  });

  it("a folder with a .db3 but no metadata.yaml (recorder died) opens with a warning", async () => {
    const d = join(dir, "no-metadata");
    mkdirSync(d);
    copyFileSync(fixture("stinger_test_bag/test_bag_0.db3"), join(d, "test_bag_0.db3"));
    const r = await attempt(d);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages).toHaveLength(104);
    expect(r.info!.warnings[0]).toMatch(/no-metadata: no metadata\.yaml/);
  });

  it("corrupt headers: MCAP, ROS 1 and SQLite magic followed by garbage", async () => {
    const garbage = new Uint8Array(8000).fill(0xab);
    const mcap = join(dir, "bad-header.mcap");
    writeFileSync(
      mcap,
      Buffer.concat([Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]), garbage]),
    );
    const r1 = await attempt(mcap);
    if (!("error" in r1)) {
      expect(r1.messages).toEqual([]);
      expect(r1.problems).toHaveLength(1);
      expect(r1.problems[0]!.message).toMatch(/bad-header\.mcap: corrupt record at byte \d+ of 8008/);
    }
    const ros1 = join(dir, "bad-header.bag");
    writeFileSync(ros1, Buffer.concat([Buffer.from("#ROSBAG V2.0\n"), garbage]));
    const r2 = await attempt(ros1);
    if (!("error" in r2)) {
      expect(r2.messages).toEqual([]);
      expect(r2.problems).toHaveLength(1);
      expect(r2.problems[0]!.message).toMatch(/bad-header\.bag: truncated at byte 13 of 8013/);
    } else expect(r2.error).toContain("bad-header.bag");
    const sqlite = join(dir, "bad-header.db3");
    writeFileSync(sqlite, Buffer.concat([Buffer.from("SQLite format 3\0"), garbage]));
    const r3 = await attempt(sqlite);
    expect("error" in r3 && r3.error).toMatch(/bad-header\.db3: /);
    const v1 = join(dir, "old.bag");
    writeFileSync(v1, "#ROSBAG V1.2\nwhatever");
    await expect(openBag(v1)).rejects.toThrow(/old\.bag: unsupported ROS 1 bag version "ROSBAG V1.2"/);
  });

  it("a SQLite file that is not a rosbag2 bag is a clear error", async () => {
    const p = join(dir, "other.db3");
    const db = new Database(p);
    db.exec("CREATE TABLE things (id INTEGER PRIMARY KEY)");
    db.close();
    await expect(openBag(p)).rejects.toThrow(
      /other\.db3: not a readable rosbag2 SQLite bag: .*no topics\/messages tables/,
    );
  });
});

describe("messages that do not decode", () => {
  it("are Problem values with the topic, counted, and reading goes on (MCAP)", async () => {
    const p = join(dir, "bad-message.mcap");
    const handle = await openFile(p, "w");
    const w = new McapWriter({ writable: new FileHandleWritable(handle) });
    await w.start({ profile: "ros2", library: "test" });
    const schemaId = await w.registerSchema({
      name: "sensor_msgs/msg/Imu",
      encoding: "ros2msg",
      data: new TextEncoder().encode(schemaTextFor("sensor_msgs/msg/Imu")),
    });
    const channelId = await w.registerChannel({
      topic: "/imu/data",
      schemaId,
      messageEncoding: "cdr",
      metadata: new Map(),
    });
    const { MessageWriter } = await import("@foxglove/rosmsg2-serialization");
    const { definitionsFor } = await import("../src/io/ros/definitions.ts");
    const ser = new MessageWriter(definitionsFor("sensor_msgs/msg/Imu"));
    for (let i = 0; i < 5; i++) {
      const data = i === 2 ? Uint8Array.of(0, 1, 0, 0, 7) : ser.writeMessage(imuMessage(i));
      await w.addMessage({
        channelId,
        sequence: i,
        logTime: BigInt(100 + i) * 1_000_000_000n,
        publishTime: 0n,
        data,
      });
    }
    await w.end();
    await handle.close();
    const r = await attempt(p);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages).toHaveLength(4);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ type: "problem", kind: "decode", topic: "/imu/data", stamp: 102 });
    expect(r.problems[0]!.message).toContain("bad-message.mcap");
  });

  it("are Problem values in a .db3 too", async () => {
    const p = join(dir, "bad-message.db3");
    copyFileSync(fixture("stinger_test_bag/test_bag_0.db3"), p);
    const db = new Database(p);
    db.prepare("UPDATE messages SET data = X'00010000FF' WHERE id IN (3, 50)").run();
    db.close();
    const r = await attempt(p);
    if ("error" in r) throw new Error(r.error);
    expect(r.messages).toHaveLength(102);
    expect(r.problems.map((x) => [x.kind, x.topic])).toEqual([
      ["decode", "/imu/data"],
      ["decode", "/imu/data"],
    ]);
  });
});
