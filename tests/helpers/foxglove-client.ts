// A live view viewer for tests: @foxglove/ws-protocol's own client (the protocol's other side, as
// Foxglove implements it) over a `ws` socket, decoding CDR with @foxglove/rosmsg2-serialization from
// the schema text the server advertised, as a viewer does.

import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import wsProtocol, { type Channel, type MessageData } from "@foxglove/ws-protocol";
import { WebSocket } from "ws";

const { FoxgloveClient } = wsProtocol;

export interface Received {
  topic: string;
  /** Message time from the frame header (ns). */
  logTime: bigint;
  message: Record<string, unknown>;
}

export class TestViewer {
  readonly ws: WebSocket;
  readonly client: InstanceType<typeof FoxgloveClient>;
  readonly channels = new Map<string, Channel>();
  readonly received: Received[] = [];
  /** Raw messages per topic (counted even when not decoded). */
  readonly counts = new Map<string, number>();
  /** Every time update the server sent (ns), in order. */
  readonly times: bigint[] = [];
  readonly #bySub = new Map<number, { topic: string; reader: MessageReader | undefined }>();
  readonly #advertised: Promise<void>;
  readonly #opened: Promise<void>;
  #serverTime = 0n;

  constructor(url: string, opts: { decode?: boolean } = {}) {
    this.ws = new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
    this.client = new FoxgloveClient({ ws: this.ws as never });
    this.#opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.#advertised = new Promise((resolve) => {
      this.client.on("advertise", (chs) => {
        for (const c of chs) this.channels.set(c.topic, c);
        resolve();
      });
    });
    this.client.on("time", (t) => {
      this.#serverTime = t.timestamp;
      this.times.push(t.timestamp);
    });
    const decode = opts.decode ?? true;
    this.client.on("message", (m: MessageData) => {
      const sub = this.#bySub.get(m.subscriptionId);
      if (!sub) return;
      this.counts.set(sub.topic, (this.counts.get(sub.topic) ?? 0) + 1);
      if (!decode || !sub.reader) return;
      const bytes = new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      this.received.push({
        topic: sub.topic,
        logTime: m.timestamp,
        message: sub.reader.readMessage(bytes) as Record<string, unknown>,
      });
    });
  }

  get serverTime(): bigint {
    return this.#serverTime;
  }

  async ready(): Promise<void> {
    await this.#opened;
    await this.#advertised;
  }

  /** Subscribes to topics by name; throws for a topic the server did not advertise. */
  subscribe(topics: readonly string[]): void {
    for (const topic of topics) {
      const c = this.channels.get(topic);
      if (!c) throw new Error(`not advertised: ${topic} (have ${[...this.channels.keys()].join(", ")})`);
      if (c.encoding !== "cdr" || c.schemaEncoding !== "ros2msg")
        throw new Error(`${topic}: ${c.encoding}/${c.schemaEncoding}`);
      const reader = new MessageReader(parse(c.schema, { ros2: true }));
      const id = this.client.subscribe(c.id);
      this.#bySub.set(id, { topic, reader });
    }
  }

  messages(topic: string): Received[] {
    return this.received.filter((r) => r.topic === topic);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once("close", () => resolve()));
    this.client.close();
    await closed;
  }
}
