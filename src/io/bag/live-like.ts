// A bag delivered the way a live robot's messages arrive, not the way a recorder sorted them: each
// message gets a transport delay drawn (from a seeded generator) for its stream, and the messages come
// out in arrival order with `logTime` set to their arrival time. The header stamps are untouched, so
// a pipeline that orders by stamp (fusion) can put them back; one that trusts arrival order cannot.
//
// Default transport, per the ROS 2 drivers of a typical ground robot:
//   camera image (+ its CameraInfo)  30–150 ms late (exposure, readout, compression, DDS)
//   IMU                              in bursts: every sample of a 10 ms window arrives at its end
//   odometry                         5–20 ms late; 2 % of messages 25 ms later still (they cross)
//   TF                               10–50 ms late
//   static TF, anything else         on time
// `extraDelay` makes chosen messages later still (tests inject messages later than the window).

import { seededRandom as random } from "../../core/random.ts";
import type { BagEvent, BagMessage } from "./types.ts";

export interface LiveLikeTopics {
  image: string;
  compressed_image: string;
  camera_info: string;
  imu: string;
  odom: string;
  tf: string;
}

export interface LiveLikeOptions {
  seed: number;
  topics: LiveLikeTopics;
  /** Seconds added to a message's delay (undefined or 0: none); called once per message, in log order. */
  extraDelay?: (e: BagMessage) => number | undefined;
}

/** Longest delay the default transport gives (s). */
export const LIVE_LIKE_MAX_DELAY = 0.15;

const IMU_BURST = 0.01;
const CROSSING_PROBABILITY = 0.02;
const CROSSING_EXTRA = 0.025;

export async function* liveLike(
  source: AsyncIterable<BagEvent>,
  o: LiveLikeOptions,
): AsyncGenerator<BagEvent> {
  const rand = random(o.seed);
  const t = o.topics;
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  // The camera's CameraInfo travels with its image: same stamp, same delay.
  const cameraDelay = new Map<number, number>();
  const delayOf = (e: BagMessage): number => {
    switch (e.topic) {
      case t.image:
      case t.compressed_image:
      case t.camera_info: {
        const stamp = headerStamp(e.message);
        let d = cameraDelay.get(stamp);
        if (d === undefined) {
          d = uniform(0.03, LIVE_LIKE_MAX_DELAY);
          cameraDelay.set(stamp, d);
          if (cameraDelay.size > 64) cameraDelay.delete(cameraDelay.keys().next().value!);
        }
        return d;
      }
      case t.imu:
        return Math.ceil(e.logTime / IMU_BURST - 1e-9) * IMU_BURST - e.logTime;
      case t.odom:
        return uniform(0.005, 0.02) + (rand() < CROSSING_PROBABILITY ? CROSSING_EXTRA : 0);
      case t.tf:
        return uniform(0.01, 0.05);
      default:
        return 0;
    }
  };
  // Pending messages by arrival time (binary heap on (arrival, seq)).
  const heap: { at: number; seq: number; event: BagEvent }[] = [];
  let seq = 0;
  const less = (a: (typeof heap)[0], b: (typeof heap)[0]) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const push = (item: (typeof heap)[0]) => {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top.event;
  };
  let now = Number.NEGATIVE_INFINITY;
  for await (const e of source) {
    if (e.type !== "message") {
      // Problems (decode failures) are reported where the reader met them.
      push({ at: now, seq: seq++, event: e });
      continue;
    }
    const at = e.logTime + delayOf(e) + (o.extraDelay?.(e) ?? 0);
    push({ at, seq: seq++, event: { ...e, logTime: at } });
    // The bag is in log-time order and delays are never negative: nothing read later arrives earlier.
    now = e.logTime;
    while (heap.length && heap[0]!.at <= now) yield pop();
  }
  while (heap.length) yield pop();
}

function headerStamp(message: unknown): number {
  const s = (message as { header?: { stamp?: { sec: number; nanosec?: number; nsec?: number } } }).header
    ?.stamp;
  return s ? s.sec + (s.nanosec ?? s.nsec ?? 0) * 1e-9 : Number.NaN;
}
