// The Foxglove WebSocket server (protocol `foxglove.websocket.v1`, through @foxglove/ws-protocol on
// a `ws` server): advertises the live view's channels with their `ros2msg` schemas and sends CDR
// messages to the viewers that subscribed. Messages are serialised once per channel, and only when a
// viewer subscribed to it; each viewer has its own bounded queue (outbox.ts), so a slow viewer loses
// old messages and never holds up the caller.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MessageWriter } from "@foxglove/rosmsg2-serialization";
import wsProtocol from "@foxglove/ws-protocol";
import { WebSocketServer } from "ws";
import { secondsToNs } from "../../core/time.ts";
import { definitionsFor, ros2TypeName, schemaTextFor } from "../../io/ros/definitions.ts";
import type { LiveChannel, LiveViewKey } from "./channels.ts";
import { Outbox, type OutboxStats } from "./outbox.ts";
import { RateCap } from "./rate-cap.ts";

const { FoxgloveServer } = wsProtocol;
/** How long a closing server waits for its viewers to receive what is queued for them. */
const CLOSE_DRAIN_MS = 2000;
/** How long a closing server waits for a viewer that just connected to subscribe. */
const JOIN_GRACE_MS = 300;
/** How long a closing server waits for its viewers to answer the close frame before dropping them. */
const CLOSE_FRAME_WAIT_MS = 1000;
/** How often a viewer that keeps sending messages the server cannot read has them counted in the log. */
const MALFORMED_LOG_MS = 10_000;
type FoxgloveServerT = InstanceType<typeof FoxgloveServer>;

export interface LiveViewServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** Hz cap (wall clock) per heavy channel; 0: none. */
  max_rate: number;
  queue_messages: number;
  queue_bytes: number;
  /** Unsent bytes a viewer's socket may hold before its queue fills (default 2 MiB). */
  highWater?: number;
  /** Server name shown by the viewer. */
  name?: string;
  log?: (line: string) => void;
  /** Wall time between the log lines counting a viewer's unreadable messages (default 10 s). */
  malformedLogMs?: number;
}

/**
 * A viewer's messages the server could not read (not JSON, an unknown op, a bad binary frame): the
 * first is logged with why, later ones only counted, so a client sending garbage in a loop does not
 * flood the log.
 */
interface MalformedCount {
  name: string;
  count: number;
  /** Counted since the last line that said so. */
  unlogged: number;
  loggedMs: number;
  latest: string;
}

interface ChannelState {
  spec: LiveChannel;
  id: number;
  writer: MessageWriter;
  subscribers: number;
  cap: RateCap;
  published: number;
  /** Messages not sent because of the rate cap. */
  skipped: number;
}

export interface LiveViewStats {
  url: string;
  /** Per viewer: `malformed` counts the messages from it the server could not read and ignored. */
  clients: (OutboxStats & { malformed: number })[];
  /** Totals over every viewer that has come and gone. */
  totals: { connections: number; sent: number; dropped: number; malformed: number };
  channels: Record<string, { published: number; skipped: number; subscribers: number }>;
}

export class LiveViewServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly #options: LiveViewServerOptions;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #fox: FoxgloveServerT;
  readonly #channels = new Map<LiveViewKey, ChannelState>();
  readonly #byId = new Map<number, ChannelState>();
  readonly #outboxes = new Set<Outbox>();
  readonly #subscribeListeners = new Set<(key: LiveViewKey) => void>();
  #totals = { connections: 0, sent: 0, dropped: 0, malformed: 0 };
  readonly #malformed = new Map<Outbox, MalformedCount>();
  /**
   * The viewer whose message is being handled: the protocol library reports a message it cannot
   * read as an `error` without naming the viewer, synchronously, after this server's own handler.
   */
  #sender: MalformedCount | undefined;
  /** close() was called: the server drains, still serving viewers (and new ones) what is sent. */
  #closing: Promise<void> | undefined;
  /** Drained: nothing more is sent, new viewers are turned away. */
  #closed = false;
  /** When the latest viewer connected (a viewer joining as the server closes gets time to subscribe). */
  #lastJoinMs = Number.NEGATIVE_INFINITY;
  /** The latest time sent to viewers (ns). */
  #clock = -1n;

  private constructor(
    options: LiveViewServerOptions,
    http: Server,
    wss: WebSocketServer,
    fox: FoxgloveServerT,
    channels: readonly LiveChannel[],
  ) {
    this.#options = options;
    this.#http = http;
    this.#wss = wss;
    this.#fox = fox;
    const addr = http.address() as AddressInfo;
    this.port = addr.port;
    this.host = options.host;
    const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
    this.url = `ws://${shownHost}:${addr.port}`;
    for (const spec of channels) {
      const type = ros2TypeName(spec.type);
      const id = fox.addChannel({
        topic: spec.topic,
        encoding: "cdr",
        schemaName: type,
        schema: schemaTextFor(type),
        schemaEncoding: "ros2msg",
      });
      const state: ChannelState = {
        spec,
        id,
        writer: new MessageWriter(definitionsFor(type)),
        subscribers: 0,
        cap: new RateCap(this.#options.max_rate),
        published: 0,
        skipped: 0,
      };
      this.#channels.set(spec.key, state);
      this.#byId.set(id, state);
    }
    // The protocol library reports only a channel's first subscriber; every viewer's subscriptions
    // are read in #accept, so a second viewer gets the latched messages too.
    fox.on("subscribe", (id) => {
      const c = this.#byId.get(id);
      if (c) c.subscribers = 1;
    });
    fox.on("unsubscribe", (id) => {
      const c = this.#byId.get(id);
      if (c) c.subscribers = 0;
    });
    fox.on("error", (err) => this.#onMalformed(err));
  }

  #onMalformed(err: Error): void {
    const log = this.#options.log;
    const v = this.#sender;
    this.#totals.malformed++;
    if (!v) {
      log?.(`live view: ${err.message}`);
      return;
    }
    v.count++;
    const now = performance.now();
    const every = this.#options.malformedLogMs ?? MALFORMED_LOG_MS;
    if (v.count === 1) {
      v.loggedMs = now;
      log?.(
        `live view: viewer ${v.name} sent a message the live view cannot read, ignored: ${err.message} (more are counted: one line every ${every / 1000} s, and a total when it leaves)`,
      );
      return;
    }
    v.unlogged++;
    v.latest = err.message;
    if (now - v.loggedMs < every) return;
    log?.(
      `live view: viewer ${v.name} sent ${v.unlogged} more messages the live view cannot read in the last ${((now - v.loggedMs) / 1000).toFixed(0)} s, ignored (latest: ${v.latest})`,
    );
    v.loggedMs = now;
    v.unlogged = 0;
  }

  /** Listens on host:port; rejects with a clear message when the port is taken. */
  static async start(
    channels: readonly LiveChannel[],
    options: LiveViewServerOptions,
  ): Promise<LiveViewServer> {
    const fox = new FoxgloveServer({
      name: options.name ?? "terrain-learner",
      // `time`: viewers follow the data's clock (a replay's sensor time), not their own.
      capabilities: ["time"],
      supportedEncodings: ["cdr"],
    });
    const http = createServer((_req, res) => {
      res.writeHead(426, { "content-type": "text/plain" });
      res.end("terrain-learner live view: connect with Foxglove (Open connection → Foxglove WebSocket)\n");
    });
    const wss = new WebSocketServer({
      server: http,
      handleProtocols: (protocols) => fox.handleProtocols(protocols),
      // Viewers send little (subscriptions); a large frame from one is a mistake or an attack.
      maxPayload: 1024 * 1024,
    });
    // The ws server re-emits its HTTP server's errors: a listen error becomes the rejection below
    // (one message, not also a log line); later ones are logged.
    const duringListen = () => {};
    wss.on("error", duringListen);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        http.off("listening", onListening);
        reject(
          new Error(
            err.code === "EADDRINUSE"
              ? `live view: port ${options.port} on ${options.host} is in use (pick another with --live-view PORT)`
              : `live view: cannot listen on ${options.host}:${options.port}: ${err.message}`,
          ),
        );
      };
      const onListening = () => {
        http.off("error", onError);
        resolve();
      };
      http.once("error", onError);
      http.once("listening", onListening);
      http.listen(options.port, options.host);
    }).catch((err: unknown) => {
      wss.close();
      throw err;
    });
    wss.off("error", duringListen);
    wss.on("error", (err) => options.log?.(`live view: ${err.message}`));
    const server = new LiveViewServer(options, http, wss, fox, channels);
    wss.on("connection", (ws, req) =>
      server.#accept(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`),
    );
    return server;
  }

  /** Whether any viewer subscribes to `key` (build its message only then). */
  wants(key: LiveViewKey): boolean {
    const c = this.#channels.get(key);
    return c !== undefined && c.subscribers > 0;
  }

  /** Called with a channel's key when its first viewer subscribes (to send it what it missed). */
  onSubscribe(listener: (key: LiveViewKey) => void): () => void {
    this.#subscribeListeners.add(listener);
    return () => this.#subscribeListeners.delete(listener);
  }

  /**
   * Whether a heavy channel is due (its rate cap allows a message now). Light channels always are.
   * Check before building a large message; `publish` does not check again.
   */
  due(key: LiveViewKey, nowMs = performance.now()): boolean {
    const c = this.#channels.get(key);
    if (!c || c.subscribers === 0) return false;
    if (!c.spec.heavy || c.cap.due(nowMs)) return true;
    c.skipped++;
    return false;
  }

  /** Serialises `message` (a ROS message object of the channel's type) and sends it to its viewers. */
  publish(key: LiveViewKey, stamp: number, message: unknown): void {
    const c = this.#channels.get(key);
    if (this.#closed || !c || c.subscribers === 0) return;
    let data: Uint8Array;
    try {
      data = c.writer.writeMessage(message);
    } catch (err) {
      throw new Error(
        `live view: cannot serialise ${c.spec.type} for ${c.spec.topic}: ${(err as Error).message}`,
      );
    }
    c.cap.sent(performance.now());
    c.published++;
    this.#fox.sendMessage(c.id, secondsToNs(Number.isFinite(stamp) ? Math.max(0, stamp) : 0), data);
  }

  /**
   * The data's current time, for viewers that follow the server's clock. Only forward: a viewer
   * takes a step back for a seek and clears its panels, and the clock's sources (odometry, camera
   * frames) arrive with different delays.
   */
  broadcastTime(stamp: number): void {
    if (this.#closed || !Number.isFinite(stamp) || stamp < 0) return;
    const ns = secondsToNs(stamp);
    if (ns <= this.#clock) return;
    // Kept with no viewer too: the first one to connect is sent it.
    this.#clock = ns;
    if (this.#outboxes.size > 0) this.#fox.broadcastTime(ns);
  }

  /** The data's stamps went back (a new timeline): the next time sent may be earlier. */
  restartClock(): void {
    this.#clock = -1n;
  }

  stats(): LiveViewStats {
    const clients = [...this.#outboxes].map((o) => ({
      ...o.stats(),
      malformed: this.#malformed.get(o)?.count ?? 0,
    }));
    const channels: LiveViewStats["channels"] = {};
    for (const c of this.#channels.values())
      channels[c.spec.topic] = { published: c.published, skipped: c.skipped, subscribers: c.subscribers };
    let sent = this.#totals.sent;
    let dropped = this.#totals.dropped;
    for (const s of clients) {
      sent += s.sent;
      dropped += s.dropped;
    }
    return {
      url: this.url,
      clients,
      totals: { connections: this.#totals.connections, sent, dropped, malformed: this.#totals.malformed },
      channels,
    };
  }

  /** Open viewer connections and queued messages (tests check that closed viewers leave nothing). */
  resources(): { outboxes: number; sockets: number; queued: number } {
    let queued = 0;
    for (const o of this.#outboxes) queued += o.stats().queued;
    return { outboxes: this.#outboxes.size, sockets: this.#wss.clients.size, queued };
  }

  /**
   * Gives the viewers up to `drainMs` to receive what waits for them (the run's final state is sent
   * last, so a viewer a little behind would lose exactly that), then disconnects every viewer and
   * stops listening. Meanwhile a viewer may still connect and subscribe, and gets what the
   * subscription listeners send it. Safe to call twice.
   */
  close(drainMs = CLOSE_DRAIN_MS): Promise<void> {
    this.#closing ??= this.#close(drainMs);
    return this.#closing;
  }

  async #close(drainMs: number): Promise<void> {
    const deadline = performance.now() + drainMs;
    const waiting = () =>
      [...this.#outboxes].some((o) => !o.drained()) || performance.now() - this.#lastJoinMs < JOIN_GRACE_MS;
    while (waiting() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    this.#closed = true;
    this.#subscribeListeners.clear();
    // A close frame tells a viewer the robot stopped on purpose (1001); dropped without one, Foxglove
    // sees 1006 as after a crash. A viewer that never answers (gone, or its socket full) is dropped
    // after a bounded wait: ws's own close timeout is 30 s.
    const clients = [...this.#wss.clients];
    for (const ws of clients) goAway(ws);
    const answered = Promise.all(
      clients.map((ws) =>
        ws.readyState === ws.CLOSED ? undefined : new Promise((resolve) => ws.once("close", resolve)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      answered,
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_FRAME_WAIT_MS))),
    ]);
    clearTimeout(timer);
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    const stopped = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    // A connection that never sent a request (a browser's preconnect, a port probe) would hold the
    // process up to a minute and a half after the run ended.
    this.#http.closeAllConnections();
    await stopped;
  }

  #accept(ws: import("ws").WebSocket, name: string): void {
    if (this.#closed) {
      goAway(ws);
      setTimeout(() => ws.terminate(), CLOSE_FRAME_WAIT_MS).unref();
      return;
    }
    const o = this.#options;
    const outbox = new Outbox(ws, name, {
      maxMessages: o.queue_messages,
      maxBytes: o.queue_bytes,
      highWater: o.highWater ?? 2 * 2 ** 20,
    });
    this.#outboxes.add(outbox);
    const malformed: MalformedCount = { name, count: 0, unlogged: 0, loggedMs: 0, latest: "" };
    this.#malformed.set(outbox, malformed);
    this.#totals.connections++;
    this.#lastJoinMs = performance.now();
    ws.on("error", (err) => o.log?.(`live view: viewer ${name}: ${err.message}`));
    ws.on("close", () => {
      // Keep the viewer's counts in the totals; drop everything else it held.
      const s = outbox.stats();
      this.#totals.sent += s.sent;
      this.#totals.dropped += s.dropped;
      this.#outboxes.delete(outbox);
      this.#malformed.delete(outbox);
      if (this.#sender === malformed) this.#sender = undefined;
      const ignored = malformed.count > 0 ? `, ignored ${malformed.count} messages it could not read` : "";
      o.log?.(`live view: viewer ${name} left (sent ${s.sent}, dropped ${s.dropped}${ignored})`);
    });
    o.log?.(`live view: viewer ${name} connected`);
    // Registered before the protocol library's handler, so it runs first: wait for it to have
    // recorded the subscription, then tell the listeners (they send what a new viewer missed).
    ws.on("message", (data, isBinary) => {
      this.#sender = malformed;
      if (isBinary) return;
      const ids = subscribedChannels(data);
      if (ids.length === 0) return;
      setImmediate(() => {
        for (const id of ids) {
          const c = this.#byId.get(id);
          if (!c || this.#closed || c.subscribers === 0) continue;
          for (const l of this.#subscribeListeners) l(c.spec.key);
        }
      });
    });
    this.#fox.handleConnection(outbox, name);
    // The current time to this viewer alone (the others have it): while the data stands still (a
    // silent device, a run that has ended) no time update would come, and a viewer with the `time`
    // capability has no clock without one.
    if (this.#clock >= 0n) outbox.send(timeMessage(this.#clock));
  }
}

/** Close frame of a server shutting down: 1001 "going away" (RFC 6455). */
function goAway(ws: import("ws").WebSocket): void {
  try {
    ws.close(1001, "going away");
  } catch {
    // Not open yet or already closing: terminate() after the wait takes care of it.
  }
}

/** The protocol's binary `time` message. */
function timeMessage(ns: bigint): DataView {
  const msg = new DataView(new ArrayBuffer(9));
  msg.setUint8(0, wsProtocol.BinaryOpcode.TIME);
  msg.setBigUint64(1, ns, true);
  return msg;
}

/** Channel ids of a client's `subscribe` operation ([] for anything else or malformed text). */
function subscribedChannels(data: import("ws").RawData): number[] {
  try {
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString()
      : Buffer.from(data as Buffer).toString();
    const m = JSON.parse(text) as { op?: unknown; subscriptions?: unknown };
    if (m.op !== "subscribe" || !Array.isArray(m.subscriptions)) return [];
    return m.subscriptions.flatMap((x: { channelId?: unknown }) =>
      typeof x?.channelId === "number" ? [x.channelId] : [],
    );
  } catch {
    return [];
  }
}
