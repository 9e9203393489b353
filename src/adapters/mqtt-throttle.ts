// Latest-wins rate limiting of MQTT publications (the throttled `roughness` and `learner` topics).

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
