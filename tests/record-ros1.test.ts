// `replay ROS1.bag --record`: the inputs are re-recorded as ROS 2 messages. A ROS 1 message's times
// are {sec, nsec} and its CameraInfo says D K R P; written as they are, the ROS 2 serializer wrote
// 0 ns into every stamp and zeros into the intrinsics. The recording is read back with @mcap/core
// and the real CDR deserializer and must carry the ROS 1 bag's stamps and intrinsics, and replay to
// the same result.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import * as zstd from "@foxglove/wasm-zstd";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { runReplay } from "../src/cli/replay.ts";
import { openBag } from "../src/io/bag/index.ts";
import { toRos2Shape } from "../src/io/ros/convert.ts";
import { loadConfig } from "../src/runtime/config.ts";
import { runCli } from "./helpers/cli.ts";
import { type Ros1BagMessage, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "record-ros1-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);
/** A recording replayed by the function `replay` runs, in this process: what it gives is compared. */
const replayHere = (name: string) =>
  runReplay({ bag: join(dir, name), config: loadConfig(), warn: () => {} });

// biome-ignore lint/suspicious/noExplicitAny: decoded messages of several types, read field by field
type Obj = Record<string, any>;
const ros1Header = (h: Obj) => ({
  seq: 0,
  stamp: { sec: h.stamp.sec, nsec: h.stamp.nanosec },
  frame_id: h.frame_id,
});

/** The simulator bag as a ROS 1 recorder writes it: ROS 1 names, headers and CameraInfo fields. */
async function toRos1(from: string, to: string, tfType = "tf2_msgs/TFMessage"): Promise<void> {
  const src = await openBag(from);
  const out: Ros1BagMessage[] = [];
  for await (const e of src.messages()) {
    if (e.type !== "message" || e.topic.startsWith("/sim")) continue;
    const m = e.message as Obj;
    let type = e.schemaName.replace("/msg/", "/");
    let r: Obj;
    if (type === "sensor_msgs/CameraInfo") {
      const { d, k, r: R, p, ...rest } = m;
      r = {
        ...rest,
        header: ros1Header(m.header),
        D: Array.from(d),
        K: Array.from(k),
        R: Array.from(R),
        P: Array.from(p),
      };
    } else if (type === "tf2_msgs/TFMessage")
      r = { transforms: m.transforms.map((t: Obj) => ({ ...t, header: ros1Header(t.header) })) };
    else r = { ...m, header: ros1Header(m.header) };
    if (type === "tf2_msgs/TFMessage") type = tfType;
    const sec = Math.floor(e.logTime);
    out.push({
      topic: e.topic,
      type,
      time: { sec, nsec: Math.min(999_999_999, Math.round((e.logTime - sec) * 1e9)) },
      message: r,
    });
  }
  await src.close();
  writeFileSync(to, writeRos1Bag(out, { compression: "lz4", chunkMessages: 500 }));
}

/** Every message of the recording, decoded with the schema the file carries. */
async function readRecording(path: string): Promise<Map<string, Obj[]>> {
  await zstd.isLoaded;
  const handle = await open(path, "r");
  try {
    const reader = await McapIndexedReader.Initialize({
      readable: new FileHandleReadable(handle),
      decompressHandlers: { zstd: (data, size) => zstd.decompress(data, Number(size)) },
    });
    const readers = new Map<number, MessageReader>();
    const byTopic = new Map<string, Obj[]>();
    for await (const m of reader.readMessages()) {
      const ch = reader.channelsById.get(m.channelId)!;
      let r = readers.get(ch.id);
      if (!r) {
        const schema = reader.schemasById.get(ch.schemaId)!;
        r = new MessageReader(parse(new TextDecoder().decode(schema.data), { ros2: true }));
        readers.set(ch.id, r);
      }
      const list = byTopic.get(ch.topic) ?? [];
      list.push(r.readMessage(m.data));
      byTopic.set(ch.topic, list);
    }
    return byTopic;
  } finally {
    await handle.close();
  }
}

describe("toRos2Shape", () => {
  it("ROS 1 times and CameraInfo fields, nested and in lists; a ROS 2 message is returned as it is", () => {
    const ros1 = {
      header: { seq: 3, stamp: { sec: 5, nsec: 250 }, frame_id: "cam" },
      K: [1, 0, 2, 0, 1, 3, 0, 0, 1],
      D: [0.1],
      transforms: [{ header: { stamp: { sec: 1, nsec: 7 } } }],
      data: new Uint8Array(4),
    };
    const out = toRos2Shape(ros1) as Obj;
    expect(out.header.stamp).toEqual({ sec: 5, nanosec: 250 });
    expect(out.k).toBe(ros1.K);
    expect(out.d).toBe(ros1.D);
    expect(out).not.toHaveProperty("K");
    expect(out.transforms[0].header.stamp).toEqual({ sec: 1, nanosec: 7 });
    expect(out.data).toBe(ros1.data);
    expect(ros1.header.stamp).toEqual({ sec: 5, nsec: 250 });
    const ros2 = {
      header: { stamp: { sec: 5, nanosec: 250 }, frame_id: "c" },
      k: [1],
      transforms: [{ a: 1 }],
    };
    expect(toRos2Shape(ros2)).toBe(ros2);
  });
});

// The simulator drive both ROS 1 bags are made from.
beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "t.mcap"),
    duration: 4,
    camera: { width: 64, height: 48, rate: 5 },
  });
}, 120_000);

describe("replay of a ROS 1 bag with --record", () => {
  let recording: Map<string, Obj[]>;
  let original: Map<string, Obj[]>;
  // The recording run's own result (--json): what replaying the ROS 1 bag gives.
  let fromBag: Record<string, unknown>;
  beforeAll(async () => {
    await toRos1(join(dir, "t.mcap"), join(dir, "t.bag"));
    const r = await cli("replay", "t.bag", "--record", "out.mcap", "--json");
    expect(r.code, r.stderr).toBe(0);
    fromBag = JSON.parse(r.stdout);
    recording = await readRecording(join(dir, "out.mcap"));
    original = new Map();
    const src = await openBag(join(dir, "t.bag"));
    for await (const e of src.messages()) {
      if (e.type !== "message") continue;
      original.set(e.topic, [...(original.get(e.topic) ?? []), e.message as Obj]);
    }
    await src.close();
  }, 120_000);

  it("keeps every input stamp to the nanosecond", () => {
    for (const topic of ["/imu/data", "/odom", "/camera/image_raw", "/camera/camera_info"]) {
      const a = original.get(topic)!;
      const b = recording.get(topic)!;
      expect(b.length, topic).toBe(a.length);
      expect(
        a.some((m) => m.header.stamp.nsec > 0),
        topic,
      ).toBe(true);
      for (let i = 0; i < a.length; i++) {
        expect(b[i]!.header.stamp.sec).toBe(a[i]!.header.stamp.sec);
        expect(b[i]!.header.stamp.nanosec, `${topic} #${i}`).toBe(a[i]!.header.stamp.nsec);
      }
    }
    const tf = recording.get("/tf")![10]!.transforms[0].header.stamp;
    expect(tf.sec + tf.nanosec * 1e-9).toBeCloseTo(
      original.get("/tf")![10]!.transforms[0].header.stamp.sec +
        original.get("/tf")![10]!.transforms[0].header.stamp.nsec * 1e-9,
      9,
    );
  });

  it("keeps the camera's intrinsics and distortion", () => {
    const a = original.get("/camera/camera_info")![0]!;
    const b = recording.get("/camera/camera_info")![0]!;
    expect(Array.from(b.k)).toEqual(Array.from(a.K));
    expect(Array.from(b.d)).toEqual(Array.from(a.D));
    expect(Array.from(b.p)).toEqual(Array.from(a.P));
    expect(b.k[0]).toBeGreaterThan(0);
  });

  it("the recording replays to what the ROS 1 bag gives", async () => {
    const ja = fromBag;
    const jb = (await replayHere("out.mcap")) as unknown as Record<string, unknown>;
    for (const k of ["frames", "labels", "samples", "rows", "keyframes"]) expect(jb[k], k).toBe(ja[k]);
  }, 120_000);
});

describe("replay of a ROS 1 bag with tf/tfMessage (the older tf package) with --record", () => {
  it("records its transforms as tf2_msgs/msg/TFMessage, and the recording replays like the bag", async () => {
    await toRos1(join(dir, "t.mcap"), join(dir, "old.bag"), "tf/tfMessage");
    const bag = await openBag(join(dir, "old.bag"));
    const types = (await bag.info()).topics.filter((t) => t.name.startsWith("/tf")).map((t) => t.type);
    await bag.close();
    expect(types).toEqual(["tf/msg/tfMessage", "tf/msg/tfMessage"]);
    // The recording run's result (--json) is what replaying the bag gives.
    const r = await cli("replay", "old.bag", "--record", "old-out.mcap", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("not re-recorded");
    const out = await openBag(join(dir, "old-out.mcap"));
    const recorded = (await out.info()).topics.filter((t) => t.name.startsWith("/tf"));
    await out.close();
    expect(recorded.map((t) => t.type)).toEqual(["tf2_msgs/msg/TFMessage", "tf2_msgs/msg/TFMessage"]);
    const a = JSON.parse(r.stdout);
    const b = (await replayHere("old-out.mcap")) as unknown as Record<string, unknown>;
    expect(a.samples).toBeGreaterThan(0);
    for (const k of ["frames", "labels", "samples", "rows", "keyframes"]) expect(b[k], k).toBe(a[k]);
  }, 120_000);
});
