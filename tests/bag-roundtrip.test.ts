// What our MCAP writer produces must come back equal through our reader, for every chunk
// compression, and must be readable by @mcap/core's own indexed reader with nothing but the
// schemas in the file (which is what Foxglove and `ros2 bag play` rely on).

import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { loadDecompressHandlers } from "@mcap/support";
import { afterAll, describe, expect, it } from "vitest";
import type { CameraModel, ImageFrame, ImuSample, OdomSample, Transform } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { type ChunkCompression, Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import {
  cameraInfoFromRos,
  cameraInfoToRos,
  imageFromRos,
  imageToRos,
  imuFromRos,
  imuToRos,
  odomFromRos,
  odomToRos,
  transformsFromRos,
  transformsToRos,
} from "../src/io/ros/convert.ts";
import { collect, plain } from "./helpers/bag-test-utils.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-mcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000.25;

interface Written {
  topic: string;
  type: string;
  stamp: number;
  message: Record<string, unknown>;
}

function scene(): Written[] {
  const out: Written[] = [];
  const K = [500, 0, 320, 0, 500, 240, 0, 0, 1];
  const camera: CameraModel = {
    stamp: T0,
    frameId: "camera_optical_frame",
    width: 64,
    height: 48,
    K,
    D: [-0.1, 0.01, 0.001, -0.002, 0],
    distortionModel: "plumb_bob",
    P: [500, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0],
  };
  const statics: Transform[] = [
    {
      stamp: T0,
      parent: "base_link",
      child: "camera_link",
      translation: { x: 0.2, y: 0, z: 0.5 },
      rotation: { x: 0, y: 0.0998, z: 0, w: 0.995 },
      isStatic: true,
    },
    {
      stamp: T0,
      parent: "base_link",
      child: "imu_link",
      translation: { x: 0, y: 0, z: 0.1 },
      rotation: { x: 0, y: 0, z: 0, w: 1 },
      isStatic: true,
    },
  ];
  out.push({
    topic: "/tf_static",
    type: "tf2_msgs/msg/TFMessage",
    stamp: T0,
    message: transformsToRos(statics),
  });
  for (let i = 0; i < 200; i++) {
    const t = T0 + i * 0.005;
    const imu: ImuSample = {
      stamp: t,
      frameId: "imu_link",
      orientation: i % 2 ? { x: 0, y: 0, z: Math.sin(i / 100), w: Math.cos(i / 100) } : undefined,
      angularVelocity: { x: 0.01 * i, y: -0.02, z: 0.3 },
      linearAcceleration: { x: Math.sin(i), y: Math.cos(i), z: 9.81 + 0.1 * Math.sin(3 * i) },
    };
    out.push({ topic: "/imu/data", type: "sensor_msgs/msg/Imu", stamp: t, message: imuToRos(imu) });
    if (i % 4 === 0) {
      const odom: OdomSample = {
        stamp: t,
        frameId: "odom",
        childFrameId: "base_link",
        pose: {
          position: { x: i * 0.01, y: 0.5, z: 0 },
          orientation: { x: 0, y: 0, z: 0.1, w: Math.sqrt(1 - 0.01) },
        },
        linear: { x: 1, y: 0, z: 0 },
        angular: { x: 0, y: 0, z: 0.05 },
      };
      out.push({ topic: "/odom", type: "nav_msgs/msg/Odometry", stamp: t, message: odomToRos(odom) });
      out.push({
        topic: "/tf",
        type: "tf2_msgs/msg/TFMessage",
        stamp: t,
        message: transformsToRos([
          {
            stamp: t,
            parent: "odom",
            child: "base_link",
            translation: odom.pose.position,
            rotation: odom.pose.orientation,
            isStatic: false,
          },
        ]),
      });
    }
    if (i % 13 === 0) {
      const data = new Uint8Array(64 * 48 * 3);
      for (let p = 0; p < data.length; p++) data[p] = (p * 31 + i) & 0xff;
      const img: ImageFrame = {
        stamp: t,
        frameId: "camera_optical_frame",
        width: 64,
        height: 48,
        encoding: "rgb8",
        data,
      };
      out.push({
        topic: "/camera/image_raw",
        type: "sensor_msgs/msg/Image",
        stamp: t,
        message: imageToRos(img),
      });
      out.push({
        topic: "/camera/camera_info",
        type: "sensor_msgs/msg/CameraInfo",
        stamp: t,
        message: cameraInfoToRos({ ...camera, stamp: t }),
      });
    }
  }
  return out;
}

async function writeScene(path: string, compression: ChunkCompression, messages: Written[]): Promise<void> {
  // Small chunks so the file has many of them and the reader must merge across chunk boundaries.
  const w = await Ros2McapWriter.create(path, {
    compression,
    chunkSize: 16 * 1024,
    metadata: { test: { purpose: "round trip" } },
  });
  for (const m of messages) await w.write(m.topic, m.type, m.stamp, m.message);
  await w.close();
}

describe.each(["zstd", "lz4", "none"] as const)("MCAP round trip (%s chunks)", (compression) => {
  const path = join(dir, `scene-${compression}.mcap`);
  const written = scene();

  it("reads back every message equal, in order, with the right info", async () => {
    await writeScene(path, compression, written);
    const bag = await openBag(path);
    try {
      const info = await bag.info();
      expect(info.format).toBe("mcap");
      expect(info.warnings).toEqual([]);
      const expected = new Map<string, [string, number]>();
      for (const w of written) expected.set(w.topic, [w.type, (expected.get(w.topic)?.[1] ?? 0) + 1]);
      expect(Object.fromEntries(info.topics.map((t) => [t.name, [t.type, t.count]]))).toEqual(
        Object.fromEntries(expected),
      );
      expect(info.start).toBeCloseTo(T0, 6);
      expect(info.end).toBeCloseTo(written.at(-1)!.stamp, 6);

      const { messages, problems } = await collect(bag);
      expect(problems).toEqual([]);
      expect(messages).toHaveLength(written.length);
      // Log-time order; the writer wrote in time order, and equal stamps keep write order per topic.
      for (let i = 1; i < messages.length; i++)
        expect(messages[i]!.logTime).toBeGreaterThanOrEqual(messages[i - 1]!.logTime);
      const byTopic = <T extends { topic: string }>(xs: T[], topic: string): T[] =>
        xs.filter((x) => x.topic === topic);
      for (const topic of expected.keys()) {
        const got = byTopic(messages, topic);
        const want = byTopic(written, topic);
        expect(got.map((m) => plain(m.message))).toEqual(want.map((m) => plain(m.message)));
        expect(got.map((m) => m.logTime)).toEqual(want.map((m) => m.stamp));
      }
    } finally {
      await bag.close();
    }
  });

  it("decoded messages convert back to the core values written", async () => {
    const bag = await openBag(path);
    try {
      const { messages } = await collect(bag);
      const imu = messages.filter((m) => m.topic === "/imu/data").map((m) => imuFromRos(m.message));
      expect(imu[3]!.linearAcceleration.x).toBeCloseTo(Math.sin(3), 12);
      expect(imu[0]!.orientation).toBeUndefined();
      expect(imu[1]!.orientation!.z).toBeCloseTo(Math.sin(0.01), 12);
      const odom = messages.filter((m) => m.topic === "/odom").map((m) => odomFromRos(m.message));
      expect(odom[2]!.pose.position.x).toBeCloseTo(0.08, 12);
      const img = imageFromRos(messages.find((m) => m.topic === "/camera/image_raw")!.message);
      expect([img.width, img.height, img.encoding, img.data[5]]).toEqual([64, 48, "rgb8", (5 * 31) & 0xff]);
      const cam = cameraInfoFromRos(messages.find((m) => m.topic === "/camera/camera_info")!.message);
      expect(cam.K).toEqual([500, 0, 320, 0, 500, 240, 0, 0, 1]);
      expect(cam.distortionModel).toBe("plumb_bob");
      const tfs = transformsFromRos(messages.find((m) => m.topic === "/tf_static")!.message, true);
      expect(tfs.map((t) => `${t.parent}->${t.child}`)).toEqual([
        "base_link->camera_link",
        "base_link->imu_link",
      ]);
    } finally {
      await bag.close();
    }
  });

  it("opens with @mcap/core's own indexed reader using only the file's schemas", async () => {
    const handle = await open(path, "r");
    try {
      const reader = await McapIndexedReader.Initialize({
        readable: new FileHandleReadable(handle),
        decompressHandlers: await loadDecompressHandlers(),
      });
      expect(reader.header.profile).toBe("ros2");
      expect(reader.chunkIndexes.length).toBeGreaterThan(1);
      for (const ci of reader.chunkIndexes)
        expect(ci.compression).toBe(compression === "none" ? "" : compression);
      expect(reader.statistics?.messageCount).toBe(BigInt(written.length));
      const decoders = new Map<number, MessageReader>();
      for (const [id, ch] of reader.channelsById) {
        const schema = reader.schemasById.get(ch.schemaId)!;
        expect(ch.messageEncoding).toBe("cdr");
        expect(schema.encoding).toBe("ros2msg");
        decoders.set(id, new MessageReader(parse(new TextDecoder().decode(schema.data), { ros2: true })));
      }
      let n = 0;
      for await (const m of reader.readMessages({ topics: ["/odom"] })) {
        const msg = decoders
          .get(m.channelId)!
          .readMessage<{ child_frame_id: string; header: { frame_id: string } }>(m.data);
        expect([msg.header.frame_id, msg.child_frame_id]).toEqual(["odom", "base_link"]);
        n++;
      }
      expect(n).toBe(written.filter((w) => w.topic === "/odom").length);
      const meta = [];
      for await (const r of reader.readMetadata({ name: "test" })) meta.push(Object.fromEntries(r.metadata));
      expect(meta).toEqual([{ purpose: "round trip" }]);
    } finally {
      await handle.close();
    }
  });
});
