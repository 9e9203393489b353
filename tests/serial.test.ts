// Serial source over a REAL pseudo-terminal pair (socat): the same kernel tty layer, termios
// settings and hang-up behaviour as a USB-serial adapter.
import { afterEach, describe, expect, it } from "vitest";
import { SerialSource } from "../src/adapters/serial.ts";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import type { ImuSample, OdomSample } from "../src/core/types.ts";
import { PtyPair, socatMissing, waitFor } from "./helpers/socat.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial pty tests: ${missing}`);

const imuLine = (tUs: number) => nmeaSentence(`TLIMU,${tUs},0.5,-0.25,9.75,0.125,0,-0.5`);
const odoLine = (tUs: number) => nmeaSentence(`TLODO,${tUs},1.25,0.5`);

describe.skipIf(missing !== undefined)("SerialSource over a socat pty pair", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  // The tests write seconds of device time in a burst that arrives within milliseconds; a real
  // device streams in real time. A wide clock-jump tolerance keeps the burst from counting as a
  // clock that runs ahead of arrival (that rule has its own pure tests).
  async function setup() {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const imu: ImuSample[] = [];
    const odom: OdomSample[] = [];
    const states: string[] = [];
    const source = new SerialSource(
      {
        path: pty.a,
        baudRate: 115200,
        reconnectMin: 0.05,
        reconnectMax: 0.2,
        maxClockJump: 100,
        onState: (s) => states.push(s),
      },
      { imu: (s) => imu.push(s), odom: (s) => odom.push(s) },
    );
    cleanups.push(() => source.stop());
    source.start();
    await waitFor("the port to open", () => source.stats().state === "open");
    return { pty, source, imu, odom, states };
  }

  it("reads a clean stream: every sample, values and device time intact", async () => {
    const { pty, source, imu, odom } = await setup();
    let text = "";
    for (let i = 0; i < 400; i++)
      text += `${imuLine(1_000_000 + i * 5000)}\r\n${i % 4 === 0 ? `${odoLine(1_000_000 + i * 5000)}\r\n` : ""}`;
    await pty.write(text);
    await waitFor("400 IMU samples", () => imu.length === 400);
    await waitFor("100 odometry samples", () => odom.length === 100);
    expect(imu[7]!.linearAcceleration).toEqual({ x: 0.5, y: -0.25, z: 9.75 });
    expect(imu[7]!.angularVelocity).toEqual({ x: 0.125, y: 0, z: -0.5 });
    // Device time, not arrival: exactly 5 ms apart whatever the tty chunking was.
    for (let i = 1; i < imu.length; i++) expect(imu[i]!.stamp - imu[i - 1]!.stamp).toBeCloseTo(0.005, 6); // float64 epoch seconds: ~0.2 µs ulp
    expect(odom.at(-1)!.linear.x).toBe(1.25);
    expect(source.stats()).toMatchObject({
      checksumErrors: 0,
      malformed: 0,
      garbageBytes: 0,
      overlong: 0,
      reconnects: 0,
    });
  });

  it("recovers every valid sample from garbage, corrupted checksums, over-long lines and split writes", async () => {
    const { pty, source, imu } = await setup();
    const valid: number[] = [];
    let badChecksums = 0;
    let garbage = 0;
    let overlong = 0;
    let t = 0;
    for (let i = 0; i < 300; i++) {
      t += 5000;
      if (i % 7 === 3) {
        // One flipped character in the payload: the checksum no longer matches.
        const line = imuLine(t);
        await pty.write(`${line.slice(0, 10)}${line[10] === "1" ? "2" : "1"}${line.slice(11)}\n`);
        badChecksums++;
      } else if (i % 11 === 5) {
        const junk = "\x00\x7f~~ garbage ~~\x01";
        await pty.write(junk);
        garbage += junk.length;
        valid.push(t);
        await pty.write(`${imuLine(t)}\n`);
      } else if (i % 37 === 8) {
        await pty.write(`$TLIMU,${t},${"9".repeat(400)}*00\n`);
        overlong++;
      } else {
        valid.push(t);
        // Split writes: a line delivered in three pieces with pauses between them.
        const line = `${imuLine(t)}\r\n`;
        await pty.write(line.slice(0, 5));
        if (i % 5 === 0) await new Promise((r) => setTimeout(r, 2));
        await pty.write(line.slice(5, 20));
        await pty.write(line.slice(20));
      }
    }
    await waitFor(`${valid.length} valid samples`, () => imu.length === valid.length);
    const t0 = imu[0]!.stamp;
    expect(imu.map((s) => Math.round((s.stamp - t0) * 1e6) + valid[0]!)).toEqual(valid);
    await waitFor("all bytes", () => source.stats().lines >= 300);
    expect(source.stats()).toMatchObject({
      checksumErrors: badChecksums,
      garbageBytes: garbage,
      overlong,
      malformed: 0,
    });
  });

  it("reconnects when the device vanishes and comes back on the same path", async () => {
    const { pty, source, imu, states } = await setup();
    // The device has been up for 10 minutes.
    for (let i = 0; i < 50; i++) await pty.write(`${imuLine(600_000_000 + i * 5000)}\n`);
    await waitFor("first 50 samples", () => imu.length === 50);

    await pty.down(); // unplugged
    await waitFor("the loss to be noticed", () => source.stats().state !== "open");
    // Stay unplugged long enough for several failed reopen attempts.
    await waitFor("failed reopen attempts", () => source.stats().openFailures >= 2);

    await pty.up(); // plugged back in (a new /dev/pts behind the same link)
    await waitFor("the port to reopen", () => source.stats().state === "open");
    // A rebooted microcontroller: its clock restarts.
    for (let i = 0; i < 50; i++) await pty.write(`${imuLine(i * 5000)}\n`);
    await waitFor("50 more samples", () => imu.length === 100);

    const st = source.stats();
    expect(st.reconnects).toBe(1);
    expect(st.checksumErrors + st.malformed).toBe(0);
    expect(states).toContain("lost");
    // Stamps never go backwards across the reconnect (the device clock is re-anchored).
    for (let i = 1; i < imu.length; i++) expect(imu[i]!.stamp).toBeGreaterThan(imu[i - 1]!.stamp);
  });

  it("keeps retrying for a device that is absent at start", async () => {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    await pty.down();
    const imu: ImuSample[] = [];
    const source = new SerialSource(
      { path: pty.a, baudRate: 115200, reconnectMin: 0.05, reconnectMax: 0.1 },
      { imu: (s) => imu.push(s), odom: () => undefined },
    );
    cleanups.push(() => source.stop());
    source.start();
    await waitFor("failed open attempts", () => source.stats().openFailures >= 3);
    expect(source.stats().state).not.toBe("open");
    await pty.up();
    await waitFor("the port to open", () => source.stats().state === "open");
    await pty.write(`${imuLine(1)}\n`);
    await waitFor("a sample", () => imu.length === 1);
    expect(source.stats().reconnects).toBe(0);
  });
});
