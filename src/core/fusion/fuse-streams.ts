// One operator for a merged stream of several sensors: re-order by stamp within a bounded window,
// then check each stream's stamps in that order. Ordering comes first so that messages that merely
// crossed in transport (odometry arriving 5 ms out of order) are placed, not dropped; what is still
// out of order afterwards is a real fault. Every dropped message is a Problem value in the stream:
// `late` (older than what was already released), `nan` (stamp or content not finite), `duplicate`
// (a stream repeating its previous stamp).

import type { Observable, OperatorFunction, SchedulerLike } from "rxjs";
import type { Problem, Stamp } from "../types.ts";
import { reorderByStamp } from "./reorder-by-stamp.ts";
import { validateStamps } from "./validate-stamps.ts";

export interface FuseOptions<T> {
  /** Seconds of stamp time a message may arrive out of order and still be placed. */
  window: number;
  stampOf: (x: T) => Stamp;
  /** The stream (topic) an item belongs to. */
  streamOf: (x: T) => string;
  /** Items that bypass ordering (static TF; live camera frames). They are still stamp-checked. */
  passThrough?: (x: T) => boolean;
  /** Order among equal stamps (lower first), so that arrival order does not decide it. */
  rankOf?: (x: T) => number;
  /** Content check per item (NaN in payload fields); a throw counts as invalid. */
  isValid?: (x: T) => boolean;
  /** Streams whose stamp may repeat (several TF messages in one tick). */
  allowEqual?: (x: T) => boolean;
  /**
   * "window": release what is `window` older than the newest stamp (deterministic for a given
   * arrival order; replay). "sources": also release what every stream keeping up has passed (live:
   * the latency is the slowest stream's, not the window).
   */
  watermark?: "window" | "sources";
  /** Release everything after this many ms without input (live). */
  idleFlush?: number;
  scheduler?: SchedulerLike;
  /** Bound on buffered items (released early, oldest first). */
  maxBuffered?: number;
  /** Each emission releases everything buffered. */
  flush$?: Observable<unknown>;
  /** Each item as it is buffered for ordering, before anything older is released. */
  onPlaced?: (x: T) => void;
}

export function fuseStreams<T>(o: FuseOptions<T>): OperatorFunction<T | Problem, T | Problem> {
  return (source) =>
    source.pipe(
      reorderByStamp<T>({
        window: o.window,
        stampOf: o.stampOf,
        topicOf: o.streamOf,
        ...(o.passThrough ? { passThrough: o.passThrough } : {}),
        ...(o.rankOf ? { rankOf: o.rankOf } : {}),
        ...(o.watermark === "sources" ? { sourceOf: o.streamOf } : {}),
        ...(o.idleFlush !== undefined ? { idleFlush: o.idleFlush } : {}),
        ...(o.scheduler ? { scheduler: o.scheduler } : {}),
        ...(o.maxBuffered !== undefined ? { maxBuffered: o.maxBuffered } : {}),
        ...(o.flush$ ? { flush$: o.flush$ } : {}),
        ...(o.onPlaced ? { onPlaced: o.onPlaced } : {}),
      }),
      validateStamps<T>({
        topic: "",
        topicOf: o.streamOf,
        streamOf: o.streamOf,
        stampOf: o.stampOf,
        ...(o.isValid ? { isValid: o.isValid } : {}),
        ...(o.allowEqual ? { allowEqual: o.allowEqual } : {}),
      }),
    );
}
