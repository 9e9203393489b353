// Fleet sharing over MQTT (docs/fleet.md): the broker side of src/fleet/exchange.ts.
//
//   <prefix>/fleet/<robot_id>/samples    batches of own training samples, QoS 1, every batch_period
//   <prefix>/fleet/<robot_id>/snapshot   retained reservoir of own samples, QoS 1, every snapshot_period
//
// Each robot subscribes to `<prefix>/fleet/+/samples` and `<prefix>/fleet/+/snapshot`; the retained
// snapshots reach a robot the moment it subscribes. Batches are made on the sensor clock (the
// learning stage's training ticks), so a fast replay shares as much per sensor second as a robot.
// While the broker is down, batches wait in a bounded backlog (oldest dropped, counted) and go out
// in order on reconnect; mqtt.js reconnects every mqtt.reconnect_period and keeps no queue of its own.
// The client's settings are made in mqtt-fleet-client.ts, the echo check in mqtt-fleet-echo.ts.

import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Subscription } from "rxjs";
import { encodeBatch, type FleetBatch, type FleetModel } from "../fleet/codec.ts";
import { FleetExchange, type FleetRows } from "../fleet/exchange.ts";
import type { Config } from "../runtime/config.ts";
import type { GraphTaps, SampleSource } from "../runtime/pipeline.ts";
import { fleetModel } from "./fleet-model.ts";
import { redactUrl } from "./mqtt.ts";
import { fellBackToMqtt311 } from "./mqtt-connection.ts";
import {
  checkFleetConfig,
  type FleetTls,
  fleetClientOptions,
  oversizePayloads,
  readFleetTls,
} from "./mqtt-fleet-client.ts";
import { EchoWatch } from "./mqtt-fleet-echo.ts";
import { fleetTopics } from "./mqtt-fleet-topics.ts";

export interface FleetStatus {
  connected: boolean;
  robotId: string;
  reconnects: number;
  peers: number;
  /** Peer samples accepted into the pool / handed to the learner / down-weighted by own labels. */
  received: number;
  used: number;
  overridden: number;
  rejected: Record<string, number>;
  rejectedTotal: number;
  sent: number;
  bytesIn: number;
  bytesOut: number;
  /** Mean since the first connection. */
  bytesInPerSec: number;
  bytesOutPerSec: number;
  backlog: number;
  backlogDropped: number;
  /** Publisher wall clock to ours, ms (same-host clocks; across hosts it includes their skew). */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  lastError: string;
  /** Payloads on this robot's own topics that it did not publish: another robot with its id. */
  sameId: number;
  /** None of this robot's payloads came back from the broker: it drops them (an ACL). */
  brokerDrops: boolean;
  [key: string]: unknown;
}

export interface FleetLinkOptions {
  log?: (line: string) => void;
  /** Test hook: options passed on to mqtt.connect after ours. */
  clientOptions?: Partial<IClientOptions>;
  now?: () => number;
}

/**
 * One robot's fleet connection. `source` goes into the pipeline (createPipeline's sampleSources);
 * `attach` starts sharing once the pipeline (hence the feature layout) exists.
 */
export class FleetLink implements SampleSource {
  exchange: FleetExchange | undefined;
  readonly #config: Config;
  readonly #log: (line: string) => void;
  readonly #opts: FleetLinkOptions;
  readonly #topics: ReturnType<typeof fleetTopics>;
  /** n: the samples of a batch (0 for a snapshot). */
  readonly #backlog: { topic: string; payload: Buffer; retain: boolean; n: number }[] = [];
  #client: MqttClient | undefined;
  #sub: Subscription | undefined;
  #connects = 0;
  #backlogDropped = 0;
  /** Samples, batches and snapshots handed to a connected client (a backlog's only once it goes out). */
  #sent = 0;
  #batchesSent = 0;
  #snapshotsSent = 0;
  /** Connected now, as far as our events tell: a lost connection is logged once. */
  #up = false;
  /** The last error logged: the same error is logged once per outage, not once per retry. */
  #logged = "";
  /** What comes back on our own topics: does the broker deliver what we publish, is our id taken. */
  readonly #echo: EchoWatch;
  /** QoS 1 publications not acknowledged yet (on any connection). */
  #inflight = 0;
  readonly #refusalsLogged = new Set<string>();
  #bytesIn = 0;
  #bytesOut = 0;
  #since = Number.NaN;
  #lastError = "";
  readonly #latency: number[] = [];
  #closing = false;
  readonly #tls: FleetTls;

  constructor(config: Config, opts: FleetLinkOptions = {}) {
    checkFleetConfig(config);
    this.#config = config;
    this.#log = opts.log ?? (() => undefined);
    this.#opts = opts;
    this.#topics = fleetTopics(config.mqtt.topic_prefix, config.mqtt.robot_id);
    this.#echo = new EchoWatch({
      robotId: config.mqtt.robot_id,
      samplesTopic: this.#topics.samples,
      username: () => this.#username(),
      up: () => this.#up,
      error: (message) => this.#error(message),
    });
    // Read here, not in start(): a missing file is then a config error the CLIs report before they
    // build the pipeline, and start() cannot fail halfway (exchange made, no client).
    this.#tls = readFleetTls(config.fleet);
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)() / 1000;
  }

  /** Starts sharing: the model from the pipeline's backbone and head, own rows from its samples$ tap. */
  attach(pipeline: { taps: GraphTaps; backbone: { channels: number }; learner: { channels: number } }): void {
    this.start(fleetModel(this.#config, pipeline.backbone.channels, pipeline.learner.channels));
    this.#sub = pipeline.taps.samples$.subscribe((rows) => this.exchange?.offerOwn(rows));
  }

  /** Starts sharing with a given model (attach does it for a pipeline; the load bench calls it). */
  start(model: FleetModel): void {
    if (this.exchange) return;
    const c = this.#config;
    this.exchange = new FleetExchange(
      c.mqtt.robot_id,
      model,
      c.fleet,
      c.learner.seed,
      c.labeler.calibration.exponent,
    );
    const f = c.fleet;
    for (const line of oversizePayloads(c, model.channels)) this.#log(line);
    const options = fleetClientOptions(c, this.#tls, this.#opts.clientOptions);
    const client = mqtt.connect(f.url, options);
    this.#client = client;
    client.on("connect", () => this.#onConnect());
    client.on("error", (err) => {
      // A broker that speaks only MQTT 3.1.1: payloads over max_payload_bytes are then received
      // before they are refused.
      if (fellBackToMqtt311(client, err)) {
        this.#log(
          "fleet: the broker does not speak MQTT 5; using MQTT 3.1.1, which cannot ask it to hold back payloads over fleet.max_payload_bytes (set its own message size limit)",
        );
        return;
      }
      const code = (err as { code?: unknown }).code;
      // CONNACK 4 and 5 (MQTT 5: 134 and 135): the broker refused the account; name it, never the password.
      const account =
        code === 4 || code === 5 || code === 134 || code === 135
          ? ` (user '${this.#username() || "none given"}': check fleet.username and fleet.password, one account per robot)`
          : "";
      this.#error(err.message, account);
    });
    client.on("close", () => {
      if (!this.#up || this.#closing) return;
      this.#up = false;
      this.#log(
        `fleet: connection to the broker lost; learning alone, batches wait (at most ${f.backlog}) until it is back`,
      );
    });
    client.on("message", (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    this.#log(`fleet: connecting to ${redactUrl(f.url)} as '${c.mqtt.robot_id}'`);
  }

  /** `hint` goes to the log only; stats' lastError keeps the broker's words. */
  #error(message: string, hint = ""): void {
    if (message !== this.#logged) this.#log(`fleet: ${message}${hint}`);
    this.#logged = message;
    this.#lastError = message;
  }

  #onConnect(): void {
    this.#connects++;
    this.#up = true;
    this.#logged = "";
    this.#echo.connected();
    if (!Number.isFinite(this.#since)) this.#since = this.#now();
    this.#log(`fleet: connected${this.#connects > 1 ? ` (reconnect ${this.#connects - 1})` : ""}`);
    this.#client!.subscribe(this.#topics.subscribe, { qos: 1 }, (err) => {
      if (err) this.#error(`subscribe: ${err.message}`);
    });
    for (const m of this.#backlog.splice(0)) this.#send(m.topic, m.payload, m.retain, m.n);
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const ex = this.exchange;
    const t = this.#topics.parse(topic);
    if (!ex || !t) return;
    // An empty retained message deletes a snapshot from the broker (a robot taken out of the fleet):
    // nothing was sent, nothing is refused.
    if (payload.length === 0 && t.kind === "snapshot") return;
    if (t.robotId === ex.robotId) {
      // A retained snapshot under our id predates this connection (ours from an earlier run).
      if (!retained) this.#echo.own(topic, payload);
      return;
    }
    this.#bytesIn += payload.length;
    const now = this.#now();
    const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.length);
    const r = ex.receive(bytes, t.robotId, now, t.kind);
    if (!r.ok && !this.#refusalsLogged.has(r.reason)) {
      // The first refusal of each reason is logged (a peer on another backbone or input_width is a
      // fleet misconfigured); the rest are counted.
      this.#refusalsLogged.add(r.reason);
      this.#log(
        `fleet: refused a payload on ${topic} (${r.reason}: ${r.detail}); further refusals are counted (rejected)`,
      );
    }
    if (r.ok && r.batch.kind === "samples") {
      this.#latency.push((now - r.batch.sent) * 1000);
      if (this.#latency.length > 2000) this.#latency.splice(0, 1000);
    }
  }

  /** The user name the client logs in with: fleet.username, or the one in the URL, which wins. */
  #username(): string {
    return this.#client?.options.username || this.#config.fleet.username;
  }

  #send(topic: string, payload: Buffer, retain: boolean, n: number): void {
    const client = this.#client;
    if (!client?.connected) {
      if (retain) {
        // Only the newest snapshot matters.
        const i = this.#backlog.findIndex((m) => m.retain);
        if (i >= 0) this.#backlog.splice(i, 1);
      }
      this.#backlog.push({ topic, payload, retain, n });
      while (this.#backlog.length > this.#config.fleet.backlog) {
        this.#backlog.shift();
        this.#backlogDropped++;
      }
      return;
    }
    this.#bytesOut += payload.length;
    this.#sent += n;
    if (retain) this.#snapshotsSent++;
    else this.#batchesSent++;
    this.#echo.sent(payload);
    // Over our own max_payload_bytes, the broker holds the echo back (the Maximum Packet Size we
    // gave it): its absence then says nothing about an ACL.
    const echoes = payload.length <= this.#config.fleet.max_payload_bytes;
    this.#inflight++;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      this.#inflight--;
      // MQTT 5: a broker answers a publish its ACL refuses with "Not authorized" (135); under 3.1.1
      // it drops it silently and only the missing echo tells.
      const refused = (err as { code?: unknown } | undefined)?.code === 135;
      if (refused) this.#echo.acked(topic);
      else if (!err && echoes) this.#echo.acked();
      else if (err) this.#error(err.message);
    });
  }

  #publish(b: FleetBatch): void {
    const topic = b.kind === "snapshot" ? this.#topics.snapshot : this.#topics.samples;
    const bytes = encodeBatch(b);
    const snapshot = b.kind === "snapshot";
    this.#send(
      topic,
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
      snapshot,
      snapshot ? 0 : b.n,
    );
  }

  /** Each training tick (sensor time): publish what is due, hand the learner its peer rows. */
  take(stamp: number): FleetRows[] | undefined {
    const ex = this.exchange;
    if (!ex || this.#closing) return undefined;
    for (const b of ex.outgoing(stamp, this.#now())) this.#publish(b);
    return ex.take(stamp);
  }

  /** The data ended: the last batch and a snapshot go out (close does it when this was not called). */
  finish(): void {
    if (this.#client?.connected && !this.#closing)
      for (const b of this.exchange?.final(this.#now()) ?? []) this.#publish(b);
  }

  /** Publishes a snapshot now (a robot's last word on clean shutdown). */
  publishSnapshot(stamp: number): void {
    if (this.exchange) this.#publish(this.exchange.snapshot(stamp, this.#now()));
  }

  stats(): FleetStatus {
    const s = this.exchange?.stats();
    const dt = Number.isFinite(this.#since) ? Math.max(1e-3, this.#now() - this.#since) : Number.NaN;
    const lat = [...this.#latency].sort((a, b) => a - b);
    const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : null);
    const rejected: Record<string, number> = { ...s?.rejected };
    return {
      connected: this.#client?.connected ?? false,
      robotId: this.#config.mqtt.robot_id,
      reconnects: Math.max(0, this.#connects - 1),
      peers: s?.peers ?? 0,
      received: s?.received ?? 0,
      used: s?.used ?? 0,
      overridden: s?.overridden ?? 0,
      rejected,
      rejectedTotal: Object.values(rejected).reduce((a, b) => a + b, 0),
      sent: this.#sent,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      bytesInPerSec: Number.isFinite(dt) ? this.#bytesIn / dt : 0,
      bytesOutPerSec: Number.isFinite(dt) ? this.#bytesOut / dt : 0,
      backlog: this.#backlog.length,
      backlogDropped: this.#backlogDropped,
      latencyP50Ms: q(0.5),
      latencyP99Ms: q(0.99),
      lastError: this.#lastError,
      sameId: this.#echo.sameId,
      brokerDrops: this.#echo.brokerDrops,
      pool: s?.pool ?? 0,
      evicted: s?.evicted ?? 0,
      duplicates: s?.duplicates ?? 0,
      forgottenPeers: s?.forgottenPeers ?? 0,
      forgottenSamples: s?.forgottenSamples ?? 0,
      batchesSent: this.#batchesSent,
      snapshotsSent: this.#snapshotsSent,
      perPeer: s?.perPeer ?? {},
    };
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Resolves once connected (rejects after timeoutMs). */
  waitConnected(timeoutMs = 10_000): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error("fleet: not started"));
    if (client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off("connect", done);
        reject(new Error(`fleet: not connected after ${timeoutMs} ms (${this.#lastError || "no answer"})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once("connect", done);
    });
  }

  /** Sends what is queued when connected, then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#sub?.unsubscribe();
    const client = this.#client;
    if (!client) return;
    let unacked = 0;
    if (client.connected) {
      // The samples of the last batch period and a snapshot of everything learned since the last
      // one: a robot that joins after this one stopped learns from all of it.
      for (const b of this.exchange?.final(this.#now()) ?? []) this.#publish(b);
      // Their acknowledgements get up to mqtt.close_timeout (at least 1 s): mqtt.js's own end()
      // waits for them without a bound (a forced end() after it does nothing), and a broker gone
      // silent (a robot out of Wi-Fi range) never sends them.
      const deadline = Date.now() + Math.max(1000, this.#config.mqtt.close_timeout * 1000);
      while (this.#inflight > 0 && client.connected && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      unacked = this.#inflight;
      await client.endAsync(unacked > 0);
      // Every publish was acknowledged; a broker that delivers them has sent ours back by now.
      if (unacked === 0) this.#echo.check();
    } else await client.endAsync(true);
    this.#echo.stop();
    const s = this.stats();
    const unsent = this.#backlog.filter((m) => !m.retain);
    const lost =
      (unsent.length
        ? `; ${unsent.reduce((a, m) => a + m.n, 0)} samples in ${unsent.length} batches never sent (${this.#lastError || "broker unreachable"})`
        : "") +
      (unacked
        ? `; ${unacked} payload${unacked === 1 ? "" : "s"} not acknowledged by the broker within mqtt.close_timeout`
        : "");
    this.#log(`fleet: closed (sent ${s.sent} samples, used ${s.used} from peers${lost})`);
  }
}

/** A fleet link when `fleet.url` is set (undefined otherwise); throws for a bad URL or robot id. */
export function fleetFromConfig(config: Config, log?: (line: string) => void): FleetLink | undefined {
  return config.fleet.url ? new FleetLink(config, { log }) : undefined;
}
