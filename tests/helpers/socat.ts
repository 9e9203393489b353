// A real pseudo-terminal pair made by socat, for serial tests: bytes written to `b` come out of
// `a` (and back), like a microcontroller on the far end of a USB-serial cable. Stopping and
// starting it on the same link paths is a device that is unplugged and plugged back in.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, constants as fsc, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./wait.ts";

export { waitFor };

/** Why serial-over-pty tests cannot run here, or undefined when socat is installed. */
export function socatMissing(): string | undefined {
  const r = spawnSync("socat", ["-V"], { stdio: "ignore" });
  return r.error || r.status !== 0 ? "socat is not installed (apt-get install -y socat)" : undefined;
}

export class PtyPair {
  readonly dir: string;
  /** The end the code under test opens (the "device"). */
  readonly a: string;
  /** The end the test writes to (the "microcontroller"). */
  readonly b: string;
  private child: ChildProcess | undefined;
  private writer: number | undefined;
  /** Writes waiting for buffer space, chained so bytes go out in call order. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private epoch = 0;
  private stderr = "";

  private constructor(dir: string) {
    this.dir = dir;
    this.a = join(dir, "a");
    this.b = join(dir, "b");
  }

  static async start(): Promise<PtyPair> {
    const pair = new PtyPair(mkdtempSync(join(tmpdir(), "tl-pty-")));
    await pair.up();
    return pair;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** (Re)creates the pair on the same link paths. */
  async up(): Promise<void> {
    if (this.child) return;
    // A killed socat can leave dangling links behind; rmSync removes the link, not its target.
    for (const p of [this.a, this.b]) rmSync(p, { force: true });
    this.stderr = "";
    const child = spawn(
      "socat",
      ["-d", "-d", `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr!.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.child = child;
    await waitFor(
      `socat to create ${this.a} and ${this.b} (stderr: ${this.stderr})`,
      () => this.stderr.includes("starting data transfer loop") || child.exitCode !== null,
    );
    if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}: ${this.stderr}`);
  }

  /** Unplugs the device: socat exits and both ptys disappear. */
  async down(): Promise<void> {
    this.closeWriter();
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
  }

  /**
   * Sends bytes from the "microcontroller" end, in order with earlier writes. Resolves once the
   * kernel has taken them all. A burst that fits the pty buffers goes out before this returns
   * (callers that don't await keep working). The fd is non-blocking: the reader under test usually
   * runs on this same event loop, so a blocking write of more than the pty pair and socat hold
   * (about 34 KiB on Linux 6.x) would wait for a reader it is itself starving, forever.
   */
  write(data: string | Uint8Array): Promise<void> {
    const buf = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    if (this.queued === 0) {
      const off = this.writeSome(buf, 0);
      if (off === buf.length) return Promise.resolve();
      return this.enqueue(buf, off);
    }
    return this.enqueue(buf, 0);
  }

  private enqueue(buf: Uint8Array, from: number): Promise<void> {
    const epoch = this.epoch;
    this.queued++;
    const done = this.queue
      .then(async () => {
        let off = from;
        for (;;) {
          if (this.epoch !== epoch)
            throw new Error(`pty writer closed with ${buf.length - off} bytes of a write unsent`);
          off = this.writeSome(buf, off);
          if (off === buf.length) return;
          // Let the reader drain the other end.
          await new Promise((r) => setTimeout(r, 1));
        }
      })
      .finally(() => {
        this.queued--;
      });
    this.queue = done.catch(() => undefined);
    return done;
  }

  /** Writes until done or the kernel says EAGAIN; returns the new offset. */
  private writeSome(buf: Uint8Array, off: number): number {
    this.writer ??= openSync(this.b, fsc.O_WRONLY | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    while (off < buf.length) {
      try {
        off += writeSync(this.writer, buf, off, buf.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") return off;
        throw err;
      }
    }
    return off;
  }

  /** Closes the writing end; writes still waiting for buffer space fail (an unplugged cable). */
  closeWriter(): void {
    this.epoch++;
    if (this.writer !== undefined) closeSync(this.writer);
    this.writer = undefined;
  }

  async close(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
