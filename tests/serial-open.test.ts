// Opening a serial device keeps what the device already sent. serialport's own open flushes the
// tty (tcflush) after configuring it, so every byte that reached the port before the open finished
// was thrown away: on a busy machine `serial-dump` started and then fed 100 sentences got all, some
// or none of them. Real pty pair (socat), real CPU load (busy child processes), no timing asserts.

import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialSource } from "../src/adapters/serial.ts";
import { sttyArgs } from "../src/adapters/serial-open.ts";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { PtyPair, socatMissing, waitFor } from "./helpers/socat.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial open tests: ${missing}`);
const BIN = join(import.meta.dirname, "..", "bin", "terrain-learner.js");

/** Sentences `from`..`to` of a numbered run: device time = run · 10 s + i · 5 ms. */
function sentences(run: number, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++)
    text += `${nmeaSentence(`TLIMU,${run * 10_000_000 + i * 5000},0.5,-0.25,9.75,0.125,0,-0.5`)}\r\n`;
  return text;
}

describe.skipIf(missing !== undefined)("serial open keeps queued input", () => {
  const hogs: ChildProcess[] = [];
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await PtyPair.start();
    // CPU load for the whole file: one busy loop per core.
    for (let i = 0; i < Math.max(2, availableParallelism()); i++)
      hogs.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  });
  afterAll(async () => {
    for (const h of hogs) h.kill("SIGKILL");
    await pty?.close();
  });

  it("20 opens in a row under CPU load: all 100 sentences delivered every time", async () => {
    for (let run = 0; run < 20; run++) {
      const stamps: number[] = [];
      const source = new SerialSource(
        { path: pty.a, baudRate: 115200, maxClockJump: 1000, reconnectMin: 0.05, reconnectMax: 0.2 },
        { imu: (s) => stamps.push(s.stamp), odom: () => undefined },
      );
      let stats: ReturnType<SerialSource["stats"]>;
      try {
        // Half the sentences are waiting on the port before it is opened, half arrive while it opens.
        await pty.write(sentences(run, 0, 50));
        source.start();
        await pty.write(sentences(run, 50, 100));
        await waitFor(
          () =>
            `open ${run + 1} of 20 to deliver 100 sentences (got ${stamps.length}; ${JSON.stringify(source.stats())})`,
          () => stamps.length >= 100,
          60_000,
        );
        stats = source.stats();
      } finally {
        await source.stop();
      }
      expect(stamps).toHaveLength(100);
      expect(stats).toMatchObject({
        imu: 100,
        lines: 100,
        checksumErrors: 0,
        garbageBytes: 0,
        openFailures: 0,
      });
      // In order and 5 ms apart in device time: none lost, none from an earlier open.
      for (let i = 1; i < 100; i++) expect(stamps[i]! - stamps[i - 1]!).toBeCloseTo(0.005, 6);
    }
  }, 600_000);

  it("serial-dump started, then sentences written at once: every one printed (the CLI as a user runs it)", async () => {
    const child = spawn(process.execPath, [BIN, "serial-dump", pty.a, "--json", "--count", "100"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    try {
      // No waiting for "open": the device talks as soon as it is plugged in.
      await pty.write(sentences(100, 0, 100));
      const code = await exit;
      expect(code, err).toBe(0);
      const lines = out.trim().split("\n");
      expect(lines).toHaveLength(100);
      expect(JSON.parse(lines[99]!)).toMatchObject({ type: "imu", az: 9.75 });
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 180_000);

  it("a second reader on the same port is refused (exclusive lock), as serialport's own open does", async () => {
    const first = new SerialSource(
      { path: pty.a, baudRate: 115200 },
      { imu: () => undefined, odom: () => undefined },
    );
    const second = new SerialSource(
      { path: pty.a, baudRate: 115200, reconnectMin: 0.05, reconnectMax: 0.1 },
      { imu: () => undefined, odom: () => undefined },
    );
    try {
      first.start();
      await waitFor("the first reader to open", () => first.stats().state === "open", 60_000);
      second.start();
      await waitFor("the second reader to fail", () => second.stats().openFailures > 0, 60_000);
      expect(second.stats().lastError).toMatch(/Cannot lock port/);
      expect(second.stats().state).not.toBe("open");
    } finally {
      await second.stop();
      await first.stop();
    }
  }, 120_000);

  it("without flock(1) or stty(1) it opens the way serialport does and says so once", async () => {
    const warnings: string[] = [];
    const source = new SerialSource(
      { path: pty.a, baudRate: 115200, onWarning: (m) => warnings.push(m) },
      { imu: () => undefined, odom: () => undefined },
    );
    const savedPath = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      source.start();
      await waitFor("the port to open", () => source.stats().state === "open", 60_000);
    } finally {
      process.env.PATH = savedPath;
      await source.stop();
    }
    expect(warnings).toEqual([
      "flock not found: opening with serialport's default, which drops bytes queued before the open",
    ]);
  }, 120_000);

  it("stty gets the same line settings serialport's open sets (raw 8N1, receiver on, no echo)", () => {
    const args = sttyArgs({
      path: "/dev/null",
      baudRate: 921600,
      vmin: 1,
      vtime: 0,
      dataBits: 8,
      lock: true,
      stopBits: 1,
      parity: "none",
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
    });
    expect(args.slice(0, 2)).toEqual(["921600", "raw"]);
    expect(args).toEqual(
      expect.arrayContaining([
        "-echo",
        "cs8",
        "-parenb",
        "-cstopb",
        "-crtscts",
        "-ixon",
        "clocal",
        "cread",
        "hupcl",
      ]),
    );
    expect(args.slice(-4)).toEqual(["min", "1", "time", "0"]);
  });
});
