// Where "up" is in the IMU frame: from TF (base_link ← imu_link) when the user set it, else the
// direction of a running mean of the acceleration. The IMU is never assumed z-up.

/** Standard gravity (m/s²): what sensor_msgs/Imu's linear_acceleration averages to at rest. */
export const GRAVITY = 9.80665;

export class VerticalAxis {
  private readonly cfg: { gravity_time_constant?: number };
  // Running mean of acceleration (IMU frame).
  gx = 0;
  gy = 0;
  gz = 0;
  /** False until the first sample. */
  started = false;
  /** Unit axis from TF, or null to use gravity. */
  tf: [number, number, number] | null = null;

  /** `cfg.gravity_time_constant` (s, default 2) is read at every sample, as the labeller's config. */
  constructor(cfg: { gravity_time_constant?: number }) {
    this.cfg = cfg;
  }

  /** Sets the axis from TF (normalised); null returns to estimating it from gravity. */
  set(axis: { x: number; y: number; z: number } | null): void {
    if (!axis) {
      this.tf = null;
      return;
    }
    const n = Math.hypot(axis.x, axis.y, axis.z);
    if (!(n > 1e-9)) throw new Error(`vertical axis (${axis.x}, ${axis.y}, ${axis.z}) has zero length`);
    this.tf = [axis.x / n, axis.y / n, axis.z / n];
  }

  /** Feeds one acceleration sample, `dt` seconds after the previous one. */
  observe(ax: number, ay: number, az: number, dt: number): void {
    // Running mean of acceleration (first-order low-pass, time constant tau): gravity dominates it
    // on any robot that is not accelerating for many seconds on end.
    if (!this.started) {
      this.gx = ax;
      this.gy = ay;
      this.gz = az;
      this.started = true;
    } else {
      const k = Math.min(1, dt / (this.cfg.gravity_time_constant ?? 2));
      this.gx += k * (ax - this.gx);
      this.gy += k * (ay - this.gy);
      this.gz += k * (az - this.gz);
    }
  }

  /**
   * Whether the running mean can be gravity (0.5 g to 1.5 g): a driver that removes gravity, or
   * publishes g instead of m/s², leaves a mean whose direction is not "up".
   */
  gravityLike(): boolean {
    const n = Math.hypot(this.gx, this.gy, this.gz);
    return n >= 0.5 * GRAVITY && n <= 1.5 * GRAVITY;
  }

  /** The current unit axis (a copy); straight up the IMU z axis before any sample. */
  vector(): [number, number, number] {
    if (this.tf) return [...this.tf];
    const n = Math.hypot(this.gx, this.gy, this.gz) || 1;
    return [this.gx / n, this.gy / n, this.gz / n];
  }
}
