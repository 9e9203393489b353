// Conversions between the core's float64 seconds and the ROS boundary's {sec, nanosec} / bigint ns.

import type { Stamp } from "./types.ts";

/** A ROS time as decoded from a message: ROS 2 uses `nanosec`, ROS 1 `nsec`. */
export interface RosTimeLike {
  sec: number;
  nanosec?: number;
  nsec?: number;
}

export function rosTimeToSeconds(t: RosTimeLike): Stamp {
  return t.sec + (t.nanosec ?? t.nsec ?? 0) * 1e-9;
}

export function secondsToRosTime(s: Stamp): { sec: number; nanosec: number } {
  let sec = Math.floor(s);
  let nanosec = Math.round((s - sec) * 1e9);
  // Rounding can carry a full second (e.g. 1.9999999999 s).
  if (nanosec >= 1_000_000_000) {
    sec += 1;
    nanosec -= 1_000_000_000;
  }
  return { sec, nanosec };
}

export function nsToSeconds(ns: bigint): Stamp {
  // Split before converting so that epoch stamps keep their nanoseconds.
  const sec = ns / 1_000_000_000n;
  const rem = ns % 1_000_000_000n;
  return Number(sec) + Number(rem) * 1e-9;
}

export function secondsToNs(s: Stamp): bigint {
  const { sec, nanosec } = secondsToRosTime(s);
  return BigInt(sec) * 1_000_000_000n + BigInt(nanosec);
}
