// Pieces every bag adapter shares: time bounds, ordering (k-way merge across files, a bounded
// reorder window for files read without an index) and problem values.

import { secondsToNs } from "../../core/time.ts";
import type { Problem } from "../../core/types.ts";
import type { BagEvent, BagMessage, ReadOptions } from "./types.ts";

/** Inclusive log-time bounds in ns; undefined means unbounded. */
export interface NsBounds {
  start: bigint | undefined;
  end: bigint | undefined;
}

/**
 * A float64 holds an epoch time in seconds only to ~240 ns, so a bound taken from a message's own
 * `logTime` can land a few hundred ns past its exact stamp; widening each bound by 1 µs keeps such
 * bounds inclusive, as callers expect.
 */
const BOUND_SLACK_NS = 1000n;

export function nsBounds(options: ReadOptions | undefined): NsBounds {
  return {
    start: options?.start === undefined ? undefined : secondsToNs(options.start) - BOUND_SLACK_NS,
    end: options?.end === undefined ? undefined : secondsToNs(options.end) + BOUND_SLACK_NS,
  };
}

export function inBounds(t: bigint, b: NsBounds): boolean {
  return (b.start === undefined || t >= b.start) && (b.end === undefined || t <= b.end);
}

export function problem(kind: string, message: string, topic?: string, stamp?: number): Problem {
  const p: Problem = { type: "problem", kind, message };
  if (topic !== undefined) p.topic = topic;
  if (stamp !== undefined) p.stamp = stamp;
  return p;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Resolves on the next macrotask, so a fast replay of a synchronous source (sqlite) lets timers and I/O run. */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Binary min-heap on (key, seq): equal keys come out in insertion order, so merges are stable. */
export class MinHeap<T> {
  #keys: bigint[] = [];
  #seqs: number[] = [];
  #items: T[] = [];
  #seq = 0;

  get size(): number {
    return this.#items.length;
  }

  push(key: bigint, item: T): void {
    this.#keys.push(key);
    this.#seqs.push(this.#seq++);
    this.#items.push(item);
    let i = this.#items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  peekKey(): bigint | undefined {
    return this.#keys[0];
  }

  pop(): T | undefined {
    const n = this.#items.length;
    if (n === 0) return undefined;
    const top = this.#items[0] as T;
    this.#swap(0, n - 1);
    this.#keys.pop();
    this.#seqs.pop();
    this.#items.pop();
    let i = 0;
    const m = n - 1;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < m && this.#less(l, best)) best = l;
      if (r < m && this.#less(r, best)) best = r;
      if (best === i) break;
      this.#swap(i, best);
      i = best;
    }
    return top;
  }

  #less(a: number, b: number): boolean {
    const ka = this.#keys[a] as bigint;
    const kb = this.#keys[b] as bigint;
    return ka < kb || (ka === kb && (this.#seqs[a] as number) < (this.#seqs[b] as number));
  }

  #swap(a: number, b: number): void {
    if (a === b) return;
    [this.#keys[a], this.#keys[b]] = [this.#keys[b] as bigint, this.#keys[a] as bigint];
    [this.#seqs[a], this.#seqs[b]] = [this.#seqs[b] as number, this.#seqs[a] as number];
    [this.#items[a], this.#items[b]] = [this.#items[b] as T, this.#items[a] as T];
  }
}

/** A message with its exact log time, as adapters produce them before merging. */
export interface TimedEvent {
  /** Exact log time in ns; for a Problem, the log time it is reported at (keeps it in place). */
  ns: bigint;
  event: BagEvent;
}

/**
 * Merges per-file streams, each already in log-time order, into one log-time-ordered stream.
 * Closes every input when the consumer stops early.
 */
export async function* mergeByLogTime(inputs: AsyncGenerator<TimedEvent>[]): AsyncGenerator<TimedEvent> {
  if (inputs.length === 1) {
    yield* inputs[0] as AsyncGenerator<TimedEvent>;
    return;
  }
  const heap = new MinHeap<{ value: TimedEvent; index: number }>();
  try {
    for (let i = 0; i < inputs.length; i++) {
      const r = await (inputs[i] as AsyncGenerator<TimedEvent>).next();
      if (!r.done) heap.push(r.value.ns, { value: r.value, index: i });
    }
    while (heap.size > 0) {
      const head = heap.pop() as { value: TimedEvent; index: number };
      yield head.value;
      const r = await (inputs[head.index] as AsyncGenerator<TimedEvent>).next();
      if (!r.done) heap.push(r.value.ns, { value: r.value, index: head.index });
    }
  } finally {
    await Promise.allSettled(inputs.map((g) => g.return(undefined)));
  }
}

/**
 * Restores log-time order for records read in file order without an index (a truncated MCAP or
 * ROS 1 bag): recorders write in receive order, so a window of a few thousand messages absorbs the
 * small inversions between channels and chunks without holding the whole file. The window is
 * bounded in bytes too, so a camera bag does not hold thousands of images.
 */
export async function* reorderWindow(
  input: AsyncIterable<TimedEvent>,
  window = 4096,
  maxBytes = 64 * 1024 * 1024,
): AsyncGenerator<TimedEvent> {
  const heap = new MinHeap<TimedEvent>();
  let bytes = 0;
  const pop = (): TimedEvent => {
    const item = heap.pop() as TimedEvent;
    if (item.event.type === "message") bytes -= item.event.size;
    return item;
  };
  for await (const item of input) {
    if (item.event.type === "problem") {
      // Problems (decode failures, truncation) are reported where they happen, not reordered.
      while (heap.size > 0 && (heap.peekKey() as bigint) <= item.ns) yield pop();
      yield item;
      continue;
    }
    heap.push(item.ns, item);
    bytes += item.event.size;
    while (heap.size > window || (bytes > maxBytes && heap.size > 1)) yield pop();
  }
  while (heap.size > 0) yield pop();
}

/** Applies the ReadOptions every adapter honours after merging: abort and event-loop fairness. */
export async function* finish(
  input: AsyncGenerator<TimedEvent>,
  signal: AbortSignal | undefined,
): AsyncGenerator<BagEvent> {
  let n = 0;
  try {
    for (;;) {
      if (signal?.aborted) return;
      const r = await input.next();
      if (r.done) return;
      if (signal?.aborted) return;
      yield r.value.event;
      if (++n % 512 === 0) await nextTick();
    }
  } finally {
    await input.return(undefined);
  }
}

export function isMessage(e: BagEvent): e is BagMessage {
  return e.type === "message";
}
