// Decoded serial records → ImuSample / OdomSample messages: unit scaling, frames, and the odometry
// pose integrated from the device's forward speed and yaw rate.

import { wrapAngle } from "../core/geometry.ts";
import type { Stamp } from "../core/types.ts";
import type { SerialCounters, SerialParserOptions, SerialSink } from "./serial-protocol-types.ts";

export class SerialSampleEmitter {
  private readonly opts: SerialParserOptions;
  private readonly sink: SerialSink;
  private readonly counters: SerialCounters;
  private odomX = 0;
  private odomY = 0;
  private odomYaw = 0;
  private lastOdomStamp = Number.NaN;

  constructor(opts: SerialParserOptions, sink: SerialSink, counters: SerialCounters) {
    this.opts = opts;
    this.sink = sink;
    this.counters = counters;
  }

  /** Current integrated odometry pose. */
  pose(): { x: number; y: number; yaw: number } {
    return { x: this.odomX, y: this.odomY, yaw: this.odomYaw };
  }

  imu(stamp: Stamp, ax: number, ay: number, az: number, gx: number, gy: number, gz: number): void {
    const a = this.opts.accelScale;
    const g = this.opts.gyroScale;
    this.counters.imu++;
    this.sink.imu({
      stamp,
      frameId: this.opts.imuFrame,
      orientation: undefined,
      angularVelocity: { x: gx * g, y: gy * g, z: gz * g },
      linearAcceleration: { x: ax * a, y: ay * a, z: az * a },
    });
  }

  odom(stamp: Stamp, v: number, w: number): void {
    const dt = stamp - this.lastOdomStamp;
    // Integrate with the heading at mid-step (exact for constant v, w up to second order).
    if (dt > 0 && dt <= this.opts.maxOdomGap) {
      const mid = this.odomYaw + 0.5 * w * dt;
      this.odomX += v * Math.cos(mid) * dt;
      this.odomY += v * Math.sin(mid) * dt;
      this.odomYaw = wrapAngle(this.odomYaw + w * dt);
    }
    if (!(dt < 0)) this.lastOdomStamp = stamp;
    this.counters.odom++;
    const half = 0.5 * this.odomYaw;
    this.sink.odom({
      stamp,
      frameId: this.opts.odomFrame,
      childFrameId: this.opts.baseFrame,
      pose: {
        position: { x: this.odomX, y: this.odomY, z: 0 },
        orientation: { x: 0, y: 0, z: Math.sin(half), w: Math.cos(half) },
      },
      linear: { x: v, y: 0, z: 0 },
      angular: { x: 0, y: 0, z: w },
    });
  }
}
