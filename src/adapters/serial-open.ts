// Opening a serial device without throwing away what it already sent.
//
// serialport's native open calls tcflush(TCIOFLUSH) after configuring the line, which discards
// every byte the tty holds at that moment: on a pty (socat, a TCP-to-serial bridge, a simulator)
// everything the far end wrote before the open completed, and on a USB CDC device the first burst
// it sends when the open raises DTR. This binding opens the device itself, takes the same
// exclusive flock and sets the same termios with `flock(1)` and `stty(1)` on that open file (no
// flush), then hands the descriptor to serialport's own Linux port binding for reading, writing
// and closing.

import { spawn } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import {
  LinuxBinding,
  type LinuxBindingInterface,
  type LinuxOpenOptions,
  LinuxPortBinding,
} from "@serialport/bindings-cpp";

type Required_ = Required<LinuxOpenOptions>;

/** serialport's defaults for an open on Linux (bindings-cpp's LinuxBinding.open). */
function withDefaults(options: LinuxOpenOptions): Required_ {
  return {
    vmin: 1,
    vtime: 0,
    dataBits: 8,
    lock: true,
    stopBits: 1,
    parity: "none",
    rtscts: false,
    xon: false,
    xoff: false,
    xany: false,
    hupcl: true,
    ...options,
  } as Required_;
}

/** The stty arguments for the termios serialport's open sets (raw 8N1 by default). */
export function sttyArgs(o: Required_): string[] {
  const flag = (on: boolean, name: string) => (on ? name : `-${name}`);
  return [
    String(o.baudRate),
    "raw",
    "-echo",
    "-echoe",
    "-echok",
    "-echonl",
    "-echoctl",
    "-echoke",
    "-iexten",
    "ignpar",
    `cs${o.dataBits}`,
    flag(o.parity !== "none", "parenb"),
    flag(o.parity === "odd", "parodd"),
    flag(o.stopBits === 2, "cstopb"),
    flag(o.rtscts, "crtscts"),
    flag(o.xon, "ixon"),
    flag(o.xoff, "ixoff"),
    flag(o.xany, "ixany"),
    flag(o.hupcl, "hupcl"),
    "clocal",
    "cread",
    "min",
    String(o.vmin),
    "time",
    String(o.vtime),
  ];
}

class ToolMissing extends Error {}

/** Runs a tool with `fd` as its standard input (the same open file, so locks and termios stick). */
function runOn(fd: number, tool: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: [fd, "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "ENOENT" ? new ToolMissing(`${tool} not found`) : e),
    );
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(Object.assign(new Error(err.trim() || `${tool} exited with ${code}`), { exitCode: code }));
    });
  });
}

async function lock(fd: number, path: string): Promise<void> {
  try {
    await runOn(fd, "flock", ["--exclusive", "--nonblock", "0"]);
  } catch (err) {
    if (err instanceof ToolMissing) throw err;
    throw new Error(
      `Error Resource temporarily unavailable Cannot lock port ${path} (another process has it open)`,
    );
  }
}

/**
 * A serialport binding (Linux) whose open keeps the bytes already waiting on the device. Falls back
 * to serialport's own open, which discards them, where flock(1) or stty(1) is missing (`onFallback`
 * is told once) or stty refuses the settings (a custom baud rate, which the native open supports).
 */
export function keepInputBinding(onFallback?: (why: string) => void): LinuxBindingInterface {
  let warned = false;
  const fallback = (why: string, options: LinuxOpenOptions) => {
    if (!warned) onFallback?.(why);
    warned = true;
    return LinuxBinding.open(options);
  };
  return {
    list: () => LinuxBinding.list(),
    async open(options) {
      const o = withDefaults(options);
      let fd: number;
      try {
        fd = openSync(o.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // The same shape as serialport's own open error: "Error: <reason>, cannot open <path>".
        const reason = e.message.replace(/^\w+: /, "").replace(/, open .*$/, "");
        throw Object.assign(new Error(`Error: ${reason}, cannot open ${o.path}`), { code: e.code });
      }
      let why: string;
      try {
        if (o.lock) await lock(fd, o.path);
        try {
          await runOn(fd, "stty", sttyArgs(o));
          return new LinuxPortBinding(fd, o);
        } catch (err) {
          if (err instanceof ToolMissing) throw err;
          // stty's message is two lines ("invalid argument ‘250000’" and a pointer to --help): keep the first.
          const detail = (err as Error).message.split("\n")[0]!.trim();
          why = `stty cannot set ${o.path} to ${o.baudRate} baud (${detail}): opening with serialport's default, which drops bytes queued before the open`;
        }
      } catch (err) {
        closeSync(fd);
        if (!(err instanceof ToolMissing)) throw err;
        return fallback(
          `${err.message}: opening with serialport's default, which drops bytes queued before the open`,
          options,
        );
      }
      closeSync(fd);
      return fallback(why, options);
    },
  };
}
