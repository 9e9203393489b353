// The live ROS 2 node `terrain_learner` (what the launch files in launch/ start) once `ros` has
// validated its parameters (ros-command.ts): before ROS is touched, so a bad params file names the
// bad key even on a machine without ROS 2.

import { existsSync, readdirSync } from "node:fs";
import { attachPipelineMqtt } from "../adapters/controls.ts";
import { attachLiveView, tapInputs } from "../adapters/live-view/index.ts";
import type { fleetFromConfig } from "../adapters/mqtt-fleet.ts";
import { type Rclnodejs, type RosNodeHandle, startRosNode } from "../adapters/ros2.ts";
import { discardFolderTempsSync } from "../io/safe-output.ts";
import { type CheckpointSchedule, scheduleCheckpoints } from "../runtime/checkpoint-schedule.ts";
import type { Config } from "../runtime/config.ts";
import { createPipeline, type Pipeline } from "../runtime/pipeline.ts";
import { UserError } from "./errors.ts";
import { trapInterrupts } from "./interrupt.ts";
import { maybeStartLiveView } from "./live-view.ts";

export interface RosRunOptions {
  rcl: Rclnodejs;
  fleet?: ReturnType<typeof fleetFromConfig>;
  /** Aborted: stop the node, finish what was fed, save the last checkpoint. */
  signal: AbortSignal;
  /** The node's log (default: the node's logger once it exists, stderr before). */
  log?: { info(line: string): void; warn(line: string): void; error(line: string): void };
  /** Called once the node runs (tests deliver messages through it). */
  started?: (handle: RosNodeHandle, pipeline: Pipeline) => void;
  /** Filled in with what a stop cut short now would leave undone. */
  progress?: StopProgress;
}

/**
 * Runs the node until the first SIGINT/SIGTERM/SIGHUP (ros2 launch sends SIGINT, then SIGTERM after
 * its sigterm_timeout), which stops it orderly; a second signal ends the process at once, with one
 * line saying what that stop left undone at that moment.
 */
export async function runRosNodeUntilSignalled(
  config: Config,
  opts: Pick<RosRunOptions, "rcl" | "fleet" | "log" | "started">,
): Promise<void> {
  const progress: StopProgress = {};
  const dir = config.learner.checkpoint_dir;
  const interrupt = trapInterrupts(() => {
    // A save cut short leaves only its temp files (the manifest is renamed into place last): removed,
    // so the checkpoints before it are what the folder holds.
    if (dir) discardFolderTempsSync(dir);
    if (progress.unfinished) return progress.unfinished();
    return dir ? "no checkpoint saved at this stop" : undefined;
  });
  try {
    await runRosNode(config, { ...opts, signal: interrupt.signal, progress });
  } finally {
    interrupt.dispose();
  }
}

/** What the stop in progress has not done yet, in words (runRosNode keeps it current). */
export interface StopProgress {
  unfinished?: () => string | undefined;
}

/**
 * Runs the node until `signal` is aborted, then stops it, finishes what was fed, saves the last
 * checkpoint (learner.checkpoint_dir) and closes everything. Throws a UserError when that
 * checkpoint cannot be written.
 */
export async function runRosNode(config: Config, opts: RosRunOptions): Promise<void> {
  const { rcl, fleet } = opts;
  const dir = config.learner.checkpoint_dir;
  // Set as each part of the stop completes: a second signal says what was not done.
  let checkpointDone = false;
  let checkpointPath: string | undefined;
  let mqttDone = false;
  let fleetDone = false;
  let mqttQueued = () => 0;
  let checkpoints: CheckpointSchedule | undefined;
  if (opts.progress)
    opts.progress.unfinished = () => {
      const left: string[] = [];
      if (dir && !checkpointDone && checkpoints?.unsaved())
        left.push(`no checkpoint saved at this stop (${dir} keeps the ones saved before)`);
      else if (checkpointPath) left.push(`checkpoint saved: ${checkpointPath}`);
      const queued = mqttDone ? 0 : mqttQueued();
      if (queued)
        left.push(`${queued} MQTT message${queued === 1 ? "" : "s"} queued for the broker not delivered`);
      if (fleet && !fleetDone) left.push("the fleet's last samples not sent");
      return left.length ? left.join("; ") : undefined;
    };
  try {
    await rcl.init();
  } catch (err) {
    // rcl refuses its context for what the user set: --ros-args, a params file, the ROS environment.
    const why = ((err as Error).message ?? String(err)).split("\n")[0];
    throw new UserError(
      `ROS 2 did not start (rclnodejs init): ${why}; check the --ros-args and --params-file given, and the ROS environment (the sourced setup file, ROS_DOMAIN_ID, RMW_IMPLEMENTATION)`,
    );
  }
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
  }).catch(async (err: unknown) => {
    // The live view's socket and the ROS context would keep the process alive after the error.
    await liveView?.close();
    await fleet?.close();
    rcl.shutdown();
    throw err;
  });
  fleet?.attach(pipeline);
  // Its failures are said once on stderr, as in replay and run (they never stop the node).
  const live = liveView
    ? attachLiveView(liveView, pipeline, config, (l) => process.stderr.write(`${l}\n`))
    : undefined;
  let handle: RosNodeHandle;
  let mqtt: ReturnType<typeof attachPipelineMqtt>;
  let log: NonNullable<RosRunOptions["log"]>;
  try {
    handle = startRosNode(rcl, config, live ? tapInputs(pipeline, live.input) : pipeline);
    log = opts.log ?? handle.node.getLogger();
    if (dir) {
      if (await pipeline.learner.loadLatestCheckpoint(dir))
        log.info(
          `resumed from the newest checkpoint in ${dir} (${pipeline.learner.stats().trainSteps} train steps)`,
        );
      else {
        // Checkpoints of another model (backbone, head size) or damaged ones: saving this model next
        // to them would prune them (learner.checkpoint_keep), so refuse rather than delete a model.
        const held = existsSync(dir) ? readdirSync(dir).filter((n) => /^ckpt-\d+\.json$/.test(n)) : [];
        if (held.length)
          throw new UserError(
            `learner.checkpoint_dir ${dir}: none of its ${held.length} checkpoints can be used by this model (why: above); saving here would delete them: set learner.checkpoint_dir to another folder, or move them away to start afresh`,
          );
        log.info(`no checkpoint in ${dir}: starting from an empty model`);
      }
      checkpoints = scheduleCheckpoints(pipeline.learner, dir, config.learner.checkpoint_every, log);
    }
    // Fleet telemetry from the ROS node too, when mqtt.url is set.
    mqtt = attachPipelineMqtt(pipeline, config, (line) => log.info(line));
    const telemetry = mqtt?.telemetry;
    if (telemetry) mqttQueued = () => telemetry.stats().queued;
  } catch (err) {
    // The pipeline's worker threads would keep the process alive after the error.
    live?.close();
    await liveView?.close();
    await fleet?.close();
    await pipeline.close();
    rcl.shutdown();
    throw err;
  }
  opts.started?.(handle, pipeline);
  if (!opts.signal.aborted)
    await new Promise<void>((resolve) =>
      opts.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
  await handle.stop();
  await pipeline.finish();
  // After finish(): the last labels' samples are in the model that is saved.
  const saved = await checkpoints?.final();
  checkpointDone = !saved?.error;
  checkpointPath = saved?.path;
  if (saved?.path) log.info(`checkpoint saved: ${saved.path}`);
  else if (saved && !saved.error) log.info("nothing learned since the last checkpoint: none written");
  live?.close();
  await liveView?.close();
  await mqtt?.close();
  mqttDone = true;
  await fleet?.close();
  fleetDone = true;
  await pipeline.close();
  rcl.shutdown();
  if (saved?.error)
    throw new UserError(
      `the last checkpoint could not be written to ${config.learner.checkpoint_dir}: ${saved.error.message}`,
    );
}
