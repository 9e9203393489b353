// `run` and `serial-dump` whose --duration passes without one sample did nothing: they exit 1 with
// the reason (the device never opened, sent nothing, or sent nothing that parses); so does a `run`
// that never got the odometry (or IMU) every label needs. Ctrl-C stays the normal way to end them
// (exit 0), and a run that read both streams exits 0.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { BIN, runCli, spawnCli } from "./helpers/cli.ts";
import { PtyPair, socatMissing, waitFor } from "./helpers/socat.ts";

const dir = mkdtempSync(join(tmpdir(), "serial-nothing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const absent = join(dir, "ttyNONE");

const cli = (...args: string[]) => runCli(args, dir);

const lastLine = (s: string) => s.trim().split("\n").at(-1) ?? "";

describe("a --duration that passes without a sample", () => {
  it("serial-dump: the device never opened → exit 1 with the reason, after the counters", async () => {
    const r = await cli("serial-dump", absent, "--duration", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^counters: bytes 0, .*openFailures \d+/m);
    expect(lastLine(r.stderr)).toMatch(
      new RegExp(
        `^terrain-learner: ${absent}: no samples in 1 s: it could not be opened \\(\\d+ failed attempts; last error: .*no such file`,
      ),
    );
  }, 120_000);

  it("run: the device never opened → exit 1 with the reason, after the counters", async () => {
    const r = await cli("run", "--serial", absent, "--duration", "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"openFailures":\d+/);
    expect(lastLine(r.stderr)).toMatch(
      new RegExp(`^terrain-learner: ${absent}: no samples in 1 s: it could not be opened`),
    );
  }, 120_000);

  it("Ctrl-C still ends serial-dump with exit 0, samples or not", async () => {
    const child: ChildProcess = spawn(process.execPath, [BIN, "serial-dump", absent, "--duration", "60"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("waiting")) resolve();
      }),
    );
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/no samples/);
  }, 120_000);
});

describe("a path that can never be a serial device", () => {
  // Retrying an absent device is right (it may be plugged in); a file or a folder never becomes a
  // tty, and without --duration the command retried it for ever.
  it("a regular file (a recorded log) or a folder: one line and exit 1 at once, run and serial-dump", async () => {
    const log = join(dir, "recorded.txt");
    writeFileSync(log, `${nmeaSentence("TLODO,1000,0.5,0.0")}\n`);
    const cases = [
      ["serial-dump", log],
      ["run", "--serial", log],
      ["serial-dump", dir],
    ];
    // Independent commands: spawned together, checked one by one.
    const results = await Promise.all(cases.map((args) => runCli(args, dir, 30_000)));
    for (const [i, args] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, r.stderr).toBe(1);
      const path = args.at(-1)!;
      const what = path === dir ? "a folder" : "a regular file";
      expect(r.stderr).toBe(
        `terrain-learner: ${path}: ${what}, not a serial device (give a tty such as /dev/ttyACM0, /dev/ttyUSB0 or a pty)\n`,
      );
    }
  }, 120_000);

  // An IMU on I2C or HID is a character device too (/dev/i2c-1, /dev/hidraw0): it was retried for
  // ever as "Inappropriate ioctl for device setting custom baud rate", as if the baud were wrong.
  it.skipIf(!existsSync("/sys/dev/char/1:3"))(
    "a character device that is not a tty (/dev/null): one line and exit 1 at once",
    async () => {
      const results = await Promise.all(
        [
          ["serial-dump", "/dev/null"],
          ["run", "--serial", "/dev/null"],
        ].map((args) => runCli(args, dir, 30_000)),
      );
      for (const r of results) {
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toBe(
          "terrain-learner: /dev/null: a character device of class mem, not a tty: not a serial device (give a tty such as /dev/ttyACM0, /dev/ttyUSB0 or a pty)\n",
        );
      }
    },
    120_000,
  );
});

// Each test has its own ptys and mostly waits out a --duration: they run at once, with the test's own `expect`.
describe.skipIf(socatMissing() !== undefined).concurrent("serial-dump and run on a pty", () => {
  it("silent: 'sent nothing'; garbage: bytes but nothing parsed; samples: exit 0", async ({ expect }) => {
    // Three devices, one per case, read at the same time: each --duration runs alongside the others.
    const [silent, noisy, good] = await Promise.all([PtyPair.start(), PtyPair.start(), PtyPair.start()]);
    const garbage = setInterval(() => void noisy.write("\x00\xff~~~ not a sentence\n"), 50);
    let t = 1_000_000;
    const samples = setInterval(() => {
      t += 50_000;
      void good.write(`${nmeaSentence(`TLODO,${t},1.0,0.0`)}\n`);
    }, 50);
    try {
      const [r1, r2, r3] = await Promise.all([
        cli("serial-dump", silent.a, "--duration", "1"),
        cli("serial-dump", noisy.a, "--duration", "1.5"),
        cli("serial-dump", good.a, "--duration", "1.5"),
      ]);
      expect(r1.code).toBe(1);
      expect(lastLine(r1.stderr)).toBe(
        `terrain-learner: ${silent.a}: no samples in 1 s: the device sent nothing`,
      );
      expect(r2.code).toBe(1);
      expect(lastLine(r2.stderr)).toMatch(
        /no samples in 1\.5 s: \d+ bytes read but no IMU or odometry sample parsed/,
      );
      expect(r3.code, r3.stderr).toBe(0);
      expect(r3.stdout).toMatch(/ odom v=1 m\/s/);
    } finally {
      clearInterval(garbage);
      clearInterval(samples);
      await Promise.all([silent.close(), noisy.close(), good.close()]);
    }
  }, 180_000);

  it("run: IMU but never odometry → no label can come: exit 1 naming the missing stream", async ({
    expect,
  }) => {
    const pty = await PtyPair.start();
    let t = 1_000_000;
    const imu = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 10; i++) {
        t += 5000;
        lines.push(nmeaSentence(`TLIMU,${t},0.1,0.2,${(9.8 + Math.sin(t)).toFixed(4)},0.01,0.02,0`));
      }
      void pty.write(`${lines.join("\n")}\n`);
    }, 50);
    try {
      const r = await cli("run", "--serial", pty.a, "--duration", "1.5");
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/"imu":[1-9]\d*,"odom":0/);
      expect(lastLine(r.stderr)).toBe(
        `terrain-learner: ${pty.a}: no labels in 1.5 s: no odometry sample came (labels need wheel odometry: $TLODO sentences)`,
      );
    } finally {
      clearInterval(imu);
      await pty.close();
    }
  }, 180_000);

  // Ctrl-C is how a robot's run ends (exit 0), but one that parsed nothing in all that time (a wrong
  // --baud gives garbage only) ended on the counters alone, without a word of why no label came.
  it("run stopped by Ctrl-C after garbage only: exit 0 and one line saying nothing parsed", async ({
    expect,
  }) => {
    const pty = await PtyPair.start();
    const garbage = setInterval(() => void pty.write("\x00\xff~~~ not a sentence\n"), 50);
    try {
      const c = spawnCli(["run", "--serial", pty.a], dir);
      await waitFor("run to open the device", () => c.stderr().includes(`${pty.a} open`), 60_000);
      // Garbage comes every 50 ms: half a second is several writes read.
      await new Promise((r) => setTimeout(r, 500));
      c.child.kill("SIGINT");
      expect(await c.exit, c.stderr()).toBe(0);
      expect(lastLine(c.stderr())).toMatch(
        new RegExp(
          `^terrain-learner: no labels: ${pty.a}: no samples in \\d+ s: \\d+ bytes read but no IMU or odometry sample parsed \\(check --baud and --mode`,
        ),
      );
    } finally {
      clearInterval(garbage);
      await pty.close();
    }
  }, 180_000);
});
