// A device that is there but cannot be opened: no read permission (a user not in `dialout` sees
// EACCES on /dev/ttyUSB0) or held by another process. Both are retried (a udev rule or the other
// process may let go), and said once, with the fix, instead of a bare "permission denied" line
// every few seconds for as long as it lasts. Real pty pair (socat), real flock(1) holder.

import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, readFileSync, realpathSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial open error tests: ${missing}`);

const root = process.getuid?.() === 0;
const dialoutGid = (() => {
  try {
    const line = readFileSync("/etc/group", "utf8")
      .split("\n")
      .find((l) => l.startsWith("dialout:"));
    return line ? Number(line.split(":")[2]) : undefined;
  } catch {
    return undefined;
  }
})();

/** Runs serial-dump on `path` for `seconds` (as `uid` when given) and returns exit code and stderr. */
function dump(path: string, seconds: number, uid?: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, "serial-dump", path, "--duration", String(seconds)], {
    cwd: "/",
    stdio: ["ignore", "ignore", "pipe"],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

const waitingLines = (stderr: string) => stderr.split("\n").filter((l) => / waiting: /.test(l));

describe.skipIf(missing !== undefined)("a device that is there but cannot be opened", () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await PtyPair.start();
    // Another user (below) must reach the links in the pair's private folder.
    chmodSync(pty.dir, 0o755);
  });
  afterAll(async () => {
    await pty?.close();
  });

  it("no permission: one line naming the fix, however many retries", async () => {
    const tty = realpathSync(pty.a);
    let r: { code: number | null; stderr: string };
    let fix: RegExp;
    if (root && dialoutGid !== undefined) {
      // As on a robot: the device belongs to dialout, the user (nobody) is not in it.
      chownSync(tty, 0, dialoutGid);
      chmodSync(tty, 0o660);
      r = await dump(pty.a, 3, 65534);
      fix = /add it to the device's group dialout \(sudo usermod -aG dialout \$USER, then log in again\)/;
    } else {
      // Root reads anything: without another user to be, take the permission away altogether.
      chmodSync(tty, 0);
      r = await dump(pty.a, 3, root ? 65534 : undefined);
      fix = /\(mode 0000\): give it access with a udev rule/;
    }
    expect(r.code, r.stderr).toBe(1);
    const lines = waitingLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/permission denied, cannot open .*: this user may not open it/);
    expect(lines[0]).toMatch(fix);
    // Retried all the while, and the reason of the exit names the fix too.
    expect(r.stderr).toMatch(/openFailures ([3-9]|\d\d)/);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(fix);
    chmodSync(tty, 0o600);
  }, 60_000);

  it("held by another process: one line naming how to find it", async () => {
    // flock(1) holds the same exclusive lock serialport takes (and other serialport users do).
    const holder: ChildProcess = spawn("flock", ["--exclusive", pty.a, "sleep", "60"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = await dump(pty.a, 3);
      expect(r.code, r.stderr).toBe(1);
      const lines = waitingLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/another process has it open\): find which with: fuser -v /);
    } finally {
      holder.kill();
    }
  }, 60_000);
});
