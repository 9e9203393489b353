import { describe, expect, it } from "vitest";
import { nmeaSentence, SerialLineParser } from "../src/adapters/serial-protocol.ts";

const imuLine = (tUs: number) => `${nmeaSentence(`TLIMU,${tUs},0.1,-0.2,9.81,0.01,0.02,-0.03`)}\n`;

describe("DeviceClock with a backlog delivered at once", () => {
  it("keeps the device's spacing through the backlog and converges to arrival time once live data flows", () => {
    const stamps: number[] = [];
    const parser = new SerialLineParser({ imu: (s) => stamps.push(s.stamp), odom: () => {} });
    const feed = (text: string, arrival: number) => parser.push(Buffer.from(text, "latin1"), arrival);
    // The device samples at 100 Hz; its time 0 is host time 97.01 (true offset). A bridge held 3 s
    // of lines (device 0 … 2.99 s) and hands them over at once at host time 100.
    const trueOffset = 97.01;
    let backlog = "";
    for (let i = 0; i < 300; i++) backlog += imuLine(i * 10_000);
    feed(backlog, 100);
    expect(stamps).toHaveLength(300);
    for (let i = 1; i < 300; i++) expect(stamps[i]! - stamps[i - 1]!).toBeCloseTo(0.01, 9);
    expect(parser.counters.clockResets).toBe(0);

    // Live: 10 s more, four lines per chunk, each chunk arriving 0–3 ms after its last line.
    const live: { device: number; arrival: number }[] = [];
    for (let k = 0; k < 250; k++) {
      let text = "";
      for (let j = 0; j < 4; j++) {
        const device = 3 + (4 * k + j) * 0.01;
        text += imuLine(Math.round(device * 1e6));
        live.push({ device, arrival: 0 });
      }
      const arrival = trueOffset + 3 + (4 * k + 3) * 0.01 + ((k * 7) % 4) * 0.001;
      for (let j = 0; j < 4; j++) live[4 * k + j]!.arrival = arrival;
      feed(text, arrival);
    }
    expect(stamps).toHaveLength(1300);
    // Distinct and increasing throughout; while the 3 s lead is worked off a step is at least half the
    // device's 10 ms, and never more than it.
    for (let i = 1; i < stamps.length; i++) {
      const step = stamps[i]! - stamps[i - 1]!;
      expect(step).toBeGreaterThanOrEqual(0.005 - 1e-9);
      expect(step).toBeLessThanOrEqual(0.01 + 1e-9);
    }
    expect(parser.counters.clockResets).toBe(0);
    // After ~6 s of live data (3 s lead at half rate) the stamps follow the device within the
    // latency of their chunk (≤ 3 ms here; 20 ms allowed) and are never ahead of the arrival of their chunk.
    for (let n = 700; n < live.length; n++) {
      const stamp = stamps[300 + n]!;
      const { device, arrival } = live[n]!;
      expect(Math.abs(stamp - (trueOffset + device))).toBeLessThanOrEqual(0.02);
      expect(stamp).toBeLessThanOrEqual(arrival + 1e-9);
    }
    expect(parser.clockState().offset).toBeCloseTo(trueOffset, 2);
  });

  it("re-anchors a reboot during the lead without going back, then works the lead off", () => {
    const stamps: number[] = [];
    const parser = new SerialLineParser({ imu: (s) => stamps.push(s.stamp), odom: () => {} });
    const feed = (text: string, arrival: number) => parser.push(Buffer.from(text, "latin1"), arrival);
    let backlog = "";
    for (let i = 0; i < 200; i++) backlog += imuLine(50_000_000 + i * 10_000);
    feed(backlog, 10);
    const lead = stamps.at(-1)!;
    expect(lead).toBeCloseTo(11.99, 9);
    // The device reboots: its clock restarts near zero, lines now arrive live.
    for (let i = 0; i < 600; i++) feed(imuLine(1000 + i * 10_000), 10.01 + i * 0.01);
    expect(parser.counters.clockResets).toBe(1);
    expect(stamps[200]).toBe(lead);
    for (let i = 201; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    expect(stamps.at(-1)!).toBeCloseTo(10.01 + 599 * 0.01, 6);
  });
});
