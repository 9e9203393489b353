// The runtime controls shared by every remote interface (MQTT `cmd`, ROS 2 std_srvs services):
// save a checkpoint, reset the model, pause and resume learning. One implementation, so the same
// command means the same thing whichever way it arrives.

import type { Config } from "../runtime/config.ts";
import type { Pipeline, PipelineLearner } from "../runtime/pipeline.ts";
import { attachMqtt, type MqttCommandHandlers, type MqttTelemetry } from "./mqtt.ts";

export interface RuntimeControls {
  save(): Promise<{ path: string }>;
  reset(): { reset: true };
  pause(): { learning: false };
  resume(): { learning: true };
  readonly learning: boolean;
}

/**
 * Controls over a running pipeline's learner. Pausing flips `config.learner.enabled` on the very
 * config object the pipeline was created with: the pipeline reads it for every sample batch and
 * training block, so no new samples are buffered and no steps run while paused (predictions go on).
 * A live learner trains in its worker without blocks: that loop is paused too.
 */
export function pipelineControls(
  pipeline: {
    readonly learner: Pick<PipelineLearner, "saveCheckpoint" | "pause" | "resume">;
    resetModel(): void;
  },
  config: Config,
  log: (line: string) => void = () => undefined,
): RuntimeControls {
  return {
    async save() {
      const dir = config.learner.checkpoint_dir;
      if (!dir) throw new Error("no checkpoint directory configured (set learner.checkpoint_dir)");
      const path = await pipeline.learner.saveCheckpoint(dir);
      log(`checkpoint saved: ${path}`);
      return { path };
    },
    reset() {
      // The costmap too: Nav2 would keep the forgotten model's costs for the ground out of view.
      pipeline.resetModel();
      log("model reset");
      return { reset: true };
    },
    pause() {
      config.learner.enabled = false;
      pipeline.learner.pause?.();
      log("learning paused");
      return { learning: false };
    },
    resume() {
      config.learner.enabled = true;
      pipeline.learner.resume?.();
      log("learning resumed");
      return { learning: true };
    },
    get learning() {
      return config.learner.enabled;
    },
  };
}

export function mqttHandlers(controls: RuntimeControls): MqttCommandHandlers {
  return {
    save_checkpoint: () => controls.save(),
    reset: () => controls.reset(),
    // As the SetBool service: data true (or absent, for the plain-text form) pauses, false resumes.
    pause_learning: ({ data }) => {
      if (data === undefined || data === true) return controls.pause();
      if (data === false) return controls.resume();
      throw new Error("pause_learning: 'data' must be true (pause) or false (resume)");
    },
  };
}

/**
 * MQTT telemetry for a running pipeline when `config.mqtt.url` is set (undefined otherwise): its
 * events go to the broker, broker commands drive the controls. The hook `replay --mqtt` uses.
 */
export function attachPipelineMqtt(
  pipeline: Pick<Pipeline, "events$" | "learner" | "resetModel">,
  config: Config,
  log: (line: string) => void,
): { telemetry: MqttTelemetry; close: () => Promise<void>; saved: readonly string[] } | undefined {
  if (!config.mqtt.url) return undefined;
  const controls = pipelineControls(pipeline, config, log);
  // The checkpoints save_checkpoint wrote, for the run's last word (an interrupted replay).
  const saved: string[] = [];
  const save = controls.save;
  controls.save = async () => {
    const r = await save();
    saved.push(r.path);
    return r;
  };
  return { ...attachMqtt(pipeline.events$, config.mqtt, mqttHandlers(controls), { log }), saved };
}
