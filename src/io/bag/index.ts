// Bag reading: one source interface (types.ts), one adapter per format. `openBag` detects the
// format from the bytes (not the extension), `replay$` turns any source into an RxJS stream.

import { constants } from "node:fs";
import { access, open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { asyncScheduler, Observable, type SchedulerLike } from "rxjs";
import { hasMcapMagic, McapSource } from "./mcap-source.ts";
import { decompressRosbag2Files, withCleanup } from "./rosbag2-compressed.ts";
import { readRosbag2Metadata } from "./rosbag2-metadata.ts";
import type { BagEvent, BagSource, ReadOptions } from "./types.ts";

export type { BagEvent, BagFormat, BagInfo, BagMessage, BagSource, ReadOptions, TopicInfo } from "./types.ts";

const SQLITE_MAGIC = "SQLite format 3\0";
const ROS1_MAGIC = "#ROSBAG V2.0\n";

type Detected = "mcap" | "sqlite" | "ros1";

// The ROS 1 and SQLite readers (and better-sqlite3) load only for a bag that needs them.
const openRos1 = async (path: string) => (await import("./ros1-source.ts")).openRos1(path);
const sqliteSource = async () => (await import("./rosbag2-sqlite-source.ts")).Rosbag2SqliteSource;

async function detect(path: string, size: number): Promise<Detected> {
  if (size === 0) throw new Error(`${path}: empty file (0 bytes), not a bag`);
  const head = new Uint8Array(16);
  const handle = await open(path, "r");
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  if (hasMcapMagic(head)) return "mcap";
  const text = new TextDecoder("latin1").decode(head);
  if (text === SQLITE_MAGIC) return "sqlite";
  if (text.startsWith(ROS1_MAGIC)) return "ros1";
  if (text.startsWith("#ROSBAG V")) {
    throw new Error(
      `${path}: unsupported ROS 1 bag version "${text.slice(1, text.indexOf("\n") >>> 0 || 12)}" (only V2.0 is readable)`,
    );
  }
  // rosbag2 --compression-mode file compresses each data file whole (`bag_0.db3.zstd`).
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    throw new Error(
      `${path}: a zstd-compressed file, not a bag: give the rosbag2 folder it is in (compressed parts are read from there), or decompress it with \`zstd -d\``,
    );
  const hex = Array.from(head.subarray(0, Math.min(8, size)), (b) => b.toString(16).padStart(2, "0")).join(
    " ",
  );
  throw new Error(
    `${path}: not a bag (first bytes ${hex}; expected MCAP, SQLite (rosbag2 .db3) or ROS 1 bag V2.0)`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

// `.zstd`: a part compressed whole (rosbag2 --compression-mode file), as each part is once it is closed.
const SPLIT_NAME = /^(.*)_(\d+)\.(db3|mcap)(\.zstd)?$/;
const DATA_FILE = /\.(db3|mcap)(\.zstd)?$/;
const ROS1_FILE = /\.bag(\.active)?$/;
const ROS1_SPLIT_NAME = /^(.*)_(\d+)\.bag(\.active)?$/;

/** Sorts split parts by their index (`x_10` after `x_9`), other names by name. */
function bySplitIndex(a: string, b: string): number {
  const ma = SPLIT_NAME.exec(a);
  const mb = SPLIT_NAME.exec(b);
  if (ma && mb && ma[1] === mb[1] && ma[3] === mb[3]) return Number(ma[2]) - Number(mb[2]);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when the names are all `<prefix>_<n>.<ext>` with one prefix and one extension. */
function isOneSplitRecording(names: readonly string[]): boolean {
  const parts = names.map((n) => SPLIT_NAME.exec(n));
  const first = parts[0];
  return first !== undefined && parts.every((m) => m !== null && m[1] === first![1] && m[3] === first![3]);
}

/** Split indices missing from 0..max (a part lost or deleted). */
function missingSplitParts(names: readonly string[]): number[] {
  const have = new Set(names.map((n) => Number(SPLIT_NAME.exec(n)?.[2] ?? -1)));
  const max = Math.max(...have);
  const missing: number[] = [];
  for (let i = 0; i < max; i++) if (!have.has(i)) missing.push(i);
  return missing;
}

async function openFolder(dir: string): Promise<BagSource> {
  const warnings: string[] = [];
  let storage: string;
  let files: string[];
  if (await exists(join(dir, "metadata.yaml"))) {
    const meta = await readRosbag2Metadata(dir);
    storage = meta.storage;
    files = [];
    for (const f of meta.files) {
      // Old rosbag2 versions listed paths relative to the folder's parent (`bag/bag_0.db3`).
      const alt = join(dir, basename(f));
      if (await exists(f)) files.push(f);
      else if (await exists(alt)) files.push(alt);
      else throw new Error(`${dir}: metadata.yaml lists ${basename(f)}, which is missing`);
    }
    if (files.length === 0) throw new Error(`${dir}/metadata.yaml: lists no data files`);
    if (meta.compression === "zstd" && meta.compressionMode === "MESSAGE")
      return openStorage(dir, storage, files, warnings, { zstdMessages: true });
    if (meta.compression !== "") {
      const unpacked = await decompressRosbag2Files(dir, files, meta.compression, meta.compressionMode);
      warnings.push(`${dir}: ${meta.compression}-compressed files decompressed to a temporary folder`);
      try {
        return withCleanup(await openStorage(dir, storage, unpacked.files, warnings), unpacked.cleanup);
      } catch (err) {
        await unpacked.cleanup();
        throw err;
      }
    }
  } else {
    // A recorder that lost power may not have written metadata.yaml: read the data files there are.
    const names = (await readdir(dir)).sort(bySplitIndex);
    const data = names.filter((n) => DATA_FILE.test(n));
    const ros1 = names.filter((n) => ROS1_FILE.test(n));
    if (data.length === 0 && ros1.length > 0) return openRos1Folder(dir, ros1);
    if (data.length === 0) {
      // A folder of bags (a dataset, a recordings folder): name the bags in it.
      const bags: string[] = [];
      for (const n of names) if (await exists(join(dir, n, "metadata.yaml"))) bags.push(n);
      throw new Error(
        `${dir}: not a rosbag2 folder (no metadata.yaml, no .db3 or .mcap files)` +
          (bags.length
            ? `; it holds ${bags.length === 1 ? "the bag folder" : "bag folders"} ${bags.slice(0, 5).join(", ")}${bags.length > 5 ? ", ..." : ""}: give one of them`
            : ""),
      );
    }
    // Without metadata.yaml only rosbag2's split naming (<name>_0, <name>_1, ...) says that files
    // belong to one recording; reading unrelated recordings as one would merge them.
    if (data.length > 1 && !isOneSplitRecording(data)) {
      throw new Error(
        `${dir}: holds ${data.length} bag files that are not the split parts of one recording (${data.join(", ")}) and no metadata.yaml; name the file to read, e.g. ${join(dir, data[0]!)}`,
      );
    }
    storage = DATA_FILE.exec(data[0]!)![1] === "db3" ? "sqlite3" : "mcap";
    files = data.map((n) => join(dir, n));
    warnings.push(`${dir}: no metadata.yaml; reading ${files.map((f) => basename(f)).join(", ")}`);
    const gaps = isOneSplitRecording(data) ? missingSplitParts(data) : [];
    if (gaps.length) warnings.push(`${dir}: split parts ${gaps.join(", ")} are missing`);
    // A file-compressed recording that stopped without its metadata: the closed parts are
    // compressed, the one being written is not.
    const packed = files.filter((f) => f.endsWith(".zstd"));
    if (packed.length) {
      const unpacked = await decompressRosbag2Files(dir, packed, "zstd", "FILE");
      warnings.push(`${dir}: zstd-compressed files decompressed to a temporary folder`);
      const plain = files.map((f) => (f.endsWith(".zstd") ? unpacked.files[packed.indexOf(f)]! : f));
      try {
        return withCleanup(await openStorage(dir, storage, plain, warnings), unpacked.cleanup);
      } catch (err) {
        await unpacked.cleanup();
        throw err;
      }
    }
  }
  return openStorage(dir, storage, files, warnings);
}

/**
 * A folder of ROS 1 bags: one bag, or the parts of one split recording (`rosbag record --split`
 * names them `<name>_0.bag`, `<name>_1.bag`, ...; the part being written when recording stopped is
 * `.bag.active`), read as one. Unrelated bags are refused: merging them would mix recordings.
 */
async function openRos1Folder(dir: string, names: string[]): Promise<BagSource> {
  const parts = names.map((n) => ROS1_SPLIT_NAME.exec(n));
  const first = parts[0];
  const oneRecording = names.length === 1 || parts.every((m) => m !== null && m[1] === first?.[1]);
  if (!oneRecording)
    throw new Error(
      `${dir}: holds ${names.length} ROS 1 bags that are not the split parts of one recording (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}); name the bag to read, e.g. ${join(dir, names[0]!)}`,
    );
  if (names.length === 1) return openRos1(join(dir, names[0]!));
  const ordered = [...names].sort(
    (a, b) => Number(ROS1_SPLIT_NAME.exec(a)![2]) - Number(ROS1_SPLIT_NAME.exec(b)![2]),
  );
  const warnings: string[] = [];
  const have = new Set(ordered.map((n) => Number(ROS1_SPLIT_NAME.exec(n)![2])));
  const missing: number[] = [];
  for (let i = Math.min(...have); i < Math.max(...have); i++) if (!have.has(i)) missing.push(i);
  if (missing.length) warnings.push(`${dir}: split parts ${missing.join(", ")} are missing`);
  return (await import("./ros1-parts.ts")).Ros1Parts.open(
    dir,
    ordered.map((n) => join(dir, n)),
    warnings,
  );
}

async function openStorage(
  dir: string,
  storage: string,
  files: string[],
  warnings: string[],
  opts: { zstdMessages?: boolean } = {},
): Promise<BagSource> {
  if (storage === "sqlite3") return (await sqliteSource()).open(dir, files, warnings, opts);
  if (storage === "mcap") return McapSource.open(dir, files, warnings, opts);
  throw new Error(`${dir}: unsupported rosbag2 storage "${storage}" (supported: sqlite3, mcap)`);
}

/** Detects the format (.mcap, .db3, rosbag2 folder with metadata.yaml, .bag, folder of split .bag parts) and opens it. Throws a clear Error for missing/not-a-bag. */
export async function openBag(path: string): Promise<BagSource> {
  if (path.trim() === "")
    throw new Error("the bag path is empty (expected an .mcap, .db3, .bag or rosbag2 folder)");
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT" ? `${path}: no such file or directory` : `${path}: ${(err as Error).message}`,
    );
  }
  if (st.isDirectory()) return openFolder(path);
  if (!st.isFile()) throw new Error(`${path}: not a regular file or folder`);
  // `ros2 bag` takes the folder; a path completed to its metadata.yaml is the same bag asked for.
  if (basename(path) === "metadata.yaml")
    throw new Error(
      `${path}: a rosbag2 folder's metadata file, not a bag: give the folder, ${dirname(path)}`,
    );
  const kind = await detect(path, st.size);
  if (kind === "mcap") return McapSource.open(path, [path]);
  if (kind === "sqlite") return (await sqliteSource()).open(path, [path]);
  return openRos1(path);
}

export interface ReplayOptions extends ReadOptions {
  /** Playback speed as a multiple of real time (2 = twice as fast); undefined = as fast as possible. */
  rate?: number;
}

/**
 * An Observable over a source's events: as fast as the consumer takes them (rate undefined) or
 * paced so that message i is emitted (logTime_i − logTime_0) / rate after the first. The scheduler
 * is a parameter so pacing can be tested in virtual time. Unsubscribing aborts the read; the
 * source itself stays open (the caller opened it, the caller closes it).
 */
export function replay$(
  source: BagSource,
  options: ReplayOptions = {},
  scheduler: SchedulerLike = asyncScheduler,
): Observable<BagEvent> {
  const { rate, signal, ...read } = options;
  if (rate !== undefined && !(rate > 0 && Number.isFinite(rate))) {
    throw new Error(`replay rate must be a positive number, got ${rate}`);
  }
  return new Observable<BagEvent>((subscriber) => {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    if (signal?.aborted) controller.abort();
    signal?.addEventListener("abort", onOuterAbort, { once: true });
    let pending: { unsubscribe(): void } | undefined;
    // Resolves a pending wait on teardown, so the read loop gets to close its iterator.
    let wake: (() => void) | undefined;
    const wait = (ms: number) =>
      new Promise<void>((resolve) => {
        wake = resolve;
        pending = scheduler.schedule(() => {
          wake = undefined;
          resolve();
        }, ms);
      });
    const run = async () => {
      const it = source.messages({ ...read, signal: controller.signal });
      let t0: number | undefined;
      let wall0 = 0;
      try {
        for await (const event of it) {
          if (controller.signal.aborted) break;
          if (rate !== undefined && event.type === "message") {
            if (t0 === undefined) {
              t0 = event.logTime;
              wall0 = scheduler.now();
            } else {
              const due = wall0 + ((event.logTime - t0) * 1000) / rate;
              const delay = due - scheduler.now();
              if (delay > 0) await wait(delay);
              if (controller.signal.aborted) break;
            }
          }
          subscriber.next(event);
        }
        subscriber.complete();
      } finally {
        await it.return(undefined);
      }
    };
    run().catch((err: unknown) => subscriber.error(err));
    return () => {
      controller.abort();
      pending?.unsubscribe();
      wake?.();
      signal?.removeEventListener("abort", onOuterAbort);
    };
  });
}
