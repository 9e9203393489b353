// Output safety on real files: links, hard links, rosbag2 folders, a file where a folder should be,
// and the temporary-name-then-rename writes (report files, MCAP recordings).

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { checkOutputs, writeFileAtomic } from "../src/io/safe-output.ts";

const dir = mkdtempSync(join(tmpdir(), "safe-output-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURES = join(import.meta.dirname, "fixtures", "bags");

const file = (name: string, text = "input bytes") => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const rec = (path: string) => [{ path, kind: "file" as const, what: "--record" }];

describe("checkOutputs", () => {
  it("refuses an output that is the input, by name, through a symlink or as a hard link", async () => {
    const input = file("in.mcap");
    const sym = join(dir, "sym.mcap");
    symlinkSync(input, sym);
    const hard = join(dir, "hard.mcap");
    linkSync(input, hard);
    await expect(checkOutputs(rec(input), [input])).rejects.toThrow(
      /--record .*in\.mcap is the input .*refusing to overwrite/,
    );
    await expect(checkOutputs(rec(sym), [input])).rejects.toThrow(/same file under another name/);
    await expect(checkOutputs(rec(hard), [input])).rejects.toThrow(/same file under another name/);
    // The input given through the link is protected the same way.
    await expect(checkOutputs(rec(input), [sym])).rejects.toThrow(/refusing to overwrite/);
    await expect(checkOutputs(rec(join(dir, "other.mcap")), [input])).resolves.toBeUndefined();
  });

  it("refuses to write into an input rosbag2 folder, given as the folder or as one of its files", async () => {
    const bag = join(dir, "bag2");
    cpSync(join(FIXTURES, "rosbag2_talker_mcap"), bag, { recursive: true });
    await expect(checkOutputs(rec(join(bag, "out.mcap")), [bag])).rejects.toThrow(/inside the input folder/);
    await expect(checkOutputs(rec(join(bag, "out.mcap")), [join(bag, "talker.mcap")])).rejects.toThrow(
      /inside the input folder/,
    );
    await expect(
      checkOutputs([{ path: join(bag, "report"), kind: "dir", what: "--report-dir" }], [bag]),
    ).rejects.toThrow(/inside the input folder/);
    // A hard link to a file of the folder, kept elsewhere, is that file.
    const outside = join(dir, "talker-link.mcap");
    linkSync(join(bag, "talker.mcap"), outside);
    await expect(checkOutputs(rec(outside), [bag])).rejects.toThrow(/same file under another name/);
  });

  it("says which part of a path is a file, and refuses folders for files and files for folders", async () => {
    const f = file("plain.txt");
    await expect(
      checkOutputs([{ path: join(f, "sub", "dir"), kind: "dir", what: "--report-dir" }], []),
    ).rejects.toThrow(`--report-dir ${join(f, "sub", "dir")}: ${f} is a file, not a folder`);
    await expect(checkOutputs([{ path: f, kind: "dir", what: "--out" }], [])).rejects.toThrow(
      /is a file, not a folder/,
    );
    await expect(checkOutputs(rec(dir), [])).rejects.toThrow(/is a folder, expected a file name/);
    await expect(checkOutputs(rec(join(dir, "missing", "x.mcap")), [])).rejects.toThrow(
      /folder .*missing does not exist/,
    );
    // A folder that does not exist yet is fine (it is created), as long as its parent is writable.
    await expect(
      checkOutputs([{ path: join(dir, "new", "deeper"), kind: "dir", what: "--report-dir" }], []),
    ).resolves.toBeUndefined();
  });

  // Mounting needs root (CI and this machine run as root); elsewhere the case is skipped.
  const ro = join(dir, "read-only");
  mkdirSync(ro);
  let mounted = false;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro], { stdio: "ignore" });
    mounted = true;
  } catch {
    // Not root: skipped below.
  }
  afterAll(() => {
    if (mounted) execFileSync("umount", [ro]);
  });
  it.skipIf(!mounted)("names a read-only file system as such, not as a permission problem", async () => {
    await expect(checkOutputs(rec(join(ro, "out.mcap")), [])).rejects.toThrow(
      /out\.mcap: cannot write in .*read-only \(a read-only file system\)$/,
    );
  });

  it("checks the names a report writes into its folder against the inputs", async () => {
    const reportDir = join(dir, "reports");
    mkdirSync(reportDir);
    const cfg = join(reportDir, "report.json");
    writeFileSync(cfg, "{}");
    await expect(
      checkOutputs([{ path: reportDir, kind: "dir", what: "--report-dir", files: ["report.json"] }], [cfg]),
    ).rejects.toThrow(/report\.json is the input/);
  });

  it.skipIf(process.getuid?.() === 0)("refuses a folder the user cannot write in", async () => {
    const ro = join(dir, "readonly");
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    await expect(checkOutputs(rec(join(ro, "x.mcap")), [])).rejects.toThrow(/cannot write in/);
    chmodSync(ro, 0o755);
  });
});

describe("writes under a temporary name", () => {
  it("writeFileAtomic replaces the file whole and leaves no temporary file", async () => {
    const p = file("atomic.json", "old");
    await writeFileAtomic(p, "new contents");
    expect(readFileSync(p, "utf8")).toBe("new contents");
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
  });

  it("an MCAP recording appears only when closed; abort leaves the earlier file as it was", async () => {
    const out = join(dir, "rec.mcap");
    writeFileSync(out, "the earlier file");
    const w = await Ros2McapWriter.create(out, { compression: "none" });
    await w.write("/n", "std_msgs/Float32", 1, { data: 1 });
    expect(readFileSync(out, "utf8")).toBe("the earlier file");
    expect(readdirSync(dir).some((n) => n.startsWith(".rec.mcap.tmp-"))).toBe(true);
    await w.abort();
    expect(readFileSync(out, "utf8")).toBe("the earlier file");
    expect(readdirSync(dir).some((n) => n.startsWith(".rec.mcap.tmp-"))).toBe(false);

    const w2 = await Ros2McapWriter.create(out, { compression: "none" });
    await w2.write("/n", "std_msgs/Float32", 1, { data: 1 });
    await w2.write("/n", "std_msgs/Float32", 2, { data: 2 });
    await w2.close();
    expect(w2.messageCount).toBe(2);
    const src = await openBag(out);
    const info = await src.info();
    await src.close();
    expect(info.warnings).toEqual([]);
    expect(info.topics).toEqual([expect.objectContaining({ name: "/n", count: 2 })]);
  });
});
