// `terrain-learner ros [--config FILE] [--ros-args ...]`: the live ROS 2 node `terrain_learner`
// (what the launch files in launch/ start). The parameters are validated before ROS is touched, so
// a bad params file names the bad key even on a machine without ROS 2.

import type { Command } from "commander";
import { attachPipelineMqtt } from "../adapters/controls.ts";
import { attachLiveView, tapInputs } from "../adapters/live-view/index.ts";
import { fleetFromConfig } from "../adapters/mqtt-fleet.ts";
import { loadRclnodejs, startRosNode } from "../adapters/ros2.ts";
import { configFromRosArgs, parseRosArgs } from "../adapters/ros2-params.ts";
import { checkOutputs } from "../io/safe-output.ts";
import { type Config, ConfigError } from "../runtime/config.ts";
import { createPipeline } from "../runtime/pipeline.ts";
import { action, UserError } from "./errors.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP } from "./options.ts";

export function register(program: Command): void {
  const cmd = program
    .command("ros")
    .description("run the live ROS 2 node terrain_learner (needs a sourced ROS 2 and rclnodejs)")
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--fleet <url>", FLEET_HELP)
    .allowUnknownOption(true)
    .allowExcessArguments(true);
  addLiveViewOptions(cmd)
    .addHelpText(
      "after",
      `
ROS arguments after --ros-args, read in order as rcl reads them: --params-file FILE, -p name:=value
(dotted names, e.g. -p mqtt.url:=mqtt://broker:1883), -r from:=to (remapping: outputs, node name
__node, namespace __ns; a node: prefix limits -r and -p to that node), --log-level LEVEL. Input
topics are the topics.* parameters.

Subscribes: topics.image or topics.compressed_image (ros.image_transport), topics.camera_info,
topics.imu, topics.odom (sensor-data QoS: best effort), topics.tf (reliable) and topics.tf_static
(reliable, transient local).
Publishes: ~/roughness/{image,camera_info,confidence,overlay} (reliable; ros.output_image_reliability),
~/roughness/costmap and ~/speed_limit (% of outputs.max_speed; reliable, transient local, depth 1),
~/roughness/ahead, ~/labels, /diagnostics.
Services: ~/save_checkpoint, ~/reset (std_srvs/Trigger), ~/pause_learning (std_srvs/SetBool).

Examples:
  ros2 launch terrain_learner terrain_learner.launch.xml imu_topic:=/imu
  ros2 run terrain_learner terrain_learner --ros-args --params-file params.yaml -p topics.odom:=/wheel/odom
  terrain-learner ros --live-view --ros-args --params-file launch/params.yaml   # + Foxglove on ws://127.0.0.1:8765`,
    )
    .action(
      action(async (o: { config?: string[]; fleet?: string } & LiveViewFlags) => {
        // Commander does not know the ROS arguments: read them from the raw command line.
        const argv = process.argv;
        const rosArgs = parseRosArgsSafe(argv.slice(argv.indexOf("ros") + 1));
        let config: Config;
        try {
          config = configFromRosArgs(rosArgs, { configFiles: o.config });
        } catch (err) {
          if (err instanceof ConfigError) throw new UserError(err.message);
          throw err;
        }
        if (o.fleet !== undefined) config.fleet.url = o.fleet;
        let fleet: ReturnType<typeof fleetFromConfig>;
        try {
          fleet = fleetFromConfig(config, (line) => process.stderr.write(`${line}\n`));
        } catch (err) {
          throw new UserError((err as Error).message);
        }
        if (config.learner.checkpoint_dir) {
          // Checked before the node starts, not when the first save is asked for.
          await checkOutputs(
            [{ path: config.learner.checkpoint_dir, kind: "dir", what: "learner.checkpoint_dir" }],
            o.config ?? [],
          ).catch((err: Error) => {
            throw new UserError(err.message);
          });
        }
        applyLiveViewFlags(config, o);
        const rcl = await loadRclnodejs();
        await rcl.init();
        const liveView = await maybeStartLiveView(config, (l) => process.stderr.write(`${l}\n`)).catch(
          (err: unknown) => {
            rcl.shutdown();
            throw err;
          },
        );
        const pipeline = await createPipeline(config, {
          mode: "live",
          overlay: config.ros.publish_overlay || liveView !== undefined,
          costmap: true,
          sampleSources: fleet ? [fleet] : [],
          // E.g. which ground plane the camera is projected onto, once known (docs/robot.md).
          note: (m) => process.stderr.write(`${m}\n`),
        });
        fleet?.attach(pipeline);
        const live = liveView ? attachLiveView(liveView, pipeline, config) : undefined;
        let handle: ReturnType<typeof startRosNode>;
        let mqtt: ReturnType<typeof attachPipelineMqtt>;
        try {
          if (config.learner.checkpoint_dir)
            await pipeline.learner.loadLatestCheckpoint(config.learner.checkpoint_dir);
          handle = startRosNode(rcl, config, live ? tapInputs(pipeline, live.input) : pipeline);
          // Fleet telemetry from the ROS node too, when mqtt.url is set.
          mqtt = attachPipelineMqtt(pipeline, config, (line) => handle.node.getLogger().info(line));
        } catch (err) {
          // The pipeline's worker threads would keep the process alive after the error.
          live?.close();
          await liveView?.close();
          await fleet?.close();
          await pipeline.close();
          rcl.shutdown();
          throw err;
        }
        await new Promise<void>((resolve) => {
          process.once("SIGINT", () => resolve());
          process.once("SIGTERM", () => resolve());
        });
        await handle.stop();
        await pipeline.finish();
        live?.close();
        await liveView?.close();
        await mqtt?.close();
        await fleet?.close();
        await pipeline.close();
        rcl.shutdown();
      }),
    );
}

function parseRosArgsSafe(args: string[]) {
  try {
    return parseRosArgs(args);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}
