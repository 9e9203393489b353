// Message decoders built from the definitions a bag carries (MCAP schemas, the rosbag2
// `message_definitions` table, ROS 1 connection records), or from our built-in ROS 2 definitions
// for bags that carry none. The codecs themselves are @foxglove's; this file only picks one.

import { parseRos2idl } from "@foxglove/ros2idl-parser";
import { parse } from "@foxglove/rosmsg";
import { MessageReader as Ros1Reader } from "@foxglove/rosmsg-serialization";
import { MessageReader as CdrReader } from "@foxglove/rosmsg2-serialization";
import { nsToSeconds } from "../../core/time.ts";
import { definitionsFor, hasDefinition, ros2TypeName } from "../ros/definitions.ts";
import { errorMessage, problem } from "./common.ts";
import type { BagEvent } from "./types.ts";

export type Decoder = (data: Uint8Array) => unknown;

/**
 * A CDR decoder for `type` from the schema's text — `ros2msg` (.msg with dependencies) or `ros2idl`
 * (OMG IDL, as rosbag2 writes for types defined in .idl) — else from the built-in table; undefined
 * when none has it. Other schema encodings fall back to the table.
 */
export function cdrDecoder(
  type: string,
  schemaText: string | undefined,
  schemaEncoding: string = "ros2msg",
): Decoder | undefined {
  if (schemaText !== undefined && schemaText.trim() !== "") {
    if (schemaEncoding === "ros2msg") {
      const reader = new CdrReader(parse(schemaText, { ros2: true }));
      return (data) => reader.readMessage(data);
    }
    if (schemaEncoding === "ros2idl") {
      // The root type first, as MessageReader expects (the text may list dependencies before it).
      const defs = parseRos2idl(schemaText);
      const root = defs.findIndex((d) => d.name === type);
      if (root < 0) throw new Error(`ros2idl schema does not define ${type}`);
      const reader = new CdrReader([defs[root]!, ...defs.filter((_, i) => i !== root)]);
      return (data) => reader.readMessage(data);
    }
  }
  if (!hasDefinition(type)) return undefined;
  const reader = new CdrReader(definitionsFor(type));
  return (data) => reader.readMessage(data);
}

/** A ROS 1 decoder from a connection's `message_definition` text; undefined when the text is empty. */
export function ros1Decoder(text: string): Decoder | undefined {
  if (text.trim() === "") return undefined;
  const reader = new Ros1Reader(parse(text));
  return (data) => reader.readMessage(data);
}

/** ROS 1 / legacy rosbag2 type names (`sensor_msgs/Imu`) in ROS 2 form (`sensor_msgs/msg/Imu`). */
export function normaliseType(type: string): string {
  return ros2TypeName(type);
}

/**
 * Decodes one message of any format into a BagEvent: a message, or a `decode` Problem naming the
 * file, topic, size and log time, so one bad message never ends a replay.
 */
export function decodeEvent(
  path: string,
  topic: string,
  type: string,
  decoder: Decoder,
  ns: bigint,
  data: Uint8Array,
): BagEvent {
  const logTime = nsToSeconds(ns);
  try {
    return {
      type: "message",
      topic,
      schemaName: type,
      logTime,
      message: decoder(data),
      size: data.byteLength,
    };
  } catch (err) {
    return problem(
      "decode",
      `${path}: ${topic}: cannot decode ${type} (${data.byteLength} bytes at log time ${logTime}): ${errorMessage(err)}`,
      topic,
      logTime,
    );
  }
}
