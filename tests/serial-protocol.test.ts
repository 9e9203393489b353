import { describe, expect, it } from "vitest";
import {
  nmeaChecksum,
  nmeaSentence,
  SerialLineParser,
  type SerialParserOptions,
} from "../src/adapters/serial-protocol.ts";
import type { ImuSample, OdomSample } from "../src/core/types.ts";

function collect(options: Partial<SerialParserOptions> = {}) {
  const imu: ImuSample[] = [];
  const odom: OdomSample[] = [];
  const parser = new SerialLineParser({ imu: (s) => imu.push(s), odom: (s) => odom.push(s) }, options);
  const feed = (text: string, arrival = 1000) => parser.push(Buffer.from(text, "latin1"), arrival);
  return { imu, odom, parser, feed };
}

const imuLine = (tUs: number, az = 9.81) => nmeaSentence(`TLIMU,${tUs},0.1,-0.2,${az},0.01,0.02,-0.03`);
const odoLine = (tUs: number, v = 1, w = 0) => nmeaSentence(`TLODO,${tUs},${v},${w}`);

describe("NMEA checksum", () => {
  it("matches a hand-computed XOR", () => {
    // 'A' ^ 'B' = 0x41 ^ 0x42 = 0x03
    expect(nmeaChecksum("AB")).toBe(3);
    expect(nmeaSentence("AB")).toBe("$AB*03");
    // Standard NMEA example with a known checksum.
    expect(nmeaSentence("GPGLL,5300.97914,N,00259.98174,E,125926,A")).toBe(
      "$GPGLL,5300.97914,N,00259.98174,E,125926,A*28",
    );
  });
});

describe("SerialLineParser (nmea)", () => {
  it("parses IMU and odometry sentences with device time anchored at the first sample", () => {
    const { imu, odom, parser, feed } = collect();
    feed(`${imuLine(5_000_000)}\r\n${imuLine(5_005_000)}\n${odoLine(5_010_000, 2, 0.5)}\r\n`, 1000);
    expect(imu).toHaveLength(2);
    expect(imu[0]!.stamp).toBe(1000);
    expect(imu[1]!.stamp).toBeCloseTo(1000.005, 9);
    expect(imu[0]!.linearAcceleration).toEqual({ x: 0.1, y: -0.2, z: 9.81 });
    expect(imu[0]!.angularVelocity).toEqual({ x: 0.01, y: 0.02, z: -0.03 });
    expect(imu[0]!.frameId).toBe("imu_link");
    expect(odom).toHaveLength(1);
    expect(odom[0]!.linear.x).toBe(2);
    expect(odom[0]!.angular.z).toBe(0.5);
    expect(odom[0]!.frameId).toBe("odom");
    expect(odom[0]!.childFrameId).toBe("base_link");
    expect(parser.counters).toMatchObject({
      lines: 3,
      imu: 2,
      odom: 1,
      checksumErrors: 0,
      malformed: 0,
      garbageBytes: 0,
    });
  });

  it("prefers device time over arrival jitter", () => {
    const { imu, feed } = collect();
    feed(`${imuLine(0)}\n`, 500);
    feed(`${imuLine(10_000)}\n`, 500.3); // arrived 290 ms late
    feed(`${imuLine(20_000)}\n`, 500.3);
    expect(imu.map((s) => s.stamp - 500)).toEqual([0, expect.closeTo(0.01, 9), expect.closeTo(0.02, 9)]);
  });

  it("recovers every valid sentence among garbage, bad checksums and lost line ends, with exact counts", () => {
    const { imu, parser, feed } = collect();
    const good = Array.from({ length: 10 }, (_, i) => imuLine(i * 5000));
    const bad = imuLine(99).replace(/\*..$/, "*00");
    const text = [
      "\x00\xffnoise", // 7 garbage bytes before the first `$`
      `${good[0]}\n`,
      `${bad}\n`,
      `${good[1]}\n`,
      "$TLIMU,123,1,2", // cut short by the next `$`: malformed
      `${good[2]}\n`,
      `${good[3]}\n`,
      "$TLXYZ,1,2*" + nmeaChecksum("TLXYZ,1,2").toString(16).padStart(2, "0").toUpperCase() + "\n",
      "$TLIMU,1,2,3*" + nmeaChecksum("TLIMU,1,2,3").toString(16).padStart(2, "0") + "\n", // wrong field count
      `${nmeaSentence("TLIMU,7,nan,0,9.8,0,0,0")}\n`,
      `${nmeaSentence("TLIMU,8,1e999,0,9.8,0,0,0")}\n`,
      `${nmeaSentence("TLIMU,9,abc,0,9.8,0,0,0")}\n`,
      "$TLIMU,10,0,0,9.8,0,0,0\n", // no checksum
      `${good.slice(4).join("\r\n")}\r\n`,
    ].join("");
    feed(text);
    expect(imu).toHaveLength(10);
    expect(imu.map((s) => Math.round((s.stamp - 1000) * 1e6))).toEqual(good.map((_, i) => i * 5000));
    expect(parser.counters).toMatchObject({
      imu: 10,
      garbageBytes: 7,
      checksumErrors: 2,
      malformed: 3,
      unknownSentences: 1,
      nonFinite: 2,
      overlong: 0,
    });
  });

  it("reassembles sentences split across chunks at every byte", () => {
    const text = `${imuLine(1)}\r\n${odoLine(2)}\r\n${imuLine(3)}\r\n`;
    for (let cut = 1; cut < text.length; cut++) {
      const { imu, odom, parser, feed } = collect();
      feed(text.slice(0, cut));
      feed(text.slice(cut));
      expect([imu.length, odom.length, parser.counters.malformed, parser.counters.checksumErrors]).toEqual([
        2, 1, 0, 0,
      ]);
    }
  });

  it("drops over-long lines up to the next line end and counts them", () => {
    const { imu, parser, feed } = collect({ maxLineLength: 64 });
    const long = nmeaSentence(`TLIMU,1,${"1".repeat(80)},0,0,0,0,0`);
    feed(`${imuLine(1)}\n${long}\n${imuLine(2)}\n`);
    expect(imu).toHaveLength(2);
    expect(parser.counters.overlong).toBe(1);
    // A line of exactly the cap is accepted.
    const body = "TLODO,1,0.5,0.0";
    const exact = nmeaSentence(body + "0".repeat(64 - body.length - 4));
    expect(exact.length).toBe(64);
    const c = collect({ maxLineLength: 64 });
    c.feed(`${exact}\n${exact}0\n${exact}\n`);
    expect(c.odom).toHaveLength(2);
    expect(c.parser.counters.overlong).toBe(1);
    expect(c.parser.counters.checksumErrors).toBe(0);
  });

  it("unwraps a 32-bit µs counter and counts the wrap", () => {
    const { imu, parser, feed } = collect();
    const top = 2 ** 32;
    feed(`${imuLine(top - 10_000)}\n${imuLine(top - 5000)}\n`, 100);
    feed(`${imuLine(0)}\n${imuLine(5000)}\n`, 100.01);
    expect(imu.map((s) => Math.round((s.stamp - 100) * 1e6))).toEqual([0, 5000, 10_000, 15_000]);
    expect(parser.counters.clockWraps).toBe(1);
    expect(parser.counters.clockResets).toBe(0);
  });

  it("re-anchors after a device reboot without going back in time", () => {
    const { imu, parser, feed } = collect();
    feed(`${imuLine(600_000_000)}\n${imuLine(600_005_000)}\n`, 100);
    // Device rebooted: its clock restarts near zero.
    feed(`${imuLine(1000)}\n${imuLine(6000)}\n`, 102);
    expect(parser.counters.clockResets).toBe(1);
    expect(imu[2]!.stamp).toBe(102);
    expect(imu[3]!.stamp).toBeCloseTo(102.005, 9);
    // A clock that jumps far ahead of arrival is re-anchored too.
    feed(`${imuLine(60_000_000)}\n`, 102.02);
    expect(parser.counters.clockResets).toBe(2);
    expect(imu[4]!.stamp).toBe(102.02);
  });

  it("stamps a sentence without device time by arrival", () => {
    const { imu, parser, feed } = collect();
    feed(`${nmeaSentence("TLIMU,,0,0,9.8,0,0,0")}\n`, 42.5);
    expect(imu[0]!.stamp).toBe(42.5);
    expect(parser.counters.arrivalStamped).toBe(1);
  });

  it("integrates odometry (v, w) into a pose in odom", () => {
    const { odom, feed } = collect();
    // Quarter circle: v = 1 m/s, w = π/2 rad/s for 1 s in 10 ms steps → radius 2/π.
    let text = "";
    for (let i = 0; i <= 100; i++) text += `${odoLine(i * 10_000, 1, Math.PI / 2)}\n`;
    feed(text);
    const last = odom.at(-1)!;
    const r = 2 / Math.PI;
    expect(last.pose.position.x).toBeCloseTo(r, 4);
    expect(last.pose.position.y).toBeCloseTo(r, 4);
    const yaw = 2 * Math.atan2(last.pose.orientation.z, last.pose.orientation.w);
    expect(yaw).toBeCloseTo(Math.PI / 2, 9);
  });

  it("applies unit scales", () => {
    const { imu, feed } = collect({ accelScale: 9.80665, gyroScale: Math.PI / 180 });
    feed(`${nmeaSentence("TLIMU,1,0,0,1,0,0,180")}\n`);
    expect(imu[0]!.linearAcceleration.z).toBeCloseTo(9.80665, 12);
    expect(imu[0]!.angularVelocity.z).toBeCloseTo(Math.PI, 12);
  });
});

describe("SerialLineParser (csv)", () => {
  it("reads configured columns, skips a header and comments, counts bad rows", () => {
    const { imu, odom, parser, feed } = collect({
      mode: "csv",
      csvColumns: ["t_ms", "temp", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"],
    });
    feed(
      "t_ms,temp,ax,ay,az,gx,gy,gz,v,w\n# comment\n10,25.5,0,0,9.8,0,0,0.1,1.5,0.1\n20,25.5,0,0,9.7,0,0,0.1,1.5,0.1\n30,1,2\n40,x,0,0,9.8,0,0,0,1,0\n50,1,inf,0,9.8,0,0,0,1,0\n",
      7,
    );
    expect(imu.map((s) => s.linearAcceleration.z)).toEqual([9.8, 9.7, 9.8]);
    expect(imu[1]!.stamp).toBeCloseTo(7.01, 9);
    expect(odom).toHaveLength(3);
    expect(parser.counters).toMatchObject({ skipped: 2, malformed: 1, nonFinite: 1, imu: 3, odom: 3 });
  });

  it("rejects a column layout that names no record", () => {
    expect(() => collect({ mode: "csv", csvColumns: ["t_us", "ax"] })).toThrow(/name neither an IMU/);
  });
});
