// The progress bar `replay` and `demo` show on stderr while a run reads its bag.

import cliProgress from "cli-progress";
import type { ReplayRunOptions } from "./replay.ts";

/** A cli-progress bar on stderr when it is a TTY; a no-op otherwise. */
export function progressReporter(label: string): {
  update: NonNullable<ReplayRunOptions["onProgress"]>;
  stop(): void;
} {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} s | frames {frames} labels {labels} steps {steps}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, s) {
      if (!started) {
        bar.start(Math.round(total), 0, { frames: 0, labels: 0, steps: 0 });
        started = true;
      }
      bar.update(Math.round(done), { frames: s.frames, labels: s.labels, steps: s.trainSteps });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
