// A device that stays open but stops sending (the microcontroller behind a USB-serial adapter lost
// power or hung; the far end of a pty or bridge went away) turns `silent` after SILENT_S and back
// to `open` when bytes come again, so the log and the fleet's `learner` message say so instead of
// showing it `open` for good. Real pty pair (socat).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialSource, type SerialState, SILENT_S } from "../src/adapters/serial.ts";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { PtyPair, socatMissing, waitFor } from "./helpers/socat.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial silence test: ${missing}`);

describe.skipIf(missing !== undefined)("an open device that stops sending", () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await PtyPair.start();
  });
  afterAll(async () => {
    await pty?.close();
  });

  it("turns silent, says so once, and is open again when bytes come back", async () => {
    const states: Array<[SerialState, string]> = [];
    let imu = 0;
    const source = new SerialSource(
      {
        path: pty.a,
        baudRate: 115200,
        reconnectMin: 0.05,
        reconnectMax: 0.2,
        onState: (s, d) => states.push([s, d]),
      },
      {
        imu: () => {
          imu++;
        },
        odom: () => undefined,
      },
    );
    let t = 1000;
    const burst = () => {
      let text = "";
      for (let i = 0; i < 20; i++) {
        t += 5000;
        text += `${nmeaSentence(`TLIMU,${t},0,0,9.81,0,0,0`)}\r\n`;
      }
      return pty.write(text);
    };
    source.start();
    try {
      await waitFor("the device to open", () => source.stats().state === "open", 10_000);
      await burst();
      await waitFor("20 samples", () => imu >= 20, 10_000);
      const sentAt = Date.now();
      await waitFor("the silent state", () => source.stats().state === "silent", (SILENT_S + 5) * 1000);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual((SILENT_S - 0.5) * 1000);
      const silent = states.filter(([s]) => s === "silent");
      expect(silent).toHaveLength(1);
      expect(silent[0]![1]).toMatch(/^nothing received for \d+ s \(is the device powered/);
      // Still silent a while later: said once.
      await new Promise((r) => setTimeout(r, 2000));
      expect(states.filter(([s]) => s === "silent")).toHaveLength(1);
      await burst();
      await waitFor("40 samples", () => imu >= 40, 10_000);
      expect(source.stats().state).toBe("open");
      expect(states.at(-1)).toEqual([
        "open",
        expect.stringMatching(/^receiving again after \d+ s of silence$/),
      ]);
      // Never lost: the same open port all along.
      expect(source.stats().reconnects).toBe(0);
    } finally {
      await source.stop();
    }
  }, 60_000);
});
