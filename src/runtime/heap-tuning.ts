// V8's old-generation growth for a process that streams sensor data through typed arrays.
//
// A replay allocates a steady ~1 MB of ArrayBuffers per frame (decompressed bag chunks, message
// copies, per-frame output grids) against a live heap of ~65 MB that hardly changes. V8's heap
// controller sees a small, slowly growing heap and keeps its next limit at ~1.3× the live size, so
// incremental marking restarts almost as soon as the previous one finishes: 93 full mark-compacts
// in a 120 s replay at 320×240 (1 every ~19 frames), ~1.6 ms of CPU per frame between the main
// thread's marking steps and the helper threads' concurrent marking (bench/history.json). A growing
// factor of 2 leaves the same garbage for 12 collections, at the price of a heap limit twice the
// live size (tens of MB, still flat over a long run: `npm run bench` soak).
//
// V8 reads the flag at every collection, so setting it at start-up (before the pipeline allocates)
// is enough; it is process-wide and so covers the worker threads too.

import { setFlagsFromString } from "node:v8";

/** Default old-generation growing factor, as a percentage over the live size (100 = 2×). */
export const HEAP_GROWING_PERCENT = 100;

let applied: number | undefined;

/**
 * Sets V8's heap growing factor for this process: `TERRAIN_LEARNER_HEAP_GROWING_PERCENT` when set
 * (0 leaves V8's own heuristic), else HEAP_GROWING_PERCENT. Returns the percentage in force.
 */
export function tuneHeap(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TERRAIN_LEARNER_HEAP_GROWING_PERCENT;
  let percent = HEAP_GROWING_PERCENT;
  if (raw !== undefined && raw !== "") {
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 0 || v > 1000) {
      throw new Error(
        `TERRAIN_LEARNER_HEAP_GROWING_PERCENT=${raw}: expected an integer percentage 0..1000 (0 = V8's default)`,
      );
    }
    percent = v;
  }
  if (applied !== percent) {
    setFlagsFromString(`--heap-growing-percent=${percent}`);
    applied = percent;
  }
  return percent;
}
