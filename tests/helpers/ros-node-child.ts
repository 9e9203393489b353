// The `terrain-learner ros` process on the FAKE rclnodejs (tests/helpers/fake-rclnodejs.ts), for tests
// that send it real signals: runs runRosNodeUntilSignalled (what the command runs once rclnodejs is
// loaded) with the config given as JSON, delivers a bag's messages in log-time order, prints "trained"
// on stdout once the model has trained, then keeps running until signalled. The node's log goes to
// stderr. Usage: node --import tsx ros-node-child.ts <bag | -> <config.json> (-: no messages, "ready"
// once the node runs).
import { readFileSync } from "node:fs";
import { loadRclnodejs } from "../../src/adapters/ros2.ts";
import { action } from "../../src/cli/errors.ts";
import { runRosNodeUntilSignalled } from "../../src/cli/ros.ts";
import { openBag } from "../../src/io/bag/index.ts";
import { type Config, defaultConfig } from "../../src/runtime/config.ts";
import { FakeRclnodejs } from "./fake-rclnodejs.ts";

const [bagPath, configPath] = process.argv.slice(2);
const config = defaultConfig();
const given = JSON.parse(readFileSync(configPath!, "utf8")) as Partial<Record<keyof Config, object>>;
for (const [k, v] of Object.entries(given)) Object.assign(config[k as keyof Config] as object, v);
config.use_sim_time = true;

const rcl = new FakeRclnodejs({ sigintHandler: true });
const line = (level: string) => (m: string) => process.stderr.write(`${level} ${m}\n`);
await action(async () => {
  await runRosNodeUntilSignalled(config, {
    rcl: await loadRclnodejs(async () => ({ default: rcl })),
    log: { info: line("INFO"), warn: line("WARN"), error: line("ERROR") },
    started: (handle, pipeline) =>
      void (async () => {
        const node = rcl.nodes[0]!;
        if (bagPath === "-") {
          process.stdout.write("ready\n");
          return;
        }
        const bag = await openBag(bagPath!);
        try {
          for await (const e of bag.messages({})) {
            if (e.type !== "message") continue;
            node.clock = e.logTime;
            node.deliver(e.topic, e.message);
            if (e.schemaName === "sensor_msgs/msg/Image") await handle.drain();
          }
        } finally {
          await bag.close();
        }
        while (pipeline.learner.stats().trainSteps === 0) await new Promise((r) => setTimeout(r, 20));
        process.stdout.write("trained\n");
      })(),
  });
})();
