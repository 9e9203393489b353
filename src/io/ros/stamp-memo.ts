// The exact ROS stamps of recent camera messages, keyed by their float64 seconds.
//
// The core keeps time as float64 seconds, which holds an epoch stamp to about 240 ns: converted
// back, a present-day camera stamp comes out up to 119 ns off. Outputs made from a frame must carry
// that frame's stamp exactly (an ExactTime synchroniser pairs ~/roughness/image with the camera
// image by equal stamps), so the boundary remembers the stamps it decoded and gives them back.

import { type RosTimeLike, rosTimeToSeconds, secondsToRosTime } from "../../core/time.ts";

export interface RosTime {
  sec: number;
  nanosec: number;
}

/** A few seconds of camera frames and their CameraInfo at any usual rate. */
const CAPACITY = 512;

export class StampMemo {
  readonly #exact = new Map<number, RosTime>();
  readonly #capacity: number;

  constructor(capacity = CAPACITY) {
    this.#capacity = capacity;
  }

  /** Seconds of `t`, remembering `t` itself for `toRos`. */
  remember(t: RosTimeLike): number {
    const seconds = rosTimeToSeconds(t);
    const exact = { sec: t.sec, nanosec: t.nanosec ?? t.nsec ?? 0 };
    // Re-inserting moves the key to the newest end, so eviction drops the oldest.
    this.#exact.delete(seconds);
    this.#exact.set(seconds, exact);
    if (this.#exact.size > this.#capacity) {
      const oldest = this.#exact.keys().next().value;
      if (oldest !== undefined) this.#exact.delete(oldest);
    }
    return seconds;
  }

  /** The remembered stamp these seconds came from, else the nearest ROS time. */
  toRos(seconds: number): RosTime {
    const exact = this.#exact.get(seconds);
    return exact ? { sec: exact.sec, nanosec: exact.nanosec } : secondsToRosTime(seconds);
  }

  get size(): number {
    return this.#exact.size;
  }
}

/** One process is one node: camera inputs and the outputs made from them share this memo. */
export const cameraStamps = new StampMemo();
