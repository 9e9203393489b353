// Device time → sensor time for one serial device. The device clock is mapped with an offset fixed
// at the first sample (arrival time − device time), so jitter in USB/UART delivery does not reach
// the stamps. A counter that wraps (`clockWrapBits`, 32 for a micros() counter: every 71.6 min) is
// unwrapped; a clock that jumps back further than `maxClockJump` (device reboot) or runs ahead of
// arrival by more than `maxClockJump` is re-anchored to arrival time, never going backwards.

import type { Stamp } from "../core/types.ts";
import type { SerialCounters } from "./serial-protocol-types.ts";

export class DeviceClock {
  private readonly counters: SerialCounters;
  /** Counter period in µs; 0 when it never wraps. */
  private readonly wrap: number;
  private readonly maxJump: number;
  private anchored = false;
  private offset = 0;
  private lastDevice = 0;
  private wraps = 0;
  private lastStamp = Number.NEGATIVE_INFINITY;

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
    if (!this.anchored) {
      this.anchored = true;
      this.offset = arrival - device;
      this.lastDevice = device;
      this.wraps = 0;
    } else {
      const wrapS = this.wrap * 1e-6;
      let unwrapped = device + this.wraps * wrapS;
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
      const stamp = this.offset + unwrapped;
      if (unwrapped < this.lastDevice - jump || stamp > arrival + jump) {
        // Device reboot or a clock that ran away: re-anchor, never earlier than what was sent.
        c.clockResets++;
        this.wraps = 0;
        this.offset = Math.max(arrival, this.lastStamp) - device;
        unwrapped = device;
        this.lastDevice = device;
      } else if (unwrapped > this.lastDevice) {
        // Small backward steps (IMU and odometry lines interleaved out of order) keep the anchor.
        this.lastDevice = unwrapped;
      }
      const s = this.offset + unwrapped;
      if (s > this.lastStamp) this.lastStamp = s;
      return s;
    }
    const s = this.offset + device;
    if (s > this.lastStamp) this.lastStamp = s;
    return s;
  }

  /** Where the device clock stands (for diagnostics). */
  state(): { anchored: boolean; offset: number; wraps: number } {
    return { anchored: this.anchored, offset: this.offset, wraps: this.wraps };
  }
}
