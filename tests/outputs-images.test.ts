import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { describe, expect, it } from "vitest";
import type { ImageFrame, RoughnessGrid } from "../src/core/types.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { ROUGHNESS_LUT } from "../src/outputs/colormap.ts";
import { renderOverlay } from "../src/outputs/images.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { OUTPUT_TOPICS, outputsToRos, rosOutputOptions } from "../src/runtime/sinks/ros-outputs.ts";

function image(w: number, h: number, rgb: [number, number, number]): ImageFrame {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, 3 * i);
  return { stamp: 12.5, frameId: "camera_optical_frame", width: w, height: h, encoding: "rgb8", data };
}

function grid(rough: number[], conf: number[]): RoughnessGrid {
  return {
    stamp: 12.5,
    frameId: "camera_optical_frame",
    rows: 2,
    cols: 2,
    strideX: 8,
    strideY: 8,
    roughness: Float32Array.from(rough),
    confidence: Float32Array.from(conf),
  };
}

describe("overlay", () => {
  it("has the camera's size and blends the colour map by confidence", () => {
    const img = image(16, 16, [0, 0, 0]);
    const out = renderOverlay(img, grid([0, 1, 0.5, 1], [1, 1, 1, 0.5]), { alpha: 1, minConfidence: 0.3 });
    expect(out.width).toBe(16);
    expect(out.height).toBe(16);
    expect(out.encoding).toBe("rgb8");
    expect(out.data.length).toBe(16 * 16 * 3);
    expect(out.stamp).toBe(12.5);
    const px = (u: number, v: number) =>
      Array.from(out.data.subarray(3 * (v * 16 + u), 3 * (v * 16 + u) + 3));
    // Cell (0,0): smooth → green end of the map; cell (0,1): rough → red end.
    expect(px(1, 1)).toEqual(Array.from(ROUGHNESS_LUT.subarray(0, 3)));
    expect(px(9, 1)).toEqual(Array.from(ROUGHNESS_LUT.subarray(765, 768)));
    expect(px(9, 1)[0]!).toBeGreaterThan(px(9, 1)[1]!);
    expect(px(1, 1)[1]!).toBeGreaterThan(px(1, 1)[0]!);
    // Cell (1,1) at confidence 0.5 over black: half the colour.
    const full = ROUGHNESS_LUT.subarray(765, 768);
    expect(px(12, 12)).toEqual(Array.from(full).map((c) => Math.trunc(0.5 * c)));
  });

  it("greys and hatches low-confidence cells and leaves masked cells alone", () => {
    const img = image(16, 16, [200, 100, 50]);
    const out = renderOverlay(img, grid([0.2, 0.2, 0.2, 0.2], [0.1, 1, 1, 1]), {
      mask: Uint8Array.from([1, 0, 1, 1]),
    });
    const px = (u: number, v: number) =>
      Array.from(out.data.subarray(3 * (v * 16 + u), 3 * (v * 16 + u) + 3));
    const a = px(3, 1);
    expect(a[0]).toBe(a[1]);
    expect(a[1]).toBe(a[2]);
    expect(px(0, 0)).toEqual([60, 60, 60]); // on a hatch line
    expect(px(9, 1)).toEqual([200, 100, 50]); // masked: camera image
  });

  it("accepts mono8 cameras", () => {
    const img: ImageFrame = {
      stamp: 1,
      frameId: "c",
      width: 16,
      height: 16,
      encoding: "mono8",
      data: new Uint8Array(256).fill(90),
    };
    const out = renderOverlay(img, grid([0, 0, 0, 0], [0, 0, 0, 0]), { mask: new Uint8Array(4) });
    expect(Array.from(out.data.subarray(0, 3))).toEqual([90, 90, 90]);
  });
});

describe("outputsToRos", () => {
  it("builds messages that serialise with their ROS 2 definitions", () => {
    const g = grid([0.1, 0.2, 0.3, 0.4], [1, 1, 1, 1]);
    const msgs = outputsToRos(
      {
        stamp: 12.5,
        frameId: "camera_optical_frame",
        grid: g,
        overlay: renderOverlay(image(16, 16, [1, 2, 3]), g),
        costmap: {
          stamp: 12.5,
          frameId: "odom",
          resolution: 0.5,
          width: 2,
          height: 2,
          originX: -0.5,
          originY: -0.5,
          data: Int8Array.from([-1, 0, 50, 100]),
        },
        ahead: Number.NaN,
        aheadConfidence: 0,
        speedLimit: 0.3,
        // A 16×16 camera: the 2×2 grid of 8-pixel cells gets its intrinsics divided by 8.
        camera: {
          stamp: 12.5,
          frameId: "camera_optical_frame",
          width: 16,
          height: 16,
          K: [16, 0, 7.5, 0, 16, 7.5, 0, 0, 1],
          D: [0.1, 0, 0, 0, 0],
          distortionModel: "plumb_bob",
          P: [16, 0, 7.5, 0, 0, 16, 7.5, 0, 0, 0, 1, 0],
        },
      },
      { baseFrame: "base_footprint", speedLimitAs: "percentage", maxSpeed: 1.5 },
    );
    for (const [key, { type }] of Object.entries(OUTPUT_TOPICS)) {
      const msg = msgs[key as keyof typeof OUTPUT_TOPICS];
      expect(msg, key).toBeDefined();
      const bytes = new MessageWriter(definitionsFor(type)).writeMessage(msg);
      const back = new MessageReader(definitionsFor(type)).readMessage<Record<string, unknown>>(bytes);
      expect(back).toBeDefined();
      if (key === "roughness") {
        const data = back.data as Uint8Array;
        expect(back.encoding).toBe("32FC1");
        expect(new Float32Array(data.slice().buffer)[3]).toBeCloseTo(0.4, 6);
      }
      if (key === "roughnessInfo") {
        expect([back.width, back.height]).toEqual([2, 2]);
        // fx / 8, and the centre pixel 7.5 of 16 → 0.5 of 2: (7.5 + 0.5) / 8 − 0.5.
        expect(Array.from(back.k as Float64Array)).toEqual([2, 0, 0.5, 0, 2, 0.5, 0, 0, 1]);
        expect(Array.from(back.d as Float64Array)).toEqual([0.1, 0, 0, 0, 0]);
      }
      if (key === "ahead") expect(back.data).toBe(-1);
      if (key === "speedLimit") {
        // 0.3 of 1.5 m/s: 20 %, in the robot's frame.
        expect(back.percentage).toBe(true);
        expect(back.speed_limit).toBeCloseTo(20, 4);
        expect((back.header as { frame_id: string }).frame_id).toBe("base_footprint");
      }
    }
  });

  it("publishes roughness/ahead as -1 when the corridor cannot be judged, as the costmap and speed limit do", () => {
    const g = grid([0.9, 0.9, 0.9, 0.9], [0.1, 0.1, 0.1, 0.1]);
    const frame = (ahead: number, aheadConfidence: number) => ({
      stamp: 1,
      frameId: "camera_optical_frame",
      grid: g,
      overlay: undefined,
      costmap: undefined,
      ahead,
      aheadConfidence,
      speedLimit: 0.3,
    });
    const opts = rosOutputOptions(defaultConfig());
    // Before any label every cell has confidence 0: the head's 0.99 is no roughness.
    expect(outputsToRos(frame(0.99, 0), opts).ahead).toEqual({ data: -1 });
    expect(outputsToRos(frame(0.99, 0.29), opts).ahead).toEqual({ data: -1 });
    expect(outputsToRos(frame(0.99, 0.3), opts).ahead).toEqual({ data: 0.99 });
    expect(outputsToRos(frame(Number.NaN, 1), opts).ahead).toEqual({ data: -1 });
    // min_confidence 0: confidence 0 is still a model that knows nothing.
    const all = rosOutputOptions({
      ...defaultConfig(),
      outputs: { ...defaultConfig().outputs, min_confidence: 0 },
    });
    expect(outputsToRos(frame(0.99, 0), all).ahead).toEqual({ data: -1 });
    expect(outputsToRos(frame(0.99, 0.01), all).ahead).toEqual({ data: 0.99 });
  });
});
