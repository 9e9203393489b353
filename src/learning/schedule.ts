// Replay-mode training schedule in sensor time: a fixed number of steps per second of data, so a
// replay gives the same model on a laptop and on a Jetson, at 1× or at 50× real time.

export class TrainingClock {
  private last = Number.NaN;
  private credit = 0;

  /**
   * @param stepsPerSecond training steps owed per second of sensor time
   * @param maxGap a jump in stamps longer than this (s) — a pause in the bag, a clock reset — only
   *   counts as this much, so one gap cannot trigger thousands of steps at once
   */
  constructor(
    readonly stepsPerSecond: number,
    readonly maxGap = 1,
  ) {
    if (!(stepsPerSecond > 0)) throw new Error(`stepsPerSecond must be > 0, got ${stepsPerSecond}`);
  }

  /** Steps due now for a message stamped `stamp` (s). Stamps going backwards owe nothing
   * (a jump back by more than maxGap re-anchors the clock). */
  stepsDue(stamp: number): number {
    if (!Number.isFinite(stamp)) return 0;
    if (Number.isNaN(this.last)) {
      this.last = stamp;
      return 0;
    }
    const dt = stamp - this.last;
    if (dt < -this.maxGap) this.last = stamp; // clock reset / bag restarted: re-anchor
    if (dt <= 0) return 0;
    this.last = stamp;
    this.credit += Math.min(dt, this.maxGap) * this.stepsPerSecond;
    const due = Math.floor(this.credit + 1e-9);
    this.credit -= due;
    return due;
  }

  reset(): void {
    this.last = Number.NaN;
    this.credit = 0;
  }
}
