// The MQTT telemetry client of one robot: connection lifecycle, bounded offline queue, throttled
// publications and the `cmd` topic (topic layout: mqtt-topics.ts).
//
// A robot boots before its network, and brokers restart: the client is made with `mqtt.connect`
// and a reconnect period and keeps retrying forever (connectAsync gives up on the first refusal).
// While offline, at most `queue_limit` messages wait in our own queue (when full, roughness and
// learner messages a newer one of their topic replaces go first, then the oldest label; counted);
// mqtt.js's own offline queue is unbounded, so nothing is handed to it while disconnected and
// `queueQoSZero` is off. One async API: `close()` is the only promise a caller waits for.

import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from "mqtt";
import type { RoughnessLabel } from "../core/types.ts";
import type { FrameOutputs } from "../outputs/index.ts";
import { MQTT_COMMANDS, type MqttCommand, type MqttCommandHandlers, parseCommand } from "./mqtt-commands.ts";
import {
  fellBackToMqtt311,
  MAX_COMMAND_BYTES,
  type MqttOptions,
  mqttClientOptions,
  redactUrl,
  validateMqttOptions,
} from "./mqtt-connection.ts";
import { labelPayload, type RoughnessSummary, summarizeOutputs, toJson } from "./mqtt-payloads.ts";
import { type Pending, SensorThrottle, Throttle } from "./mqtt-throttle.ts";
import { type MqttTopics, mqttTopics } from "./mqtt-topics.ts";

/** What a dropped message was: a label, a command response, or roughness / learner telemetry. */
export type MqttDropKind = "labels" | "responses" | "telemetry";

export interface MqttStats {
  connected: boolean;
  /** Successful connections after the first one. */
  reconnects: number;
  /** Messages written to the broker connection. */
  sent: number;
  /**
   * Messages dropped: offline queue full (superseded roughness / learner messages first, then the
   * oldest labels), publish failures, or still queued at close.
   */
  dropped: number;
  /** `dropped` by what the messages were. */
  droppedByKind: Record<MqttDropKind, number>;
  /** Of `dropped`: messages still queued when the client closed (the broker was unreachable). */
  droppedAtClose: number;
  /** Messages waiting in the offline queue now. */
  queued: number;
  /** Throttled summaries replaced by a newer one before they were due (not an error). */
  superseded: number;
  commands: number;
  lastError: string;
}

export interface MqttTelemetryOptions {
  /** Human-readable log lines (connects, losses, errors; never credentials). */
  log?: (line: string) => void;
  /** Test hook: options passed on to mqtt.connect after ours. */
  clientOptions?: Partial<IClientOptions>;
}

export class MqttTelemetry {
  readonly topics: MqttTopics;
  readonly robotId: string;
  private readonly options: MqttOptions;
  private readonly client: MqttClient;
  private readonly handlers: MqttCommandHandlers;
  private readonly log: (line: string) => void;
  private readonly queue: Pending[] = [];
  private readonly roughnessThrottle: SensorThrottle;
  private readonly learnerThrottle: Throttle;
  private readonly learnerSensorThrottle: SensorThrottle;
  private connects = 0;
  private sent = 0;
  private dropped = 0;
  private readonly droppedByKind: Record<MqttDropKind, number> = { labels: 0, responses: 0, telemetry: 0 };
  private droppedAtClose = 0;
  /** Whether this offline period has had to drop a message other than superseded telemetry (said once). */
  private overflowSaid = false;
  /** QoS 1 publications the broker has not acknowledged yet. */
  private inflight = 0;
  private superseded = 0;
  private commands = 0;
  private lastError = "";
  private closing = false;
  private closed = false;

  /** Starts connecting (and retrying) in the background; returns at once. */
  constructor(options: MqttOptions, handlers: MqttCommandHandlers = {}, extra: MqttTelemetryOptions = {}) {
    validateMqttOptions(options);
    this.options = options;
    this.robotId = options.robot_id;
    this.handlers = handlers;
    this.log = extra.log ?? (() => undefined);
    this.topics = mqttTopics(options.topic_prefix, options.robot_id);
    // Sensor time, as the frames it summarises: a replay at 50× real time publishes what the robot did.
    this.roughnessThrottle = new SensorThrottle(
      1 / options.roughness_rate,
      (p) => this.publish(p),
      () => this.superseded++,
    );
    this.learnerThrottle = new Throttle(
      1000 / options.learner_rate,
      (p) => this.publish(p),
      () => this.superseded++,
    );
    // The pipeline's stats come on sensor time: paced on it too, for the same reason.
    this.learnerSensorThrottle = new SensorThrottle(
      1 / options.learner_rate,
      (p) => this.publish(p),
      () => this.superseded++,
    );

    const clientOptions: IClientOptions = {
      ...mqttClientOptions(options, this.topics.status, this.topics.cmd),
      ...extra.clientOptions,
    };
    this.client = mqtt.connect(options.url, clientOptions);
    this.client.on("connect", () => this.onConnect());
    this.client.on("close", () => {
      if (this.connects > 0 && !this.closing && this.wasConnected)
        this.log(
          `mqtt: connection to ${redactUrl(options.url)} lost; retrying every ${options.reconnect_period} s`,
        );
      this.wasConnected = false;
    });
    this.client.on("error", (err) => {
      if (fellBackToMqtt311(this.client, err)) {
        this.log(
          `mqtt: the broker does not speak MQTT 5; using MQTT 3.1.1, which cannot ask it to hold back ${this.topics.cmd} payloads over ${MAX_COMMAND_BYTES} bytes (set its own message_size_limit)`,
        );
        return;
      }
      this.noteError(err.message);
    });
    this.client.on("message", (topic, payload, packet) => {
      if (topic !== this.topics.cmd) return;
      // An empty message deletes a retained one (`mosquitto_pub -r -n`, as the refusal of a
      // retained command advises); the broker forwards it to us. It is no command: no error answer.
      if (payload.length === 0) {
        this.log(`mqtt: empty message on ${topic} ignored (it clears a retained command)`);
        return;
      }
      // One command at a time, in arrival order: `save` then `reset` must not interleave, and
      // responses come back in the order the requests were made.
      // Under MQTT 3.1.1 the broker sends any size (MQTT 5: none over the limit): not parsed, not echoed.
      const text = payload.length > MAX_COMMAND_BYTES ? payload.length : payload.toString("utf8");
      // The broker hands a retained command to every new subscription: it is stale, and run again
      // on each (re)connect a retained `reset` would wipe the model just resumed from a checkpoint.
      const retained = packet.retain;
      // Shutting down: the pipeline behind the handlers is being finished and closed. Answered, in
      // order, before `offline`, rather than run against a closing learner and never answered.
      const late = this.closing;
      this.commands++;
      this.commandChain = this.commandChain.then(() => this.onCommand(text, retained, late));
    });
    this.log(
      `mqtt: connecting to ${redactUrl(options.url)} as robot '${options.robot_id}' (topics ${this.topics.base}/...)`,
    );
  }

  private wasConnected = false;
  private commandChain: Promise<void> = Promise.resolve();
  /** The command whose handler is running now ("" when none). */
  private running = "";

  /** Resolves once connected (or rejects after timeoutMs); publishing does not need to wait. */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    if (this.client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off("connect", onConnect);
        reject(
          new Error(
            `mqtt: not connected to ${redactUrl(this.options.url)} after ${timeoutMs} ms (${this.lastError || "no answer"})`,
          ),
        );
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once("connect", onConnect);
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  stats(): MqttStats {
    return {
      connected: this.client.connected,
      reconnects: Math.max(0, this.connects - 1),
      sent: this.sent,
      dropped: this.dropped,
      droppedByKind: { ...this.droppedByKind },
      droppedAtClose: this.droppedAtClose,
      queued: this.queue.length,
      superseded: this.superseded,
      commands: this.commands,
      lastError: this.lastError,
    };
  }

  /** Roughness summary of a processed frame (at most roughness_rate per second of its sensor time). */
  publishRoughness(outputs: FrameOutputs | RoughnessSummary): void {
    const summary = "grid" in outputs ? summarizeOutputs(this.robotId, outputs) : outputs;
    this.roughnessThrottle.offer(
      { topic: this.topics.roughness, payload: toJson(summary), qos: 0, retain: false },
      summary.stamp,
    );
  }

  /**
   * Learner / pipeline stats (at most learner_rate per second, latest wins): per second of sensor
   * time `stamp` when given (the pipeline's stats events), else of the wall clock (a heartbeat).
   */
  publishLearner(stats: Record<string, unknown>, stamp?: number): void {
    const payload = toJson({ robotId: this.robotId, time: Date.now() / 1000, ...stats, mqtt: this.stats() });
    const p: Pending = { topic: this.topics.learner, payload, qos: 0, retain: false };
    if (stamp !== undefined && Number.isFinite(stamp)) this.learnerSensorThrottle.offer(p, stamp);
    else this.learnerThrottle.offer(p);
  }

  /** One label (only with `publish_labels`; QoS 1, queued while offline). */
  publishLabel(label: RoughnessLabel): void {
    if (!this.options.publish_labels) return;
    this.publish({
      topic: this.topics.labels,
      payload: toJson(labelPayload(this.robotId, label)),
      qos: 1,
      retain: false,
    });
  }

  /**
   * Sends what the throttles hold, publishes `offline` and disconnects. Messages queued because the
   * broker is unreachable get up to `close_timeout` s for it to come back (a shutdown must not hang
   * on a broker that stays away); what is still queued then is dropped, counted in `dropped` and
   * `droppedAtClose`, and said in one log line. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.roughnessThrottle.flush();
    this.learnerSensorThrottle.flush();
    this.learnerThrottle.flush();
    const timeoutS = this.options.close_timeout;
    const deadline = Date.now() + timeoutS * 1000;
    // A command already running (a checkpoint save) gets its answer out before we go: the caller
    // closes the pipeline after us. Bounded, as a handler may hang.
    const drained = await settlesWithin(this.drainCommands(), Math.max(1000, deadline - Date.now()));
    if (!drained)
      this.log(
        `mqtt: command ${this.running || "?"} still running at shutdown after ${Math.max(1, timeoutS)} s (mqtt.close_timeout): no response sent`,
      );
    if (!this.client.connected && this.queue.length > 0 && timeoutS > 0) {
      this.log(
        `mqtt: broker unreachable at shutdown${this.lastError ? ` (${this.lastError})` : ""}; waiting up to ${timeoutS} s to deliver ${this.describeQueue()}`,
      );
      // onConnect (registered first) sends the queue before this resolves.
      await this.waitConnected(timeoutS * 1000).catch(() => undefined);
    }
    let clean = false;
    if (this.client.connected) {
      // The goodbye and the QoS 1 messages in flight wait for the broker's acknowledgement: bounded
      // too (at least 1 s), as the broker may go away again meanwhile. (mqtt.js's own end() waits
      // for them without a bound, and a forced end() after it does nothing.)
      const left = Math.max(1000, deadline - Date.now());
      clean = await settlesWithin(
        (async () => {
          try {
            await this.client.publishAsync(this.topics.status, "offline", { qos: 1, retain: true });
            this.sent++;
          } catch (err) {
            this.noteError((err as Error).message);
          }
          while (this.inflight > 0 && !this.closed) await new Promise((r) => setTimeout(r, 10));
        })(),
        left,
      );
    }
    await this.client.endAsync(!clean);
    this.closed = true;
    const unsent = this.queue.length;
    if (unsent > 0 || (!clean && this.inflight > 0)) {
      const what = this.describeQueue();
      for (const p of this.queue.splice(0)) this.drop(p);
      this.droppedAtClose = unsent;
      const unacked =
        !clean && this.inflight > 0 ? `; ${this.inflight} sent but not acknowledged by the broker` : "";
      this.log(
        `mqtt: broker unreachable at shutdown: ${unsent ? `${what} not delivered, dropped` : "nothing queued"}${unacked}`,
      );
    }
    this.log(`mqtt: closed (${toJson(this.stats())})`);
  }

  /** Resolves once no command is queued or running (commands arriving meanwhile included). */
  private async drainCommands(): Promise<void> {
    let chain: Promise<void>;
    do {
      chain = this.commandChain;
      await chain;
    } while (chain !== this.commandChain);
  }

  /** "12 queued messages (10 labels)": what the offline queue holds. */
  private describeQueue(): string {
    const labels = this.queue.filter((p) => p.topic === this.topics.labels).length;
    return `${this.queue.length} queued message${this.queue.length === 1 ? "" : "s"} (${labels} label${labels === 1 ? "" : "s"})`;
  }

  private noteError(message: string): void {
    // A broker that is down produces the same error every period: log it once per change.
    if (message !== this.lastError) this.log(`mqtt: ${message}`);
    this.lastError = message;
  }

  private onConnect(): void {
    this.connects++;
    this.wasConnected = true;
    this.overflowSaid = false;
    this.log(
      `mqtt: connected to ${redactUrl(this.options.url)}${this.connects > 1 ? ` (reconnect ${this.connects - 1})` : ""}`,
    );
    // Back while shutting down (close is waiting to deliver the queue): no `online`, no commands.
    if (!this.closing) {
      this.client.publish(this.topics.status, "online", { qos: 1, retain: true }, (err) => {
        if (err) this.noteError(err.message);
        else this.sent++;
      });
      this.client.subscribe(this.topics.cmd, { qos: 1 }, (err) => {
        if (err) this.noteError(`subscribe ${this.topics.cmd}: ${err.message}`);
      });
    }
    // Oldest first, as they were made.
    const waiting = this.queue.splice(0);
    for (const p of waiting) this.publish(p);
  }

  private publish(p: Pending): void {
    if (this.closed) {
      this.drop(p);
      return;
    }
    // While closing, offline messages queue too: close waits for the broker to take them.
    if (!this.client.connected) {
      this.queue.push(p);
      if (this.queue.length > this.options.queue_limit) this.makeRoom();
      return;
    }
    const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain };
    if (p.qos > 0) this.inflight++;
    this.client.publish(p.topic, p.payload, opts, (err) => {
      if (p.qos > 0) this.inflight--;
      if (err) {
        this.drop(p);
        this.noteError(err.message);
      } else {
        this.sent++;
      }
    });
  }

  private kind(p: Pending): MqttDropKind {
    if (p.topic === this.topics.labels) return "labels";
    if (p.topic === this.topics.cmdResponse) return "responses";
    return "telemetry";
  }

  private drop(p: Pending): void {
    this.dropped++;
    this.droppedByKind[this.kind(p)]++;
  }

  /**
   * The offline queue is over its limit. A roughness or learner message is worthless once a newer one
   * of its topic waits (the dashboard shows the latest), so those go first, all at once; only then
   * the oldest message that is not the newest of its telemetry topic (a label, a response).
   */
  private makeRoom(): void {
    const newest = new Set<Pending>();
    const seen = new Set<string>();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const p = this.queue[i]!;
      if (this.kind(p) === "telemetry" && !seen.has(p.topic)) {
        seen.add(p.topic);
        newest.add(p);
      }
    }
    const kept: Pending[] = [];
    for (const p of this.queue) {
      if (this.kind(p) !== "telemetry" || newest.has(p)) kept.push(p);
      else this.drop(p);
    }
    this.queue.splice(0, this.queue.length, ...kept);
    while (this.queue.length > this.options.queue_limit) {
      const i = this.queue.findIndex((p) => !newest.has(p));
      const [p] = this.queue.splice(Math.max(0, i), 1);
      this.drop(p!);
      if (!this.overflowSaid) {
        this.overflowSaid = true;
        this.log(
          `mqtt: offline queue full (mqtt.queue_limit ${this.options.queue_limit}): dropping the oldest labels (older roughness and learner messages went first)`,
        );
      }
    }
  }

  /** `payload`: the command's text, or the size of one too large to read. */
  private async onCommand(payload: string | number, retained = false, late = false): Promise<void> {
    let id: string | number | null = null;
    let command = "";
    let response: Record<string, unknown>;
    try {
      if (typeof payload === "number")
        throw new Error(`command payload of ${payload} bytes refused (at most ${MAX_COMMAND_BYTES})`);
      const parsed = parseCommand(payload);
      id = parsed.id;
      command = parsed.command;
      if (retained) {
        throw new Error(
          `retained command ignored (a command is run only when it is sent; clear it with: mosquitto_pub -r -n -t ${this.topics.cmd})`,
        );
      }
      if (late) throw new Error("shutting down: command not run");
      if (!MQTT_COMMANDS.includes(command as MqttCommand)) {
        // Named in the log and the response (twice): cut, as a garbage payload can be 64 KiB.
        if (command.length > 40) command = `${command.slice(0, 40)}...`;
        throw new Error(`unknown command '${command}' (expected ${MQTT_COMMANDS.join(", ")})`);
      }
      const handler = this.handlers[command as MqttCommand];
      if (!handler) throw new Error(`command '${command}' is not supported by this runner`);
      this.running = command;
      const result = await handler(parsed.data === undefined ? {} : { data: parsed.data });
      response = { id, command, ok: true, ...(result === undefined ? {} : { result }) };
    } catch (err) {
      const e = err as Error & { id?: string | number | null };
      if (e.id !== undefined) id = e.id;
      response = { id, command: command || null, ok: false, error: e.message };
    } finally {
      this.running = "";
    }
    this.log(
      `mqtt: command ${command || "?"}${id === null ? "" : ` (id ${id})`} → ${response.ok ? "ok" : response.error}`,
    );
    const body = toJson({ robotId: this.robotId, ...response });
    this.publish({ topic: this.topics.cmdResponse, payload: body, qos: 1, retain: false });
  }
}

/** Whether `promise` settled within `ms` (it is left running otherwise). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
