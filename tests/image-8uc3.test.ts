// sensor_msgs/Image in 8UC3: what a node publishes from an OpenCV Mat without naming a colour
// encoding (cv_bridge's toImageMsg with "8UC3"), whose channel order is OpenCV's BGR. It was read
// as rgb8, so red ground came out blue and the learner saw every camera frame with red and blue
// swapped, without a word. Written to an MCAP with the project's writer and read back.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { imageFromRos } from "../src/io/ros/convert.ts";

const dir = mkdtempSync(join(tmpdir(), "image-8uc3-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 2x1 image, padded rows (step 8): a red pixel and a blue one, in OpenCV's B, G, R order. */
const image = (encoding: string, bytes: number[]) => ({
  header: { stamp: { sec: 1, nanosec: 0 }, frame_id: "cam" },
  height: 1,
  width: 2,
  encoding,
  is_bigendian: 0,
  step: 8,
  data: new Uint8Array([...bytes, 0, 0]),
});
const RED_BLUE_BGR = [0, 0, 255, 255, 0, 0];

describe("8UC3 images", () => {
  it("are read in OpenCV's BGR order, as bgr8 is, packed rows or padded", async () => {
    const path = join(dir, "cv.mcap");
    const w = await Ros2McapWriter.create(path, { compression: "none" });
    await w.write("/cam", "sensor_msgs/msg/Image", 1, image("8UC3", RED_BLUE_BGR));
    await w.write("/cam", "sensor_msgs/msg/Image", 2, image("bgr8", RED_BLUE_BGR));
    await w.write("/cam", "sensor_msgs/msg/Image", 3, {
      ...image("8UC3", []),
      step: 6,
      data: new Uint8Array(RED_BLUE_BGR),
    });
    await w.close();
    const bag = await openBag(path);
    const frames = [];
    for await (const e of bag.messages()) if (e.type === "message") frames.push(imageFromRos(e.message));
    await bag.close();
    expect(frames).toHaveLength(3);
    for (const f of frames) {
      expect(f.encoding).toBe("rgb8");
      expect(Array.from(f.data)).toEqual([255, 0, 0, 0, 0, 255]);
    }
  });

  it("rgb8 is unchanged", () => {
    const f = imageFromRos(image("rgb8", [255, 0, 0, 0, 0, 255]));
    expect(Array.from(f.data)).toEqual([255, 0, 0, 0, 0, 255]);
  });
});
