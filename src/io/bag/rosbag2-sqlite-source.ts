// rosbag2 sqlite3 storage (the default before Iron): a folder of .db3 files or a lone .db3, read
// with better-sqlite3, read-only. Definitions come from the `message_definitions` table (Iron+), else
// from our built-in table (Humble bags carry none); types with neither are skipped and counted.

import { existsSync, rmSync, statSync } from "node:fs";
import { access, copyFile, mkdtemp, open, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as zstd from "@foxglove/wasm-zstd";
import Database from "better-sqlite3";
import { nsToSeconds } from "../../core/time.ts";
import {
  errorMessage,
  finish,
  mergeByLogTime,
  type NsBounds,
  nextTick,
  nsBounds,
  problem,
  reorderWindow,
  type TimedEvent,
} from "./common.ts";
import { cdrDecoder, type Decoder, decodeEvent, normaliseType } from "./decoders.ts";
import { zstdFramed } from "./rosbag2-compressed.ts";
import { countSkipped, noneSkipped } from "./skipped.ts";
import type { BagEvent, BagInfo, BagSource, ReadOptions, TopicInfo } from "./types.ts";

interface TopicState {
  id: number;
  name: string;
  type: string;
  format: string;
  decoder: Decoder | undefined;
  unknown: string | undefined;
}

interface Counts {
  perTopic: Map<number, number>;
  start: bigint | undefined;
  end: bigint | undefined;
  warning: string | undefined;
}

/** One .db3 file; owns its database connection. */
class Db3File {
  readonly path: string;
  readonly size: number;
  readonly topics: Map<number, TopicState>;
  readonly #db: Database.Database;
  /** The file SQLite reads: `path`, or a private copy of it (see `open`). */
  #dbPath: string;
  #copyDir: string | undefined;
  /** SQLite's WAL side files this reader made beside the bag (none were there before it). */
  #ownSides: string[] = [];
  /** Set when the file is shorter than its SQLite header says: a recording cut short. */
  readonly #truncation: string | undefined;
  #counts: Counts | undefined;

  private constructor(
    path: string,
    size: number,
    db: Database.Database,
    topics: Map<number, TopicState>,
    truncation: string | undefined,
  ) {
    this.path = path;
    this.size = size;
    this.#db = db;
    this.topics = topics;
    this.#truncation = truncation;
    this.#dbPath = path;
  }

  /**
   * `zstdMessages`: every message's data is its own zstd frame (rosbag2 compression mode MESSAGE).
   * A file in SQLite's WAL mode (rosbag2's `resilient` storage preset) can only be read where SQLite
   * may create its `-shm` index beside it; in a folder the user cannot write, a private copy of the
   * file (and of its `-wal` log) in a temporary folder is read instead, removed on close.
   */
  static async open(path: string, zstdMessages = false): Promise<Db3File> {
    try {
      // Reading must leave the bag's folder as it was: SQLite creates `-shm` (and `-wal`) beside a
      // WAL-mode file even for a read-only connection, and a read-only one cannot remove them.
      const sides = (await inWalMode(path))
        ? [`${path}-wal`, `${path}-shm`].filter((f) => !existsSync(f))
        : [];
      const file = await Db3File.#open(path, path, zstdMessages);
      file.#ownSides = sides;
      return file;
    } catch (err) {
      if (!(await inWalMode(path))) throw err;
      const dir = await mkdtemp(join(tmpdir(), "terrain-learner-bag-"));
      try {
        const copy = join(dir, basename(path));
        await copyFile(path, copy);
        if (await exists(`${path}-wal`)) await copyFile(`${path}-wal`, `${copy}-wal`);
        const file = await Db3File.#open(path, copy, zstdMessages);
        file.#dbPath = copy;
        file.#copyDir = dir;
        return file;
      } catch {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  /** Opens `dbPath`, naming it `path` in messages. */
  static async #open(path: string, dbPath: string, zstdMessages: boolean): Promise<Db3File> {
    const size = (await stat(path)).size;
    const truncation = await sqliteTruncation(path, size);
    let db: Database.Database;
    try {
      db = new Database(dbPath, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new Error(`${path}: cannot open as SQLite: ${errorMessage(err)}`);
    }
    try {
      const tables = new Set(
        (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
          (r) => r.name,
        ),
      );
      if (!tables.has("topics") || !tables.has("messages")) {
        throw new Error("SQLite file but not a rosbag2 bag (no topics/messages tables)");
      }
      const definitions = new Map<string, { encoding: string; text: string }>();
      if (tables.has("message_definitions")) {
        const rows = db
          .prepare("SELECT topic_type, encoding, encoded_message_definition FROM message_definitions")
          .all() as { topic_type: string; encoding: string; encoded_message_definition: string }[];
        for (const r of rows)
          definitions.set(normaliseType(r.topic_type), {
            encoding: r.encoding,
            text: r.encoded_message_definition,
          });
      }
      const topics = new Map<number, TopicState>();
      const rows = db
        .prepare("SELECT id, name, type, serialization_format FROM topics ORDER BY id")
        .all() as {
        id: number;
        name: string;
        type: string;
        serialization_format: string;
      }[];
      for (const r of rows)
        topics.set(r.id, topicState(r.id, r.name, r.type, r.serialization_format, definitions, zstdMessages));
      return new Db3File(path, size, db, topics, truncation);
    } catch (err) {
      db.close();
      const why = truncation ? `${truncation}, and SQLite cannot read its tables` : errorMessage(err);
      throw new Error(`${path}: not a readable rosbag2 SQLite bag: ${why}`);
    }
  }

  close(): void {
    try {
      if (this.#db.open) this.#db.close();
    } catch {
      // closing is best effort: a connection that cannot close is released with the process
    }
    if (this.#copyDir !== undefined) rmSync(this.#copyDir, { recursive: true, force: true });
    this.#copyDir = undefined;
    // Only an empty log is ours to remove: one with frames in it belongs to a writer that came since.
    const wal = this.#ownSides.find((f) => f.endsWith("-wal"));
    const walEmpty = wal === undefined || !existsSync(wal) || statSync(wal).size === 0;
    if (walEmpty) for (const f of this.#ownSides) rmSync(f, { force: true });
    this.#ownSides = [];
  }

  /** Per-topic counts and time range, by SQL aggregate (fast; correct even without metadata.yaml). */
  counts(): Counts {
    if (this.#counts) return this.#counts;
    const counts: Counts = { perTopic: new Map(), start: undefined, end: undefined, warning: undefined };
    const tally = (id: unknown, t: unknown) => {
      // A damaged page can surface rows of NULLs; they are no message.
      if (typeof id !== "bigint" || typeof t !== "bigint") return false;
      counts.perTopic.set(Number(id), (counts.perTopic.get(Number(id)) ?? 0) + 1);
      if (counts.start === undefined || t < counts.start) counts.start = t;
      if (counts.end === undefined || t > counts.end) counts.end = t;
      return true;
    };
    let damage = this.#truncation;
    if (damage === undefined) {
      try {
        const rows = this.#db
          .prepare(
            "SELECT topic_id, COUNT(*), MIN(timestamp), MAX(timestamp) FROM messages GROUP BY topic_id",
          )
          .raw(true)
          .safeIntegers(true)
          .all() as [unknown, bigint, unknown, unknown][];
        for (const [id, n, lo, hi] of rows) {
          if (typeof id !== "bigint" || typeof lo !== "bigint" || typeof hi !== "bigint") continue;
          counts.perTopic.set(Number(id), Number(n));
          if (counts.start === undefined || lo < counts.start) counts.start = lo;
          if (counts.end === undefined || hi > counts.end) counts.end = hi;
        }
      } catch (err) {
        damage = `damaged database (${errorMessage(err)})`;
      }
    }
    if (damage !== undefined) {
      // Count what reading can reach, the way read() reaches it, so info and replay agree.
      counts.perTopic.clear();
      counts.start = counts.end = undefined;
      let n = 0;
      for (const order of ["timestamp, id", "id"]) {
        try {
          const sql = `SELECT topic_id, timestamp FROM messages ORDER BY ${order}`;
          const it = this.#db.prepare(sql).raw(true).safeIntegers(true).iterate() as IterableIterator<
            [unknown, unknown]
          >;
          for (const [id, t] of it) if (tally(id, t)) n++;
        } catch {
          // stops where the damage starts; the warning says how much was counted
        }
        if (n > 0) break;
      }
      counts.warning = `${this.path}: ${damage}; counted ${n} readable messages`;
    }
    this.#counts = counts;
    return counts;
  }

  /** This file's messages in log-time order, filtered. */
  async *read(topicFilter: ReadonlySet<string> | undefined, bounds: NsBounds): AsyncGenerator<TimedEvent> {
    const wanted: TopicState[] = [];
    const startNs = bounds.start ?? 0n;
    for (const t of this.topics.values()) {
      if (topicFilter && !topicFilter.has(t.name)) continue;
      if (t.unknown) {
        const n = this.counts().perTopic.get(t.id) ?? 0;
        if (n > 0) {
          yield {
            ns: startNs,
            event: problem(
              "unknown_type",
              `${this.path}: ${t.name}: ${t.unknown}; ${n} messages skipped`,
              t.name,
            ),
          };
        }
        continue;
      }
      wanted.push(t);
    }
    if (wanted.length === 0) return;
    const where = [`topic_id IN (${wanted.map((t) => t.id).join(",")})`];
    const params: bigint[] = [];
    if (bounds.start !== undefined) {
      where.push("timestamp >= ?");
      params.push(bounds.start);
    }
    if (bounds.end !== undefined) {
      where.push("timestamp <= ?");
      params.push(bounds.end);
    }
    const sql = `SELECT topic_id, timestamp, data FROM messages WHERE ${where.join(" AND ")}`;
    const state: { yielded: number; lastNs: bigint } = { yielded: 0, lastNs: startNs };
    // A connection per read: better-sqlite3 allows no other statement on a connection while an
    // iterator is open, and two replays (or info() during a replay) must not collide.
    const db = new Database(this.#dbPath, { readonly: true, fileMustExist: true });
    const cursors: Generator<TimedEvent, string | undefined>[] = [];
    try {
      const byTime = this.#rows(db, `${sql} ORDER BY timestamp, id`, params, state);
      cursors.push(byTime);
      let failure: string | undefined;
      for (;;) {
        const r = byTime.next();
        if (r.done) {
          failure = r.value;
          break;
        }
        yield r.value;
        if (state.yielded % 256 === 0) await nextTick();
      }
      if (failure !== undefined && state.yielded === 0) {
        // The timestamp index may be what is damaged: rosbag2 inserts in receive order, so row order
        // with a reorder window gives the same sequence.
        const byRow = this.#rows(db, `${sql} ORDER BY id`, params, state);
        cursors.push(byRow);
        const rows = async function* () {
          for (;;) {
            const r = byRow.next();
            if (r.done) {
              failure = r.value;
              return;
            }
            yield r.value;
          }
        };
        yield* reorderWindow(rows());
      }
      if (failure !== undefined || this.#truncation !== undefined) {
        // One warning per file, whether the file is short, damaged or both.
        const parts = [this.#truncation, failure && `stopped after ${state.yielded} messages: ${failure}`];
        yield {
          ns: state.lastNs,
          event: problem(
            this.#truncation !== undefined ? "truncated" : "corrupt",
            `${this.path}: ${parts.filter(Boolean).join("; ")} (last log time read ${nsToSeconds(state.lastNs)})`,
          ),
        };
      }
    } finally {
      // An open statement iterator keeps the connection busy; end them before closing it.
      for (const c of cursors) c.return(undefined);
      db.close();
    }
  }

  /** Rows as events; returns the error message if the database breaks mid-way. */
  *#rows(
    db: Database.Database,
    sql: string,
    params: bigint[],
    state: { yielded: number; lastNs: bigint },
  ): Generator<TimedEvent, string | undefined> {
    let it: IterableIterator<[bigint, bigint, Uint8Array]>;
    try {
      it = db
        .prepare(sql)
        .raw(true)
        .safeIntegers(true)
        .iterate(...params) as IterableIterator<[bigint, bigint, Uint8Array]>;
    } catch (err) {
      return errorMessage(err);
    }
    try {
      for (;;) {
        let r: IteratorResult<[bigint, bigint, Uint8Array]>;
        try {
          r = it.next();
        } catch (err) {
          return errorMessage(err);
        }
        if (r.done) return undefined;
        const [id, ns, data] = r.value;
        const topic = this.topics.get(Number(id)) as TopicState;
        state.yielded++;
        state.lastNs = ns;
        yield {
          ns,
          event: decodeEvent(this.path, topic.name, topic.type, topic.decoder as Decoder, ns, data),
        };
      }
    } finally {
      it.return?.();
    }
  }
}

/** True when the SQLite header says WAL mode (file format read/write versions 2). */
async function inWalMode(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const h = new Uint8Array(20);
    const { bytesRead } = await handle.read(h, 0, 20, 0);
    return bytesRead === 20 && h[18] === 2 && h[19] === 2;
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compares the file size with the page count in the SQLite header (valid when the change counter
 * matches the version-valid-for field, as SQLite itself checks); a shorter file was cut short.
 */
async function sqliteTruncation(path: string, size: number): Promise<string | undefined> {
  const handle = await open(path, "r");
  try {
    const h = new Uint8Array(100);
    const { bytesRead } = await handle.read(h, 0, 100, 0);
    if (bytesRead < 100) return `truncated at byte ${size} (SQLite header is 100 bytes)`;
    const v = new DataView(h.buffer);
    const raw = v.getUint16(16);
    const pageSize = raw === 1 ? 65536 : raw;
    const pages = v.getUint32(28);
    if (pages === 0 || v.getUint32(24) !== v.getUint32(92)) return undefined;
    const expected = pageSize * pages;
    return size < expected
      ? `truncated at byte ${size} of ${expected} (${pages} pages × ${pageSize} bytes)`
      : undefined;
  } finally {
    await handle.close();
  }
}

function topicState(
  id: number,
  name: string,
  rawType: string,
  format: string,
  definitions: Map<string, { encoding: string; text: string }>,
  zstdMessages = false,
): TopicState {
  const type = normaliseType(rawType);
  const s: TopicState = { id, name, type, format, decoder: undefined, unknown: undefined };
  if (format !== "cdr") {
    s.unknown = `unsupported serialization format "${format}"`;
    return s;
  }
  const def = definitions.get(type);
  try {
    s.decoder = cdrDecoder(type, def?.text, def?.encoding);
    if (!s.decoder) s.unknown = `no message definition for ${type}`;
    else if (zstdMessages) s.decoder = zstdFramed(s.decoder, name);
  } catch (err) {
    s.unknown = `bad message definition for ${type}: ${errorMessage(err)}`;
  }
  return s;
}

export class Rosbag2SqliteSource implements BagSource {
  readonly path: string;
  readonly format = "rosbag2-sqlite3" as const;
  readonly #files: Db3File[];
  readonly #warnings: string[];

  private constructor(path: string, files: Db3File[], warnings: string[]) {
    this.path = path;
    this.#files = files;
    this.#warnings = warnings;
  }

  /** Opens one or more .db3 files (a split rosbag2 folder) as one bag shown as `path`. */
  static async open(
    path: string,
    files: readonly string[],
    warnings: string[] = [],
    opts: { zstdMessages?: boolean } = {},
  ): Promise<Rosbag2SqliteSource> {
    const opened: Db3File[] = [];
    if (opts.zstdMessages) await zstd.isLoaded;
    try {
      for (const f of files) opened.push(await Db3File.open(f, opts.zstdMessages === true));
    } catch (err) {
      for (const f of opened) f.close();
      throw err;
    }
    return new Rosbag2SqliteSource(path, opened, warnings);
  }

  async info(): Promise<BagInfo> {
    const topics = new Map<string, TopicInfo>();
    const skip = noneSkipped();
    const warnings = [...this.#warnings];
    let start: bigint | undefined;
    let end: bigint | undefined;
    for (const file of this.#files) {
      const c = file.counts();
      if (c.warning) warnings.push(c.warning);
      if (c.start !== undefined && (start === undefined || c.start < start)) start = c.start;
      if (c.end !== undefined && (end === undefined || c.end > end)) end = c.end;
      for (const t of file.topics.values()) {
        const count = c.perTopic.get(t.id) ?? 0;
        const known = topics.get(t.name);
        if (known) known.count += count;
        else topics.set(t.name, { name: t.name, type: t.type, count, serializationFormat: t.format });
        if (t.unknown && count > 0) countSkipped(skip, t.type, count, t.unknown);
      }
    }
    const list = [...topics.values()];
    return {
      path: this.path,
      format: "rosbag2-sqlite3",
      start: start === undefined ? 0 : nsToSeconds(start),
      end: end === undefined ? 0 : nsToSeconds(end),
      duration: start === undefined || end === undefined ? 0 : nsToSeconds(end - start),
      topics: list,
      ...skip,
      warnings,
      files: this.#files.map((f) => f.path),
      size: this.#files.reduce((a, f) => a + f.size, 0),
      messageCount: list.reduce((a, t) => a + t.count, 0),
    };
  }

  messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
    const topics = options?.topics ? new Set(options.topics) : undefined;
    const bounds = nsBounds(options);
    return finish(mergeByLogTime(this.#files.map((f) => f.read(topics, bounds))), options?.signal);
  }

  async close(): Promise<void> {
    for (const f of this.#files) f.close();
  }
}
