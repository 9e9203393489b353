// Sensor time: the graph's schedule runs on message stamps, never on the wall clock, so a replay
// gives the same results at any speed. The clock stage interleaves ticks with the stamp-ordered
// inputs:
//   second  before the first input of each new second of sensor time: labels made so far go to the
//           learner, then one block of training (learner.steps_per_second steps)
//   stats   every `statsEvery` sensor seconds, before the input that reaches it
//   drain   after an IMU / odometry input, at most every DRAIN_EVERY s: new labels and samples
// Only inputs that carry sensor time advance it (IMU, odometry, camera frames, true pose).
// A `clockJump` mark (the stamps went back: fusion started a new timeline) passes through and the
// schedule starts again from the next input; the sensor seconds of the timelines before it add up.

import { Observable, type OperatorFunction } from "rxjs";
import type { Stamp } from "../../core/types.ts";
import type { GraphInput } from "./inputs.ts";

/** `clockJump`: the stamps went back after it; its stamp is the last of the timeline before. */
export type Tick = { kind: "second" | "stats" | "drain" | "clockJump"; stamp: Stamp };

/** Where the stamps went back: what is kept by stamp starts afresh after it (stamp: the new first). */
export type ClockJump = { kind: "clockJump"; stamp: Stamp };

/** Draining after each of 200 IMU messages per second is wasted work; 10 Hz of sensor time is plenty. */
const DRAIN_EVERY = 0.1;
/** A long pause in the stamps (bag gap, clock jump) owes a few blocks (this many + 1), not thousands. */
const MAX_BLOCKS_OWED = 3;

export class SensorClock {
  firstStamp = Number.NaN;
  lastStamp = Number.NaN;
  #nextTrain = Number.NaN;
  #nextStats = Number.NaN;
  #nextDrain = Number.NaN;
  /** Sensor seconds of the timelines before the last clock jump. */
  #before = 0;

  constructor(private readonly statsEvery: number) {}

  get sensorSeconds(): number {
    return this.#before + (Number.isFinite(this.firstStamp) ? this.lastStamp - this.firstStamp : 0);
  }

  /** The stage: each input with the ticks due before and after it. */
  stage(): OperatorFunction<GraphInput | ClockJump, GraphInput | Tick> {
    return (source) =>
      new Observable<GraphInput | Tick>((out) =>
        source.subscribe({
          next: (e) => {
            if (e.kind === "clockJump") {
              const before = this.lastStamp;
              this.#restart();
              out.next({ kind: "clockJump", stamp: before });
              return;
            }
            const timed =
              e.kind === "imu" || e.kind === "odom" || e.kind === "frame" || e.kind === "truePose";
            if (timed) this.#advance(e.stamp, out);
            out.next(e);
            if ((e.kind === "imu" || e.kind === "odom") && e.stamp >= this.#nextDrain) {
              this.#nextDrain = e.stamp + DRAIN_EVERY;
              out.next({ kind: "drain", stamp: e.stamp });
            }
          },
          error: (err) => out.error(err),
          complete: () => out.complete(),
        }),
      );
  }

  #restart(): void {
    this.#before = this.sensorSeconds;
    this.firstStamp = Number.NaN;
    this.lastStamp = Number.NaN;
    this.#nextTrain = Number.NaN;
    this.#nextStats = Number.NaN;
    this.#nextDrain = Number.NaN;
  }

  #advance(stamp: Stamp, out: { next(t: Tick): void }): void {
    if (!Number.isFinite(stamp)) return;
    if (!Number.isFinite(this.firstStamp)) {
      this.firstStamp = stamp;
      this.#nextTrain = stamp + 1;
      this.#nextStats = stamp + this.statsEvery;
      this.#nextDrain = stamp;
    }
    if (!(stamp > this.lastStamp)) {
      if (!Number.isFinite(this.lastStamp)) this.lastStamp = stamp;
      return;
    }
    this.lastStamp = stamp;
    if (stamp - this.#nextTrain > MAX_BLOCKS_OWED) this.#nextTrain = stamp - MAX_BLOCKS_OWED;
    while (stamp >= this.#nextTrain) {
      this.#nextTrain += 1;
      out.next({ kind: "second", stamp });
    }
    if (stamp >= this.#nextStats) {
      while (this.#nextStats <= stamp) this.#nextStats += this.statsEvery;
      out.next({ kind: "stats", stamp });
    }
  }
}
