// The serial line parser's options, counters and output interface (see serial-protocol.ts).

import type { ImuSample, OdomSample } from "../core/types.ts";

export type SerialMode = "nmea" | "csv";

export interface SerialParserOptions {
  mode: SerialMode;
  /** Longest accepted line in bytes, `$` and `*HH` included, line end excluded. */
  maxLineLength: number;
  /** CSV mode: the name of each column. */
  csvColumns: readonly string[];
  /** NMEA mode: reject sentences without `*HH`. */
  requireChecksum: boolean;
  imuFrame: string;
  odomFrame: string;
  baseFrame: string;
  /** Multiplies accelerations (e.g. 9.80665 for a device that reports g). */
  accelScale: number;
  /** Multiplies angular rates (e.g. π/180 for a device that reports deg/s). */
  gyroScale: number;
  /** Width of the device's µs counter; 0 for a counter that never wraps. */
  clockWrapBits: number;
  /** Seconds: a larger backward step or lead over arrival time re-anchors the device clock. */
  maxClockJump: number;
  /** Seconds: odometry is not integrated across a larger gap. */
  maxOdomGap: number;
  /** Told of a problem with the device's output that no counter explains (a CSV header that changed). */
  onWarning?: (message: string) => void;
}

export const DEFAULT_SERIAL_PARSER_OPTIONS: SerialParserOptions = {
  mode: "nmea",
  maxLineLength: 256,
  csvColumns: ["t_us", "ax", "ay", "az", "gx", "gy", "gz", "v", "w"],
  requireChecksum: true,
  imuFrame: "imu_link",
  odomFrame: "odom",
  baseFrame: "base_link",
  accelScale: 1,
  gyroScale: 1,
  clockWrapBits: 32,
  maxClockJump: 1,
  maxOdomGap: 0.5,
};

export interface SerialCounters {
  bytes: number;
  /** Complete lines seen (valid or not). */
  lines: number;
  imu: number;
  odom: number;
  /** NMEA: bytes outside any sentence. */
  garbageBytes: number;
  checksumErrors: number;
  /** Wrong field count, unparsable number, or a sentence cut short by the next `$`. */
  malformed: number;
  unknownSentences: number;
  overlong: number;
  nonFinite: number;
  /** CSV header rows and comments skipped. */
  skipped: number;
  /** CSV: the first line after each open, dropped: a device already streaming is joined mid-line. */
  partialLines: number;
  clockWraps: number;
  clockResets: number;
  /** Samples stamped with arrival time because the line had no device time. */
  arrivalStamped: number;
}

export interface SerialSink {
  imu(sample: ImuSample): void;
  odom(sample: OdomSample): void;
}

export function zeroSerialCounters(): SerialCounters {
  return {
    bytes: 0,
    lines: 0,
    imu: 0,
    odom: 0,
    garbageBytes: 0,
    checksumErrors: 0,
    malformed: 0,
    unknownSentences: 0,
    overlong: 0,
    nonFinite: 0,
    skipped: 0,
    partialLines: 0,
    clockWraps: 0,
    clockResets: 0,
    arrivalStamped: 0,
  };
}
