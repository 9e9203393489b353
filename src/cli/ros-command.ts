// `terrain-learner ros`: its options, the ROS arguments and their checks. The node, the pipeline and
// rclnodejs load once the parameters have been validated, so a bad params file is named at once.

import type { Command } from "commander";
import { configFromRosArgs, parseRosArgs } from "../adapters/ros2-params.ts";
import { checkOutputs } from "../io/safe-output.ts";
import { type Config, ConfigError } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { addLiveViewOptions, applyLiveViewFlags, type LiveViewFlags } from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP } from "./options.ts";

export function register(program: Command): void {
  const cmd = program
    .command("ros")
    .description("run the live ROS 2 node terrain_learner (needs a sourced ROS 2 and rclnodejs)")
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--fleet <url>", FLEET_HELP)
    .option("--robot-id <id>", "robot id in the MQTT and fleet topics (default: mqtt.robot_id)")
    // The ROS arguments after --ros-args are unknown to commander; the action refuses unknown
    // options before --ros-args itself (a misspelt flag would otherwise be ignored).
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
With learner.checkpoint_dir the model resumes from its newest checkpoint at start and is saved every
learner.checkpoint_every s and at SIGINT/SIGTERM (exit 0; 1 when that last save fails).

Examples:
  ros2 launch terrain_learner terrain_learner.launch.xml imu_topic:=/imu
  ros2 run terrain_learner terrain_learner --ros-args --params-file params.yaml -p topics.odom:=/wheel/odom
  terrain-learner ros --live-view --ros-args --params-file launch/params.yaml   # + Foxglove on ws://127.0.0.1:8765`,
    )
    .action(
      action(async (o: RosFlags) => {
        // Commander does not know the ROS arguments: read them from the raw command line.
        const argv = process.argv;
        const config = rosConfig(argv.slice(argv.indexOf("ros") + 1), o, cmd);
        const { fleetFromConfig } = await import("../adapters/mqtt-fleet.ts");
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
        const { loadRclnodejs } = await import("../adapters/ros2.ts");
        const { runRosNodeUntilSignalled } = await import("./ros.ts");
        const rcl = await loadRclnodejs();
        await runRosNodeUntilSignalled(config, { rcl, fleet });
      }),
    );
}

export type RosFlags = { config?: string[]; fleet?: string; robotId?: string } & LiveViewFlags;

/**
 * The node's config from the arguments after `ros`: options before `--ros-args` (an unknown one is
 * refused: commander lets them through for the ROS arguments), then the ROS arguments.
 */
export function rosConfig(args: readonly string[], o: RosFlags, cmd: Command): Config {
  const end = args.indexOf("--ros-args");
  const own = end < 0 ? args : args.slice(0, end);
  for (let i = 0; i < own.length; i++) {
    const a = own[i]!;
    if (!a.startsWith("-") || a === "-") continue;
    const option = cmd.options.find((x) => x.long === a.split("=")[0] || x.short === a);
    if (!option)
      throw new UserError(
        `ros: unknown option '${a}' (ROS arguments such as --params-file and -p go after --ros-args)`,
      );
    if (option.required && !a.includes("=")) i++; // its value
  }
  const rosArgs = parseRosArgsSafe(args as string[]);
  let config: Config;
  try {
    config = configFromRosArgs(rosArgs, { configFiles: o.config });
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.message);
    throw err;
  }
  if (o.fleet !== undefined) config.fleet.url = o.fleet;
  if (o.robotId !== undefined) config.mqtt.robot_id = o.robotId;
  return config;
}

function parseRosArgsSafe(args: string[]) {
  try {
    return parseRosArgs(args);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}
