// `run --mqtt`: the `learner` topic carries the serial counters so a fleet can see a robot whose
// IMU link is down. Pipeline stats follow sensor time and stop when the samples stop; the topic
// must go on, with the serial state as it is, through a real unplug (socat pty pair) and a real
// broker (Mosquitto).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = [socatMissing(), mosquittoMissing()].filter(Boolean).join("; ") || undefined;
if (missing) console.warn(`SKIPPING run MQTT serial state test: ${missing}`);

describe.skipIf(missing !== undefined)("run --mqtt: serial state on the learner topic", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("keeps publishing the serial state while the device is unplugged, and shows it back when it returns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "run-mqtt-state-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cfg = join(dir, "cfg.yaml");
    writeFileSync(cfg, "mqtt:\n  learner_rate: 1\nserial:\n  reconnect_max: 0.5\n");
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const broker = await Mosquitto.create();
    cleanups.push(() => broker.close());
    const learner: { state: string; imu: number }[] = [];
    const obs = mqtt.connect(broker.url, { reconnectPeriod: 100 });
    cleanups.push(() => obs.endAsync(true));
    obs.on("error", () => undefined);
    obs.on("message", (_t, p) => {
      const m = JSON.parse(p.toString());
      learner.push({ state: m.serial.state, imu: m.serial.imu });
    });
    await new Promise<void>((resolve) => obs.once("connect", () => resolve()));
    await obs.subscribeAsync("terrain-learner/rover9/learner", { qos: 1 });

    const child: ChildProcess = spawn(
      process.execPath,
      [
        "bin/terrain-learner.js",
        "run",
        "--serial",
        pty.a,
        "--mqtt",
        broker.url,
        "--robot-id",
        "rover9",
        "-c",
        cfg,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    await waitFor(
      () => `run to open the port (${stderr})`,
      () => stderr.includes(" open"),
      60_000,
    );

    // 3 s of IMU and odometry in real time, then the cable comes out.
    let t = 1_000_000;
    const feed = async (seconds: number) => {
      for (let k = 0; k < seconds * 20; k++) {
        const lines: string[] = [];
        for (let i = 0; i < 10; i++) {
          t += 5000;
          lines.push(nmeaSentence(`TLIMU,${t},0.1,0.2,${(9.8 + Math.sin(t)).toFixed(4)},0.01,0.02,0`));
        }
        lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
        await pty.write(`${lines.join("\n")}\n`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await feed(3);
    await waitFor(
      () => `a learner message with the port open (${JSON.stringify(learner)})`,
      () => learner.some((m) => m.state === "open" && m.imu > 0),
      30_000,
    );
    await pty.down();
    await waitFor(
      () => `a learner message saying the device is gone (${JSON.stringify(learner)}; ${stderr})`,
      () => learner.some((m) => m.state === "waiting" || m.state === "lost"),
      30_000,
    );
    const gone = learner.length;
    await waitFor(
      () => `learner messages to go on while it is gone (${JSON.stringify(learner)})`,
      () => learner.length >= gone + 2,
      30_000,
    );
    expect(learner.slice(gone).every((m) => m.state !== "open")).toBe(true);

    await pty.up();
    await waitFor(
      () => `run to reopen the port (${stderr})`,
      () => /open[\s\S]*lost[\s\S]*open/.test(stderr),
      30_000,
    );
    const back = learner.length;
    await feed(1);
    await waitFor(
      () => `a learner message with the port open again (${JSON.stringify(learner)})`,
      () => learner.slice(back).some((m) => m.state === "open"),
      30_000,
    );
    child.kill("SIGINT");
    expect(await exit).toBe(0);
  }, 180_000);
});
