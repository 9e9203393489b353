// The held speed limit against Nav2's subscription QoS. Nav2's controller_server (and the velocity
// smoother) subscribe to speed_limit_topic with rclcpp::QoS(10): reliable, VOLATILE. A volatile
// subscriber gets nothing a transient-local publisher sent before it matched, so a hold sent once
// never reaches a controller that starts or restarts during the silence. The node runs on the
// FAKE rclnodejs (tests/helpers/fake-rclnodejs.ts); messages go through the real CDR writer.

import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { describe, expect, it } from "vitest";
import { startRosNode } from "../src/adapters/ros2.ts";
import { OutputMapper, publisherSpecs } from "../src/adapters/ros2-wiring.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";
import { FakeRclnodejs } from "./helpers/fake-rclnodejs.ts";

function roundTrip(type: string, msg: unknown): unknown {
  const defs = definitionsFor(type);
  return new MessageReader(defs).readMessage(new MessageWriter(defs).writeMessage(msg));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("~/speed_limit held at the minimum while no prediction comes", () => {
  it("is sent again every second, so a controller subscribing volatile after the hold began gets it", () => {
    const config = defaultConfig();
    let wall = 100;
    const specs = publisherSpecs(
      config,
      { node: "terrain_learner", namespace: "/" },
      { speedLimitFallback: false },
    );
    const mapper = new OutputMapper(specs, config, () => wall);
    wall += config.ros.speed_limit_timeout + 0.1;
    expect(mapper.staleSpeedLimit(5)).toHaveLength(1);
    // Within the second: nothing more (the 250 ms check does not flood the topic).
    wall += 0.5;
    expect(mapper.staleSpeedLimit(5.5)).toEqual([]);
    wall += 0.6;
    const again = mapper.staleSpeedLimit(6.1);
    expect(again).toHaveLength(1);
    const msg = roundTrip(again[0]!.type, again[0]!.message) as { percentage: boolean; speed_limit: number };
    expect(msg.percentage).toBe(true);
    expect(msg.speed_limit).toBeCloseTo((100 * config.outputs.min_speed) / config.outputs.max_speed, 9);
    expect(mapper.speedLimitStale).toBe(true);
  });

  it("on the node: repeated on the topic, logged once", async () => {
    const config = defaultConfig();
    const pipeline = await createPipeline(config, { mode: "live", warn: () => undefined });
    const rcl = new FakeRclnodejs();
    let wall = 0;
    const handle = startRosNode(rcl, config, pipeline, { log: () => undefined, wallSeconds: () => wall });
    const node = rcl.nodes[0]!;
    try {
      const topic = node.publisher("/terrain_learner/speed_limit");
      // No camera at all: after the timeout the hold starts; then 4 s more of silence.
      for (wall = 0; wall <= config.ros.speed_limit_timeout + 4; wall += 0.5) await sleep(300);
      expect(topic.messages.length).toBeGreaterThanOrEqual(3);
      for (const m of topic.messages)
        expect(roundTrip(topic.type, m)).toMatchObject({
          percentage: true,
          speed_limit: (100 * config.outputs.min_speed) / config.outputs.max_speed,
        });
      expect(node.logs.filter((l) => l.includes("held at outputs.min_speed"))).toHaveLength(1);
    } finally {
      await handle.stop();
      await pipeline.close();
    }
  }, 60_000);
});
