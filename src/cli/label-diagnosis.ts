// What a bag's IMU and odometry get wrong, in words: the warnings `label` prints, and why a run
// gave no label.

import { wrapAngle, yawOf } from "../core/geometry.ts";
import type { Quat, Vec3 } from "../core/types.ts";
import type { BagInfo, BagSource } from "../io/bag/index.ts";
import type { Config } from "../runtime/config.ts";
import { baseFrameMismatch, tfTopicsMismatch } from "./bag-tf-checks.ts";
import type { LabelSummary } from "./label.ts";

/**
 * What keeps label from using the bag's TF, with the key to set: TF on other topics than
 * topics.tf / topics.tf_static, or TF that never names frames.base. Replay refuses such a bag;
 * label can take "up" from gravity instead, so these are warnings (given when it did).
 */
export async function tfWarnings(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
): Promise<string[]> {
  const instead = `"up" is taken from gravity in the IMU's data instead`;
  const why = tfTopicsMismatch(info, config) ?? (await baseFrameMismatch(source, info, config));
  return why ? [`${bag}: ${why}; ${instead}`] : [];
}

/** Standard gravity (m/s²). */
const G = 9.80665;

/**
 * What a robot's input gets wrong that the labels cannot show: an acceleration that is not m/s² with
 * gravity, a vertical from TF that gravity contradicts, odometry whose position stands still while
 * its twist moves, IMU and odometry stamped on different clocks, stamps repeated in batches, a band
 * above half the IMU rate.
 */
export function inputWarnings(s: {
  vertical: LabelSummary["vertical"];
  odometry: LabelSummary["odometry"];
  stamps: LabelSummary["stamps"];
  imuFrame: string;
  imu: { accepted: number; duplicate: number; backwards?: number };
  imuRate: number;
  config: Config;
  /** The labels' log10 energy percentiles (p5, p50, p95). */
  log10Energy?: Record<string, number>;
  /** How far the robot turned by the gyro about the vertical and by the odometry (rad). */
  heading?: { imu: number; odometry: number };
}): string[] {
  const out: string[] = [];
  const { vertical, odometry, config } = s;
  const base = config.frames.base;
  const mount =
    s.imuFrame === base
      ? `the IMU's frame_id ${base} (mounted level, z up)`
      : `TF ${base} → ${s.imuFrame || "(IMU frame_id)"}`;
  const g = Math.hypot(...vertical.gravity);
  if (Number.isFinite(g)) {
    const mean = `IMU linear_acceleration averages ${g.toFixed(2)} m/s²`;
    if (g >= 0.5 && g <= 1.5)
      out.push(
        `${mean}: in g, not m/s² as sensor_msgs/Imu is? Energies are then ${(G * G).toFixed(0)}× too small`,
      );
    else if (g > 1.5 * G) out.push(`${mean}, far above gravity (9.81): not in m/s² as sensor_msgs/Imu is?`);
    else if (g < 0.5 * G && vertical.source === "gravity")
      out.push(
        `${mean}, not gravity (9.81): the driver removes gravity (or reports no acceleration), so "up" cannot come from the data; give it with ${mount}`,
      );
  }
  if (
    vertical.source === "tf" &&
    vertical.angle !== null &&
    g >= 0.5 * G &&
    g <= 1.5 * G &&
    vertical.angle > 30
  )
    out.push(
      `the vertical from ${mount} ([${vertical.axis.join(", ")}] in the IMU frame) is ${vertical.angle.toFixed(0)}° from gravity in the IMU's data ([${vertical.gravity.map((x) => (x / g).toFixed(2)).join(", ")}]): the IMU's mount in TF or its frame_id is wrong, and labels measure vibration along the wrong axis`,
    );
  const L = config.labeler.step_length;
  if (odometry.distance < L && odometry.twistDistance > 4 * L)
    out.push(
      `odometry positions moved ${odometry.distance.toFixed(2)} m while its twist adds up to ${odometry.twistDistance.toFixed(1)} m: steps are measured along pose.pose.position, which this odometry does not fill`,
    );
  const { imu, odom } = s.stamps;
  if (imu && odom) {
    const overlap = Math.min(imu[1], odom[1]) - Math.max(imu[0], odom[0]);
    if (overlap < Math.min(imu[1] - imu[0], odom[1] - odom[0]) / 2)
      out.push(
        `IMU stamps (${imu[0].toFixed(3)} to ${imu[1].toFixed(3)} s) and odometry stamps (${odom[0].toFixed(3)} to ${odom[1].toFixed(3)} s) ${overlap > 0 ? `overlap by ${overlap.toFixed(1)} s only` : "do not overlap"}, so the IMU samples have no pose: is one of them stamped on another clock (the device's, not ROS time)?`,
      );
  }
  const backwards = s.imu.backwards ?? 0;
  const total = s.imu.accepted + s.imu.duplicate + backwards;
  if (total > 0 && s.imu.duplicate > total / 4)
    out.push(
      `${s.imu.duplicate} of ${total} IMU messages repeat the stamp before them and were dropped: the driver stamps samples in batches; stamp each sample`,
    );
  // Shown otherwise only as a lower IMU rate (and its band warning): half the samples of a driver
  // whose stamps zig-zag are gone, and the energies are those of the rest.
  if (total > 0 && backwards > total / 20)
    out.push(
      `${backwards} of ${total} IMU messages are stamped more than fusion.reorder_window (${config.fusion.reorder_window} s) before one already taken and were dropped: the stamps go back and forth further than messages are re-ordered, so the labels use only the rest (raise fusion.reorder_window to keep them)`,
    );
  const band = config.labeler.band_high;
  if (Number.isFinite(s.imuRate) && band > s.imuRate / 2)
    out.push(
      `the IMU at ${s.imuRate.toFixed(0)} Hz sees vibration up to ${(s.imuRate / 2).toFixed(0)} Hz only: labeler.band_high ${band} Hz is cut there, so energies are not comparable with a faster IMU's`,
    );
  // A gyro in deg/s turns 57× as far as the odometry: its roll/pitch-rate energy (angular_weight)
  // then swamps the vertical vibration. Only judged once the odometry has turned a radian.
  const h = s.heading;
  if (h && h.odometry > 1 && h.imu > 10 * h.odometry)
    out.push(
      `the IMU's angular_velocity about the vertical adds up to ${h.imu.toFixed(0)} rad of turning while the odometry turned ${h.odometry.toFixed(1)} rad (${(h.imu / h.odometry).toFixed(0)}×): in deg/s, not rad/s as sensor_msgs/Imu is? Its roll/pitch-rate energy is then ${((180 / Math.PI) ** 2).toFixed(0)}× too large`,
    );
  const cal = config.labeler.calibration;
  const e = s.log10Energy ?? {};
  const median = e.p50 ?? Number.NaN;
  // Fixed bounds fitted on another robot (or IMU mount, or labeller settings) put most labels in a
  // tail, where roughness is squeezed towards 0 or 1: nothing else shows it.
  if (cal.mode === "fixed" && (median > cal.high || median < cal.low))
    out.push(
      `half the labels or more lie ${median > cal.high ? "above labeler.calibration.high" : "below labeler.calibration.low"} (fixed bounds ${cal.low} to ${cal.high}; this bag's log10 energy: median ${median}, 5th to 95th percentile ${e.p5} to ${e.p95}), so their roughness is squeezed towards ${median > cal.high ? 1 : 0}: bounds from another robot, IMU mount or labeller settings? Fit them on this robot's drive (label --stats)`,
    );
  return out;
}

/** Problem kinds of the bag itself (cut short, a damaged chunk), kept with the message counters. */
export const BAG_DAMAGE: ReadonlySet<string> = new Set(["truncated", "corrupt"]);

/** Why a bag gave no label, from the summary's counters. */
export function noLabelsReason(s: LabelSummary, config: Config): string {
  const count = (r: Record<string, number>) =>
    Object.entries(r)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  // A cut or damaged bag is counted once, as a problem, not as messages (the damage note names it).
  const messages = Object.fromEntries(
    Object.entries(s.dropped.undecodable).filter(([k]) => !BAG_DAMAGE.has(k)),
  );
  const undecodable = Object.values(messages).reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  if (undecodable > 0) parts.push(`${undecodable} messages did not decode (${count(messages)})`);
  for (const [what, n, dropped, nan] of [
    ["IMU sample", s.accepted.imu, s.dropped.imu, "a NaN or infinity in the stamp, acceleration or rates"],
    [
      "odometry message",
      s.accepted.odom,
      s.dropped.odom,
      "a NaN or infinity in the stamp or pose, or an all-zero pose.pose.orientation",
    ],
  ] as const) {
    const why = count(dropped);
    if (n === 0 && why) parts.push(`every ${what} was dropped (${why}${dropped.nan ? `; nan: ${nan}` : ""})`);
  }
  const skipped = count(s.skipped);
  if (skipped) parts.push(`every step was skipped (${skipped})`);
  const { imu, odom } = s.stamps;
  if (!parts.length && imu && odom && (imu[1] < odom[0] || odom[1] < imu[0]))
    parts.push("no IMU sample has a stamp within the odometry's");
  else if (!parts.length)
    parts.push(
      `the robot never completed a ${config.labeler.step_length} m step (labeler.step_length) while moving in ${s.duration} s of data`,
    );
  if (s.warnings.length) parts.push(`see the warning${s.warnings.length > 1 ? "s" : ""} above`);
  return parts.join("; ");
}

/**
 * How far the robot turned by the gyro and by the odometry's orientation (rad): the sums over 1 s
 * bins of |heading change|, each bin's gyro integrated with its sign so that vibration cancels, and
 * less the gyro's mean rate (its bias would otherwise add up over a long straight drive). A gyro in
 * deg/s turns ~57× as far; the bins need not line up, so two clocks do not matter.
 */
export class HeadingChange {
  /** Per bin: ∫ω dt (x, y, z) and ∫dt. */
  private readonly imu = new Map<number, [number, number, number, number]>();
  private readonly odom = new Map<number, number>();
  private imuT = Number.NaN;
  private odomT = Number.NaN;
  private odomYaw = Number.NaN;

  addImu(t: number, w: Vec3): void {
    const dt = t - this.imuT;
    if (Number.isFinite(t)) this.imuT = t;
    if (!(dt > 0 && dt < 0.5) || !Number.isFinite(w.x + w.y + w.z)) return;
    const bin = this.imu.get(Math.floor(t)) ?? [0, 0, 0, 0];
    bin[0] += w.x * dt;
    bin[1] += w.y * dt;
    bin[2] += w.z * dt;
    bin[3] += dt;
    this.imu.set(Math.floor(t), bin);
  }

  addOdom(t: number, q: Quat): void {
    const yaw = yawOf(q);
    if (!Number.isFinite(t) || !Number.isFinite(yaw) || t <= this.odomT) return;
    const dyaw = wrapAngle(yaw - this.odomYaw);
    if (Number.isFinite(dyaw)) this.odom.set(Math.floor(t), (this.odom.get(Math.floor(t)) ?? 0) + dyaw);
    this.odomT = t;
    this.odomYaw = yaw;
  }

  /** Total turn by the gyro about `up` (a unit vector in the IMU frame) and by the odometry. */
  totals(up: readonly [number, number, number]): { imu: number; odometry: number } {
    let sum = 0;
    let time = 0;
    for (const [x, y, z, dt] of this.imu.values()) {
      sum += x * up[0] + y * up[1] + z * up[2];
      time += dt;
    }
    const mean = time > 0 ? sum / time : 0;
    let imu = 0;
    for (const [x, y, z, dt] of this.imu.values())
      imu += Math.abs(x * up[0] + y * up[1] + z * up[2] - mean * dt);
    let odometry = 0;
    for (const v of this.odom.values()) odometry += Math.abs(v);
    return { imu, odometry };
  }
}
