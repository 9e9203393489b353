// Output safety for every command that writes files: an output may never replace or land inside
// one of the command's inputs, problems with an output path are found before any work starts, and
// files are written under a temporary name in the same folder and renamed into place when complete
// (a crash or a signal leaves the previous file, or none, never half of one).

import { randomBytes } from "node:crypto";
import { constants, existsSync, lstatSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { access, open, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

export interface OutputSpec {
  path: string;
  /** "file": one file written whole; "dir": a folder that files are written into (created if missing). */
  kind: "file" | "dir";
  /** How the user named it, for messages (e.g. "--record"). */
  what: string;
  /** For a "dir": the names written inside it, each checked like a file output. */
  files?: readonly string[];
}

type Stats = Awaited<ReturnType<typeof stat>>;

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ENOTDIR") return undefined;
    throw err;
  }
}

/**
 * Where `path` would be on disk with every existing part's links resolved, and the deepest part of
 * it that exists. Throws when a parent along the way is a file (the raw ENOTDIR a write would hit).
 */
async function locate(path: string, what: string): Promise<{ real: string; existing: string }> {
  const abs = resolve(path);
  const missing: string[] = [];
  let cur = abs;
  for (;;) {
    const st = await statOrUndefined(cur);
    if (st) {
      if (missing.length > 0 && !st.isDirectory())
        throw new Error(`${what} ${path}: ${cur} is a file, not a folder`);
      // /dev/stdout on a pipe stats as the pipe, but its link (pipe:[N]) names no path.
      if (!st.isFile() && !st.isDirectory())
        throw new Error(`${what} ${path}: not a regular file (a device or pipe cannot be replaced safely)`);
      const real = await realpath(cur);
      return { real: missing.length ? join(real, ...missing.reverse()) : real, existing: real };
    }
    const parent = dirname(cur);
    if (parent === cur) throw new Error(`${what} ${path}: no part of the path exists`);
    missing.push(basename(cur));
    cur = parent;
  }
}

const inside = (child: string, parent: string) => {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
};

const inode = (st: Stats) => `${st.dev}:${st.ino}`;

interface ProtectedInput {
  given: string;
  real: string;
  /** A folder nothing may be written into: a rosbag2 folder given as input, or the one holding an input file. */
  folder?: string;
  /** Device:inode of the input file, or of every file in an input folder (hard links). */
  inodes: Set<string>;
}

async function describeInputs(inputs: readonly string[]): Promise<ProtectedInput[]> {
  const out: ProtectedInput[] = [];
  for (const given of inputs) {
    const st = await statOrUndefined(given);
    if (!st) continue;
    const real = await realpath(given);
    let folder: string | undefined;
    const inodes = new Set<string>();
    if (st.isDirectory()) {
      folder = real;
      for (const name of await readdir(real)) {
        const member = await statOrUndefined(join(real, name));
        if (member?.isFile()) inodes.add(inode(member));
      }
    } else {
      inodes.add(inode(st));
      if (existsSync(join(dirname(real), "metadata.yaml"))) folder = dirname(real);
    }
    out.push({ given, real, inodes, ...(folder ? { folder } : {}) });
  }
  return out;
}

async function checkFile(
  path: string,
  what: string,
  inputs: readonly ProtectedInput[],
  parentMayBeMissing = false,
): Promise<{ real: string; existing: string }> {
  const loc = await locate(path, what);
  if (!parentMayBeMissing && loc.existing !== loc.real && loc.existing !== dirname(loc.real))
    throw new Error(`${what} ${path}: folder ${dirname(resolve(path))} does not exist`);
  const st = await statOrUndefined(loc.real);
  if (st?.isDirectory()) throw new Error(`${what} ${path}: is a folder, expected a file name`);
  if (st && !st.isFile())
    throw new Error(`${what} ${path}: not a regular file (a device or pipe cannot be replaced safely)`);
  for (const input of inputs) {
    if (loc.real === input.real || (st !== undefined && input.inodes.has(inode(st))))
      throw new Error(
        `${what} ${path} is the input ${input.given}${resolve(path) === resolve(input.given) ? "" : " (the same file under another name)"}; refusing to overwrite it`,
      );
    if (input.folder && inside(loc.real, input.folder))
      throw new Error(
        `${what} ${path} is inside the input folder ${input.folder}; refusing to write into it`,
      );
  }
  return loc;
}

async function checkWritable(dir: string, what: string, path: string): Promise<void> {
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === "EROFS" ? "a read-only file system" : "permission denied";
    throw new Error(`${what} ${path}: cannot write in ${dir} (${why})`);
  }
}

/**
 * Checks every output before any work starts: refuses an output that is, or is inside, an input
 * (after resolving links, and hard links by device and inode), an output under a path component
 * that is a file, a file output that is a folder (or the reverse), and a folder the user cannot
 * write in. Throws an Error whose message names the flag and the path.
 */
export async function checkOutputs(outputs: readonly OutputSpec[], inputs: readonly string[]): Promise<void> {
  const protectedInputs = await describeInputs(inputs);
  const seen = new Map<string, string>();
  for (const o of outputs) {
    if (o.kind === "file") {
      const loc = await checkFile(o.path, o.what, protectedInputs);
      const other = seen.get(loc.real);
      if (other) throw new Error(`${o.what} ${o.path} is also ${other}; outputs must differ`);
      seen.set(loc.real, `${o.what} ${o.path}`);
      // The temporary file and the rename both need the folder to be writable.
      await checkWritable(dirname(loc.real), o.what, o.path);
      continue;
    }
    const loc = await locate(o.path, o.what);
    const st = await statOrUndefined(loc.real);
    if (st && !st.isDirectory()) throw new Error(`${o.what} ${o.path}: is a file, not a folder`);
    for (const input of protectedInputs) {
      if (input.folder && inside(loc.real, input.folder))
        throw new Error(
          `${o.what} ${o.path} is inside the input folder ${input.folder}; refusing to write into it`,
        );
    }
    await checkWritable(loc.existing, o.what, o.path);
    for (const name of o.files ?? []) {
      const file = join(o.path, name);
      const f = await checkFile(file, o.what, protectedInputs, true);
      const other = seen.get(f.real);
      if (other) throw new Error(`${o.what} ${o.path} writes ${file}, which is also ${other}`);
      seen.set(f.real, `${o.what} ${file}`);
    }
  }
}

/**
 * Where an output named `path` is written: the file a symbolic link points to, so the rename
 * replaces that file and the link stays a link (renaming over the link replaced it with a file:
 * `--record /dev/stdout > out.mcap` as root turned the system's /dev/stdout into a regular file).
 */
export function outputTarget(path: string): string {
  try {
    if (lstatSync(path).isSymbolicLink()) return realpathSync(path);
  } catch {
    // Missing, or a link to nothing: written under its own name.
  }
  return path;
}

/** A temporary name next to `path` (same folder, so the final rename is atomic). */
export function tempPathFor(path: string): string {
  const target = outputTarget(path);
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Makes a finished temporary file the real one: fsync, rename, fsync the folder where allowed. */
export async function commitTemp(tmp: string, path: string): Promise<void> {
  const fh = await open(tmp, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  const target = outputTarget(path);
  await rename(tmp, target);
  try {
    const dir = await open(dirname(target), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Not every platform or filesystem lets a folder be opened and synced; the rename stands.
  }
}

/**
 * Removes this process's temporary files for `path` at once (for a process about to exit without
 * finishing them: the final name never appears half written, and no stray temp stays behind).
 */
export function discardTempsSync(path: string): void {
  const target = outputTarget(path);
  const prefix = `.${basename(target)}.tmp-${process.pid}-`;
  try {
    for (const name of readdirSync(dirname(target)))
      if (name.startsWith(prefix)) rmSync(join(dirname(target), name), { force: true });
  } catch {
    // The folder is gone or unreadable: nothing of ours to remove.
  }
}

/** Removes every temporary file this process has in `dir` (for the same reason as discardTempsSync). */
export function discardFolderTempsSync(dir: string): void {
  const mark = `.tmp-${process.pid}`;
  try {
    for (const name of readdirSync(dir)) if (name.includes(mark)) rmSync(join(dir, name), { force: true });
  } catch {
    // The folder is gone or unreadable: nothing of ours to remove.
  }
}

/** Removes a temporary file that will not be committed; a missing one is fine. */
export async function discardTemp(tmp: string): Promise<void> {
  await rm(tmp, { force: true });
}

/** Failures of the disk or filesystem under an output, not of the program: the user's to fix. */
const DISK_ERRORS = new Set(["ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EIO"]);

/** Whether `err` is a full disk, a file size limit, a read-only filesystem or an I/O error. */
export function isDiskError(err: unknown): boolean {
  return DISK_ERRORS.has((err as NodeJS.ErrnoException | undefined)?.code ?? "");
}

/**
 * A failed write as an error that names the output (Node's write errors name no file) and keeps
 * the errno code, so the CLI reports a disk problem as one line.
 */
export function outputWriteError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.message === "string" && e.message.startsWith(`cannot write ${path}: `)) return e;
  const wrapped: NodeJS.ErrnoException = new Error(`cannot write ${path}: ${e?.message ?? String(err)}`, {
    cause: err,
  });
  if (e?.code) wrapped.code = e.code;
  return wrapped;
}

/**
 * Writes a set of files that belong together (a report and its plots): every one under a temporary
 * name first, then all renamed in order. A failure while writing (a full disk) leaves every earlier
 * file of the set as it was, not some new and some old.
 */
export async function writeFilesAtomic(
  files: readonly { path: string; data: string | Uint8Array }[],
): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) {
      const tmp = tempPathFor(f.path);
      temps.push(tmp);
      try {
        const fh = await open(tmp, "wx");
        try {
          await fh.writeFile(f.data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw outputWriteError(f.path, err);
      }
    }
    for (const [i, f] of files.entries()) {
      await commitTemp(temps[i]!, f.path).catch((err: unknown) => {
        throw outputWriteError(f.path, err);
      });
    }
  } catch (err) {
    for (const tmp of temps) await discardTemp(tmp);
    throw err;
  }
}

/** Writes a whole file under a temporary name and renames it into place. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, "wx");
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await commitTemp(tmp, path);
  } catch (err) {
    await discardTemp(tmp);
    throw outputWriteError(path, err);
  }
}
