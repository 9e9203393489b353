// Re-emits items in stamp order with a bounded reorder window, driven by the stamps themselves:
// an item is released once an item `window` seconds newer has been seen (the watermark), so the
// output order is deterministic whatever the machine speed. An item older than the last released
// stamp is too late to place: it becomes a `late` Problem. Items so far behind (jumpBack) that the
// stamps themselves went back (a bag of two recordings, a simulation reset) start a new timeline:
// once that is confirmed (see `jumpConfirmed`), what is buffered is released, one `clockJump`
// Problem marks the seam (consumers reset what they keep by stamp) and ordering starts afresh with
// the items of the new timeline. Problems pass straight through.
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
  /** Called with each item as it is buffered, before anything older is released (a look ahead). */
  onPlaced?: (x: T) => void;
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
    onPlaced,
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
      // Far-behind items waiting for the jump back to be confirmed (a new timeline, not stragglers).
      let behind: { x: T; k: number }[] = [];
      let behindSince = Number.NaN;
      // After a jump: the timeline before it ended at `jumpFrom`; items from it that were still in
      // flight (stamped well above the new timeline, up to `jumpFrom`) are late, not a jump forward.
      let jumpFrom = Number.NaN;
      let staleFirst = Number.NaN;
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

      const place = (x: T, k: number) => {
        onPlaced?.(x);
        push(x, k);
        if (k > maxSeen) maxSeen = k;
        if (sourceOf) {
          if (Number.isNaN(firstSeen)) firstSeen = k;
          const src = sourceOf(x);
          if (!((lastOf.get(src) ?? Number.NEGATIVE_INFINITY) >= k)) lastOf.set(src, k);
          releaseUpTo(Math.max(maxSeen - window, sourcesWatermark()));
        } else releaseUpTo(maxSeen - window);
        armIdle();
      };
      const streamId = sourceOf ?? topicOf;
      /**
       * A single far-behind item may be a straggler; a new timeline shows itself on two streams or
       * over a window of stamps (a simulation reset moves every stream back at once).
       */
      const jumpConfirmed = (): boolean => {
        if (behind.length > maxBuffered) return true;
        let lo = Number.POSITIVE_INFINITY;
        let hi = Number.NEGATIVE_INFINITY;
        for (const b of behind) {
          if (b.k < lo) lo = b.k;
          if (b.k > hi) hi = b.k;
        }
        if (hi - lo >= window) return true;
        if (!streamId) return false;
        const s0 = streamId(behind[0]!.x);
        return behind.some((b) => streamId(b.x) !== s0);
      };
      /** The old timeline's items go out, one clockJump marks the seam, the new one starts afresh. */
      const startTimeline = () => {
        const items = behind;
        behind = [];
        behindSince = Number.NaN;
        flushAll();
        const from = released;
        let start = Number.POSITIVE_INFINITY;
        for (const b of items) if (b.k < start) start = b.k;
        subscriber.next(
          problem(
            "clockJump",
            `the clock jumped back ${(from - start).toFixed(3)} s, from ${from} to ${start} (a bag of two recordings, a restarted simulation): what is kept by stamp starts afresh`,
            topicOf?.(items[0]!.x),
            start,
          ),
        );
        released = Number.NEGATIVE_INFINITY;
        maxSeen = Number.NEGATIVE_INFINITY;
        firstSeen = Number.NaN;
        lastOf.clear();
        slackOf.clear();
        jumpFrom = from;
        staleFirst = Number.NaN;
        for (const b of items) place(b.x, b.k);
      };
      const dropBehind = () => {
        for (const b of behind)
          subscriber.next(
            problem(
              "late",
              `stamp ${b.k} arrived ${(released - b.k).toFixed(6)} s after ${released} was released (window ${window} s)`,
              topicOf?.(b.x),
              b.k,
            ),
          );
        behind = [];
        behindSince = Number.NaN;
      };
      /**
       * An item of the timeline before the last jump that was still in flight: well ahead of the new
       * timeline and not past the old one's end. Checked until the new timeline nears that end, or
       * such items span a window themselves (then they are the data: a jump forward).
       */
      const staleAfterJump = (k: number): boolean => {
        if (Number.isNaN(jumpFrom)) return false;
        const far = jumpBack(window);
        if (maxSeen >= jumpFrom - far) {
          jumpFrom = Number.NaN;
          return false;
        }
        if (!(k > maxSeen + far && k <= jumpFrom + window)) return false;
        if (Number.isNaN(staleFirst)) staleFirst = k;
        if (Math.abs(k - staleFirst) <= window) return true;
        jumpFrom = Number.NaN;
        return false;
      };

      const flushing = flush$?.subscribe(() => flushAll());
      const sub = source.subscribe({
        next(x) {
          if (isProblem(x)) {
            subscriber.next(x);
            return;
          }
          const k = stampOf(x);
          if (staleAfterJump(k)) {
            subscriber.next(
              problem(
                "late",
                `stamp ${k} is from before the clock jumped back from ${jumpFrom}: dropped`,
                topicOf?.(x),
                k,
              ),
            );
            return;
          }
          if (passThrough?.(x)) {
            subscriber.next(x);
            return;
          }
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
            const gap = released - k;
            if (gap > jumpBack(window)) {
              behind.push({ x, k });
              if (Number.isNaN(behindSince)) behindSince = maxSeen;
              if (jumpConfirmed()) startTimeline();
              return;
            }
            subscriber.next(
              problem(
                "late",
                `stamp ${k} arrived ${gap.toFixed(6)} s after ${released} was released (window ${window} s)`,
                topicOf?.(x),
                k,
              ),
            );
            return;
          }
          // The old timeline went on for a window without the far-behind items becoming one of
          // their own: they were stragglers.
          if (behind.length > 0 && k > behindSince + window) dropBehind();
          place(x, k);
        },
        error(e) {
          idle?.unsubscribe();
          subscriber.error(e);
        },
        complete() {
          idle?.unsubscribe();
          if (behind.length > 0) dropBehind();
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
