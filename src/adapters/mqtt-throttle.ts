// Latest-wins rate limiting of MQTT publications: `roughness` and the pipeline's `learner` stats on
// their sensor time, `run`'s heartbeat stats on the wall clock.

export interface Pending {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** Latest-wins rate limiter on the wall clock: sends now if due, else once the interval has passed. */
export class Throttle {
  private last = Number.NEGATIVE_INFINITY;
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly intervalMs: number,
    private readonly send: (p: Pending) => void,
    private readonly onSuperseded: () => void,
  ) {}
  offer(p: Pending): void {
    const now = Date.now();
    if (now - this.last >= this.intervalMs && !this.timer) {
      this.last = now;
      this.send(p);
      return;
    }
    if (this.pending) this.onSuperseded();
    this.pending = p;
    if (!this.timer) {
      this.timer = setTimeout(() => this.fire(), Math.max(0, this.intervalMs - (now - this.last)));
      this.timer.unref();
    }
  }
  private fire(): void {
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      this.last = Date.now();
      this.send(p);
    }
  }
  /** Sends what is waiting now (shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.fire();
  }
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
}

/**
 * Rate limiter on the publications' own sensor time (s): a message goes out when its stamp reaches
 * the next slot of a 1/rate grid, so a bag replayed at any speed publishes the same messages as the
 * live robot did. The grid keeps the rate when frames jitter around a slot; a gap longer than a
 * slot, or a stamp before the last sent one (a bag looped, a simulator restarted), starts it again
 * at that message. What was not due is held (latest wins) and sent by `flush` at shutdown.
 */
export class SensorThrottle {
  /** Stamp of the next slot; undefined before the first message. */
  private due: number | undefined;
  private lastSent = Number.NEGATIVE_INFINITY;
  private pending: Pending | undefined;
  constructor(
    private readonly intervalS: number,
    private readonly send: (p: Pending) => void,
    private readonly onSuperseded: () => void,
  ) {}
  offer(p: Pending, stamp: number): void {
    // Stamps from the same source differ by float rounding around a slot: 1 µs of slack.
    if (this.due === undefined || stamp < this.lastSent || stamp >= this.due - 1e-6) {
      const onGrid = this.due !== undefined && stamp >= this.lastSent && stamp < this.due + this.intervalS;
      this.due = (onGrid ? (this.due as number) : stamp) + this.intervalS;
      this.lastSent = stamp;
      if (this.pending) this.onSuperseded();
      this.pending = undefined;
      this.send(p);
      return;
    }
    if (this.pending) this.onSuperseded();
    this.pending = p;
  }
  /** Sends what is waiting now (shutdown). */
  flush(): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) this.send(p);
  }
}
