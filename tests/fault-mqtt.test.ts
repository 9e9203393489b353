// The MQTT broker dies (SIGKILL) in the middle of a replay with learning on, and comes back a few
// seconds later. The replay must finish every frame, the robot's client must reconnect on its own
// and publish again (seen by a dashboard subscribed to the broker), and nothing may pile up while
// the broker is away: the offline queue stays within mqtt.queue_limit, the overflow is counted as
// dropped. Drives the pipeline in-process through attachPipelineMqtt, the hook `replay --mqtt` uses,
// so the telemetry's own counters can be read at every step.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { attachPipelineMqtt } from "../src/adapters/controls.ts";
import { openBag } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/socat.ts";

const missing = mosquittoMissing();
if (missing) console.warn(`SKIPPING MQTT fault test: ${missing}`);

const dir = mkdtempSync(join(tmpdir(), "tl-fault-mqtt-"));
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const QUEUE_LIMIT = 5;

describe.skipIf(missing !== undefined)("MQTT broker killed and restarted during a replay", () => {
  it("the replay completes, the client reconnects and publishes again, the queue stays bounded", {
    timeout: 300_000,
  }, async () => {
    const bag = join(dir, "drive.mcap");
    await generateWorldBag({ out: bag, seed: 5, duration: 30, camera: { width: 160, height: 120, rate: 5 } });

    const broker = await Mosquitto.create();
    cleanups.push(() => broker.stop());
    // The dashboard: an ordinary client that reconnects and resubscribes by itself.
    const dash = mqtt.connect(broker.url, { reconnectPeriod: 200, clientId: "dashboard" });
    cleanups.push(() => new Promise<void>((r) => dash.end(true, {}, () => r())));
    const received: { topic: string; at: number }[] = [];
    dash.on("message", (topic) => received.push({ topic, at: Date.now() }));
    dash.on("connect", () => dash.subscribe("terrain-learner/#", { qos: 1 }));
    await waitFor("the dashboard to connect", () => dash.connected);

    const config = defaultConfig();
    config.mqtt.url = broker.url;
    config.mqtt.robot_id = "fault-bot";
    config.mqtt.publish_labels = true;
    config.mqtt.queue_limit = QUEUE_LIMIT;
    config.mqtt.reconnect_period = 0.2;
    config.mqtt.roughness_rate = 10;
    const log: string[] = [];
    const pipeline = await createPipeline(config, { mode: "replay", overlay: false, warn: () => {} });
    const mqttLink = attachPipelineMqtt(pipeline, config, (l) => log.push(l))!;
    expect(mqttLink).toBeDefined();
    const t = mqttLink.telemetry;
    await waitFor("the robot's client to connect", () => t.stats().connected);

    const source = await openBag(bag);
    let frames = 0;
    let killedAt = 0;
    let restartedAt = 0;
    let maxQueued = 0;
    let imagesInBag = 0;
    const sub = pipeline.events$.subscribe((e) => {
      if (e.type === "prediction") frames++;
    });
    // Paced at no more than 5× real time, so that however fast the machine, the broker is down for
    // ≥ 2.4 s of wall time while the replay publishes, and up again for the last 2 s of it.
    const RATE = 5;
    let t0 = Number.NaN;
    let wall0 = 0;
    for await (const e of source.messages()) {
      if (e.type === "message") {
        if (Number.isNaN(t0)) {
          t0 = e.logTime;
          wall0 = Date.now();
        }
        const ahead = wall0 + ((e.logTime - t0) * 1000) / RATE - Date.now();
        if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
        if (e.topic === config.topics.image) imagesInBag++;
      }
      await pipeline.push(e);
      const s = t.stats();
      maxQueued = Math.max(maxQueued, s.queued);
      const sensor = e.type === "message" ? e.logTime - t0 : 0;
      if (!killedAt && sensor >= 8) {
        await broker.stop("SIGKILL");
        killedAt = Date.now();
        await waitFor("the client to notice the broker is gone", () => !t.stats().connected, 15_000);
      } else if (killedAt && !restartedAt && sensor >= 20) {
        // The replay went on publishing into the offline queue meanwhile.
        expect(t.stats().dropped).toBeGreaterThan(0);
        await broker.start();
        restartedAt = Date.now();
      }
      // Give the network callbacks a turn now and then (the replay itself never waits on MQTT).
      if (frames % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    const summary = await pipeline.finish();
    sub.unsubscribe();
    await source.close();

    expect(restartedAt, "the broker was restarted during the replay").toBeGreaterThan(0);
    expect(summary.framesProcessed).toBe(imagesInBag);
    expect(summary.trainSteps).toBeGreaterThan(0);
    await waitFor(
      () => `the client to reconnect (${JSON.stringify(t.stats())}; ${log.join("; ")})`,
      () => t.stats().connected,
      30_000,
    );
    // Telemetry reaches the dashboard again after the restart.
    await waitFor(
      () => `messages after the restart (${received.length} in all; ${JSON.stringify(t.stats())})`,
      () => received.some((r) => r.at > restartedAt && r.topic.endsWith("/roughness")),
      30_000,
    );
    const s = t.stats();
    expect(s.reconnects).toBeGreaterThanOrEqual(1);
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_LIMIT);
    expect(s.dropped).toBeGreaterThan(0);
    expect(received.some((r) => r.at < killedAt && r.topic.endsWith("/roughness"))).toBe(true);
    expect(log.some((l) => l.includes("lost"))).toBe(true);
    await mqttLink.close();
    await pipeline.close();
  });
});
