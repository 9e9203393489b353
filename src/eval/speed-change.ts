// How steady the published speed limit is: its mean absolute change per second between consecutive
// frames (at most MAX_GAP_S apart), in m/s per second, and its mean over those frames. The first says
// how often a robot following it would brake and speed up, the second what the limit costs in speed.

import { MAX_GAP_S } from "./costmap-flicker.ts";

export class SpeedChangeMeter {
  #prev = Number.NaN;
  #prevStamp = Number.NaN;
  sumAbs = 0;
  seconds = 0;
  #sumLimit = 0;
  #frames = 0;

  observe(stamp: number, limit: number): void {
    if (!Number.isFinite(limit)) return;
    const dt = stamp - this.#prevStamp;
    if (dt > 0 && dt <= MAX_GAP_S && Number.isFinite(this.#prev)) {
      this.sumAbs += Math.abs(limit - this.#prev);
      this.seconds += dt;
    }
    this.#prev = limit;
    this.#prevStamp = stamp;
    this.#sumLimit += limit;
    this.#frames++;
  }

  /** Σ|Δ limit| / ΣΔt (m/s per s); null before any pair. */
  get change(): number | null {
    return this.seconds > 0 ? this.sumAbs / this.seconds : null;
  }

  /** Mean published limit over the frames seen (m/s); null before any. */
  get mean(): number | null {
    return this.#frames > 0 ? this.#sumLimit / this.#frames : null;
  }
}
