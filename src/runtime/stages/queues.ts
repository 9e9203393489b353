// The graph's two explicit queues, each with a bound and a stated drop policy.
//
// `Sequencer`: the stamp-ordered stream is handled one item at a time; an item whose handler
// returns a promise (replay: a frame, a training block) holds the items after it until it is done,
// so no stage sees item n+1 before every stage finished item n. It never drops: in replay the
// source waits for it (`pipeline.push` resolves when it is idle), so it holds at most what one
// input released from fusion; going past `maxQueued` is an error, not a silent loss.
//
// `latestWins`: live camera frames. One frame is processed at a time; a frame arriving meanwhile
// waits, and a newer one replaces it (the replaced one is dropped and counted). IMU and odometry
// never pass through it.

import {
  from,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  Subject,
  type Subscription,
} from "rxjs";

const RESOLVED = Promise.resolve();

export class Sequencer<T> {
  #queue: T[] = [];
  #head = 0;
  #busy = false;
  #idle: (() => void)[] = [];
  #error: unknown;
  #failed = false;
  /** Most items ever waiting at once (for the stats). */
  maxSeen = 0;

  constructor(
    private readonly handle: (item: T) => Promise<void> | undefined | void,
    private readonly maxQueued = 100_000,
  ) {}

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** The stage: consumes the stream (it emits nothing; stages report through their own outputs). */
  stage(): OperatorFunction<T, never> {
    return (source) =>
      new Observable<never>((out) =>
        source.subscribe({
          next: (x) => this.offer(x),
          error: (e) => out.error(e),
          complete: () => out.complete(),
        }),
      );
  }

  offer(x: T): void {
    if (this.#busy) {
      if (this.queued >= this.maxQueued) {
        this.#fail(new Error(`graph queue full (${this.maxQueued} inputs waiting)`));
        return;
      }
      this.#queue.push(x);
      if (this.queued > this.maxSeen) this.maxSeen = this.queued;
      return;
    }
    this.#run(x);
  }

  /** Resolves when nothing is waiting or running; rejects once with a handler's failure. */
  idle(): Promise<void> {
    if (!this.#busy) return this.#settle();
    return new Promise<void>((resolve) => this.#idle.push(resolve)).then(() => this.#settle());
  }

  #settle(): Promise<void> {
    if (!this.#failed) return RESOLVED;
    const err = this.#error;
    this.#failed = false;
    this.#error = undefined;
    return Promise.reject(err);
  }

  #run(x: T): void {
    for (;;) {
      let r: Promise<void> | undefined | void;
      try {
        r = this.handle(x);
      } catch (err) {
        this.#fail(err);
        r = undefined;
      }
      if (r) {
        this.#busy = true;
        r.then(
          () => this.#resume(),
          (err: unknown) => {
            this.#fail(err);
            this.#resume();
          },
        );
        return;
      }
      if (this.queued === 0) break;
      x = this.#next();
    }
    this.#done();
  }

  #resume(): void {
    this.#busy = false;
    if (this.queued > 0) this.#run(this.#next());
    else this.#done();
  }

  #next(): T {
    const x = this.#queue[this.#head]!;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return x;
  }

  #done(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const w of waiting) w();
  }

  #fail(err: unknown): void {
    if (!this.#failed) {
      this.#failed = true;
      this.#error = err;
    }
  }
}

/**
 * Like exhaustMap, but a value arriving while the projection runs is kept (the newest only) and
 * projected next; each value it replaces is passed to `onDrop`.
 */
export function latestWins<T, R>(
  project: (x: T) => ObservableInput<R>,
  onDrop: (x: T) => void = () => {},
  /** Called whenever nothing runs and nothing waits any more. */
  onIdle: () => void = () => {},
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((out) => {
      let running = false;
      let pending: { value: T } | undefined;
      let completed = false;
      let inner: Subscription | undefined;
      const start = (x: T) => {
        running = true;
        inner = from(project(x)).subscribe({
          next: (v) => out.next(v),
          error: (e) => out.error(e),
          complete: () => {
            running = false;
            inner = undefined;
            const p = pending;
            pending = undefined;
            if (p) start(p.value);
            else {
              onIdle();
              if (completed) out.complete();
            }
          },
        });
      };
      const sub = source.subscribe({
        next: (x) => {
          if (!running) return start(x);
          if (pending) onDrop(pending.value);
          pending = { value: x };
        },
        error: (e) => out.error(e),
        complete: () => {
          completed = true;
          if (!running) out.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        inner?.unsubscribe();
        pending = undefined;
      };
    });
}

/** Live camera frames through `latestWins`: offer() never waits; idle() waits for the frame in progress. */
export class LiveFrames<F> {
  dropped = 0;
  readonly subscription: Subscription;
  readonly #in = new Subject<F>();
  #busy = false;
  #idle: (() => void)[] = [];

  constructor(run: (frame: F) => Promise<void>) {
    const start = (f: F) => {
      this.#busy = true;
      return run(f);
    };
    const settle = () => {
      this.#busy = false;
      for (const w of this.#idle.splice(0)) w();
    };
    this.subscription = this.#in.pipe(latestWins(start, () => this.dropped++, settle)).subscribe();
  }

  offer(frame: F): void {
    this.#in.next(frame);
  }

  async idle(): Promise<void> {
    while (this.#busy) await new Promise<void>((r) => this.#idle.push(r));
  }
}
