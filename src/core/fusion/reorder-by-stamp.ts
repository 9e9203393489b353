// Re-emits items in stamp order with a bounded reorder window, driven by the stamps themselves:
// an item is released once an item `window` seconds newer has been seen (the watermark), so the
// output order is deterministic whatever the machine speed. An item older than the last released
// stamp is too late to place: it becomes a `late` Problem, or a `clockJump` one when it is so far
// behind that the stamps themselves went back (jumpBack). Problems pass straight through.
//
// A live stream that goes quiet would hold its last items forever; `idleFlush` (ms on `scheduler`)
// releases everything buffered after that much silence. Completion releases everything too.
//
// With `sourceOf`, the watermark also follows the sources themselves: once every source that keeps
// up (its newest stamp within `window` of the newest overall) has passed a stamp, nothing older is
// expected from them and it is released at once. On a robot whose streams arrive a few ms apart this
// keeps the added latency to those ms instead of the whole window; a source that falls silent stops
// holding the others after `window`. A source is trusted up to its newest stamp minus the largest
// disorder it has shown so far (messages of its own that crossed), so after the first crossing (which
// may be late) its crossings are placed.

import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from "rxjs";
import type { Problem, Stamp } from "../types.ts";
import { isProblem, problem } from "./events.ts";

export interface ReorderOptions<T> {
  /** Seconds of stamp time an item may arrive out of order. */
  window: number;
  stampOf: (x: T) => Stamp;
  /** Items that bypass ordering (e.g. static TF). */
  passThrough?: (x: T) => boolean;
  /** Release everything after this many ms without input (undefined: only on completion). */
  idleFlush?: number;
  scheduler?: SchedulerLike;
  /** Topic name for the Problems, when known. */
  topicOf?: (x: T) => string | undefined;
  /** Buffered items beyond this count are released early, oldest first (memory bound). */
  maxBuffered?: number;
  /** Order of items with equal stamps (lower first; arrival order among equal ranks). */
  rankOf?: (x: T) => number;
  /** Per-source watermark (see above): the stream an item belongs to. */
  sourceOf?: (x: T) => string;
  /** Each emission releases everything buffered (the end of a live run that goes on afterwards). */
  flush$?: Observable<unknown>;
}

/** How far (s) behind what was released a stamp must be to call it a clock jump rather than late. */
export function jumpBack(window: number): number {
  return Math.max(5, 10 * window);
}

export function reorderByStamp<T>(options: ReorderOptions<T>): OperatorFunction<T | Problem, T | Problem> {
  const {
    window,
    stampOf,
    passThrough,
    idleFlush,
    scheduler = asyncScheduler,
    topicOf,
    maxBuffered = 100_000,
    rankOf,
    sourceOf,
    flush$,
  } = options;
  return (source) =>
    new Observable<T | Problem>((subscriber) => {
      // Min-heap on (stamp, rank, arrival): equal stamps by rank, then in arrival order. Sifting
      // moves a hole instead of swapping (no temporaries on the per-message path).
      interface Entry {
        x: T;
        k: number;
        r: number;
        s: number;
      }
      const heap: Entry[] = [];
      let seq = 0;
      let released = Number.NEGATIVE_INFINITY;
      let maxSeen = Number.NEGATIVE_INFINITY;
      let firstSeen = Number.NaN;
      let jumped = false;
      let idle: Subscription | undefined;
      const lastOf = new Map<string, number>();
      const slackOf = new Map<string, number>();

      const less = (a: Entry, b: Entry) =>
        a.k < b.k || (a.k === b.k && (a.r < b.r || (a.r === b.r && a.s < b.s)));
      /** The stamp up to which every source keeping up has been seen (−∞ while sources may still appear). */
      const sourcesWatermark = (): number => {
        if (!(maxSeen - firstSeen >= window)) return Number.NEGATIVE_INFINITY;
        let min = Number.POSITIVE_INFINITY;
        for (const [src, last] of lastOf) {
          const trusted = last - (slackOf.get(src) ?? 0);
          if (last >= maxSeen - window && trusted < min) min = trusted;
        }
        return min;
      };
      const push = (x: T, k: number) => {
        const e: Entry = { x, k, r: rankOf ? rankOf(x) : 0, s: seq++ };
        let i = heap.length;
        heap.push(e);
        while (i > 0) {
          const p = (i - 1) >> 1;
          const parent = heap[p]!;
          if (!less(e, parent)) break;
          heap[i] = parent;
          i = p;
        }
        heap[i] = e;
      };
      const pop = (): T => {
        const top = heap[0]!;
        released = top.k;
        const last = heap.pop()!;
        const n = heap.length;
        if (n > 0) {
          let i = 0;
          for (;;) {
            const l = 2 * i + 1;
            if (l >= n) break;
            const r = l + 1;
            const c = r < n && less(heap[r]!, heap[l]!) ? r : l;
            if (!less(heap[c]!, last)) break;
            heap[i] = heap[c]!;
            i = c;
          }
          heap[i] = last;
        }
        return top.x;
      };
      const releaseUpTo = (limit: number) => {
        while (heap.length > 0 && (heap[0]!.k <= limit || heap.length > maxBuffered)) subscriber.next(pop());
      };
      const flushAll = () => releaseUpTo(Number.POSITIVE_INFINITY);
      const armIdle = () => {
        if (idleFlush === undefined) return;
        idle?.unsubscribe();
        idle = scheduler.schedule(() => flushAll(), idleFlush);
      };

      const flushing = flush$?.subscribe(() => flushAll());
      const sub = source.subscribe({
        next(x) {
          if (isProblem(x) || passThrough?.(x)) {
            subscriber.next(x);
            return;
          }
          const k = stampOf(x);
          if (!Number.isFinite(k)) {
            subscriber.next(problem("nan", `non-finite stamp ${k}`, topicOf?.(x)));
            return;
          }
          if (sourceOf) {
            const src = sourceOf(x);
            const last = lastOf.get(src);
            // Disorder within the window is transport jitter worth waiting for; beyond it, a fault.
            if (last !== undefined && k < last && k >= maxSeen - window)
              slackOf.set(src, Math.max(slackOf.get(src) ?? 0, last - k));
          }
          if (k < released) {
            const behind = released - k;
            // Far more than any transport delay: the stamps themselves went back (a bag joined from
            // two recordings, a simulation restarted under use_sim_time), a `clockJump`, not `late`.
            // Once the stamps went back, all that follows is behind until they pass `released`.
            jumped ||= behind > jumpBack(window);
            subscriber.next(
              jumped
                ? problem(
                    "clockJump",
                    `stamp ${k} is ${behind.toFixed(3)} s before ${released}, already released: the clock jumped back (a bag of two recordings, a restarted simulation); messages are dropped until their stamps pass ${released}`,
                    topicOf?.(x),
                    k,
                  )
                : problem(
                    "late",
                    `stamp ${k} arrived ${behind.toFixed(6)} s after ${released} was released (window ${window} s)`,
                    topicOf?.(x),
                    k,
                  ),
            );
            return;
          }
          jumped = false;
          push(x, k);
          if (k > maxSeen) maxSeen = k;
          if (sourceOf) {
            if (Number.isNaN(firstSeen)) firstSeen = k;
            const src = sourceOf(x);
            if (!((lastOf.get(src) ?? Number.NEGATIVE_INFINITY) >= k)) lastOf.set(src, k);
            releaseUpTo(Math.max(maxSeen - window, sourcesWatermark()));
          } else releaseUpTo(maxSeen - window);
          armIdle();
        },
        error(e) {
          idle?.unsubscribe();
          subscriber.error(e);
        },
        complete() {
          idle?.unsubscribe();
          flushAll();
          subscriber.complete();
        },
      });
      return () => {
        idle?.unsubscribe();
        flushing?.unsubscribe();
        sub.unsubscribe();
        heap.length = 0;
        lastOf.clear();
        slackOf.clear();
      };
    });
}
