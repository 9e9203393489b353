// A rate cap per heavy channel that lets a stream at the cap through. A strict minimum gap drops
// every message that comes a little early: a 15 Hz camera arrives every 66.7 ms give or take, so a
// 15 Hz cap with a 66.7 ms gap passed about two frames in three. Here a message is due half an
// interval before its theoretical time, and each send moves that time one interval on from where
// it was (or from now, after a pause): early and late messages average out to the cap, and a burst
// gets at most one extra message through.

export class RateCap {
  /** When the next message is due (ms); −∞ until the first send. */
  #dueMs = Number.NEGATIVE_INFINITY;

  /** `rate` in Hz; 0 or less: no cap. */
  constructor(private readonly rate: number) {}

  due(nowMs: number): boolean {
    return !(this.rate > 0) || nowMs >= this.#dueMs - 500 / this.rate;
  }

  sent(nowMs: number): void {
    if (this.rate > 0) this.#dueMs = Math.max(this.#dueMs, nowMs) + 1000 / this.rate;
  }
}
