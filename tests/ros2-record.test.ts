// `replay --record`: the recording carries the live node's topics with the QoS the node offers (in
// rosbag2's offered_qos_profiles, read back here as YAML), the roughness image's CameraInfo, labels
// and diagnostics. Messages are decoded with the real CDR deserializer (@foxglove/rosmsg2-serialization)
// from what the writer put in the file, and the roughness CameraInfo must send a ground point to the
// same feature cell as the camera's own CameraInfo does.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import * as zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { generateWorldBag } from "../sim/index.ts";
import { liveViewChannels } from "../src/adapters/live-view/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { projectPoint, projectWorldPoint } from "../src/core/camera.ts";
import { mat34FromTransform, mat34Invert } from "../src/core/geometry.ts";
import { TfBuffer } from "../src/core/tf-buffer.ts";
import type { CameraModel } from "../src/core/types.ts";
import { cameraInfoFromRos, cameraInfoToRos, stripSlash, transformsFromRos } from "../src/io/ros/convert.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { featureGridFor } from "../src/learning/backbone.ts";
import { gridCameraModel } from "../src/outputs/grid-camera.ts";
import { defaultConfig } from "../src/runtime/config.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-record-"));
const bag = join(dir, "world.mcap");

interface Recording {
  topics: Map<string, { type: string; qos: unknown; count: number }>;
  metadata: Map<string, Map<string, string>>;
  /** Decoded messages of a few topics, in log-time order. */
  messages: Map<string, unknown[]>;
}

const DECODED = [
  "/camera/camera_info",
  "/tf_static",
  "/terrain_learner/roughness/image",
  "/terrain_learner/roughness/camera_info",
  "/terrain_learner/labels",
  "/diagnostics",
];

async function readRecording(path: string): Promise<Recording> {
  await zstd.isLoaded;
  const handle = await open(path, "r");
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: new FileHandleReadable(handle),
      decompressHandlers: { zstd: (data, size) => zstd.decompress(data, Number(size)) },
    });
    const counts = reader.statistics!.channelMessageCounts;
    const topics: Recording["topics"] = new Map();
    const readers = new Map<number, { topic: string; reader: MessageReader }>();
    for (const ch of reader.channelsById.values()) {
      const type = reader.schemasById.get(ch.schemaId)!.name;
      const qosText = ch.metadata.get("offered_qos_profiles") ?? "";
      topics.set(ch.topic, {
        type,
        qos: qosText === "" ? [] : parseYaml(qosText),
        count: Number(counts.get(ch.id) ?? 0),
      });
      if (DECODED.includes(ch.topic))
        readers.set(ch.id, { topic: ch.topic, reader: new MessageReader(definitionsFor(type)) });
    }
    const metadata: Recording["metadata"] = new Map();
    for await (const m of reader.readMetadata()) metadata.set(m.name, m.metadata);
    const messages: Recording["messages"] = new Map();
    for await (const m of reader.readMessages({ topics: DECODED })) {
      const r = readers.get(m.channelId)!;
      const list = messages.get(r.topic) ?? [];
      list.push(r.reader.readMessage(m.data));
      messages.set(r.topic, list);
    }
    return { topics, metadata, messages };
  } finally {
    await handle.close();
  }
}

/** rosbag2's integer form (metadata version 8): history 1 keep last, reliability 1 reliable / 2 best effort, durability 1 transient local / 2 volatile. */
function qos(depth: number, reliability: 1 | 2, durability: 1 | 2) {
  const infinite = { sec: 2147483647, nsec: 4294967295 };
  return [
    {
      history: 1,
      depth,
      reliability,
      durability,
      deadline: infinite,
      lifespan: infinite,
      liveliness: 1,
      liveliness_lease_duration: infinite,
      avoid_ros_namespace_conventions: false,
    },
  ];
}

let full: Recording;
let outputsOnly: Recording;

beforeAll(async () => {
  await generateWorldBag({ out: bag, seed: 2, duration: 14, camera: { width: 160, height: 120 } });
  const config = defaultConfig();
  const quiet = { warn: () => undefined };
  await runReplay({ bag, config, record: join(dir, "full.mcap"), ...quiet });
  await runReplay({ bag, config, record: join(dir, "outputs.mcap"), recordOutputsOnly: true, ...quiet });
  full = await readRecording(join(dir, "full.mcap"));
  outputsOnly = await readRecording(join(dir, "outputs.mcap"));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("replay --record", () => {
  it("offers each output with the node's QoS, in rosbag2's offered_qos_profiles", () => {
    const q = (t: string) => full.topics.get(t)?.qos;
    expect(q("/terrain_learner/roughness/costmap")).toEqual(qos(1, 1, 1));
    expect(q("/terrain_learner/speed_limit")).toEqual(qos(1, 1, 1));
    expect(q("/terrain_learner/roughness/image")).toEqual(qos(5, 1, 2));
    expect(q("/terrain_learner/roughness/camera_info")).toEqual(qos(5, 1, 2));
    expect(q("/terrain_learner/roughness/confidence")).toEqual(qos(5, 1, 2));
    expect(q("/terrain_learner/roughness/overlay")).toEqual(qos(5, 1, 2));
    expect(q("/terrain_learner/roughness/ahead")).toEqual(qos(10, 1, 2));
    expect(q("/terrain_learner/labels")).toEqual(qos(10, 1, 2));
    expect(q("/diagnostics")).toEqual(qos(10, 1, 2));
    // Inputs: /tf_static as tf2's static broadcaster offers it; the rest as recorded (none known).
    expect(q("/tf_static")).toEqual(qos(1, 1, 1));
    expect(q("/imu/data")).toEqual([]);
    // Newer rosbag2 reads the integer form when the rosbag2 record has no serialized metadata.
    expect(full.metadata.get("rosbag2")).toEqual(new Map([["serialized_metadata", ""]]));
  });

  it("records labels, diagnostics and the roughness CameraInfo beside every roughness image", () => {
    const count = (t: string) => full.topics.get(t)?.count ?? 0;
    const frames = count("/terrain_learner/roughness/image");
    expect(frames).toBeGreaterThan(100);
    // Every roughness image has the CameraInfo of its stamp, the first one too (the simulator writes
    // the camera's CameraInfo after the first image, so the frame is processed without it).
    const stamps = (t: string) =>
      full.messages.get(t)!.map((m) => JSON.stringify((m as { header: { stamp: unknown } }).header.stamp));
    expect(stamps("/terrain_learner/roughness/camera_info")).toEqual(
      stamps("/terrain_learner/roughness/image"),
    );
    expect(count("/terrain_learner/labels")).toBeGreaterThan(3);
    // 1 Hz of sensor time over 14 s, plus the last one.
    expect(count("/diagnostics")).toBeGreaterThanOrEqual(13);
    expect(count("/diagnostics")).toBeLessThanOrEqual(16);
    // The costmap at ros.costmap_rate (2 Hz) of sensor time, as the node publishes it.
    expect(count("/terrain_learner/roughness/costmap")).toBeGreaterThanOrEqual(25);
    expect(count("/terrain_learner/roughness/costmap")).toBeLessThanOrEqual(30);

    const diag = full.messages.get("/diagnostics")!.at(-1) as {
      status: { name: string; values: { key: string; value: string }[] }[];
    };
    const inputs = Object.fromEntries(diag.status[0]!.values.map((kv) => [kv.key, kv.value]));
    expect(Number(inputs["/imu/data received"])).toBeGreaterThan(1000);
    const learner = Object.fromEntries(diag.status[1]!.values.map((kv) => [kv.key, kv.value]));
    expect(Number(learner["frames processed"])).toBe(frames);
    const marker = (
      full.messages.get("/terrain_learner/labels")![0] as { markers: { header: { frame_id: string } }[] }
    ).markers[0]!;
    expect(marker.header.frame_id).toBe("odom");
  });

  it("the roughness CameraInfo sends ground points to the same feature cell as the camera's CameraInfo", () => {
    const camera = cameraInfoFromRos(full.messages.get("/camera/camera_info")![0]);
    expect(camera.distortionModel).toBe("plumb_bob"); // the simulator's lens is distorted
    const infos = full.messages.get("/terrain_learner/roughness/camera_info")!;
    const images = full.messages.get("/terrain_learner/roughness/image")!;
    const info = infos.at(-1) as { header: unknown; width: number; height: number };
    const image = images.at(-1) as { header: unknown; width: number; height: number };
    expect([info.header, info.width, info.height]).toEqual([image.header, image.width, image.height]);
    const grid = cameraInfoFromRos(info);

    const tf = new TfBuffer();
    for (const m of full.messages.get("/tf_static")!) tf.add(transformsFromRos(m, true));
    const mount = tf.lookup("base_link", stripSlash(camera.frameId))!;
    const opticalFromBase = mat34Invert(
      mat34FromTransform(mount, new Float64Array(12)),
      new Float64Array(12),
    );
    const stride = camera.width / grid.width;
    expect(grid.height).toBe(Math.floor(camera.height / stride));
    const cells = groundCells(camera, grid, opticalFromBase, stride);
    expect(cells.checked).toBeGreaterThan(500);
    expect(cells.mismatches).toEqual([]);
  });

  it("--record-outputs-only leaves the inputs out", () => {
    const topics = [...outputsOnly.topics.keys()].sort();
    expect(topics).toEqual(
      [...full.topics.keys()].filter((t) => t.startsWith("/terrain_learner/") || t === "/diagnostics").sort(),
    );
    expect(topics).toContain("/terrain_learner/roughness/camera_info");
  });

  it("/diagnostics of a bag with a compressed camera counts that camera, not a silent raw topic", async () => {
    // A replay reads whichever camera topic the bag has; ros.image_transport only picks a live node's.
    const jpegBag = join(dir, "jpeg.mcap");
    await generateWorldBag({
      out: jpegBag,
      seed: 2,
      duration: 4,
      jpeg: true,
      camera: { width: 160, height: 120 },
    });
    const out = join(dir, "jpeg-outputs.mcap");
    await runReplay({
      bag: jpegBag,
      config: defaultConfig(),
      record: out,
      recordOutputsOnly: true,
      warn: () => undefined,
    });
    const rec = await readRecording(out);
    const frames = rec.topics.get("/terrain_learner/roughness/image")?.count ?? 0;
    expect(frames).toBeGreaterThan(30);
    const inputs = (
      rec.messages.get("/diagnostics")!.at(-1) as {
        status: { name: string; level: number; message: string; values: { key: string; value: string }[] }[];
      }
    ).status[0]!;
    const values = Object.fromEntries(inputs.values.map((kv) => [kv.key, kv.value]));
    expect(inputs.message).toBe("all inputs arriving");
    expect(inputs.level).toBe(0);
    expect(Number(values["/camera/image_raw/compressed received"])).toBe(frames);
    expect(values["/camera/image_raw received"]).toBeUndefined();
  }, 120_000);

  it("opens with launch/foxglove-layout.json: what its panels name is there, as the live view serves it, but the live view's own two (as docs/live-view.md says)", () => {
    const root = join(import.meta.dirname, "..");
    const layout = JSON.parse(readFileSync(join(root, "launch/foxglove-layout.json"), "utf8")) as {
      configById: Record<
        string,
        {
          imageMode?: { imageTopic?: string; calibrationTopic?: string };
          topics?: Record<string, unknown>;
          paths?: { value: string }[];
        }
      >;
    };
    const named = new Set<string>();
    for (const cfg of Object.values(layout.configById)) {
      for (const t of [cfg.imageMode?.imageTopic, cfg.imageMode?.calibrationTopic]) if (t) named.add(t);
      for (const t of Object.keys(cfg.topics ?? {})) named.add(t);
      for (const p of cfg.paths ?? []) named.add(p.value.slice(0, p.value.indexOf(".")));
    }
    const live = new Map(liveViewChannels(defaultConfig()).map((c) => [c.topic, c.type]));
    for (const t of named) if (full.topics.has(t)) expect(full.topics.get(t)!.type, t).toBe(live.get(t));
    const missing = [...named].filter((t) => !full.topics.has(t)).sort();
    expect(missing).toEqual(["/terrain_learner/learner", "/terrain_learner/robot"]);
    const doc = readFileSync(join(root, "docs/live-view.md"), "utf8").replace(/\s+/g, " ");
    for (const t of missing) expect(doc).toMatch(new RegExp(`\`${t}\`[^.]*not recorded`));
  });
});

/**
 * Ground points (z = 0 in base_link, 0.5–12 m ahead, ±4 m) projected through the full camera to a
 * pixel and its cell (cell c covers pixels [c·stride − ½, (c+1)·stride − ½), as the association
 * rasterises), and through the grid camera to a grid pixel, which must be that cell.
 */
function groundCells(camera: CameraModel, grid: CameraModel, opticalFromBase: Float64Array, stride: number) {
  const px = new Float64Array(2);
  const gx = new Float64Array(2);
  const mismatches: string[] = [];
  let checked = 0;
  for (let x = 0.5; x <= 12; x += 0.05)
    for (let y = -4; y <= 4; y += 0.05) {
      if (!projectWorldPoint(camera, opticalFromBase, x, y, 0, px)) continue;
      const cu = (px[0]! + 0.5) / stride;
      const cv = (px[1]! + 0.5) / stride;
      if (cu >= grid.width || cv >= grid.height) continue;
      // A point on a cell border belongs to either cell within rounding.
      if (Math.abs(cu - Math.round(cu)) < 1e-6 || Math.abs(cv - Math.round(cv)) < 1e-6) continue;
      if (!projectWorldPoint(grid, opticalFromBase, x, y, 0, gx, true)) continue;
      checked++;
      const want = [Math.floor(cu), Math.floor(cv)];
      const got = [Math.round(gx[0]!), Math.round(gx[1]!)];
      if (want[0] !== got[0] || want[1] !== got[1])
        mismatches.push(`(${x.toFixed(2)}, ${y.toFixed(2)}): cell ${want} vs ${got} (${gx[0]}, ${gx[1]})`);
    }
  return { checked, mismatches: mismatches.slice(0, 5) };
}

describe("gridCameraModel", () => {
  it("matches the camera's cells for a downscaled 1280×720 camera with a fractional cell size and a full P", () => {
    const spec = featureGridFor({ stride: 8, inputWidth: 300 }, 1280, 720);
    expect(spec.strideX).toBeCloseTo((1280 / 300) * 8, 12);
    const camera: CameraModel = {
      stamp: 0,
      frameId: "cam",
      width: 1280,
      height: 720,
      K: [900, 0, 655.3, 0, 905, 351.2, 0, 0, 1],
      D: [-0.21, 0.05, 0.001, -0.0005, 0],
      distortionModel: "plumb_bob",
      P: [880, 0, 650.1, 0, 0, 885, 355.7, 0, 0, 0, 1, 0],
    };
    // Through the CameraInfo message and its CDR encoding, as a subscriber would receive it.
    const defs = definitionsFor("sensor_msgs/msg/CameraInfo");
    const bytes = new MessageWriter(defs).writeMessage(
      cameraInfoToRos(gridCameraModel(camera, { ...spec, stamp: 0, frameId: "cam" })),
    );
    const grid = cameraInfoFromRos(new MessageReader(defs).readMessage(bytes));
    expect([grid.width, grid.height]).toEqual([spec.cols, spec.rows]);
    expect(grid.P[0]).toBeCloseTo(880 / spec.strideX, 9);
    const px = new Float64Array(2);
    const gx = new Float64Array(2);
    let checked = 0;
    for (let x = -3; x <= 3; x += 0.02)
      for (let y = -1.5; y <= 1.5; y += 0.02) {
        if (!projectPoint(camera, x, y, 4, px)) continue;
        const cu = (px[0]! + 0.5) / spec.strideX;
        const cv = (px[1]! + 0.5) / spec.strideY;
        if (cu >= spec.cols || cv >= spec.rows) continue;
        if (Math.abs(cu - Math.round(cu)) < 1e-6 || Math.abs(cv - Math.round(cv)) < 1e-6) continue;
        projectPoint(grid, x, y, 4, gx, true);
        expect([Math.round(gx[0]!), Math.round(gx[1]!)]).toEqual([Math.floor(cu), Math.floor(cv)]);
        checked++;
      }
    expect(checked).toBeGreaterThan(10000);
  });
});
