// MQTT broker connection settings: option checks, URL redaction, and mqtt.js client options (credentials, TLS).

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import type { Config } from "../runtime/config.ts";
import { UserError } from "../runtime/errors.ts";

export type MqttOptions = Config["mqtt"];

/** `mqtt://user:secret@host` → `mqtt://user:***@host`: URLs are logged, passwords never. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
  }
}

/**
 * Throws a one-line Error for a broker URL a client cannot use as meant; `section` names the
 * settings (`mqtt` or `fleet`). The scheme is checked first by the caller.
 */
function checkBrokerUrl(
  section: "mqtt" | "fleet",
  o: { url: string; ca?: string; cert?: string; key?: string },
): void {
  // mqtt.js takes `mqtt://` (no host) for localhost:1883, drops a port that is not a number for
  // 1883, and throws a port over 65535 from inside connect, out of reach: the process then hangs.
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new Error(`${section}: '${redactUrl(o.url)}' is not a valid URL (a port is a number up to 65535)`);
  }
  if (!url.hostname) throw new Error(`${section}: the broker URL names no host (mqtt://HOST:PORT)`);
  // TLS files with a plain mqtt:// (or ws://) URL would be ignored: the robot would log in with
  // its password in clear, or reach a TLS listener that only resets the connection.
  const tlsFiles = (["ca", "cert", "key"] as const).filter((k) => o[k]);
  if (tlsFiles.length && !/^(mqtts|ssl|wss):\/\//.test(o.url))
    throw new Error(
      `${section}: ${tlsFiles.map((k) => `${section}.${k}`).join(", ")} set, but '${redactUrl(o.url)}' does not use TLS: use mqtts:// (or wss://)`,
    );
}

/** Throws an Error naming the bad option (URL, robot id, topic prefix); `section` owns the URL. */
export function validateMqttOptions(
  options: Pick<MqttOptions, "url" | "robot_id" | "topic_prefix"> &
    Partial<Pick<MqttOptions, "ca" | "cert" | "key">>,
  section: "mqtt" | "fleet" = "mqtt",
): void {
  if (!options.url) throw new Error("mqtt: no broker URL (set mqtt.url or pass --mqtt)");
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(options.url)) {
    throw new Error(
      `mqtt: URL '${redactUrl(options.url)}' must start with mqtt://, mqtts://, ws:// or wss://`,
    );
  }
  checkBrokerUrl(section, options);
  if (!options.robot_id || /[+#/\s]/.test(options.robot_id)) {
    throw new Error(`mqtt: robot id '${options.robot_id}' must be non-empty without '/', '+', '#' or spaces`);
  }
  if (/[+#]/.test(options.topic_prefix)) {
    throw new Error(`mqtt: topic prefix '${options.topic_prefix}' must not contain '+' or '#'`);
  }
}

/** MQTT's largest packet (remaining length of 268435455 bytes + fixed header). */
const MQTT_MAX_PACKET = 268_435_460;

/**
 * The largest PUBLISH packet a payload of `maxPayload` bytes on a topic of `topicBytes` bytes makes:
 * fixed header, topic, packet id and MQTT 5 properties (a broker may add a few; 64 bytes of room).
 */
export function publishPacketLimit(topicBytes: number, maxPayload: number): number {
  return Math.min(MQTT_MAX_PACKET, maxPayload + 5 + 2 + topicBytes + 2 + 64);
}

/**
 * For a client's "error" handler when it connects with MQTT 5 (to give the broker a Maximum Packet
 * Size): a broker that speaks only MQTT 3.1.1 answers CONNACK 1 (some, 132). Then the client goes
 * on with 3.1.1 from its next attempt and this returns true, once; the caller says what that loses.
 */
export function fellBackToMqtt311(client: MqttClient, err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if ((code !== 1 && code !== 132) || client.options.protocolVersion !== 5) return false;
  client.options.protocolVersion = 4;
  delete client.options.properties;
  return true;
}

/** The largest `cmd` payload a robot takes: commands are a few dozen bytes of JSON. */
export const MAX_COMMAND_BYTES = 64 * 1024;

/**
 * mqtt.js options for one robot's client; `statusTopic` carries the Last Will, `cmdTopic` is the one
 * it subscribes to. Reads the TLS files.
 */
export function mqttClientOptions(
  options: MqttOptions,
  statusTopic: string,
  cmdTopic: string,
): IClientOptions {
  return {
    clientId: options.client_id || `terrain-learner-${options.robot_id}-${randomBytes(3).toString("hex")}`,
    // MQTT 5, to tell the broker the largest packet we take: it then never sends a `cmd` payload over
    // MAX_COMMAND_BYTES (a 100 MB one would otherwise be read whole into memory before being refused).
    protocolVersion: 5,
    properties: { maximumPacketSize: publishPacketLimit(Buffer.byteLength(cmdTopic), MAX_COMMAND_BYTES) },
    clean: true,
    keepalive: options.keepalive,
    reconnectPeriod: options.reconnect_period * 1000,
    connectTimeout: options.connect_timeout * 1000,
    // Our queue is the bounded one; mqtt.js must not keep its own.
    queueQoSZero: false,
    // We subscribe on every connect ourselves.
    resubscribe: false,
    // A broker that refuses us now (restarting, auth backend down) may accept us later.
    reconnectOnConnackError: true,
    will: { topic: statusTopic, payload: Buffer.from("offline"), qos: 1, retain: true },
    ...credentials(options),
    ...tls(options),
  };
}

function credentials(options: MqttOptions): Partial<IClientOptions> {
  const out: Partial<IClientOptions> = {};
  if (options.username) out.username = options.username;
  if (options.password) out.password = options.password;
  return out;
}

function tls(options: MqttOptions): Partial<IClientOptions> {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      // A wrong path in the config is the user's to fix: one line, no stack-trace hint.
      throw new UserError(
        `mqtt: cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  const out: Partial<IClientOptions> = { rejectUnauthorized: options.reject_unauthorized };
  if (options.ca) out.ca = read("CA", options.ca);
  if (options.cert) out.cert = read("certificate", options.cert);
  if (options.key) out.key = read("key", options.key);
  return out;
}

// Here, not beside the telemetry client, so a command checks its flags without loading mqtt.
/** `--mqtt URL --robot-id ID` flags over the config's mqtt section; throws for a bad URL or id. */
export function applyMqttFlags(config: Config, flags: { mqtt?: string; robotId?: string }): void {
  if (flags.mqtt !== undefined) config.mqtt.url = flags.mqtt;
  if (flags.robotId !== undefined) config.mqtt.robot_id = flags.robotId;
  if (config.mqtt.url) validateMqttOptions(config.mqtt);
}
