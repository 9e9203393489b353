// Keyframe selection and storage: every Nth frame, at least `min_distance` metres apart, kept for a
// bounded horizon (seconds of sensor time, metres travelled, count). The payload is generic: the
// pipeline stores whatever it needs (a feature map) and gets it back by id.

import type { Stamp } from "./types.ts";

export interface KeyframeSettings {
  every_n_frames: number;
  min_distance: number;
  horizon_seconds: number;
  horizon_distance: number;
  max_count: number;
}

export interface Keyframe<T> {
  id: number;
  stamp: Stamp;
  /** Cumulative odometry distance at the keyframe's stamp. */
  distance: number;
  data: T;
}

export type KeyframeExpiry = "age" | "distance" | "count";

export class KeyframeStore<T> {
  private readonly cfg: KeyframeSettings;
  private readonly frames: Keyframe<T>[] = [];
  private nextId = 1;
  private frameCounter = 0;
  private lastKeptDistance = Number.NEGATIVE_INFINITY;
  private lastKeptStamp = Number.NEGATIVE_INFINITY;
  readonly expired: Record<KeyframeExpiry, number> = { age: 0, distance: 0, count: 0 };
  added = 0;

  constructor(cfg: KeyframeSettings) {
    this.cfg = cfg;
  }

  /**
   * Counts one offered frame and says whether it should be kept: every Nth frame offered, and at
   * least min_distance travelled since the last keyframe. Call exactly once per camera frame.
   */
  offer(stamp: Stamp, distance: number): boolean {
    const n = this.frameCounter++;
    if (n % this.cfg.every_n_frames !== 0) return false;
    if (!(stamp > this.lastKeptStamp)) return false;
    return !(distance - this.lastKeptDistance < this.cfg.min_distance);
  }

  add(stamp: Stamp, distance: number, data: T): number {
    const id = this.nextId++;
    const kf: Keyframe<T> = { id, stamp, distance, data };
    // Frames arrive in stamp order; an out-of-order one is inserted in place.
    let i = this.frames.length;
    while (i > 0 && this.frames[i - 1]!.stamp > stamp) i--;
    this.frames.splice(i, 0, kf);
    if (stamp > this.lastKeptStamp) {
      this.lastKeptStamp = stamp;
      this.lastKeptDistance = distance;
    }
    this.added++;
    while (this.frames.length > this.cfg.max_count) {
      this.frames.shift();
      this.expired.count++;
    }
    return id;
  }

  /**
   * Forgets every keyframe and the selection state (the stamps went back: a new timeline). Ids keep
   * growing, so an id handed out before never names a later keyframe.
   */
  clear(): void {
    this.frames.length = 0;
    this.frameCounter = 0;
    this.lastKeptDistance = Number.NEGATIVE_INFINITY;
    this.lastKeptStamp = Number.NEGATIVE_INFINITY;
  }

  /** Drops keyframes older than the horizon relative to now (stamp, distance). Returns how many. */
  prune(now: Stamp, distance: number): number {
    let dropped = 0;
    while (this.frames.length > 0) {
      const f = this.frames[0]!;
      if (now - f.stamp > this.cfg.horizon_seconds) this.expired.age++;
      else if (distance - f.distance > this.cfg.horizon_distance) this.expired.distance++;
      else break;
      this.frames.shift();
      dropped++;
    }
    return dropped;
  }

  get(id: number): Keyframe<T> | undefined {
    // Ids grow with insertion; a linear scan over ≤ max_count frames is fine at label rate.
    for (const f of this.frames) if (f.id === id) return f;
    return undefined;
  }

  /** Live keyframes, oldest first (do not mutate). */
  all(): readonly Keyframe<T>[] {
    return this.frames;
  }

  get size(): number {
    return this.frames.length;
  }

  get oldestStamp(): Stamp {
    return this.frames[0]?.stamp ?? Number.NaN;
  }
}
