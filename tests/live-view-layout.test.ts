// The shipped Foxglove layout names only what the live view serves, with fields its messages have;
// the roughness image's CameraInfo projects like the camera, in grid cells; the CLI flags.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { liveViewChannels } from "../src/adapters/live-view/index.ts";
import { UserError } from "../src/cli/errors.ts";
import { applyLiveViewFlags } from "../src/cli/live-view.ts";
import type { CameraModel } from "../src/core/types.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { gridCameraModel } from "../src/outputs/grid-camera.ts";
import { defaultConfig } from "../src/runtime/config.ts";

const run = promisify(execFile);
const layout = JSON.parse(
  readFileSync(join(import.meta.dirname, "../launch/foxglove-layout.json"), "utf8"),
) as {
  configById: Record<string, Record<string, unknown>>;
  layout: unknown;
};

/** Panel ids in the layout tree. */
function panelIds(node: unknown): string[] {
  if (typeof node === "string") return [node];
  const n = node as { first: unknown; second: unknown };
  return [...panelIds(n.first), ...panelIds(n.second)];
}

/** The fields a message path walks (`/topic.a.b` → ["a", "b"]) exist in the type's definition. */
function fieldPathExists(type: string, fields: string[]): boolean {
  const defs = definitionsFor(type);
  let def = defs[0]!;
  for (const f of fields) {
    const field = def.definitions.find((d) => d.name === f);
    if (!field) return false;
    if (!field.isComplex) return f === fields.at(-1);
    def = defs.find((d) => d.name === field.type)!;
  }
  return true;
}

describe("launch/foxglove-layout.json", () => {
  const channels = new Map(liveViewChannels(defaultConfig()).map((c) => [c.topic, c]));

  it("places every panel it configures, and configures every panel it places", () => {
    expect(panelIds(layout.layout).sort()).toEqual(Object.keys(layout.configById).sort());
    const kinds = Object.keys(layout.configById).map((id) => id.split("!")[0]);
    expect(kinds).toEqual(expect.arrayContaining(["Image", "3D", "Plot"]));
  });

  it("names only topics the live view advertises, of the types the panels show", () => {
    const named: string[] = [];
    for (const [id, cfg] of Object.entries(layout.configById)) {
      const image = cfg.imageMode as { imageTopic?: string; calibrationTopic?: string } | undefined;
      if (image?.imageTopic) {
        expect(channels.get(image.imageTopic)?.type, id).toBe("sensor_msgs/msg/Image");
        named.push(image.imageTopic);
      }
      if (image?.calibrationTopic) {
        expect(channels.get(image.calibrationTopic)?.type, id).toBe("sensor_msgs/msg/CameraInfo");
        named.push(image.calibrationTopic);
      }
      for (const topic of Object.keys((cfg.topics as Record<string, unknown>) ?? {})) {
        expect(channels.has(topic), `${id}: ${topic}`).toBe(true);
        named.push(topic);
      }
      for (const p of (cfg.paths as { value: string }[]) ?? []) {
        const dot = p.value.indexOf(".");
        const topic = p.value.slice(0, dot);
        const channel = channels.get(topic);
        expect(channel, `${id}: ${p.value}`).toBeDefined();
        expect(fieldPathExists(channel!.type, p.value.slice(dot + 1).split(".")), p.value).toBe(true);
        named.push(topic);
      }
    }
    // The panels the issue asks for: camera with overlay, costmap + labels + robot in 3D, and plots
    // of the loss, ρ and the speed limit.
    expect(named).toEqual(
      expect.arrayContaining([
        "/terrain_learner/roughness/overlay",
        "/terrain_learner/roughness/costmap",
        "/terrain_learner/labels",
        "/terrain_learner/robot",
        "/terrain_learner/learner",
      ]),
    );
    const plotted = Object.values(layout.configById).flatMap((c) =>
      ((c.paths as { value: string }[]) ?? []).map((p) => p.value),
    );
    expect(plotted).toEqual(
      expect.arrayContaining([
        "/terrain_learner/learner.loss",
        "/terrain_learner/learner.rho",
        // m/s from the learner's stats (the SpeedLimit message carries a percentage by default).
        "/terrain_learner/learner.speed_limit",
      ]),
    );
  });

  it("follows the robot's base frame in the 3D view", () => {
    expect(layout.configById["3D!terrain"]!.followTf).toBe(defaultConfig().frames.base);
  });
});

describe("roughness CameraInfo (gridCameraModel)", () => {
  const camera: CameraModel = {
    stamp: 1,
    frameId: "camera_optical",
    width: 640,
    height: 480,
    K: [500, 0, 319.5, 0, 510, 239.5, 0, 0, 1],
    D: [0.1, -0.05, 0, 0, 0],
    distortionModel: "plumb_bob",
    P: [500, 0, 319.5, 0, 0, 510, 239.5, 0, 0, 0, 1, 0],
  };
  const grid = { stamp: 2, frameId: "camera_optical", rows: 30, cols: 40, strideX: 16, strideY: 16 };

  it("projects a point to the grid cell whose pixels the camera projects it to", () => {
    const m = gridCameraModel(camera, grid);
    expect([m.width, m.height, m.stamp]).toEqual([40, 30, 2]);
    expect(m.D).toEqual(camera.D);
    const project = (K: readonly number[], X: [number, number, number]) => [
      (K[0]! * X[0] + K[1]! * X[1] + K[2]! * X[2]) / X[2],
      (K[4]! * X[1] + K[5]! * X[2]) / X[2],
    ];
    for (const X of [
      [0.3, -0.2, 4],
      [-1, 0.5, 2],
      [0, 0, 7],
    ] as [number, number, number][]) {
      const [u, v] = project(camera.K, X);
      const [gu, gv] = project(m.K, X);
      // Pixel centres are at integers (ROS), so column c spans u in [c - 0.5, c + 0.5) and cell k
      // (columns k·16 .. k·16 + 15) spans [16k - 0.5, 16k + 15.5); its centre is grid coordinate k.
      expect(gu!).toBeCloseTo((u! + 0.5) / 16 - 0.5, 9);
      expect(gv!).toBeCloseTo((v! + 0.5) / 16 - 0.5, 9);
      expect(Math.round(gu!)).toBe(Math.floor((u! + 0.5) / 16));
      // P agrees with K for a monocular camera.
      const pu = (m.P[0]! * X[0] + m.P[1]! * X[1] + m.P[2]! * X[2] + m.P[3]!) / X[2];
      expect(pu).toBeCloseTo(gu!, 9);
    }
  });
});

describe("--live-view flags", () => {
  it("turns the view on, takes an optional port and a host", () => {
    const c = defaultConfig();
    applyLiveViewFlags(c, { liveView: true });
    expect([c.live_view.enabled, c.live_view.port, c.live_view.host]).toEqual([true, 8765, "127.0.0.1"]);
    applyLiveViewFlags(c, { liveView: "9100", liveViewHost: "0.0.0.0" });
    expect([c.live_view.port, c.live_view.host]).toEqual([9100, "0.0.0.0"]);
  });

  it("says what is wrong with a bad port or a host without the view", () => {
    expect(() => applyLiveViewFlags(defaultConfig(), { liveView: "run.mcap" })).toThrow(UserError);
    expect(() => applyLiveViewFlags(defaultConfig(), { liveView: "70000" })).toThrow(/takes a port number/);
    expect(() => applyLiveViewFlags(defaultConfig(), { liveViewHost: "0.0.0.0" })).toThrow(
      /--live-view-host needs --live-view/,
    );
  });

  // `replay --live-view BAG` takes BAG as the port: the error must be about the port, not a
  // missing bag (commander checks arguments before the command's action could say so).
  it.each([
    [["replay", "--live-view", "package.json"], "package.json"],
    [["replay", "package.json", "--live-view", "nope"], "nope"],
  ])("`%s`: non-zero exit, the error names the port flag and the fix", async (args, word) => {
    const err = await run(process.execPath, ["bin/terrain-learner.js", ...args]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).not.toBe(0);
    const first = err?.stderr.trim().split("\n")[0];
    expect(first).toBe(
      `error: option '--live-view [port]' argument '${word}' is invalid. expected a port number 0..65535 (put --live-view after the positional arguments, or write --live-view=8765)`,
    );
  });

  // Node listens on every interface for an empty host: it served the camera to the network and
  // printed `ws://:PORT`.
  it.each([
    [
      ["--live-view-host", ""],
      "--live-view-host '': expected an address (127.0.0.1; 0.0.0.0 for every interface)",
    ],
    [
      ["-c", join(import.meta.dirname, "fixtures/live-view-empty-host.yaml")],
      "live_view.host: must name an address (127.0.0.1; 0.0.0.0 for every interface)",
    ],
    [
      ["-c", join(import.meta.dirname, "fixtures/live-view-blank-host.yaml")],
      "live_view.host: must name an address (127.0.0.1; 0.0.0.0 for every interface)",
    ],
    [
      ["--live-view-host", "  "],
      "--live-view-host '  ': expected an address (127.0.0.1; 0.0.0.0 for every interface)",
    ],
  ])("an empty host (%j) is refused before anything listens", async (args, message) => {
    const bag = join(import.meta.dirname, "fixtures/bags/rosbag2_talker_mcap/talker.mcap");
    const err = await run(process.execPath, [
      "bin/terrain-learner.js",
      "replay",
      bag,
      "--live-view=0",
      ...args,
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr.trim().split("\n")).toEqual([expect.stringContaining(message)]);
  });

  it("a replay whose output is refused says so before it starts a live view (it announced ws:// first)", async () => {
    const bag = join(import.meta.dirname, "fixtures/bags/rosbag2_talker_mcap/talker.mcap");
    const err = await run(process.execPath, [
      "bin/terrain-learner.js",
      "replay",
      bag,
      "--record",
      bag,
      "--live-view=0",
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/--record .*talker\.mcap is the input/);
    expect(err?.stderr).not.toMatch(/ws:\/\//);
  });
});
