// `pause_learning` (the MQTT command, the ROS ~/pause_learning service) on a live pipeline, the
// ROS node's: the learner trains in its worker on its own budget, so pausing must stop that
// worker, not only the rows going into its buffer. Driven through a real Mosquitto.

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
import { waitFor } from "./helpers/wait.ts";

const missing = mosquittoMissing();
const dir = mkdtempSync(join(tmpdir(), "tl-controls-pause-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(missing !== undefined)("pause_learning on a live pipeline", () => {
  it("stops the worker's training until resumed", { timeout: 300_000 }, async () => {
    const bag = join(dir, "drive.mcap");
    await generateWorldBag({ out: bag, seed: 1, duration: 20, camera: { width: 160, height: 120 } });
    const broker = await Mosquitto.create();
    const config = defaultConfig();
    config.mqtt.url = broker.url;
    config.mqtt.robot_id = "rover7";
    const pipeline = await createPipeline(config, { mode: "live", warn: () => {} });
    const mq = attachPipelineMqtt(pipeline, config, () => {})!;
    const obs = await mqtt.connectAsync(broker.url);
    const responses: { id: string; ok: boolean }[] = [];
    obs.on("message", (_t, p) => responses.push(JSON.parse(p.toString())));
    await obs.subscribeAsync("terrain-learner/rover7/cmd/response", { qos: 1 });
    const send = async (body: object) => {
      const n = responses.length;
      await obs.publishAsync("terrain-learner/rover7/cmd", JSON.stringify(body), { qos: 1 });
      await waitFor("the response", () => responses.length > n);
      expect(responses.at(-1)).toMatchObject({ ok: true });
    };
    const source = await openBag(bag);
    try {
      await mq.telemetry.waitConnected();
      for await (const e of source.messages()) await pipeline.push(e);
      await pipeline.idle();
      const steps = () => pipeline.learner.stats().trainSteps;
      await waitFor("training", () => steps() > 0, 60_000);
      await send({ command: "pause_learning", id: "p" });
      // The worker's stats come with its weights, every learner.publish_every (2 s): the first
      // that says paused counts the steps up to the pause.
      await waitFor(
        "the worker paused",
        () => (pipeline.learner.stats() as { paused?: boolean }).paused === true,
      );
      const paused = steps();
      await sleep(2.5 * config.learner.publish_every * 1000);
      expect(steps(), "train steps while paused").toBe(paused);
      await send({ command: "pause_learning", id: "r", data: false });
      await waitFor("training again", () => steps() > paused, 30_000);
    } finally {
      await obs.endAsync();
      await mq.close();
      await source.close();
      await pipeline.close();
      await broker.close();
    }
  });
});
