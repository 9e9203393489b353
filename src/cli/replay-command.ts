// `terrain-learner replay BAG`: the commander registration, its options, their checks and help text.

import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { applyMqttFlags } from "../adapters/mqtt-connection.ts";
import { type CameraCalibration, parseCameraCalibration } from "../io/ros/camera-info-yaml.ts";
import { discardFolderTempsSync, discardTempsSync } from "../io/safe-output.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { trapInterrupts } from "./interrupt.ts";
import {
  addLiveViewOptions,
  applyLiveViewFlags,
  type LiveViewFlags,
  maybeStartLiveView,
} from "./live-view.ts";
import { CONFIG_HELP, collect, FLEET_HELP, positiveNumber } from "./options.ts";
import type { ReplayResult } from "./replay-result.ts";
import { addTopicOptions, applyTopicFlags, type TopicFlags } from "./topics.ts";

export function register(program: Command): void {
  const cmd = program
    .command("replay")
    .description(
      "run the pipeline over a bag (MCAP, rosbag2 .db3/folder, ROS 1 .bag): learn, predict, optionally evaluate and record",
    )
    .argument("<bag>", "bag file, rosbag2 folder, or folder of split ROS 1 .bag parts")
    .option("-c, --config <file>", CONFIG_HELP, collect)
    .option("--eval", "score predictions against simulator ground truth (prequential) and write a report")
    .option(
      "--truth-labels",
      "with --eval, a diagnostic: label from the simulator's true roughness under the robot instead of the vibration (what the labels cost)",
    )
    .option(
      "--truth-cells <which>",
      "with --truth-labels, a diagnostic: every keyframe also teaches the true roughness of each scored cell, of every terrain type (all) or only of those driven so far (driven): a bound on what labels could teach",
    )
    .option("--json", "print one JSON object with the results instead of the human summary")
    .option(
      "--record <out.mcap>",
      "write the node's outputs (topics, types and QoS as the live node publishes them) and the input topics it read to an MCAP (an existing file is replaced once the recording is complete)",
    )
    .option("--record-outputs-only", "with --record: leave the input topics out")
    .option("--fast", "as fast as possible (default)")
    .option("--rate <x>", "pace the replay at x times real time", positiveNumber)
    .option(
      "--live-like <seed>",
      "deliver the bag in arrival order, as a robot's transport would (camera 30–150 ms late, IMU in 10 ms bursts, odometry and TF late); seeded",
    )
    .option("--report-dir <dir>", "with --eval: where report.json and the plots go (default out/<bag name>)")
    .option(
      "--save-checkpoint <dir>",
      "save the learner's checkpoint into this folder at the end or at Ctrl-C (for export)",
    )
    .option(
      "--checkpoint <dir>",
      "start from the newest checkpoint in this folder instead of an empty model (with learner.enabled: false: replay a trained model without learning)",
    )
    .option(
      "--mqtt <url>",
      "also publish roughness summaries and learner stats to this MQTT broker (mqtt://host:1883); labels too with mqtt.publish_labels",
    )
    .option("--robot-id <id>", "robot id in the MQTT topics (default: mqtt.robot_id)")
    .option("--fleet <url>", FLEET_HELP);
  addTopicOptions(cmd, ["image", "compressedImage", "cameraInfo", "imu", "odom"]);
  cmd.option(
    "--camera-info-file <calib.yaml>",
    "the camera's calibration file (camera_calibration / camera_info_manager YAML) for a bag without CameraInfo; wins over the bag's own",
  );
  addLiveViewOptions(cmd)
    .addHelpText(
      "after",
      `
Training runs a fixed number of steps per second of sensor time (learner.steps_per_second), so the
results are the same at any replay speed. With --eval, each frame is scored when it arrives, before
any label for that ground exists, against /sim/ground_truth/* (true pose, so odometry drift does not
count), next to a running-mean-label baseline.

The bag must have messages on a camera topic (raw or compressed), camera info, IMU and odometry,
and with --eval on /sim/ground_truth/roughness and /sim/ground_truth/pose; otherwise replay stops
before reading and lists the bag's topics; so does a camera topic whose first frames cannot be
used (a depth image, an encoding it cannot read). A run that uses no camera frame
(the backbone fails on them), with learning on learns from none (no TF from the camera to
frames.base, no labels), or with learning off has no --checkpoint to predict with, prints its
summary and outputs, then why, and exits 1. Outputs are
checked first: none may be, or be inside, an input. Ctrl-C finishes the recording with what was
written, saves --save-checkpoint with what was learned so far, and exits 130.

A bag without CameraInfo (a ROS 1 bag, a driver that does not publish it, a recording of the
image topic alone) replays with --camera-info-file: the YAML that ROS's camera_calibration writes
(ost.yaml) or camera_info_manager reads, for the frames' own size (another size is refused). Its
CameraInfo goes with every frame, as camera_info_manager would publish it; when the bag has
CameraInfo too, the file's is used and stderr says the bag's is left out.

A bag with both camera topics (/camera/image_raw and /camera/image_raw/compressed, as
\`ros2 bag record -a\` captures them) is read from one: the raw one, or the compressed one with
--compressed-image given alone or ros.image_transport: compressed; stderr names the one left out,
and --record leaves it out of the recording (which holds the inputs the outputs were made from).

Examples:
  terrain-learner replay .cache/default-world-seed1-jpeg95.mcap --eval
  terrain-learner replay run.mcap --record run-outputs.mcap
  terrain-learner replay sim.mcap --eval --json > result.json
  terrain-learner replay run.db3 --compressed-image /zed/left/compressed --imu /husky/imu --odom /husky/odom
  terrain-learner replay ros1.bag --camera-info-file ~/.ros/camera_info/front.yaml   # no camera_info recorded
  terrain-learner replay run.mcap --rate 1 --live-view     # watch it in Foxglove at ws://127.0.0.1:8765
  terrain-learner replay sim.mcap --eval --live-like 7   # as a robot delivers it: same results
  terrain-learner replay sim.mcap --eval --save-checkpoint ck/    # then, the trained model frozen:
  terrain-learner replay other.mcap --eval --checkpoint ck/ -c frozen.yaml  # (learner: {enabled: false})`,
    )
    .action(
      action(
        async (
          bag: string,
          o: {
            config?: string[];
            eval?: boolean;
            truthLabels?: boolean;
            truthCells?: "driven" | "all";
            json?: boolean;
            record?: string;
            recordOutputsOnly?: boolean;
            fast?: boolean;
            rate?: number;
            liveLike?: string;
            reportDir?: string;
            saveCheckpoint?: string;
            checkpoint?: string;
            mqtt?: string;
            robotId?: string;
            fleet?: string;
            cameraInfoFile?: string;
          } & TopicFlags &
            LiveViewFlags,
        ) => {
          if (o.fast && o.rate !== undefined) throw new UserError("--fast and --rate exclude each other");
          // An empty path is left to openBag, which names it as empty.
          if (bag.trim() !== "" && !existsSync(bag)) throw new UserError(`${bag}: no such file or directory`);
          if (o.checkpoint !== undefined && !existsSync(o.checkpoint))
            throw new UserError(`--checkpoint ${o.checkpoint}: no such folder`);
          if (o.truthLabels && !o.eval)
            throw new UserError("--truth-labels needs --eval (the truth is in the simulator bag)");
          if (o.truthCells !== undefined && o.truthCells !== "all" && o.truthCells !== "driven")
            throw new UserError(`--truth-cells must be all or driven, got '${o.truthCells}'`);
          if (o.truthCells && !o.truthLabels)
            throw new UserError(
              "--truth-cells needs --truth-labels (taught cells and labels must share one scale)",
            );
          if (o.recordOutputsOnly && !o.record) throw new UserError("--record-outputs-only needs --record");
          if (o.reportDir !== undefined && !o.eval)
            throw new UserError("--report-dir needs --eval (the report is the evaluation's)");
          const liveLikeSeed = o.liveLike === undefined ? undefined : Number(o.liveLike);
          if (liveLikeSeed !== undefined && !Number.isSafeInteger(liveLikeSeed))
            throw new UserError(`--live-like needs an integer seed, got '${o.liveLike}'`);
          let config: Config;
          try {
            config = loadConfig(o.config);
            applyMqttFlags(config, o);
            if (o.fleet !== undefined) config.fleet.url = o.fleet;
            applyTopicFlags(config, o);
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          applyLiveViewFlags(config, o);
          const cameraInfoFile =
            o.cameraInfoFile === undefined ? undefined : readCalibration(o.cameraInfoFile);
          const outputs = {
            bag,
            config,
            evaluate: o.eval ?? false,
            record: o.record,
            reportDir: o.reportDir,
            saveCheckpoint: o.saveCheckpoint,
            checkpoint: o.checkpoint,
            inputs: [...(o.config ?? []), ...(cameraInfoFile ? [cameraInfoFile.path] : [])],
          };
          // Loaded only now: the pipeline, tfjs and the bag readers take a second to load, which a
          // mistyped flag or config should not wait for.
          const { checkReplayOutputs, reportDirFor, runReplay } = await import("./replay.ts");
          const { progressReporter } = await import("./replay-progress.ts");
          const { formatSummary, jsonResult } = await import("./replay-result.ts");
          await checkReplayOutputs(outputs);
          const liveView = await maybeStartLiveView(config, (l) => process.stderr.write(`${l}\n`));
          const progress = progressReporter("replay");
          const interrupt = trapInterrupts(() => {
            // A second signal may land while the report or a checkpoint is being written.
            if (o.eval) discardFolderTempsSync(reportDirFor({ bag, reportDir: o.reportDir }));
            if (o.saveCheckpoint) discardFolderTempsSync(o.saveCheckpoint);
            if (!o.record) return undefined;
            discardTempsSync(o.record);
            return `${o.record} not written`;
          });
          let result: ReplayResult;
          try {
            result = await runReplay({
              ...outputs,
              truthLabels: o.truthLabels,
              truthCells: o.truthCells,
              recordOutputsOnly: o.recordOutputsOnly,
              rate: o.rate,
              liveLike: liveLikeSeed,
              cameraInfoFile,
              // A camera topic named alone is the one read from a bag that has both.
              camera:
                o.image !== undefined && o.compressedImage === undefined
                  ? "raw"
                  : o.compressedImage !== undefined && o.image === undefined
                    ? "compressed"
                    : undefined,
              liveView,
              onProgress: progress.update,
              signal: interrupt.signal,
            });
          } finally {
            progress.stop();
            interrupt.dispose();
            await liveView?.close();
          }
          process.stdout.write(o.json ? `${jsonResult(result)}\n` : formatSummary(result));
          // A run that used no frame or learned nothing says why and fails, after its summary.
          if (result.idle) throw new UserError(`${bag}: ${result.idle}`);
          if (result.warning) process.stderr.write(`warning: ${bag}: ${result.warning}\n`);
        },
      ),
    );
}

/** --camera-info-file, read and parsed before anything heavy loads: a bad file is one line at once. */
function readCalibration(path: string): { path: string; calibration: CameraCalibration } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "a folder, not a file" : e.message;
    throw new UserError(`--camera-info-file ${path}: ${why}`);
  }
  try {
    return { path, calibration: parseCameraCalibration(text, `--camera-info-file ${path}`) };
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}
