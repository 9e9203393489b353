// Per-channel decoder setup for MCAP files: schema + message encoding to a Decoder, or why not.

import type { McapTypes } from "@mcap/core";
import { errorMessage, problem } from "./common.ts";
import { cdrDecoder, type Decoder, normaliseType, ros1Decoder } from "./decoders.ts";
import { zstdFramed } from "./rosbag2-compressed.ts";

export interface ChannelState {
  topic: string;
  type: string;
  messageEncoding: string;
  decoder: Decoder | undefined;
  /** Why no decoder could be built (unknown type, unsupported encoding, bad schema). */
  unknown: string | undefined;
}

/** `zstdMessages`: each message's data is one zstd frame (rosbag2 compression mode MESSAGE). */
export function channelState(
  channel: McapTypes.Channel,
  schema: McapTypes.Schema | undefined,
  zstdMessages: boolean,
): ChannelState {
  const type = normaliseType(schema?.name ?? "");
  const state: ChannelState = {
    topic: channel.topic,
    type,
    messageEncoding: channel.messageEncoding,
    decoder: undefined,
    unknown: undefined,
  };
  try {
    const text = schema ? new TextDecoder().decode(schema.data) : undefined;
    if (channel.messageEncoding === "cdr") {
      state.decoder = cdrDecoder(type, text, schema?.encoding);
    } else if (channel.messageEncoding === "ros1" && schema?.encoding === "ros1msg" && text !== undefined) {
      state.decoder = ros1Decoder(text);
    } else {
      state.unknown = `unsupported message encoding "${channel.messageEncoding}"`;
      return state;
    }
    if (!state.decoder) state.unknown = `no message definition for ${type || "(no schema)"}`;
    else if (zstdMessages) state.decoder = zstdFramed(state.decoder, channel.topic);
  } catch (err) {
    state.unknown = `bad schema for ${type}: ${errorMessage(err)}`;
  }
  return state;
}

export function unknownProblem(path: string, state: ChannelState): ReturnType<typeof problem> {
  return problem(
    "unknown_type",
    `${path}: ${state.topic}: ${state.unknown}; its messages are skipped`,
    state.topic,
  );
}
