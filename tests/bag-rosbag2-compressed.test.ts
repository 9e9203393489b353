// rosbag2 folders compressed in file mode (`ros2 bag record --compression-mode file
// --compression-format zstd`): built here from real rosbag2 fixtures (a sqlite3 and an MCAP bag
// written by rosbag2's own tests) by compressing their data files the way rosbag2 does (one zstd
// frame per file) and editing metadata.yaml as rosbag2 writes it.

import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zstd from "@foxglove/wasm-zstd";
import { McapStreamReader, type McapTypes, McapWriter } from "@mcap/core";
import { loadDecompressHandlers } from "@mcap/support";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { zstdContentSize } from "../src/io/bag/rosbag2-compressed.ts";
import { collect, fixture, plain } from "./helpers/bag-test-utils.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-zbag-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a sqlite3 fixture whose messages are each compressed (MESSAGE mode), as rosbag2 writes them. */
function messageCompressedCopy(name: string, damageRow?: number): string {
  const out = join(dir, `${name}-MESSAGE${damageRow !== undefined ? "-damaged" : ""}`);
  cpSync(fixture(name), out, { recursive: true });
  for (const f of readdirSync(out).filter((f) => f.endsWith(".db3"))) {
    const db = new Database(join(out, f));
    const rows = db.prepare("SELECT id, data FROM messages ORDER BY id").all() as {
      id: number;
      data: Buffer;
    }[];
    const update = db.prepare("UPDATE messages SET data = ? WHERE id = ?");
    for (const [i, r] of rows.entries()) {
      const z = Buffer.from(zstd.compress(r.data, 3));
      if (i === damageRow) z.fill(0x55, 4); // keeps the magic number, breaks the rest
      update.run(z, r.id);
    }
    db.close();
  }
  const meta = readFileSync(join(out, "metadata.yaml"), "utf8")
    .replace(/compression_format: (""|'')/, "compression_format: zstd")
    .replace(/compression_mode: (""|'')/, "compression_mode: MESSAGE");
  writeFileSync(join(out, "metadata.yaml"), meta);
  return out;
}

/**
 * A copy of an MCAP fixture whose messages are each compressed (MESSAGE mode), as rosbag2 writes
 * them: every record read back and written again with @mcap/core, each message's data one zstd frame.
 */
async function messageCompressedMcapCopy(name: string, damageIndex?: number): Promise<string> {
  const out = join(dir, `${name}-MESSAGE${damageIndex !== undefined ? "-damaged" : ""}`);
  cpSync(fixture(name), out, { recursive: true });
  for (const f of readdirSync(out).filter((f) => f.endsWith(".mcap"))) {
    const reader = new McapStreamReader({ decompressHandlers: await loadDecompressHandlers() });
    reader.append(readFileSync(join(out, f)));
    const records: McapTypes.TypedMcapRecord[] = [];
    for (let r = reader.nextRecord(); r; r = reader.nextRecord()) records.push(r);
    const chunks: Uint8Array[] = [];
    let size = 0n;
    const writer = new McapWriter({
      writable: {
        position: () => size,
        write: async (b: Uint8Array) => {
          chunks.push(b.slice());
          size += BigInt(b.byteLength);
        },
      },
    });
    await writer.start({ profile: "ros2", library: "terrain-learner test" });
    const schemaIds = new Map<number, number>();
    const channelIds = new Map<number, number>();
    let index = 0;
    for (const r of records) {
      if (r.type === "Schema")
        schemaIds.set(
          r.id,
          await writer.registerSchema({ name: r.name, encoding: r.encoding, data: r.data }),
        );
      else if (r.type === "Channel")
        channelIds.set(
          r.id,
          await writer.registerChannel({
            topic: r.topic,
            schemaId: schemaIds.get(r.schemaId) ?? 0,
            messageEncoding: r.messageEncoding,
            metadata: r.metadata,
          }),
        );
      else if (r.type === "Message") {
        const z = zstd.compress(r.data, 3);
        if (index++ === damageIndex) z.fill(0x55, 4); // keeps the magic number, breaks the rest
        await writer.addMessage({ ...r, channelId: channelIds.get(r.channelId)!, data: z });
      }
    }
    await writer.end();
    writeFileSync(join(out, f), Buffer.concat(chunks));
  }
  const meta = readFileSync(join(out, "metadata.yaml"), "utf8")
    .replace(/compression_format: (""|'')/, "compression_format: zstd")
    .replace(/compression_mode: (""|'')/, "compression_mode: MESSAGE");
  writeFileSync(join(out, "metadata.yaml"), meta);
  return out;
}

/** A copy of a fixture folder with its data files compressed (FILE mode) or as given. */
function compressedCopy(name: string, mode: string, damage = false): string {
  const out = join(dir, `${name}-${mode}${damage ? "-damaged" : ""}`);
  cpSync(fixture(name), out, { recursive: true });
  let meta = readFileSync(join(out, "metadata.yaml"), "utf8");
  for (const f of readdirSync(out).filter((f) => f.endsWith(".db3") || f.endsWith(".mcap"))) {
    const z = zstd.compress(readFileSync(join(out, f)), 3);
    if (damage) z.fill(0x55, Math.floor(z.length / 2), Math.floor(z.length / 2) + 64);
    writeFileSync(join(out, `${f}.zstd`), z);
    rmSync(join(out, f));
    meta = meta.replace(new RegExp(`(- (?:path: )?)${f.replace(".", "\\.")}\\b`, "g"), `$1${f}.zstd`);
  }
  meta = meta
    .replace(/compression_format: (""|'')/, "compression_format: zstd")
    .replace(/compression_mode: (""|'')/, `compression_mode: ${mode}`);
  writeFileSync(join(out, "metadata.yaml"), meta);
  return out;
}

beforeAll(async () => {
  await zstd.isLoaded;
});

const tempFolders = () => readdirSync(tmpdir()).filter((f) => f.startsWith("terrain-learner-bag-"));

describe("file-mode zstd rosbag2", () => {
  for (const name of ["rosbag2_cdr_test_sqlite3", "rosbag2_cdr_test_mcap"]) {
    it(`reads ${name} compressed exactly as the uncompressed folder, and cleans up after`, async () => {
      const before = new Set(tempFolders());
      const folder = compressedCopy(name, "FILE");
      expect(existsSync(join(folder, readdirSync(folder).find((f) => f.endsWith(".zstd"))!))).toBe(true);
      const plainBag = await openBag(fixture(name));
      const want = await collect(plainBag);
      await plainBag.close();
      const zBag = await openBag(folder);
      const got = await collect(zBag);
      const made = tempFolders().filter((f) => !before.has(f));
      expect(made).toHaveLength(1);
      await zBag.close();
      expect(existsSync(join(tmpdir(), made[0]!))).toBe(false);
      expect(got.problems).toEqual([]);
      expect(got.messages.length).toBe(want.messages.length);
      expect(got.messages.length).toBeGreaterThan(0);
      expect(plain(got.messages.map((m) => [m.topic, m.logTime, m.message]))).toEqual(
        plain(want.messages.map((m) => [m.topic, m.logTime, m.message])),
      );
    });
  }

  for (const storage of ["sqlite3", "mcap"] as const) {
    it(`reads a message-mode ${storage} bag exactly as the plain one; a damaged message is one decode problem`, async () => {
      const name = `rosbag2_cdr_test_${storage}`;
      const copy = (damaged?: number) =>
        storage === "sqlite3"
          ? Promise.resolve(messageCompressedCopy(name, damaged))
          : messageCompressedMcapCopy(name, damaged);
      const plainBag = await openBag(fixture(name));
      const want = await collect(plainBag);
      await plainBag.close();
      const folder = await copy();
      // Really compressed per message: the data file read on its own (no metadata.yaml saying
      // MESSAGE) does not give the plain messages back.
      const dataFile = readdirSync(folder).find((f) => f.endsWith(storage === "mcap" ? ".mcap" : ".db3"))!;
      const direct = await openBag(join(folder, dataFile));
      const raw = await collect(direct);
      await direct.close();
      expect(plain(raw.messages.map((m) => m.message))).not.toEqual(
        plain(want.messages.map((m) => m.message)),
      );
      const zBag = await openBag(folder);
      const got = await collect(zBag);
      await zBag.close();
      expect(got.problems).toEqual([]);
      expect(got.messages.length).toBeGreaterThan(0);
      expect(plain(got.messages.map((m) => [m.topic, m.logTime, m.message]))).toEqual(
        plain(want.messages.map((m) => [m.topic, m.logTime, m.message])),
      );
      const damaged = await openBag(await copy(2));
      const d = await collect(damaged);
      await damaged.close();
      expect(d.messages.length).toBe(want.messages.length - 1);
      expect(d.problems).toHaveLength(1);
      expect(d.problems[0]!.kind).toBe("decode");
    });
  }

  it("refuses an unknown compression mode and a damaged file with one clear error, leaving nothing behind", async () => {
    const before = new Set(tempFolders());
    await expect(openBag(compressedCopy("rosbag2_cdr_test_mcap", "CHUNK"))).rejects.toThrow(
      /compression mode "CHUNK" is not supported here \(FILE and MESSAGE are\)/,
    );
    await expect(openBag(compressedCopy("rosbag2_cdr_test_sqlite3", "FILE", true))).rejects.toThrow(
      /cdr_test_0\.db3\.zstd: (cannot decompress|not a SQLite|.*damaged|.*malformed)/i,
    );
    expect(tempFolders().filter((f) => !before.has(f))).toEqual([]);
  });

  it("a recording that stopped without metadata.yaml: its compressed parts are read with the one being written", async () => {
    // rosbag2 compresses each part when it closes it and writes metadata.yaml last: a recorder that
    // died leaves bag_0.db3.zstd, ..., and the part it was writing, uncompressed.
    const name = "stinger_localization_bag";
    const folder = join(dir, `${name}-crashed`);
    const lone = join(dir, `${name}-part1-only`);
    for (const d of [folder, lone]) cpSync(fixture(name), d, { recursive: true });
    for (const d of [folder, lone]) rmSync(join(d, "metadata.yaml"));
    const part = (d: string, i: number) => join(d, `localization_bag_${i}.db3`);
    cpSync(part(folder, 0), part(folder, 1));
    const db0 = new Database(part(folder, 0));
    const split = (
      db0.prepare("SELECT timestamp FROM messages ORDER BY timestamp LIMIT 1 OFFSET 400").get() as {
        timestamp: number;
      }
    ).timestamp;
    db0.prepare("DELETE FROM messages WHERE timestamp >= ?").run(split);
    db0.exec("VACUUM");
    db0.close();
    const db1 = new Database(part(folder, 1));
    db1.prepare("DELETE FROM messages WHERE timestamp < ?").run(split);
    db1.close();
    writeFileSync(`${part(folder, 0)}.zstd`, zstd.compress(readFileSync(part(folder, 0)), 3));
    rmSync(part(folder, 0));
    rmSync(part(lone, 0));
    cpSync(part(folder, 1), part(lone, 1));

    const whole = await openBag(fixture(name));
    const want = await collect(whole);
    await whole.close();
    const before = new Set(tempFolders());
    const bag = await openBag(folder);
    const info = await bag.info();
    expect(info.messageCount).toBe(want.messages.length);
    expect(info.warnings.join("\n")).toMatch(
      /no metadata\.yaml; reading localization_bag_0\.db3\.zstd, localization_bag_1\.db3/,
    );
    const got = await collect(bag);
    await bag.close();
    expect(tempFolders().filter((f) => !before.has(f))).toEqual([]);
    expect(got.problems).toEqual([]);
    expect(plain(got.messages.map((m) => [m.topic, m.logTime, m.message]))).toEqual(
      plain(want.messages.map((m) => [m.topic, m.logTime, m.message])),
    );

    // Only the last part there: what it lacks is said.
    const partial = await openBag(lone);
    expect((await partial.info()).warnings.join("\n")).toMatch(/split parts 0 are missing/);
    await partial.close();
    // A compressed part given by itself names what to give instead.
    await expect(openBag(`${part(folder, 0)}.zstd`)).rejects.toThrow(
      /localization_bag_0\.db3\.zstd: a zstd-compressed file, not a bag: give the rosbag2 folder it is in/,
    );
  });

  it("reads the decompressed size from a zstd frame header", () => {
    for (const n of [0, 1, 255, 256, 300, 70_000, 3_000_000]) {
      const frame = zstd.compress(new Uint8Array(n).fill(7), 3);
      expect(zstdContentSize(frame, "x")).toBe(n);
    }
    expect(() => zstdContentSize(new Uint8Array(16), "y.zstd")).toThrow(/y\.zstd: not a zstd file/);
  });
});
