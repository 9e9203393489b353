// `run --serial DEV --live-view=0` through the real CLI: serial IMU/odometry over a real pty pair
// (socat), and a Foxglove client sees the labels layer, `odom → base_link` made from the serial
// odometry (no input publishes TF there) and the learner's state. Also `tapInputs`, which shows the
// inputs the ROS node pushes to the live view.

import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { tapInputs } from "../src/adapters/live-view/index.ts";
import { nmeaSentence } from "../src/adapters/serial-protocol.ts";
import { TestViewer } from "./helpers/foxglove-client.ts";
import { PtyPair, socatMissing } from "./helpers/socat.ts";
import { waitFor } from "./helpers/wait.ts";

/** Driving straight at 1 m/s: 200 Hz IMU with vibration, 50 Hz odometry, device µs clock. */
function robotLines(t0Us: number, seconds: number): string[] {
  let s = 7;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  };
  const lines: string[] = [];
  for (let i = 0; i < Math.round(seconds * 200); i++) {
    const t = t0Us + i * 5000;
    lines.push(
      nmeaSentence(
        `TLIMU,${t},${(0.5 * rand()).toFixed(4)},${(0.5 * rand()).toFixed(4)},${(9.81 + 3 * rand()).toFixed(4)},${(0.2 * rand()).toFixed(4)},${(0.2 * rand()).toFixed(4)},${(0.02 * rand()).toFixed(4)}`,
      ),
    );
    if (i % 4 === 0) lines.push(nmeaSentence(`TLODO,${t},1.0,0.0`));
  }
  return lines;
}

type Header = { frame_id: string; stamp: { sec: number; nanosec: number } };

describe.skipIf(socatMissing() !== undefined)("run --serial --live-view", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("serves labels, odometry TF and learner stats to a Foxglove client", async () => {
    const pty = await PtyPair.start();
    cleanups.push(() => pty.close());
    const child: ChildProcess = spawn(
      process.execPath,
      ["bin/terrain-learner.js", "run", "--serial", pty.a, "--live-view=0"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    await waitFor(
      () => `the live view URL (${err})`,
      () => /live view: ws:\/\/127\.0\.0\.1:\d+/.test(err),
      60_000,
    );
    await waitFor(
      () => `the serial port (${err})`,
      () => err.includes(" open"),
      60_000,
    );
    const url = /live view: (ws:\/\/127\.0\.0\.1:\d+)/.exec(err)![1]!;
    const viewer = new TestViewer(url);
    cleanups.push(() => viewer.close());
    await viewer.ready();
    viewer.subscribe([
      "/terrain_learner/labels",
      "/tf",
      "/terrain_learner/learner",
      "/terrain_learner/robot",
    ]);
    await waitFor(
      () => `the server to see the subscriptions (${err})`,
      () => err.includes("connected"),
      10_000,
    );

    // When each learner message arrives (wall clock), with its label count.
    const learnerAt: { ms: number; labels: number }[] = [];
    viewer.client.on("message", () => {
      const got = viewer.messages("/terrain_learner/learner");
      if (got.length > learnerAt.length)
        learnerAt.push({ ms: performance.now(), labels: got.at(-1)!.message.labels as number });
    });
    const lines = robotLines(5_000_000, 8);
    for (let i = 0; i < lines.length; i += 13) {
      pty.write(`${lines.slice(i, i + 13).join("\n")}\n`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const streamedUntil = performance.now();
    await waitFor(
      () => `labels in the live view (${err})`,
      () => viewer.messages("/terrain_learner/labels").length > 0,
      30_000,
    );
    child.kill("SIGINT");
    expect(await exit).toBe(0);

    const tf = viewer.messages("/tf").flatMap(
      (r) =>
        r.message.transforms as {
          header: Header;
          child_frame_id: string;
          transform: { translation: { x: number } };
        }[],
    );
    const base = tf.filter((t) => t.header.frame_id === "odom" && t.child_frame_id === "base_link");
    expect(base.length).toBeGreaterThan(50);
    // Straight ahead at 1 m/s: the pose moves forward.
    expect(base.at(-1)!.transform.translation.x - base[0]!.transform.translation.x).toBeGreaterThan(2);
    const marker = (
      viewer.messages("/terrain_learner/labels").at(-1)!.message.markers as { points: unknown[] }[]
    )[0]!;
    expect(marker.points.length).toBeGreaterThanOrEqual(6);
    expect(marker.points.length % 6).toBe(0);
    // The viewer's clock follows the data (the server declares the `time` capability, so Foxglove
    // takes its clock only from the server's time messages; without them it stays at 0 and looks
    // transforms up there).
    const lastStamp = base.at(-1)!.header.stamp.sec + base.at(-1)!.header.stamp.nanosec * 1e-9;
    expect(Number(viewer.serverTime) / 1e9).toBeCloseTo(lastStamp, 1);
    expect(viewer.times.every((t, i) => i === 0 || t > viewer.times[i - 1]!)).toBe(true);
    // The robot box, for the 3D view to show where the robot is: no camera frame brings it here.
    const robot = viewer.messages("/terrain_learner/robot").at(-1)?.message as
      | { header: Header; frame_locked: boolean }
      | undefined;
    expect(robot?.header.frame_id).toBe("base_link");
    expect(robot?.frame_locked).toBe(true);
    // The learner state follows the labels as they come, every second or so, not only every few
    // sensor seconds (mqtt.learner_rate) as the pipeline's stats events do without camera frames.
    const whileStreaming = learnerAt.filter((m) => m.ms <= streamedUntil);
    const firstLabels = whileStreaming.findIndex((m) => m.labels > 0);
    expect(firstLabels, JSON.stringify(learnerAt)).toBeGreaterThanOrEqual(0);
    const afterLabels = whileStreaming.slice(firstLabels);
    const gaps = afterLabels.slice(1).map((m, i) => m.ms - afterLabels[i]!.ms);
    expect(afterLabels.length, JSON.stringify(learnerAt)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...gaps, streamedUntil - afterLabels.at(-1)!.ms)).toBeLessThan(2000);
    // The final learner state counts the same labels as the layer shows.
    const learner = viewer.messages("/terrain_learner/learner").at(-1)!.message;
    expect(learner.labels).toBe(marker.points.length / 6);
    // The server logged the viewer's counts when the run ended.
    expect(err).toMatch(/live view: viewer 127\.0\.0\.1:\d+ left \(sent \d+, dropped 0\)/);
  }, 120_000);
});

describe("tapInputs", () => {
  it("shows every pushed input to the tap first; everything else is the pipeline itself", async () => {
    class Owner {
      readonly #seen: string[] = [];
      readonly name = "pipeline";
      async push(e: string): Promise<void> {
        this.#seen.push(e);
      }
      seen(): string[] {
        return this.#seen;
      }
    }
    const inner = new Owner();
    const order: string[] = [];
    const tapped = tapInputs(inner as unknown as Owner & { push(e: never): Promise<void> }, (e) =>
      order.push(`tap:${String(e)}`),
    );
    await tapped.push("a" as never);
    await tapped.push("b" as never);
    expect(order).toEqual(["tap:a", "tap:b"]);
    // Private fields are reached through the real object.
    expect(tapped.seen()).toEqual(["a", "b"]);
    expect(tapped.name).toBe("pipeline");
  });
});
