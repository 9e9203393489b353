// What serial-dump and run print on stdout, through the real CLI on a real pty pair (socat):
// --count is exact however many samples one read brings, and a reader that closes stdout early
// (`serial-dump --json | head`, `run --json | head`) ends the command cleanly, exit 0, not with
// an EPIPE stack trace.
import { afterEach, describe, expect, it } from "vitest";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { type RunningCli, spawnCli } from "./helpers/cli.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = socatMissing();
if (missing) console.warn(`SKIPPING serial CLI stdout tests: ${missing}`);

const cli = (args: string[]) => spawnCli(args);

/** Straight at 1 m/s: 200 Hz IMU with some vibration, 50 Hz odometry, device µs clock. */
function robotLines(t0Us: number, seconds: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < Math.round(seconds * 200); i++) {
    const t = t0Us + i * 5000;
    const az = 9.81 + 2 * Math.sin(i * 1.7) * Math.cos(i * 0.31);
    lines.push(nmeaSentence(`TLIMU,${t},0.1,-0.1,${az.toFixed(4)},${(0.1 * Math.sin(i)).toFixed(4)},0.05,0`));
    if (i % 4 === 0) lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
  }
  return lines;
}

/** Streams `lines` in 50 ms chunks, as a device would, until done or `until()` holds. */
async function stream(pty: PtyPair, lines: string[], until: () => boolean): Promise<void> {
  for (let i = 0; i < lines.length && !until(); i += 13) {
    await pty.write(`${lines.slice(i, i + 13).join("\r\n")}\r\n`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(missing !== undefined)("serial-dump and run stdout", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function start(args: string[]): RunningCli {
    const c = cli(args);
    cleanups.push(() => {
      if (c.child.exitCode === null) c.child.kill("SIGKILL");
    });
    return c;
  }

  it("serial-dump --count 5 prints exactly 5 samples when one read brings 60", async () => {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const c = start(["serial-dump", pty.a, "--json", "--count", "5"]);
    await waitFor(
      () => `the port to open (${c.stderr()})`,
      () => c.stderr().includes(" open"),
      30_000,
    );
    await pty.write(`${robotLines(1_000_000, 0.25).join("\r\n")}\r\n`);
    expect(await c.exit).toBe(0);
    const lines = c.stdout().trim().split("\n");
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: "imu" });
    expect(JSON.parse(c.stderr().trim().split("\n").at(-1)!)).toMatchObject({ type: "counters" });
  });

  it("serial-dump --json | head: stdout closed early → counters on stderr, exit 0, no EPIPE trace", async () => {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const c = start(["serial-dump", pty.a, "--json"]);
    await waitFor(
      () => `the port to open (${c.stderr()})`,
      () => c.stderr().includes(" open"),
      30_000,
    );
    // The reader takes the first chunk and goes away, as `head -1` does.
    c.child.stdout!.once("data", () => c.child.stdout!.destroy());
    const exited = () => c.child.exitCode !== null;
    await stream(pty, robotLines(1_000_000, 10), exited);
    expect(await c.exit).toBe(0);
    expect(c.stderr()).not.toMatch(/EPIPE|at .*\.ts:\d+/);
    expect(JSON.parse(c.stderr().trim().split("\n").at(-1)!)).toMatchObject({ type: "counters" });
  }, 60_000);

  it("run --json | head: stdout closed early → clean shutdown, exit 0, no EPIPE trace", async () => {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const c = start(["run", "--serial", pty.a, "--json"]);
    await waitFor(
      () => `the port to open (${c.stderr()})`,
      () => c.stderr().includes(" open"),
      60_000,
    );
    c.child.stdout!.once("data", () => c.child.stdout!.destroy());
    const exited = () => c.child.exitCode !== null;
    await stream(pty, robotLines(1_000_000, 20), exited);
    expect(await c.exit).toBe(0);
    expect(c.stderr()).toContain("stdout closed by its reader; stopping");
    expect(c.stderr()).toMatch(/run: done: \d+ labels/);
    expect(c.stderr()).not.toMatch(/EPIPE|at .*\.ts:\d+/);
  }, 90_000);
});
