// What a serial IMU gets wrong about units, said while `run` and `serial-dump` read it. A device
// that reports g instead of m/s² gives no label at all ("up" comes from gravity in the data), a gyro
// in deg/s swamps the labels with roll/pitch-rate energy, an odometry w in deg/s makes every turn
// too sharp to label: none of them shows in the parser's counters.

import type { ImuSample, OdomSample } from "../core/types.ts";
import type { Config } from "../runtime/config.ts";
import { HeadingChange } from "./label-diagnosis.ts";

/** Standard gravity (m/s²). */
const G = 9.80665;
/** Seconds of IMU data the mean acceleration is judged on. */
const ACCEL_SECONDS = 2;
/** Odometry turn (rad) before the gyro's turn is compared with it, as `label` does. */
const TURN_RAD = 1;
/** Seconds after which an undecided gyro check stops collecting (a robot that never turns). */
const GYRO_SECONDS = 3600;

export class SerialUnitCheck {
  /** The warnings said so far, in order. */
  readonly warnings: string[] = [];
  private readonly config: Config;
  private readonly warn: (line: string) => void;
  private acc = { x: 0, y: 0, z: 0, n: 0, t0: Number.NaN };
  private up: [number, number, number] | undefined;
  private accelDone = false;
  private gyroDone = false;
  private readonly heading = new HeadingChange();
  private lastBin = Number.NaN;
  private readonly odomRate = { last: Number.NaN, moving: 0, long: 0, done: false };
  private firstOdom = Number.NaN;

  constructor(config: Config, warn: (line: string) => void) {
    this.config = config;
    this.warn = warn;
  }

  imu(s: ImuSample): void {
    if (!this.gyroDone) this.heading.addImu(s.stamp, s.angularVelocity);
    if (this.accelDone) return;
    const a = s.linearAcceleration;
    if (!Number.isFinite(a.x + a.y + a.z + s.stamp)) return;
    const acc = this.acc;
    if (acc.n === 0) acc.t0 = s.stamp;
    acc.x += a.x;
    acc.y += a.y;
    acc.z += a.z;
    acc.n++;
    if (acc.n >= 20 && s.stamp - acc.t0 >= ACCEL_SECONDS) this.judgeAcceleration();
  }

  odom(s: OdomSample): void {
    this.checkOdomRate(s);
    if (this.gyroDone) return;
    this.heading.addOdom(s.stamp, s.pose.orientation);
    if (!Number.isFinite(this.firstOdom)) this.firstOdom = s.stamp;
    // Once a second is enough: the totals sum every second seen so far.
    const bin = Math.floor(s.stamp);
    if (bin === this.lastBin || !this.up) return;
    this.lastBin = bin;
    const h = this.heading.totals(this.up);
    // Judged again every second: the gyro's mean rate is taken as its bias, so a robot that so far
    // turned one way only shows its gyro's turning once it turns back.
    if (h.odometry > TURN_RAD && h.imu > 10 * h.odometry) {
      this.gyroDone = true;
      this.say(
        `the IMU's rates about the vertical add up to ${h.imu.toFixed(0)} rad of turning while the odometry turned ${h.odometry.toFixed(1)} rad (${(h.imu / h.odometry).toFixed(0)}×): deg/s, not rad/s? serial.gyro_scale: 0.0174533 converts deg/s (it is ${this.config.serial.gyro_scale}); until then the roll/pitch-rate energy of every label is ${((180 / Math.PI) ** 2).toFixed(0)}× too large`,
      );
    } else if (h.imu > TURN_RAD && h.odometry > 10 * h.imu) {
      // The other way round: the odometry's w in deg/s (no scale for it: it is the firmware's).
      this.gyroDone = true;
      this.say(
        `the odometry's yaw rate w adds up to ${h.odometry.toFixed(0)} rad of turning while the IMU turned ${h.imu.toFixed(1)} rad (${(h.odometry / h.imu).toFixed(0)}×): w in deg/s, not rad/s? The device must send rad/s; until then the odometry's heading is wrong and steps turning faster than labeler.max_yaw_rate (${this.config.labeler.max_yaw_rate} rad/s) are not labelled`,
      );
    } else if (s.stamp - this.firstOdom > GYRO_SECONDS) this.gyroDone = true;
  }

  /**
   * Odometry slower than serial.max_odom_gap is never integrated into a pose: the robot "stands"
   * while its v says it drives, and hardly a step is labelled.
   */
  private checkOdomRate(s: OdomSample): void {
    const r = this.odomRate;
    if (r.done) return;
    const dt = s.stamp - r.last;
    r.last = s.stamp;
    if (!(dt > 0) || Math.abs(s.linear.x) < this.config.labeler.min_speed) return;
    r.moving++;
    if (dt > this.config.serial.max_odom_gap) r.long++;
    if (r.moving < 10) return;
    r.done = true;
    if (r.long > r.moving / 2)
      this.say(
        `${r.long} of ${r.moving} odometry intervals while moving are longer than serial.max_odom_gap (${this.config.serial.max_odom_gap} s), and the pose is not integrated across them: the robot hardly moves and hardly a step is labelled; send odometry at 10 Hz or more (or raise serial.max_odom_gap)`,
      );
  }

  private judgeAcceleration(): void {
    this.accelDone = true;
    const { x, y, z, n } = this.acc;
    const mean = [x / n, y / n, z / n] as const;
    const g = Math.hypot(...mean);
    // Without gravity in the data its direction is noise: take the IMU as z up for the gyro check.
    this.up = g >= 0.5 ? [mean[0] / g, mean[1] / g, mean[2] / g] : [0, 0, 1];
    const scale = this.config.serial.accel_scale;
    // An IMU in the base frame is taken as mounted level, z up: its labels need no gravity.
    const level =
      this.config.serial.imu_frame.replace(/^\//, "") === this.config.frames.base.replace(/^\//, "");
    const avg = `the IMU's acceleration averages ${g.toFixed(2)} m/s² over its first ${ACCEL_SECONDS} s`;
    if (g >= 0.5 && g <= 1.5)
      this.say(
        `${avg}: g, not m/s²? serial.accel_scale: 9.80665 converts g (it is ${scale}); until then ${level ? `every label's vertical energy is ${(G * G).toFixed(0)}× too small` : 'no step is labelled ("up" comes from gravity, 9.81 m/s²)'}`,
      );
    else if (g > 1.5 * G)
      this.say(`${avg}, far above gravity (9.81): serial.accel_scale (${scale}) does not give m/s²?`);
    else if (g < 0.5 * G && !level)
      this.say(
        `${avg}, not gravity (9.81): the device removes gravity (or sends no acceleration), so "up" cannot come from the data and no step is labelled: send the acceleration with gravity, or set serial.imu_frame: ${this.config.frames.base} if the IMU is mounted level, z up`,
      );
  }

  private say(message: string): void {
    this.warnings.push(message);
    this.warn(message);
  }
}
