// One viewer's connection, as the Foxglove server library sees it (its `IWebSocket`), with a bounded
// queue in front of the socket. The library writes every message straight to the socket, and a
// `ws` socket buffers without limit: a viewer on a slow link would make the process hold every
// camera frame it has not read yet. Here binary messages (message data) wait in a queue of at most
// `maxMessages` / `maxBytes` while the socket holds more than `highWater` unsent bytes; beyond that
// the oldest are dropped and counted. Text messages (advertisements, status) are few and small and
// always go through, so a slow viewer still learns about channels.

import type { WebSocket } from "ws";

export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  /** Bytes the socket may hold unsent before messages wait in the queue. */
  highWater: number;
}

export interface OutboxStats {
  name: string;
  /** Channel messages handed to the socket (time updates are not counted). */
  sent: number;
  bytesSent: number;
  /** Channel messages dropped because the queue was full (oldest first). */
  dropped: number;
  queued: number;
  queuedBytes: number;
}

type Handler = ((event: unknown) => void) | null | undefined;

export class Outbox {
  readonly name: string;
  readonly #ws: WebSocket;
  readonly #limits: OutboxLimits;
  #queue: Uint8Array[] = [];
  #head = 0;
  #queuedBytes = 0;
  #sent = 0;
  #bytesSent = 0;
  #dropped = 0;
  #closed = false;
  #onclose: Handler;

  constructor(ws: WebSocket, name: string, limits: OutboxLimits) {
    this.#ws = ws;
    this.name = name;
    this.#limits = limits;
    // The library installs `onclose`; the queue is released first, whoever closes the socket.
    ws.onclose = (event) => {
      this.#release();
      this.#onclose?.(event);
    };
  }

  // The IWebSocket surface the library uses, passed through to the socket.
  get binaryType(): string {
    return this.#ws.binaryType;
  }
  set binaryType(v: string) {
    this.#ws.binaryType = v as WebSocket["binaryType"];
  }
  get protocol(): string {
    return this.#ws.protocol;
  }
  get onmessage(): Handler {
    return this.#ws.onmessage as Handler;
  }
  set onmessage(h: Handler) {
    this.#ws.onmessage = h ?? null;
  }
  get onerror(): Handler {
    return this.#ws.onerror as Handler;
  }
  set onerror(h: Handler) {
    this.#ws.onerror = h ?? null;
  }
  get onopen(): Handler {
    return this.#ws.onopen as Handler;
  }
  set onopen(h: Handler) {
    this.#ws.onopen = h ?? null;
  }
  get onclose(): Handler {
    return this.#onclose;
  }
  set onclose(h: Handler) {
    this.#onclose = h;
  }

  close(): void {
    this.#release();
    this.#ws.close();
  }

  /**
   * One parameter on purpose: the library then hands over each message as one buffer (header and
   * payload together) instead of two fragments, and a whole message is what gets queued or dropped.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    if (typeof data === "string") {
      this.#ws.send(data);
      return;
    }
    const bytes =
      data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    const { maxMessages, maxBytes } = this.#limits;
    // The newest message always stays, even one larger than maxBytes on its own.
    while (
      this.#queue.length - this.#head > 1 &&
      (this.#length() > maxMessages || this.#queuedBytes > maxBytes)
    ) {
      const old = this.#queue[this.#head]!;
      this.#queuedBytes -= old.byteLength;
      this.#queue[this.#head++] = EMPTY;
      if (old[0] === MESSAGE_DATA) this.#dropped++;
    }
    this.#pump();
  }

  /** Nothing waits for this viewer any more: its queue and the socket's own buffer are empty. */
  drained(): boolean {
    return (
      this.#closed ||
      this.#ws.readyState !== this.#ws.OPEN ||
      (this.#length() === 0 && this.#ws.bufferedAmount === 0)
    );
  }

  stats(): OutboxStats {
    return {
      name: this.name,
      sent: this.#sent,
      bytesSent: this.#bytesSent,
      dropped: this.#dropped,
      queued: this.#length(),
      queuedBytes: this.#queuedBytes,
    };
  }

  #length(): number {
    return this.#queue.length - this.#head;
  }

  #pump = (): void => {
    while (!this.#closed && this.#length() > 0 && this.#ws.bufferedAmount < this.#limits.highWater) {
      const bytes = this.#queue[this.#head]!;
      this.#queue[this.#head++] = EMPTY;
      this.#queuedBytes -= bytes.byteLength;
      if (bytes[0] === MESSAGE_DATA) this.#sent++;
      this.#bytesSent += bytes.byteLength;
      // The callback runs once the socket has written the message: the time to send more.
      this.#ws.send(bytes, this.#afterWrite);
    }
    // Compact the array once its consumed head is most of it.
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  };

  #afterWrite = (err?: Error): void => {
    if (err) this.#release();
    else this.#pump();
  };

  #release(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** The protocol's binary opcode of a channel message (2 is a time update). */
const MESSAGE_DATA = 1;
