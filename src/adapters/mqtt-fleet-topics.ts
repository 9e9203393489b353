// The fleet's MQTT topics (<prefix>/fleet/<robot_id>/samples and .../snapshot) and the largest
// packet a fleet payload can make on them.

import { MAX_ID } from "../fleet/codec.ts";
import { publishPacketLimit } from "./mqtt-connection.ts";

/**
 * The largest PUBLISH packet a payload of `maxPayload` bytes on a fleet topic can make (a valid
 * payload's robot id, which the topic names, is at most MAX_ID bytes).
 */
export function fleetPacketLimit(prefix: string, maxPayload: number): number {
  const topic = Buffer.byteLength(`${prefix.replace(/\/+$/, "")}/fleet/`) + MAX_ID + "/snapshot".length;
  return publishPacketLimit(topic, maxPayload);
}

export function fleetTopics(prefix: string, robotId: string) {
  const base = `${prefix.replace(/\/+$/, "")}/fleet`;
  return {
    samples: `${base}/${robotId}/samples`,
    snapshot: `${base}/${robotId}/snapshot`,
    subscribe: [`${base}/+/samples`, `${base}/+/snapshot`],
    parse(topic: string): { robotId: string; kind: "samples" | "snapshot" } | undefined {
      if (!topic.startsWith(`${base}/`)) return undefined;
      const [id, kind, ...rest] = topic.slice(base.length + 1).split("/");
      if (!id || rest.length || (kind !== "samples" && kind !== "snapshot")) return undefined;
      return { robotId: id, kind };
    },
  };
}
