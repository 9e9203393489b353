// Wheel odometry: dead reckoning of the true motion increments with a wheel-radius scale error that
// wanders, a yaw-rate bias, and slip noise that grows with roughness. It starts at the true pose, so
// odom and the ground truth share a frame and drift grows from zero.

import { wrapAngle } from "../src/core/geometry.ts";
import { Rng } from "./rng.ts";
import type { RobotState } from "./route.ts";
import { roughnessAt, type World } from "./world.ts";

export interface OdomEstimate {
  x: number;
  y: number;
  yaw: number;
  /** Measured forward speed and yaw rate in base_link. */
  v: number;
  w: number;
}

export class OdometryModel {
  readonly estimate: OdomEstimate;
  #world: World;
  #rng: Rng;
  #scale: number;
  #yawBias: number;
  #last: { t: number; x: number; y: number; yaw: number } | undefined;

  constructor(world: World, seed: number, start: { x: number; y: number; yaw: number }) {
    this.#world = world;
    this.#rng = Rng.stream(seed, "odom");
    const cfg = world.file.odometry;
    this.#scale = cfg.scaleError * (this.#rng.next() < 0.5 ? -1 : 1) * this.#rng.uniform(0.5, 1);
    this.#yawBias = cfg.yawRateBias * (this.#rng.next() < 0.5 ? -1 : 1) * this.#rng.uniform(0.5, 1);
    this.estimate = { x: start.x, y: start.y, yaw: start.yaw, v: 0, w: 0 };
  }

  /** Advances the estimate to the true state `s` (call in time order). */
  update(s: RobotState): OdomEstimate {
    const e = this.estimate;
    const last = this.#last;
    if (last === undefined) {
      this.#last = { t: s.t, x: s.x, y: s.y, yaw: s.yaw };
      return e;
    }
    const dt = s.t - last.t;
    if (dt <= 0) return e;
    const cfg = this.#world.file.odometry;
    const rng = this.#rng;
    // True increments in the body frame of the previous pose.
    const dx = s.x - last.x;
    const dy = s.y - last.y;
    const ds = dx * Math.cos(last.yaw) + dy * Math.sin(last.yaw);
    const dyaw = wrapAngle(s.yaw - last.yaw);
    const rough = roughnessAt(this.#world, s.x, s.y);
    const moving = Math.abs(ds) > 1e-6 || Math.abs(dyaw) > 1e-6;
    this.#scale += 0.002 * Math.sqrt(dt) * rng.gauss();
    const slip = moving ? cfg.slip * rough * rng.gauss() : 0;
    const dsM = ds * (1 + this.#scale + slip);
    // Skid-steer yaw from wheel speeds is poor: extra scale error and slip on turns.
    const dyawM = moving
      ? dyaw * (1 + 0.03 + 0.5 * slip) + this.#yawBias * dt + 0.002 * Math.sqrt(dt) * rng.gauss()
      : 0;
    const mid = e.yaw + dyawM / 2;
    e.x += dsM * Math.cos(mid);
    e.y += dsM * Math.sin(mid);
    e.yaw = wrapAngle(e.yaw + dyawM);
    e.v = dsM / dt;
    e.w = dyawM / dt;
    last.t = s.t;
    last.x = s.x;
    last.y = s.y;
    last.yaw = s.yaw;
    return e;
  }
}
