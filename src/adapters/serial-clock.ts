// Device time → sensor time for one serial device. The device clock is mapped with an offset
// (sensor time − device time) so jitter in USB/UART delivery does not reach the stamps. The first
// sample sets it. It is then steered towards the lowest arrival − device seen over the last
// `OFFSET_WINDOW_S` of arrival time (the line that came through with the least latency) once the two
// differ by more than `maxClockJump`, so a first sample that came late (a backlog held by a
// pty/socat/ser2net bridge, a replug) does not fix a wrong offset for good. Steering takes at most
// `SLEW` of each device step and only host time that has passed: a backlog delivered at once keeps the
// device's spacing (its stamps lead arrival), and once live data flows the lead is worked off with
// stamps still increasing, at no less than half the device's rate. A counter that wraps
// (`clockWrapBits`, 32 for a micros() counter: every 71.6 min) is unwrapped; a real jump — device time
// going back by more than `maxClockJump` (reboot; by any amount right after the device printed its
// CSV header again) or getting ahead of host time by more than
// `maxClockJump` between two lines — re-anchors to arrival time, never earlier than the last stamp.

import type { Stamp } from "../core/types.ts";
import type { SerialCounters } from "./serial-protocol-types.ts";

/** Seconds of arrival time over which the lowest-latency offset is tracked (two buckets of this). */
const OFFSET_WINDOW_S = 10;
/** Most of a device step that steering may take from (or add to) the stamp step. */
const SLEW = 0.5;
/** Host time banked for steering, seconds: lines of one chunk share it, a long silence does not pile it up. */
const MAX_CREDIT_S = 0.05;

export class DeviceClock {
  private readonly counters: SerialCounters;
  /** Counter period in µs; 0 when it never wraps. */
  private readonly wrap: number;
  private readonly maxJump: number;
  private anchored = false;
  private offset = 0;
  private lastDevice = 0;
  private lastArrival = 0;
  private wraps = 0;
  private lastStamp = Number.NEGATIVE_INFINITY;
  /** Host time passed and not yet used for steering the offset. */
  private credit = 0;
  private steering = false;
  /** The device said it restarted: any backward step of the next device time is a reboot. */
  private restartHinted = false;
  /** Sliding minimum of arrival − device: this bucket's, the previous bucket's, and when this one began. */
  private winMin = Number.POSITIVE_INFINITY;
  private prevMin = Number.POSITIVE_INFINITY;
  private winStart = 0;

  constructor(counters: SerialCounters, clockWrapBits: number, maxClockJump: number) {
    this.counters = counters;
    this.wrap = clockWrapBits > 0 ? 2 ** clockWrapBits : 0;
    this.maxJump = maxClockJump;
  }

  /** Device seconds (NaN: none) → sensor time. */
  stamp(device: number, arrival: Stamp): Stamp {
    const c = this.counters;
    if (Number.isNaN(device)) {
      c.arrivalStamped++;
      const s = Math.max(arrival, this.lastStamp);
      this.lastStamp = s;
      return s;
    }
    const jump = this.maxJump;
    let unwrapped = device;
    if (!this.anchored) {
      this.anchored = true;
      this.wraps = 0;
      this.anchor(device, arrival, arrival);
    } else {
      const wrapS = this.wrap * 1e-6;
      unwrapped = device + this.wraps * wrapS;
      if (
        unwrapped < this.lastDevice - jump &&
        wrapS > 0 &&
        unwrapped + wrapS - this.lastDevice < wrapS / 4
      ) {
        // The counter rolled over: keep counting from where it was.
        this.wraps++;
        c.clockWraps++;
        unwrapped += wrapS;
      }
      const step = unwrapped - this.lastDevice;
      const hostStep = Math.max(0, arrival - this.lastArrival);
      const back = this.restartHinted ? 0 : jump;
      this.restartHinted = false;
      if (step < -back || step - hostStep > jump) {
        // Device reboot, or a clock that jumped ahead of host time: re-anchor at arrival, never earlier
        // than what was sent (a lead left over from a backlog is then worked off by the steering).
        c.clockResets++;
        this.wraps = 0;
        unwrapped = device;
        this.anchor(device, arrival, Math.max(arrival, this.lastStamp));
      } else {
        this.credit = Math.min(this.credit + hostStep, MAX_CREDIT_S);
        const best = this.lowestOffset(arrival - unwrapped, arrival);
        const err = best - this.offset;
        // Off by more than maxClockJump: steer, and go on to the lowest offset. Anything less (arrival
        // jitter, lines of one chunk, a link fed faster than real time in tests) keeps the offset.
        if (Math.abs(err) > jump) this.steering = true;
        if (step > 0) {
          if (this.steering) {
            // Steer towards the lowest-latency offset by at most SLEW of this step and the host time
            // banked, so stamps keep increasing and a backlog (no host time passing) keeps its spacing.
            const room = Math.min(SLEW * step, this.credit);
            const move = Math.max(-room, Math.min(room, err));
            this.offset += move;
            this.credit -= Math.abs(move);
            if (move === err) this.steering = false;
          }
          this.lastDevice = unwrapped;
        }
        // Small backward steps (IMU and odometry lines interleaved out of order) keep the anchor.
      }
    }
    this.lastArrival = arrival;
    const s = this.offset + unwrapped;
    if (s > this.lastStamp) this.lastStamp = s;
    return s;
  }

  /**
   * The device printed what it prints when it starts (a CSV header again): if its next time goes
   * back at all, it rebooted, even within its first `maxClockJump` s of uptime.
   */
  restartHint(): void {
    this.restartHinted = this.anchored;
  }

  /** Where the device clock stands (for diagnostics). */
  state(): { anchored: boolean; offset: number; wraps: number } {
    return { anchored: this.anchored, offset: this.offset, wraps: this.wraps };
  }

  /** Maps `device` to `at` from now on and restarts the offset tracking. */
  private anchor(device: number, arrival: Stamp, at: Stamp): void {
    this.offset = at - device;
    this.lastDevice = device;
    this.credit = 0;
    this.steering = false;
    this.winMin = arrival - device;
    this.prevMin = Number.POSITIVE_INFINITY;
    this.winStart = arrival;
  }

  /** Adds one arrival − device lag and returns the lowest over the last one to two windows. */
  private lowestOffset(lag: number, arrival: Stamp): number {
    const age = arrival - this.winStart;
    if (age >= OFFSET_WINDOW_S) {
      this.prevMin = age >= 2 * OFFSET_WINDOW_S ? Number.POSITIVE_INFINITY : this.winMin;
      this.winMin = Number.POSITIVE_INFINITY;
      this.winStart = arrival;
    }
    if (lag < this.winMin) this.winMin = lag;
    return Math.min(this.winMin, this.prevMin);
  }
}
