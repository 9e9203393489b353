// A real Mosquitto broker for MQTT tests: its own config in a temp dir, a free port on 127.0.0.1,
// no persistence, stopped after. `stop()` + `start()` on the same port is a broker restart.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why MQTT broker tests cannot run here, or undefined when mosquitto is installed. */
export function mosquittoMissing(): string | undefined {
  const r = spawnSync("mosquitto", ["-h"], { stdio: "ignore" });
  return r.error ? "mosquitto is not installed (apt-get install -y mosquitto)" : undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });
}

export class Mosquitto {
  readonly port: number;
  readonly dir: string;
  private child: ChildProcess | undefined;
  private output = "";

  private constructor(
    port: number,
    dir: string,
    persistent: boolean,
    listenerOptions: readonly string[],
    auth: { passwordFile: string; aclFile: string } | undefined,
    config: ((port: number) => string) | undefined,
  ) {
    this.port = port;
    this.dir = dir;
    // Started as root, mosquitto drops to the `mosquitto` user, which must be able to save here.
    chmodSync(dir, 0o777);
    if (config) {
      writeFileSync(join(dir, "mosquitto.conf"), config(port));
      return;
    }
    const lines = [
      `listener ${port} 127.0.0.1`,
      // Options of this listener (TLS files, require_certificate) must follow its `listener` line.
      ...listenerOptions,
      ...(auth
        ? ["allow_anonymous false", `password_file ${auth.passwordFile}`, `acl_file ${auth.aclFile}`]
        : ["allow_anonymous true"]),
      "log_dest stderr",
      "log_type error",
      "log_type warning",
    ];
    if (persistent) {
      // Saved after every change, so that even a SIGKILLed broker comes back with the sessions
      // and subscriptions of the test's observer (the robot's client under test uses a clean session).
      lines.push(
        "persistence true",
        `persistence_location ${dir}/`,
        "autosave_on_changes true",
        "autosave_interval 1",
      );
    } else {
      lines.push("persistence false");
    }
    writeFileSync(join(dir, "mosquitto.conf"), `${lines.join("\n")}\n`);
  }

  /** A broker on a free port; started unless `started` is false (a broker that is down at first). */
  static async create(
    options: {
      started?: boolean;
      persistent?: boolean;
      listenerOptions?: readonly string[];
      dir?: string;
      /** Users and an ACL instead of anonymous access (files readable by the broker). */
      auth?: { passwordFile: string; aclFile: string };
      /** The whole config instead of the one built from the options above (a shipped config under
       * test); it must listen on `port` on 127.0.0.1. */
      config?: (port: number) => string;
    } = {},
  ): Promise<Mosquitto> {
    const broker = new Mosquitto(
      await freePort(),
      options.dir ?? mkdtempSync(join(tmpdir(), "tl-mosquitto-")),
      options.persistent ?? false,
      options.listenerOptions ?? [],
      options.auth,
      options.config,
    );
    if (options.started ?? true) await broker.start();
    return broker;
  }

  /** Path of the persistence file (exists once the broker saved). */
  get dbPath(): string {
    return join(this.dir, "mosquitto.db");
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.output = "";
    const child = spawn("mosquitto", ["-c", join(this.dir, "mosquitto.conf")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    child.stderr!.on("data", (d: Buffer) => {
      this.output += d.toString();
    });
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${this.port}: ${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Kills the broker (SIGKILL: no goodbye to clients, like a crash or a power cut). */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    // A paused broker takes a SIGTERM only once it runs again.
    child.kill("SIGCONT");
    await exited;
  }

  /** Freezes the broker (SIGSTOP): connections stay open and nothing is answered, as over a dead link. */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  async close(): Promise<void> {
    await this.stop("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A broker that speaks only MQTT 3.1.1, in front of `brokerPort`: answers an MQTT 5 CONNECT as such
 * a broker does (CONNACK 1, then closes), passes 3.1.1 connections through.
 */
export async function mqtt311Proxy(
  brokerPort: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const proxy = createServer((sock) => {
    sock.once("data", (first) => {
      // Fixed header, 1-byte remaining length (a CONNECT this small), "\0\x04MQTT", then the level.
      if (first[0] === 0x10 && first[8] === 5) {
        sock.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
        return;
      }
      const up = connect(brokerPort, "127.0.0.1", () => up.write(first));
      sock.pipe(up).pipe(sock);
      up.on("error", () => sock.destroy());
      sock.on("error", () => up.destroy());
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    port: (proxy.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => proxy.close(() => r())),
  };
}
