// Checkpoints of a long-running learner (the ROS node): every `learner.checkpoint_every` seconds of
// wall time and once more at shutdown, so a restart resumes from what was learned, not from the
// last time someone called ~/save_checkpoint. A failed save (folder gone, read-only, disk full) is
// logged and retried at the next period: learning goes on.

import type { PipelineLearner } from "./learners.ts";

export interface CheckpointLog {
  info(line: string): void;
  error(line: string): void;
}

export interface CheckpointSchedule {
  /** Stops the timer, waits for a save in flight, then saves if anything was learned since. */
  final(): Promise<{ path?: string; error?: Error }>;
  /** Whether the learner trained since the last save or resume (what a save now would keep). */
  unsaved(): boolean;
}

/**
 * Saves `learner` into `dir` every `everySeconds` (wall clock) when it trained since the last save
 * or resume; `final()` does the same once more and stops.
 */
export function scheduleCheckpoints(
  learner: Pick<PipelineLearner, "saveCheckpoint" | "stats">,
  dir: string,
  everySeconds: number,
  log: CheckpointLog,
): CheckpointSchedule {
  // Steps at the last save or resume: an unchanged model is not written again (and does not push an
  // older checkpoint out of checkpoint_keep).
  let savedSteps = learner.stats().trainSteps;
  let inFlight: Promise<unknown> = Promise.resolve();
  let failing = "";
  const save = async (): Promise<{ path?: string; error?: Error }> => {
    const steps = learner.stats().trainSteps;
    if (steps === savedSteps) return {};
    try {
      const path = await learner.saveCheckpoint(dir);
      savedSteps = steps;
      if (failing) log.info(`checkpoint saved again: ${path}`);
      failing = "";
      return { path };
    } catch (err) {
      const e = err as Error;
      // Once per distinct failure: a full disk would otherwise log the same line every period.
      if (e.message !== failing)
        log.error(
          `checkpoint save to ${dir} failed: ${e.message} (learning goes on; retried every ${everySeconds} s)`,
        );
      failing = e.message;
      return { error: e };
    }
  };
  const run = () => {
    const next = inFlight.then(save);
    inFlight = next;
    return next;
  };
  const timer = setInterval(() => void run(), everySeconds * 1000);
  timer.unref();
  return {
    async final() {
      clearInterval(timer);
      return run();
    },
    unsaved: () => learner.stats().trainSteps !== savedSteps,
  };
}
