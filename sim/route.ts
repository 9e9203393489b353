// The robot's true motion: a unicycle (skid-steer) driven at a fixed internal step by a simple
// controller towards targets, either the world's waypoints or a seeded random walk that stays in
// bounds and never puts a wheel on terrain marked `driven: false`. Sensors sample this trajectory at
// their own rates by interpolation, so changing a sensor rate does not change the path.

import { wrapAngle } from "../src/core/geometry.ts";
import { Rng } from "./rng.ts";
import { terrainAt, type World } from "./world.ts";

export interface RobotState {
  t: number;
  x: number;
  y: number;
  yaw: number;
  /** Forward speed (m/s) and yaw rate (rad/s) in base_link. */
  v: number;
  w: number;
  /** Forward and yaw accelerations. */
  a: number;
  alpha: number;
}

export function newState(): RobotState {
  return { t: 0, x: 0, y: 0, yaw: 0, v: 0, w: 0, a: 0, alpha: 0 };
}

function copyState(src: RobotState, dst: RobotState): void {
  dst.t = src.t;
  dst.x = src.x;
  dst.y = src.y;
  dst.yaw = src.yaw;
  dst.v = src.v;
  dst.w = src.w;
  dst.a = src.a;
  dst.alpha = src.alpha;
}

/** Internal integration step (s). */
export const ROUTE_DT = 1 / 400;

export class RouteDriver {
  readonly world: World;
  readonly start: { x: number; y: number; yaw: number };
  #rng: Rng;
  #prev = newState();
  #cur = newState();
  #step = 0;
  #t0: number;
  // Controller state.
  #targetX = 0;
  #targetY = 0;
  #segSpeed = 1;
  #hasTarget = false;
  #stopUntil = 0;
  #spinUntil = 0;
  #spinDir = 1;
  #waypoint = 0;
  #visits = new Map<number, number>();
  /** Seconds driven on each terrain, and how often a target was chosen next to each never-driven one. */
  #timeOn: Float64Array;
  #lookedAt: Float64Array;
  /** Stops made and distance driven, for the summary and tests. */
  stops = 0;
  distance = 0;
  /** Samples where a wheel was on never-driven terrain (should stay 0 in random mode). */
  violations = 0;

  constructor(world: World, seed: number, t0: number) {
    this.world = world;
    this.#rng = Rng.stream(seed, "route");
    this.#timeOn = new Float64Array(world.terrains.length);
    this.#lookedAt = new Float64Array(world.terrains.length);
    this.#t0 = t0;
    this.start = this.#chooseStart();
    const s = this.#cur;
    s.t = t0;
    s.x = this.start.x;
    s.y = this.start.y;
    s.yaw = this.start.yaw;
    copyState(s, this.#prev);
    // Stand still for a moment at the start: drivers and estimators see gravity at rest first.
    this.#stopUntil = t0 + 1.0;
  }

  /** Interpolated true state at time t (t must not go backwards by more than one step). */
  sample(t: number, out: RobotState): RobotState {
    while (this.#cur.t < t) this.#advance();
    const p = this.#prev;
    const c = this.#cur;
    const span = c.t - p.t;
    const f = span > 0 ? Math.min(1, Math.max(0, (t - p.t) / span)) : 1;
    out.t = t;
    out.x = p.x + (c.x - p.x) * f;
    out.y = p.y + (c.y - p.y) * f;
    out.yaw = wrapAngle(p.yaw + wrapAngle(c.yaw - p.yaw) * f);
    out.v = p.v + (c.v - p.v) * f;
    out.w = p.w + (c.w - p.w) * f;
    out.a = c.a;
    out.alpha = c.alpha;
    return out;
  }

  // -------------------------------------------------------------------------------------------

  #drivable(x: number, y: number): boolean {
    const b = this.world.file.bounds;
    if (x < b.xMin || x > b.xMax || y < b.yMin || y > b.yMax) return false;
    const t = terrainAt(this.world, x, y);
    return t >= 0 && this.world.drivenOf[t] === 1;
  }

  /** The robot's footprint plus clearance at (x, y, yaw) is all drivable. */
  #footprintClear(x: number, y: number, yaw: number, extra: number): boolean {
    const r = this.world.file.robot;
    const hl = Math.max(r.wheelbase, r.width) / 2 + extra;
    const hw = r.width / 2 + extra;
    const c = Math.cos(yaw);
    const s = Math.sin(yaw);
    for (const fx of [-hl, 0, hl]) {
      for (const fy of [-hw, 0, hw]) {
        if (!this.#drivable(x + c * fx - s * fy, y + s * fx + c * fy)) return false;
      }
    }
    return true;
  }

  #segmentClear(x0: number, y0: number, x1: number, y1: number): boolean {
    const len = Math.hypot(x1 - x0, y1 - y0);
    const yaw = Math.atan2(y1 - y0, x1 - x0);
    const n = Math.max(1, Math.ceil(len / 0.25));
    const clearance = this.world.file.route.clearance;
    for (let i = 0; i <= n; i++) {
      const f = i / n;
      if (!this.#footprintClear(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, yaw, clearance)) return false;
    }
    return true;
  }

  /** Never-driven terrain under the footprint at (x, y, yaw), or −1 (the bounds are not checked). */
  #noDriveUnder(x: number, y: number, yaw: number): number {
    const r = this.world.file.robot;
    const hl = Math.max(r.wheelbase, r.width) / 2;
    const hw = r.width / 2;
    const c = Math.cos(yaw);
    const s = Math.sin(yaw);
    for (const fx of [-hl, 0, hl]) {
      for (const fy of [-hw, 0, hw]) {
        const t = terrainAt(this.world, x + c * fx - s * fy, y + s * fx + c * fy);
        if (t >= 0 && this.world.drivenOf[t] === 0) return t;
      }
    }
    return -1;
  }

  /**
   * A waypoint route's straight legs (start → waypoints → back to the first) keep the footprint off
   * `driven: false` terrain: a route that drives on it would break what the world file says of it.
   */
  #checkWaypointLegs(start: { x: number; y: number }): void {
    const wps = this.world.file.route.waypoints ?? [];
    const pts = [[start.x, start.y], ...wps, ...(wps.length > 1 ? [wps[0]!] : [])];
    for (let i = 1; i < pts.length; i++) {
      const [x0, y0] = pts[i - 1] as [number, number];
      const [x1, y1] = pts[i] as [number, number];
      const yaw = Math.atan2(y1 - y0, x1 - x0);
      const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / 0.25));
      for (let k = 0; k <= n; k++) {
        const x = x0 + ((x1 - x0) * k) / n;
        const y = y0 + ((y1 - y0) * k) / n;
        const t = this.#noDriveUnder(x, y, yaw);
        if (t < 0) continue;
        const leg = i === 1 ? "route.start" : `route.waypoints.${(i - 2) % wps.length}`;
        throw new Error(
          `${leg}: the leg from (${x0}, ${y0}) to (${x1}, ${y1}) drives onto never-driven terrain ` +
            `'${this.world.terrains[t]!.name}' near (${x.toFixed(1)}, ${y.toFixed(1)})`,
        );
      }
    }
  }

  #chooseStart(): { x: number; y: number; yaw: number } {
    const route = this.world.file.route;
    if (route.start) {
      const { x, y, yaw } = route.start;
      if (route.kind === "waypoints") this.#checkWaypointLegs(route.start);
      else if (!this.#footprintClear(x, y, yaw, route.clearance)) {
        // The random walk only drives where this holds: from here it would never move.
        throw new Error(
          `route.start: the robot at (${x}, ${y}) does not fit there: its footprint plus route.clearance ` +
            `(${route.clearance} m) must lie inside the bounds and off never-driven terrain`,
        );
      }
      return { x, y, yaw };
    }
    const b = this.world.file.bounds;
    const cx = (b.xMin + b.xMax) / 2;
    const cy = (b.yMin + b.yMax) / 2;
    const clearance = route.clearance + 0.5;
    for (let r = 0; r < Math.max(b.xMax - b.xMin, b.yMax - b.yMin); r += 0.5) {
      const n = Math.max(1, Math.ceil((2 * Math.PI * r) / 0.5));
      for (let k = 0; k < n; k++) {
        const a = (2 * Math.PI * k) / n;
        const x = cx + r * Math.cos(a);
        const y = cy + r * Math.sin(a);
        if (this.#footprintClear(x, y, 0, clearance)) {
          if (route.kind === "waypoints") this.#checkWaypointLegs({ x, y });
          return { x, y, yaw: 0 };
        }
      }
    }
    throw new Error(`world '${this.world.name}': no drivable start position inside the bounds`);
  }

  #visitKey(x: number, y: number): number {
    return Math.floor(x / 5) * 100003 + Math.floor(y / 5);
  }

  /** A never-driven terrain within `radius` of (x, y), or −1: the random walk likes to look at them. */
  #nearNoDrive(x: number, y: number, radius: number): number {
    for (const r of [radius / 2, radius]) {
      for (let k = 0; k < 12; k++) {
        const a = (2 * Math.PI * k) / 12;
        const t = terrainAt(this.world, x + r * Math.cos(a), y + r * Math.sin(a));
        if (t >= 0 && this.world.drivenOf[t] === 0) return t;
      }
    }
    return -1;
  }

  #pickTarget(s: RobotState): void {
    const { robot, route } = this.world.file;
    const rng = this.#rng;
    const speed = () => rng.uniform(robot.minSpeed, Math.max(robot.minSpeed, robot.maxSpeed));
    if (route.kind === "waypoints") {
      const wps = route.waypoints ?? [];
      if (wps.length === 0) throw new Error("route.waypoints: a waypoint route needs at least one waypoint");
      const wp = wps[this.#waypoint % wps.length]!;
      this.#waypoint++;
      this.#targetX = wp[0];
      this.#targetY = wp[1];
      this.#segSpeed = Math.min(robot.maxSpeed, wp[2] ?? speed());
      this.#hasTarget = true;
      return;
    }
    let best = -Infinity;
    let bx = 0;
    let by = 0;
    let bestNoDrive = -1;
    for (let i = 0; i < 48; i++) {
      // Mostly ahead, sometimes anywhere.
      const ang = i % 3 === 0 ? rng.uniform(-Math.PI, Math.PI) : s.yaw + rng.uniform(-1.2, 1.2);
      const len = rng.uniform(4, 22);
      const x = s.x + len * Math.cos(ang);
      const y = s.y + len * Math.sin(ang);
      if (!this.#segmentClear(s.x, s.y, x, y)) continue;
      const turn = Math.abs(wrapAngle(ang - s.yaw));
      const visits = this.#visits.get(this.#visitKey(x, y)) ?? 0;
      // Balance the experience: terrains driven least so far, and never-driven terrains looked at
      // least so far, attract the route.
      const end = terrainAt(this.world, x, y);
      const driveBonus = end >= 0 ? 1.5 / (1 + this.#timeOn[end]! / 15) : 0;
      const noDrive = this.#nearNoDrive(x, y, 6);
      const lookBonus = noDrive >= 0 ? 1.2 / (1 + this.#lookedAt[noDrive]!) : 0;
      const score = -0.6 * turn - 0.8 * visits + driveBonus + lookBonus + 0.04 * len + rng.uniform(0, 1);
      if (score > best) {
        best = score;
        bx = x;
        by = y;
        bestNoDrive = noDrive;
      }
    }
    if (best === -Infinity) {
      // Boxed in (a corner, or no-drive terrain ahead): turn on the spot for a while, then retry.
      this.#hasTarget = false;
      this.#spinUntil = s.t + rng.uniform(1, 2.5);
      this.#spinDir = rng.next() < 0.5 ? -1 : 1;
      return;
    }
    if (bestNoDrive >= 0) this.#lookedAt[bestNoDrive]!++;
    this.#targetX = bx;
    this.#targetY = by;
    this.#segSpeed = speed();
    this.#hasTarget = true;
  }

  #advance(): void {
    const { robot, route } = this.world.file;
    const dt = ROUTE_DT;
    const s = this.#cur;
    copyState(s, this.#prev);
    this.#step++;
    const t = this.#t0 + this.#step * dt;

    let vDes = 0;
    let wDes = 0;
    if (t < this.#stopUntil) {
      // stopped
    } else if (t < this.#spinUntil) {
      wDes = 0.5 * this.#spinDir;
    } else {
      if (!this.#hasTarget) this.#pickTarget(s);
      if (this.#hasTarget) {
        const dx = this.#targetX - s.x;
        const dy = this.#targetY - s.y;
        const dist = Math.hypot(dx, dy);
        if (dist < 0.6) {
          this.#hasTarget = false;
          const k = this.#visitKey(s.x, s.y);
          this.#visits.set(k, (this.#visits.get(k) ?? 0) + 1);
          if (this.#rng.next() < route.stopProbability) {
            this.#stopUntil = t + this.#rng.uniform(route.stopSeconds[0], route.stopSeconds[1]);
            this.stops++;
          }
        } else {
          const err = wrapAngle(Math.atan2(dy, dx) - s.yaw);
          wDes = Math.max(-robot.maxYawRate, Math.min(robot.maxYawRate, 1.8 * err));
          const align = Math.cos(err);
          // Turn on the spot when far off heading; otherwise slow down in proportion to the error.
          vDes = Math.abs(err) > 1.0 ? 0 : this.#segSpeed * align * align;
          // Arrive gently at the last metres of a waypoint route (a random walk just carries on).
          if (route.kind === "waypoints") vDes = Math.min(vDes, Math.max(0.3, dist));
        }
      }
    }

    // Safety: never let the footprint roll onto no-drive terrain or out of bounds (random routes).
    if (route.kind === "random" && vDes > 0) {
      const look = 0.3 + (s.v * s.v) / (2 * robot.decel);
      const c = Math.cos(s.yaw);
      const sn = Math.sin(s.yaw);
      if (!this.#footprintClear(s.x + c * look, s.y + sn * look, s.yaw, route.clearance * 0.5)) {
        vDes = 0;
        if (s.v < 0.05) {
          this.#hasTarget = false;
          this.#pickTarget(s);
        }
      }
    }

    // Acceleration-limited speed and yaw rate.
    const dv = vDes - s.v;
    const maxDv = (dv > 0 ? robot.accel : robot.decel) * dt;
    const a = Math.max(-maxDv, Math.min(maxDv, dv)) / dt;
    const dw = wDes - s.w;
    const maxDw = 2.5 * dt;
    const alpha = Math.max(-maxDw, Math.min(maxDw, dw)) / dt;
    const v = s.v + a * dt;
    const w = s.w + alpha * dt;
    // Midpoint integration of the unicycle.
    const yawMid = s.yaw + 0.5 * w * dt;
    s.x += v * Math.cos(yawMid) * dt;
    s.y += v * Math.sin(yawMid) * dt;
    s.yaw = wrapAngle(s.yaw + w * dt);
    s.v = v;
    s.w = w;
    s.a = a;
    s.alpha = alpha;
    s.t = t;
    this.distance += Math.abs(v) * dt;
    if (v !== 0) {
      const here = terrainAt(this.world, s.x, s.y);
      if (here >= 0) this.#timeOn[here]! += dt;
    }
    if (route.kind === "random" && v > 0 && !this.#footprintClear(s.x, s.y, s.yaw, 0)) this.violations++;
  }
}
