// The fleet link's MQTT settings from the config: checked, its TLS files read, its client options,
// and the payloads that would be too large for peers with the same settings.

import { readFileSync } from "node:fs";
import type { IClientOptions } from "mqtt";
import { batchBytes, MAX_ID } from "../fleet/codec.ts";
import type { Config } from "../runtime/config.ts";
import { validateMqttOptions } from "./mqtt.ts";
import { fleetPacketLimit } from "./mqtt-fleet-topics.ts";

export type FleetTls = Pick<IClientOptions, "ca" | "cert" | "key">;

/** Throws for a bad URL, TLS setting, topic prefix or robot id. */
export function checkFleetConfig(config: Config): void {
  const f = config.fleet;
  validateMqttOptions(
    {
      url: f.url,
      ca: f.ca,
      cert: f.cert,
      key: f.key,
      robot_id: config.mqtt.robot_id,
      topic_prefix: config.mqtt.topic_prefix,
    },
    "fleet",
  );
  // Checked here: the first batch, a second into the run, would otherwise fail to encode.
  const idBytes = Buffer.byteLength(config.mqtt.robot_id);
  if (idBytes > MAX_ID)
    throw new Error(
      `fleet: robot id '${config.mqtt.robot_id}' is ${idBytes} bytes; a fleet payload holds at most ${MAX_ID}`,
    );
}

/** The CA, certificate and key files named by fleet.ca/cert/key; throws naming one it cannot read. */
export function readFleetTls(f: Config["fleet"]): FleetTls {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`fleet: cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code}`);
    }
  };
  return {
    ...(f.ca ? { ca: read("CA", f.ca) } : {}),
    ...(f.cert ? { cert: read("certificate", f.cert) } : {}),
    ...(f.key ? { key: read("key", f.key) } : {}),
  };
}

/**
 * One line for each of our largest payloads (a full batch, a snapshot) over fleet.max_payload_bytes:
 * peers with the same settings would refuse them unread (`size`), every one of them.
 */
export function oversizePayloads(config: Config, channels: number): string[] {
  const f = config.fleet;
  const id = Buffer.byteLength(config.mqtt.robot_id);
  const largest = [
    ["a batch", "publish_rate × batch_period", Math.ceil(f.publish_rate * f.batch_period)],
    ["a snapshot", "snapshot_size", Math.min(f.snapshot_size, f.own_samples)],
  ] as const;
  const lines: string[] = [];
  for (const [what, by, n] of largest) {
    const bytes = batchBytes(id, n, channels);
    if (bytes > f.max_payload_bytes)
      lines.push(
        `fleet: ${what} of ${n} samples (${by}) is ${bytes} bytes, over fleet.max_payload_bytes (${f.max_payload_bytes}): peers with that limit refuse it`,
      );
  }
  return lines;
}

/** mqtt.connect's options for the fleet link; `extra` (tests) goes last. */
export function fleetClientOptions(
  config: Config,
  tls: FleetTls,
  extra: Partial<IClientOptions> | undefined,
): IClientOptions {
  const c = config;
  const f = c.fleet;
  return {
    clientId: `terrain-learner-fleet-${c.mqtt.robot_id}-${Math.random().toString(16).slice(2, 8)}`,
    // MQTT 5, to tell the broker the largest packet we take: it then never sends a payload over
    // max_payload_bytes (a 200 MB one would otherwise be read whole, twice, before being refused).
    protocolVersion: 5,
    properties: { maximumPacketSize: fleetPacketLimit(c.mqtt.topic_prefix, f.max_payload_bytes) },
    clean: true,
    keepalive: c.mqtt.keepalive,
    reconnectPeriod: c.mqtt.reconnect_period * 1000,
    connectTimeout: c.mqtt.connect_timeout * 1000,
    queueQoSZero: false,
    resubscribe: false,
    reconnectOnConnackError: true,
    rejectUnauthorized: f.reject_unauthorized,
    ...(f.username ? { username: f.username } : {}),
    ...(f.password ? { password: f.password } : {}),
    ...tls,
    ...extra,
  };
}
