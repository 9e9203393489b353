// Whether the broker delivers what this robot publishes (an ACL drops it silently) and whether
// another robot publishes under its id, told by what comes back on the robot's own fleet topics.

import { createHash } from "node:crypto";

/** How long our first payload after a connect may take to come back before the broker is said to drop it. */
const ECHO_WAIT_MS = 5000;

export interface EchoWatchOptions {
  robotId: string;
  /** The topic our batches go to (named when none came back). */
  samplesTopic: string;
  /** The user name the client logs in with. */
  username(): string;
  /** Connected now, as far as the link's events tell. */
  up(): boolean;
  /** Logs and keeps an error (once per outage). */
  error(message: string): void;
}

export class EchoWatch {
  readonly #o: EchoWatchOptions;
  /** Digests of our recent payloads, oldest first. */
  readonly #mine: string[] = [];
  /** Payloads published and our own that came back, since the last connect. */
  #published = 0;
  /** Of those, how many the broker acknowledged: one that went silent acknowledges none. */
  #acked = 0;
  #echoes = 0;
  #timer: NodeJS.Timeout | undefined;
  #droppedWarned = false;
  /** Payloads on our own topics that we did not publish (a robot with the same id). */
  #sameId = 0;

  constructor(options: EchoWatchOptions) {
    this.#o = options;
  }

  get sameId(): number {
    return this.#sameId;
  }

  /** The broker drops what we publish (said once). */
  get brokerDrops(): boolean {
    return this.#droppedWarned;
  }

  /** A new connection: counting starts again. */
  connected(): void {
    this.#published = 0;
    this.#acked = 0;
    this.#echoes = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  static #digest(payload: Buffer): string {
    return createHash("sha1").update(payload).digest("hex");
  }

  /** A payload on our own topics (not a retained one, which predates the connection). */
  own(topic: string, payload: Buffer): void {
    // Kept after a match: a QoS 1 publish resent after a reconnect can come back twice.
    if (this.#mine.includes(EchoWatch.#digest(payload))) {
      this.#echoes++;
      return;
    }
    if (this.#sameId++ === 0)
      this.#o.error(
        `another client publishes as '${this.#o.robotId}' (${topic}): two robots with one robot id? Peers take both for one robot, and neither learns from the other`,
      );
  }

  /** A payload handed to a connected client. */
  sent(payload: Buffer): void {
    this.#mine.push(EchoWatch.#digest(payload));
    if (this.#mine.length > 256) this.#mine.shift();
    if (this.#published++ === 0 && !this.#droppedWarned) {
      this.#timer = setTimeout(() => {
        if (this.#o.up()) this.check();
      }, ECHO_WAIT_MS);
      this.#timer.unref();
    }
  }

  /** The broker acknowledged a payload, or refused it as not authorized on `refusedTopic`. */
  acked(refusedTopic?: string): void {
    this.#acked++;
    if (refusedTopic !== undefined) this.check(refusedTopic);
  }

  /** Nothing we published came back: the broker drops it (an ACL). Said once. */
  check(refusedTopic?: string): void {
    // A broker that takes (acknowledges) our payloads and sends none back drops them; one that
    // acknowledges none has gone silent, which says nothing about its ACL.
    if (this.#droppedWarned || this.#acked === 0 || this.#echoes > 0) return;
    this.#droppedWarned = true;
    const user = this.#o.username();
    this.#o.error(
      `the broker drops what this robot publishes (${refusedTopic ? `'Not authorized' on ${refusedTopic}` : `${this.#acked} payload${this.#acked === 1 ? "" : "s"} on ${this.#o.samplesTopic}, none came back`}): its ACL refuses the topic (with launch/fleet-acl.conf the user name${user ? ` '${user}'` : ""} must be the robot id, and the topic prefix the ACL's)`,
    );
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
