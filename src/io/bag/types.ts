// The one interface every bag format is read through (see notes/contracts.md). Adapters live in
// their own files and import only these types, so `index.ts` can import the adapters without a cycle.

import type { Problem } from "../../core/types.ts";

export type BagFormat = "mcap" | "rosbag2-sqlite3" | "ros1";

export interface BagMessage {
  type: "message";
  topic: string;
  /** ROS 2 form, e.g. "sensor_msgs/msg/Imu" (ROS 1 and legacy names normalised). */
  schemaName: string;
  /** Log (receive) time in seconds. */
  logTime: number;
  /** Decoded message object (snake_case fields, same shape rclnodejs delivers). */
  message: unknown;
  /** Serialized size in bytes. */
  size: number;
}

export type BagEvent = BagMessage | Problem;

export interface TopicInfo {
  name: string;
  type: string;
  count: number;
  /** `cdr` for ROS 2, `ros1` for ROS 1 bags; informational (human `bag info`). */
  serializationFormat?: string;
}

export interface BagInfo {
  path: string;
  format: BagFormat;
  /** Seconds; 0 for a bag without messages. */
  start: number;
  end: number;
  duration: number;
  topics: TopicInfo[];
  /** Messages that cannot be decoded because their type is unknown, by ROS 2 type name. */
  skipped: Record<string, number>;
  /** Why each type in `skipped` is not read, in a few words (`message encoding json: not read`). */
  skippedWhy?: Record<string, string>;
  warnings: string[];
  /** The data files read (a rosbag2 folder can hold several). */
  files?: string[];
  /** Total bytes of `files`. */
  size?: number;
  /** Total messages (sum of topic counts). */
  messageCount?: number;
}

export interface ReadOptions {
  topics?: readonly string[];
  /** Seconds, inclusive. */
  start?: number;
  /** Seconds, inclusive. */
  end?: number;
  signal?: AbortSignal;
}

export interface BagSource {
  readonly path: string;
  readonly format: BagFormat;
  info(): Promise<BagInfo>;
  /** Messages in log-time order; undecodable messages/unknown types/truncation come out as Problem values. */
  messages(options?: ReadOptions): AsyncGenerator<BagEvent>;
  close(): Promise<void>;
}
