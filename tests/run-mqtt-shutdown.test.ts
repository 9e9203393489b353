// `run --mqtt` stopped while the broker is down: the labels waiting in the offline queue get a
// bounded time (mqtt.close_timeout) for the broker to come back, and what is still queued then is
// said on stderr and counted in the exit stats, never lost in silence. A real broker (Mosquitto),
// killed and restarted, and a real pty pair (socat) as the serial device.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { describe, it } from "vitest";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { type RunningCli, spawnCli } from "./helpers/cli.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";
import { cleanupsFor } from "./helpers/test-cleanups.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = [socatMissing(), mosquittoMissing()].filter(Boolean).join("; ") || undefined;
if (missing) console.warn(`SKIPPING run MQTT shutdown tests: ${missing}`);

/** Driving at 1 m/s over rough ground, in real time: 200 Hz IMU, 50 Hz odometry, device µs clock. */
async function drive(pty: PtyPair, t0Us: number, seconds: number): Promise<number> {
  let s = 7;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  let t = t0Us;
  for (let chunk = 0; chunk < seconds * 20; chunk++) {
    const lines: string[] = [];
    for (let i = 0; i < 10; i++, t += 5000) {
      const imu = [0.5 * rand(), 0.5 * rand(), 9.81 + 3 * rand(), 0.2 * rand(), 0.2 * rand(), 0.02 * rand()];
      lines.push(nmeaSentence(`TLIMU,${t},${imu.map((v) => v.toFixed(4)).join(",")}`));
      if (i % 4 === 0) lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
    }
    await pty.write(`${lines.join("\n")}\n`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return t;
}

const stampsOf = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { stamp: number }).stamp);

// Each test has its own broker, pty and run: they run at once (mostly waiting on real-time driving),
// with the test's own `expect` and cleanups.
describe
  .skipIf(missing !== undefined)
  .concurrent("run --mqtt: labels queued at shutdown while the broker is down", () => {
    type Cleanups = ReturnType<typeof cleanupsFor>;

    /** run on a fresh pty against `broker`, with `closeTimeout`; resolves once it is connected. */
    async function startRun(cleanups: Cleanups, broker: Mosquitto, closeTimeout: number) {
      const dir = mkdtempSync(join(tmpdir(), "run-mqtt-shutdown-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const cfg = join(dir, "cfg.yaml");
      writeFileSync(cfg, `mqtt:\n  reconnect_period: 0.2\n  close_timeout: ${closeTimeout}\n`);
      const pty = await PtyPair.start();
      cleanups.push(() => pty.close());
      const c: RunningCli = spawnCli([
        "run",
        "--serial",
        pty.a,
        "--mqtt",
        broker.url,
        "--robot-id",
        "rover7",
        "--json",
        "-c",
        cfg,
      ]);
      cleanups.push(() => {
        if (c.child.exitCode === null) c.child.kill("SIGKILL");
      });
      await waitFor(
        () => `run to open the port and connect (${c.stderr()})`,
        () => c.stderr().includes(" open") && c.stderr().includes("mqtt: connected"),
        60_000,
      );
      return { c, pty };
    }

    /** Labels made after the broker went down (stdout has every label, MQTT or not). */
    async function labelsWhileDown(broker: Mosquitto, c: RunningCli, pty: PtyPair) {
      const t = await drive(pty, 5_000_000, 1);
      const before = c.stdout().trim().split("\n").filter(Boolean).length;
      await broker.stop("SIGKILL");
      await waitFor(
        () => `run to notice the broker is gone (${c.stderr()})`,
        () => /connection to .* lost/.test(c.stderr()),
        30_000,
      );
      // 4 labels a second at 1 m/s (0.25 m steps), each 0.75 s after its step: 2.5 s makes several.
      await drive(pty, t, 2.5);
      await waitFor(
        () => `labels while the broker is down (${c.stderr()})`,
        () => c.stdout().trim().split("\n").filter(Boolean).length >= before + 3,
        30_000,
      );
      return c.stdout().trim().split("\n").filter(Boolean);
    }

    it("says how many labels the broker never took, on stderr and in the exit stats", async ({
      expect,
      onTestFinished,
    }) => {
      const cleanups = cleanupsFor(onTestFinished);
      const broker = await Mosquitto.create();
      cleanups.push(() => broker.close());
      const { c, pty } = await startRun(cleanups, broker, 0.5);
      await labelsWhileDown(broker, c, pty);
      c.child.kill("SIGINT");
      expect(await c.exit, c.stderr()).toBe(0);

      const m =
        /broker unreachable at shutdown: (\d+) queued messages? \((\d+) labels?\) not delivered, dropped/.exec(
          c.stderr(),
        );
      expect(m, c.stderr()).not.toBeNull();
      const [queued, labels] = [Number(m![1]), Number(m![2])];
      expect(labels).toBeGreaterThanOrEqual(3);
      const exitStats = JSON.parse(c.stderr().trim().split("\n").at(-1)!);
      expect(exitStats.mqtt).toMatchObject({ connected: false, queued: 0, droppedAtClose: queued });
      expect(exitStats.mqtt.dropped).toBeGreaterThanOrEqual(queued);
    }, 120_000);

    it("delivers the queued labels when the broker comes back within mqtt.close_timeout", async ({
      expect,
      onTestFinished,
    }) => {
      const cleanups = cleanupsFor(onTestFinished);
      const broker = await Mosquitto.create({ persistent: true });
      cleanups.push(() => broker.close());
      // A dashboard with a persistent session: the broker keeps its subscription across the restart.
      const got: { topic: string; payload: string }[] = [];
      const obs: MqttClient = mqtt.connect(broker.url, {
        reconnectPeriod: 50,
        clientId: "dash",
        clean: false,
      });
      cleanups.push(() => obs.endAsync(true));
      obs.on("error", () => undefined);
      obs.on("message", (topic, p) => got.push({ topic, payload: p.toString() }));
      await new Promise<void>((resolve) => obs.once("connect", () => resolve()));
      await obs.subscribeAsync("terrain-learner/rover7/#", { qos: 1 });
      await waitFor(
        "the broker to save the subscription",
        () => existsSync(broker.dbPath) && readFileSync(broker.dbPath).includes("terrain-learner/rover7/#"),
      );

      const { c, pty } = await startRun(cleanups, broker, 30);
      await labelsWhileDown(broker, c, pty);
      c.child.kill("SIGINT");
      await waitFor(
        () => `run to wait for the broker (${c.stderr()})`,
        () => /broker unreachable at shutdown.*; waiting up to 30 s to deliver/.test(c.stderr()),
        30_000,
      );
      expect(c.child.exitCode).toBeNull();
      await broker.start();
      expect(await c.exit, c.stderr()).toBe(0);
      const stdoutLabels = c.stdout().trim().split("\n").filter(Boolean);
      await waitFor(
        () => `every label on the broker (${got.length} messages)`,
        () =>
          new Set(stampsOf(got.filter((g) => g.topic.endsWith("/labels")).map((g) => g.payload))).size ===
          stdoutLabels.length,
        30_000,
      );
      expect(new Set(stampsOf(got.filter((g) => g.topic.endsWith("/labels")).map((g) => g.payload)))).toEqual(
        new Set(stampsOf(stdoutLabels)),
      );
      expect(c.stderr()).not.toContain("not delivered");
      const exitStats = JSON.parse(c.stderr().trim().split("\n").at(-1)!);
      expect(exitStats.mqtt).toMatchObject({ queued: 0, dropped: 0, droppedAtClose: 0 });
      await waitFor("offline", () => got.some((g) => g.topic.endsWith("/status") && g.payload === "offline"));
    }, 120_000);

    it("a second signal during that wait stops at once and says what it leaves undelivered", async ({
      expect,
      onTestFinished,
    }) => {
      const cleanups = cleanupsFor(onTestFinished);
      const broker = await Mosquitto.create();
      cleanups.push(() => broker.close());
      const { c, pty } = await startRun(cleanups, broker, 30);
      await labelsWhileDown(broker, c, pty);
      c.child.kill("SIGINT");
      await waitFor(
        () => `run to wait for the broker (${c.stderr()})`,
        () => /broker unreachable at shutdown.*; waiting up to 30 s/.test(c.stderr()),
        30_000,
      );
      c.child.kill("SIGTERM");
      expect(await c.exit).toBeNull();
      expect(c.child.signalCode).toBe("SIGTERM");
      expect(c.stderr()).toMatch(/second SIGTERM: stopping now; \d+ queued MQTT messages not delivered/);
    }, 120_000);

    it("SIGHUP (the terminal or ssh session that started it closed) stops it as Ctrl-C does", async ({
      expect,
      onTestFinished,
    }) => {
      const cleanups = cleanupsFor(onTestFinished);
      const broker = await Mosquitto.create();
      cleanups.push(() => broker.close());
      const { c, pty } = await startRun(cleanups, broker, 5);
      await drive(pty, 5_000_000, 1);
      c.child.kill("SIGHUP");
      expect(await c.exit, c.stderr()).toBe(0);
      expect(c.stderr()).toContain("run: done:");
      const exitStats = JSON.parse(c.stderr().trim().split("\n").at(-1)!);
      expect(exitStats.serial.imu).toBeGreaterThan(0);
      expect(exitStats.mqtt).toMatchObject({ queued: 0, dropped: 0 });
    }, 120_000);
  });
