// MQTT telemetry for a fleet: one client per robot, topics under `<prefix>/<robot_id>/`:
//   status            retained `online` on every connect; Last Will (retained) `offline`; `offline` on clean shutdown
//   roughness         JSON summary of the latest prediction, at most `roughness_rate` per second
//   learner           learner / pipeline stats JSON, at most `learner_rate` per second
//   labels            every label as it is made (optional: `publish_labels`)
//   cmd               the ROS 2 services' names: `save_checkpoint` | `reset` | `pause_learning`, plain or
//                     JSON {"command", "id", "data"}; `pause_learning` with "data": false resumes (SetBool)
//   cmd/response      {"id", "command", "ok", "result" | "error"}
//
// A robot boots before its network, and brokers restart: the client is made with `mqtt.connect`
// and a reconnect period and keeps retrying forever (connectAsync gives up on the first refusal).
// While offline, at most `queue_limit` messages wait in our own queue (oldest dropped, counted);
// mqtt.js's own offline queue is unbounded, so nothing is handed to it while disconnected and
// `queueQoSZero` is off. One async API: `close()` is the only promise a caller waits for.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from "mqtt";
import type { Observable, Subscription } from "rxjs";
import type { RoughnessLabel, Stamp } from "../core/types.ts";
import type { FrameOutputs } from "../outputs/index.ts";
import type { Config } from "../runtime/config.ts";
import type { LabelEvent, PipelineEvent, PredictionEvent } from "../runtime/pipeline.ts";

export type MqttOptions = Config["mqtt"];

/** The same names as the node's services (`~/save_checkpoint`, `~/reset`, `~/pause_learning`). */
export type MqttCommand = "save_checkpoint" | "reset" | "pause_learning";
export const MQTT_COMMANDS: readonly MqttCommand[] = ["save_checkpoint", "reset", "pause_learning"];

/** A command's argument: `data` of the JSON form, as std_srvs/SetBool's request carries it. */
export interface MqttCommandArgs {
  data?: unknown;
}

/** What the runner does for each command; the resolved value goes into the response's `result`. */
export type MqttCommandHandlers = Partial<Record<MqttCommand, (args: MqttCommandArgs) => unknown>>;

export interface MqttStats {
  connected: boolean;
  /** Successful connections after the first one. */
  reconnects: number;
  /** Messages written to the broker connection. */
  sent: number;
  /** Messages dropped: offline queue full (oldest first) or publish failures. */
  dropped: number;
  /** Messages waiting in the offline queue now. */
  queued: number;
  /** Throttled summaries replaced by a newer one before they were due (not an error). */
  superseded: number;
  commands: number;
  lastError: string;
}

/** The `roughness` payload. */
export interface RoughnessSummary {
  robotId: string;
  /** Sensor time of the frame (s). */
  stamp: Stamp;
  /** Confidence-weighted roughness ahead (0..1), null when unknown. */
  ahead: number | null;
  aheadConfidence: number;
  /** Suggested speed limit (m/s). */
  speedLimit: number;
  /** Over the image's cells with a finite prediction. */
  mean: number | null;
  p10: number | null;
  p50: number | null;
  p90: number | null;
  /** Mean confidence over the cells. */
  confidence: number;
  cells: number;
}

export interface MqttTopics {
  base: string;
  status: string;
  roughness: string;
  learner: string;
  labels: string;
  cmd: string;
  cmdResponse: string;
}

export function mqttTopics(prefix: string, robotId: string): MqttTopics {
  const base = `${prefix.replace(/\/+$/, "")}/${robotId}`;
  return {
    base,
    status: `${base}/status`,
    roughness: `${base}/roughness`,
    learner: `${base}/learner`,
    labels: `${base}/labels`,
    cmd: `${base}/cmd`,
    cmdResponse: `${base}/cmd/response`,
  };
}

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

function quantile(sorted: Float32Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
const finiteOrNull = (v: number) => (Number.isFinite(v) ? round4(v) : null);

/** Summary of one frame's outputs for the `roughness` topic. */
export function summarizeOutputs(robotId: string, o: FrameOutputs): RoughnessSummary {
  const g = o.grid;
  const finite = new Float32Array(g.roughness.length);
  let n = 0;
  let sum = 0;
  let conf = 0;
  for (let i = 0; i < g.roughness.length; i++) {
    const r = g.roughness[i]!;
    if (!Number.isFinite(r)) continue;
    finite[n++] = r;
    sum += r;
    const c = g.confidence[i]!;
    conf += Number.isFinite(c) ? c : 0;
  }
  const sorted = finite.subarray(0, n).sort();
  return {
    robotId,
    stamp: o.stamp,
    ahead: finiteOrNull(o.ahead),
    aheadConfidence: round4(Number.isFinite(o.aheadConfidence) ? o.aheadConfidence : 0),
    speedLimit: round4(o.speedLimit),
    mean: n ? round4(sum / n) : null,
    p10: n ? round4(quantile(sorted, 0.1)) : null,
    p50: n ? round4(quantile(sorted, 0.5)) : null,
    p90: n ? round4(quantile(sorted, 0.9)) : null,
    confidence: n ? round4(conf / n) : 0,
    cells: n,
  };
}

/** The `labels` payload: footprint as [[x, y], ...] in the label's frame. */
export function labelPayload(robotId: string, l: RoughnessLabel): Record<string, unknown> {
  const footprint: [number, number][] = [];
  for (let i = 0; i < l.footprint.xs.length; i++)
    footprint.push([round4(l.footprint.xs[i]!), round4(l.footprint.ys[i]!)]);
  return {
    robotId,
    stamp: l.stamp,
    t0: l.t0,
    t1: l.t1,
    frameId: l.footprint.frameId,
    x: round4(l.x),
    y: round4(l.y),
    roughness: round4(l.roughness),
    energy: l.energy,
    speed: round4(l.speed),
    footprint,
  };
}

/** JSON that survives typed arrays, bigints and NaN (→ null) in stats objects. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return Number(v);
    if (typeof v === "number" && !Number.isFinite(v)) return null;
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<number>);
    return v;
  });
}

/** Parses a `cmd` payload: plain `reset` or JSON {"command"|"cmd": "pause_learning", "id": ..., "data": ...}. */
export function parseCommand(payload: string): {
  command: string;
  id: string | number | null;
  data?: unknown;
} {
  const text = payload.trim();
  if (text.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new Error("command payload is not valid JSON");
    }
    const o = obj as Record<string, unknown>;
    const id = typeof o.id === "string" || typeof o.id === "number" ? o.id : null;
    const command = o.command ?? o.cmd;
    if (typeof command !== "string")
      throw Object.assign(new Error("command JSON has no string 'command'"), { id });
    return { command: command.trim().toLowerCase(), id, ...(o.data === undefined ? {} : { data: o.data }) };
  }
  return { command: text.toLowerCase(), id: null };
}

/** Throws an Error naming the bad option (URL scheme, robot id, topic prefix). */
export function validateMqttOptions(options: Pick<MqttOptions, "url" | "robot_id" | "topic_prefix">): void {
  if (!options.url) throw new Error("mqtt: no broker URL (set mqtt.url or pass --mqtt)");
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(options.url)) {
    throw new Error(
      `mqtt: URL '${redactUrl(options.url)}' must start with mqtt://, mqtts://, ws:// or wss://`,
    );
  }
  if (!options.robot_id || /[+#/\s]/.test(options.robot_id)) {
    throw new Error(`mqtt: robot id '${options.robot_id}' must be non-empty without '/', '+', '#' or spaces`);
  }
  if (/[+#]/.test(options.topic_prefix)) {
    throw new Error(`mqtt: topic prefix '${options.topic_prefix}' must not contain '+' or '#'`);
  }
}

interface Pending {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** Latest-wins rate limiter on the wall clock: sends now if due, else once the interval has passed. */
class Throttle {
  private last = Number.NEGATIVE_INFINITY;
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly intervalMs: number,
    private readonly send: (p: Pending) => void,
    private readonly onSuperseded: () => void,
  ) {}
  offer(p: Pending): void {
    const now = Date.now();
    if (now - this.last >= this.intervalMs && !this.timer) {
      this.last = now;
      this.send(p);
      return;
    }
    if (this.pending) this.onSuperseded();
    this.pending = p;
    if (!this.timer) {
      this.timer = setTimeout(() => this.fire(), Math.max(0, this.intervalMs - (now - this.last)));
      this.timer.unref();
    }
  }
  private fire(): void {
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      this.last = Date.now();
      this.send(p);
    }
  }
  /** Sends what is waiting now (shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.fire();
  }
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }
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
  private readonly roughnessThrottle: Throttle;
  private readonly learnerThrottle: Throttle;
  private connects = 0;
  private sent = 0;
  private dropped = 0;
  private superseded = 0;
  private commands = 0;
  private lastError = "";
  private closing = false;

  /** Starts connecting (and retrying) in the background; returns at once. */
  constructor(options: MqttOptions, handlers: MqttCommandHandlers = {}, extra: MqttTelemetryOptions = {}) {
    validateMqttOptions(options);
    this.options = options;
    this.robotId = options.robot_id;
    this.handlers = handlers;
    this.log = extra.log ?? (() => undefined);
    this.topics = mqttTopics(options.topic_prefix, options.robot_id);
    this.roughnessThrottle = new Throttle(
      1000 / options.roughness_rate,
      (p) => this.publish(p),
      () => this.superseded++,
    );
    this.learnerThrottle = new Throttle(
      1000 / options.learner_rate,
      (p) => this.publish(p),
      () => this.superseded++,
    );

    const clientOptions: IClientOptions = {
      clientId: options.client_id || `terrain-learner-${options.robot_id}-${randomBytes(3).toString("hex")}`,
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
      will: { topic: this.topics.status, payload: Buffer.from("offline"), qos: 1, retain: true },
      ...this.credentials(),
      ...this.tls(),
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
    this.client.on("error", (err) => this.noteError(err.message));
    this.client.on("message", (topic, payload, packet) => {
      if (topic !== this.topics.cmd) return;
      // One command at a time, in arrival order: `save` then `reset` must not interleave, and
      // responses come back in the order the requests were made.
      const text = payload.toString("utf8");
      const responseTopic = packet.properties?.responseTopic;
      this.commandChain = this.commandChain.then(() => this.onCommand(text, responseTopic));
    });
    this.log(
      `mqtt: connecting to ${redactUrl(options.url)} as robot '${options.robot_id}' (topics ${this.topics.base}/...)`,
    );
  }

  private wasConnected = false;
  private commandChain: Promise<void> = Promise.resolve();

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
      queued: this.queue.length,
      superseded: this.superseded,
      commands: this.commands,
      lastError: this.lastError,
    };
  }

  /** Roughness summary of a processed frame (rate-limited, latest wins). */
  publishRoughness(outputs: FrameOutputs | RoughnessSummary): void {
    const summary = "grid" in outputs ? summarizeOutputs(this.robotId, outputs) : outputs;
    this.roughnessThrottle.offer({
      topic: this.topics.roughness,
      payload: toJson(summary),
      qos: 0,
      retain: false,
    });
  }

  /** Learner / pipeline stats (rate-limited, latest wins). */
  publishLearner(stats: Record<string, unknown>): void {
    const payload = toJson({ robotId: this.robotId, time: Date.now() / 1000, ...stats, mqtt: this.stats() });
    this.learnerThrottle.offer({ topic: this.topics.learner, payload, qos: 0, retain: false });
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

  /** Publishes `offline`, sends what the throttles hold, and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.roughnessThrottle.flush();
    this.learnerThrottle.flush();
    if (this.client.connected) {
      try {
        await this.client.publishAsync(this.topics.status, "offline", { qos: 1, retain: true });
        this.sent++;
      } catch (err) {
        this.noteError((err as Error).message);
      }
      await this.client.endAsync();
    } else {
      await this.client.endAsync(true);
    }
    this.log(`mqtt: closed (${toJson(this.stats())})`);
  }

  private credentials(): Partial<IClientOptions> {
    const out: Partial<IClientOptions> = {};
    if (this.options.username) out.username = this.options.username;
    if (this.options.password) out.password = this.options.password;
    return out;
  }

  private tls(): Partial<IClientOptions> {
    const read = (what: string, path: string) => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new Error(
          `mqtt: cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    };
    const out: Partial<IClientOptions> = { rejectUnauthorized: this.options.reject_unauthorized };
    if (this.options.ca) out.ca = read("CA", this.options.ca);
    if (this.options.cert) out.cert = read("certificate", this.options.cert);
    if (this.options.key) out.key = read("key", this.options.key);
    return out;
  }

  private noteError(message: string): void {
    // A broker that is down produces the same error every period: log it once per change.
    if (message !== this.lastError) this.log(`mqtt: ${message}`);
    this.lastError = message;
  }

  private onConnect(): void {
    this.connects++;
    this.wasConnected = true;
    this.log(
      `mqtt: connected to ${redactUrl(this.options.url)}${this.connects > 1 ? ` (reconnect ${this.connects - 1})` : ""}`,
    );
    this.client.publish(this.topics.status, "online", { qos: 1, retain: true }, (err) => {
      if (err) this.noteError(err.message);
      else this.sent++;
    });
    this.client.subscribe(this.topics.cmd, { qos: 1 }, (err) => {
      if (err) this.noteError(`subscribe ${this.topics.cmd}: ${err.message}`);
    });
    // Oldest first, as they were made.
    const waiting = this.queue.splice(0);
    for (const p of waiting) this.publish(p);
  }

  private publish(p: Pending): void {
    if (this.closing && !this.client.connected) return;
    if (!this.client.connected) {
      this.queue.push(p);
      if (this.queue.length > this.options.queue_limit) {
        this.queue.shift();
        this.dropped++;
      }
      return;
    }
    const opts: IClientPublishOptions = { qos: p.qos, retain: p.retain };
    this.client.publish(p.topic, p.payload, opts, (err) => {
      if (err) {
        this.dropped++;
        this.noteError(err.message);
      } else {
        this.sent++;
      }
    });
  }

  private async onCommand(payload: string, responseTopic: string | undefined): Promise<void> {
    this.commands++;
    let id: string | number | null = null;
    let command = "";
    let response: Record<string, unknown>;
    try {
      const parsed = parseCommand(payload);
      id = parsed.id;
      command = parsed.command;
      if (!MQTT_COMMANDS.includes(command as MqttCommand)) {
        throw new Error(`unknown command '${command}' (expected ${MQTT_COMMANDS.join(", ")})`);
      }
      const handler = this.handlers[command as MqttCommand];
      if (!handler) throw new Error(`command '${command}' is not supported by this runner`);
      const result = await handler(parsed.data === undefined ? {} : { data: parsed.data });
      response = { id, command, ok: true, ...(result === undefined ? {} : { result }) };
    } catch (err) {
      const e = err as Error & { id?: string | number | null };
      if (e.id !== undefined) id = e.id;
      response = { id, command: command || null, ok: false, error: e.message };
    }
    this.log(
      `mqtt: command ${command || "?"}${id === null ? "" : ` (id ${id})`} → ${response.ok ? "ok" : response.error}`,
    );
    const body = toJson({ robotId: this.robotId, ...response });
    this.publish({ topic: this.topics.cmdResponse, payload: body, qos: 1, retain: false });
    // MQTT 5 request/response, for clients that ask for it.
    if (responseTopic && responseTopic !== this.topics.cmdResponse) {
      this.publish({ topic: responseTopic, payload: body, qos: 1, retain: false });
    }
  }
}

/**
 * The stream `attachMqtt` consumes: the pipeline's events (src/runtime/pipeline.ts). Predictions
 * go to `roughness`, labels to `labels`, stats to `learner`; other kinds are ignored.
 */
export type MqttSinkEvent =
  | Pick<PredictionEvent, "type" | "outputs">
  | LabelEvent
  | { type: "stats"; stats: object }
  | { type: Exclude<PipelineEvent["type"], "prediction" | "label" | "stats"> };

/**
 * Publishes a pipeline's events to MQTT. Returns the telemetry (for stats) and a `close()` that
 * unsubscribes, sends what the rate limiters hold, publishes `offline` and disconnects.
 */
export function attachMqtt(
  events$: Observable<MqttSinkEvent>,
  options: MqttOptions,
  handlers: MqttCommandHandlers = {},
  extra: MqttTelemetryOptions = {},
): { telemetry: MqttTelemetry; close: () => Promise<void> } {
  const telemetry = new MqttTelemetry(options, handlers, extra);
  const sub: Subscription = events$.subscribe({
    next: (e) => publishEvent(telemetry, e),
    error: (err: unknown) => extra.log?.(`mqtt: event stream failed: ${(err as Error).message}`),
  });
  return {
    telemetry,
    close: async () => {
      sub.unsubscribe();
      await telemetry.close();
    },
  };
}

export function publishEvent(telemetry: MqttTelemetry, e: MqttSinkEvent): void {
  switch (e.type) {
    case "prediction":
      telemetry.publishRoughness((e as PredictionEvent).outputs);
      break;
    case "label":
      telemetry.publishLabel((e as LabelEvent).label);
      break;
    case "stats":
      telemetry.publishLearner((e as { stats: Record<string, unknown> }).stats);
      break;
    default:
  }
}
