// CSV devices as a robot meets them: already streaming when the port is opened (the first line read
// is cut), unplugged and plugged back mid-line, rebooted (the header printed again, perhaps another
// one), and a baud rate stty cannot set. Real pty pairs (socat); the parser's own rules have pure tests.

import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { SerialSource, type SerialSourceOptions } from "../src/adapters/serial.ts";
import { SerialLineParser } from "../src/adapters/serial-protocol.ts";
import type { ImuSample } from "../src/core/types.ts";
import { PtyPair, socatMissing, waitFor } from "./helpers/socat.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial CSV attach tests: ${missing}`);

const HEADER = "t_us,ax,ay,az,gx,gy,gz,v,w";
const row = (tUs: number) => `${tUs},0.5,-0.25,9.75,0.125,0,-0.5,1.25,0.5\n`;
const rows = (fromUs: number, n: number) =>
  Array.from({ length: n }, (_, i) => row(fromUs + i * 10_000)).join("");

describe.skipIf(missing !== undefined)("SerialSource, CSV device joined mid-stream (socat pty)", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(extra: Partial<SerialSourceOptions> = {}) {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const imu: ImuSample[] = [];
    // Arrival time of each sample, to see whether stamps lead it.
    const leads: number[] = [];
    const warnings: string[] = [];
    const now = () => Date.now() / 1000;
    const source = new SerialSource(
      {
        path: pty.a,
        baudRate: 115200,
        mode: "csv",
        reconnectMin: 0.05,
        reconnectMax: 0.2,
        now,
        onWarning: (m) => warnings.push(m),
        ...extra,
      },
      {
        imu: (s) => {
          imu.push(s);
          leads.push(s.stamp - now());
        },
        odom: () => undefined,
      },
    );
    cleanups.push(() => source.stop());
    return { pty, source, imu, leads, warnings };
  }

  it("the cut first line after the open is dropped: no clock reset, nothing malformed", async () => {
    const { pty, source, imu } = await setup();
    // Up 12.34 s; the open lands inside the time field of 12340000: "40000" would read as 0.04 s and
    // the next row (12.35 s) as a reboot's opposite, a clock 12 s ahead of arrival.
    await pty.write(`40000,0.5,-0.25,9.75,0.125,0,-0.5,1.25,0.5\n${rows(12_350_000, 20)}`);
    source.start();
    await waitFor(
      () => `20 samples (${JSON.stringify(source.stats())})`,
      () => imu.length >= 20,
    );
    expect(source.stats()).toMatchObject({ imu: 20, partialLines: 1, clockResets: 0, malformed: 0 });
    for (let i = 1; i < 20; i++) expect(imu[i]!.stamp - imu[i - 1]!.stamp).toBeCloseTo(0.01, 6);
  });

  it("joined within the device's first second: stamps do not lead arrival", async () => {
    const { pty, source, imu, leads } = await setup();
    // "0000" is what is left of 510000 (0.51 s of uptime): read as 0 s it anchored the clock
    // 0.52 s too early, so every later stamp led arrival by half a second.
    await pty.write(`0000,0.5,-0.25,9.75,0.125,0,-0.5,1.25,0.5\n${rows(520_000, 5)}`);
    source.start();
    await waitFor("5 samples", () => imu.length >= 5);
    expect(source.stats()).toMatchObject({ imu: 5, partialLines: 1, clockResets: 0, malformed: 0 });
    expect(Math.max(...leads)).toBeLessThan(0.1);
  });

  it("plugged back in mid-line: that first line is dropped too", async () => {
    const { pty, source, imu } = await setup();
    source.start();
    await waitFor("the port to open", () => source.stats().state === "open");
    await pty.write(`${HEADER}\n${rows(5_000_000, 10)}`);
    await waitFor("10 samples", () => imu.length >= 10);
    await pty.down();
    await waitFor("the loss to be seen", () => source.stats().state !== "open");
    await pty.up();
    await waitFor("the reconnect", () => source.stats().reconnects === 1);
    // The device kept running; the reopen lands inside the time field of 5200000.
    await pty.write(`200000,0.5,-0.25,9.75,0.125,0,-0.5,1.25,0.5\n${rows(5_210_000, 10)}`);
    await waitFor(
      () => `20 samples (${JSON.stringify(source.stats())})`,
      () => imu.length >= 20,
    );
    expect(source.stats()).toMatchObject({
      imu: 20,
      partialLines: 1,
      clockResets: 0,
      malformed: 0,
      skipped: 1,
    });
  });

  it("the header printed again after a reboot is a header, not malformed; stamps never go back", async () => {
    const { pty, source, imu, warnings } = await setup();
    source.start();
    await waitFor("the port to open", () => source.stats().state === "open");
    // A boot loop: the device resets within its first second, twice.
    await pty.write(
      `${HEADER}\n${rows(100_000, 30)}${HEADER}\n${rows(2_000, 30)}${HEADER}\n${rows(2_000, 30)}`,
    );
    await waitFor(
      () => `90 samples (${JSON.stringify(source.stats())})`,
      () => imu.length >= 90,
    );
    expect(source.stats()).toMatchObject({
      imu: 90,
      skipped: 3,
      malformed: 0,
      partialLines: 0,
      clockResets: 2,
    });
    for (let i = 1; i < imu.length; i++) expect(imu[i]!.stamp).toBeGreaterThanOrEqual(imu[i - 1]!.stamp);
    expect(warnings).toEqual([]);
  });

  it("a header with other columns after a reboot: one warning that says what happens to its rows", async () => {
    const { pty, source, imu, warnings } = await setup();
    source.start();
    await waitFor("the port to open", () => source.stats().state === "open");
    const other = "t_us,ax,ay,az,gx,gy,gz,temp,v,w";
    const otherRow = "3000,0.5,-0.25,9.75,0.125,0,-0.5,31.5,1.25,0.5\n";
    await pty.write(`${HEADER}\n${rows(5_000_000, 5)}${other}\n${otherRow}${other}\n${otherRow}`);
    await waitFor(
      () => `5 lines skipped or malformed (${JSON.stringify(source.stats())})`,
      () => {
        const s = source.stats();
        return s.skipped + s.malformed >= 5;
      },
    );
    expect(imu).toHaveLength(5);
    expect(source.stats()).toMatchObject({ skipped: 3, malformed: 2 });
    expect(warnings).toEqual([
      `CSV header changed after the device restarted: was "${HEADER}", now "${other}"; it has 10 columns and serial.csv_columns 9: its rows are counted as malformed`,
    ]);
  });
});

/** Whether stty refuses `baud` on `path` (GNU stty before 9.6 knows only the standard rates). */
function sttyRefuses(path: string, baud: number): boolean {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    return spawnSync("stty", [String(baud)], { stdio: [fd, "ignore", "ignore"] }).status !== 0;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(missing !== undefined)("SerialSource at a baud rate stty cannot set", () => {
  it("says so in one line, and that bytes queued before the open are lost", async () => {
    const pty = await PtyPair.start();
    const warnings: string[] = [];
    const source = new SerialSource(
      { path: pty.a, baudRate: 250_000, mode: "csv", onWarning: (m) => warnings.push(m) },
      { imu: () => undefined, odom: () => undefined },
    );
    try {
      if (!sttyRefuses(pty.a, 250_000)) {
        console.warn("SKIPPING: this stty sets 250000 baud, so there is no fallback to see");
        return;
      }
      source.start();
      await waitFor("the port to open", () => source.stats().state === "open", 60_000);
    } finally {
      await source.stop();
      await pty.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain("\n");
    expect(warnings[0]).toMatch(
      /^stty cannot set .*\/a to 250000 baud \(stty: .*250000.*\): opening with serialport's default, which drops bytes queued before the open$/,
    );
  }, 120_000);
});

describe("SerialLineParser.opened (csv)", () => {
  function parser() {
    const imu: ImuSample[] = [];
    const warnings: string[] = [];
    const p = new SerialLineParser(
      { imu: (s) => imu.push(s), odom: () => undefined },
      { mode: "csv", onWarning: (m) => warnings.push(m) },
    );
    const feed = (text: string, arrival = 100) => p.push(Buffer.from(text, "latin1"), arrival);
    return { p, imu, warnings, feed };
  }

  it("a line end first means the open was at a line boundary: nothing is dropped", () => {
    const { p, imu, feed } = parser();
    p.opened();
    feed(`\n${rows(1_000_000, 3)}`);
    expect(imu).toHaveLength(3);
    expect(p.counters.partialLines).toBe(0);
  });

  it("a header as the first line is kept as the header (and a cut one matches the whole)", () => {
    const { p, imu, warnings, feed } = parser();
    p.opened();
    // Cut inside the header's first field.
    feed(`us,ax,ay,az,gx,gy,gz,v,w\n${rows(1_000_000, 3)}${HEADER}\n${rows(1_000, 3)}`);
    expect(imu).toHaveLength(6);
    expect(p.counters).toMatchObject({ skipped: 2, partialLines: 0, malformed: 0, clockResets: 1 });
    expect(warnings).toEqual([]);
  });

  it("a boot message is not taken for a header", () => {
    const { p, feed } = parser();
    feed(`${HEADER}\n${rows(1_000_000, 3)}IMU ok, version 1.2\n`);
    expect(p.counters).toMatchObject({ skipped: 1, malformed: 1 });
  });

  it("without an open (a file, a unit test) the first line is read as before", () => {
    const { p, imu, feed } = parser();
    feed(rows(1_000_000, 3));
    expect(imu).toHaveLength(3);
    expect(p.counters.partialLines).toBe(0);
  });
});
