import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { describe, expect, it } from "vitest";
import { nsToSeconds, rosTimeToSeconds, secondsToNs, secondsToRosTime } from "../src/core/time.ts";
import type { CameraModel, ImuSample, OdomSample, Transform } from "../src/core/types.ts";
import {
  cameraInfoFromRos,
  cameraInfoToRos,
  costmapToRos,
  float32ImageToRos,
  imageFromRos,
  imageToRos,
  imuFromRos,
  imuToRos,
  odomFromRos,
  odomToRos,
  transformsFromRos,
  transformsToRos,
} from "../src/io/ros/convert.ts";
import { definitionsFor, ros2TypeName, schemaTextFor, shortTypeName } from "../src/io/ros/definitions.ts";

/** Serialise with the real CDR writer and decode again: what a bag or rclnodejs would hand us. */
function throughCdr(type: string, msg: unknown): unknown {
  const defs = definitionsFor(type);
  const bytes = new MessageWriter(defs).writeMessage(msg);
  return new MessageReader(defs).readMessage(bytes);
}

describe("time", () => {
  it("keeps nanoseconds of epoch stamps", () => {
    const ns = 1_700_000_123_456_789_012n;
    const s = nsToSeconds(ns);
    const t = secondsToRosTime(s);
    expect(t.sec).toBe(1_700_000_123);
    // float64 at 1.7e9 s resolves ~0.24 µs.
    expect(Math.abs(t.nanosec - 456_789_012)).toBeLessThan(1000);
    expect(Math.abs(Number(secondsToNs(s) - ns))).toBeLessThan(1000);
    expect(rosTimeToSeconds({ sec: 10, nanosec: 500_000_000 })).toBe(10.5);
    expect(rosTimeToSeconds({ sec: 10, nsec: 250_000_000 })).toBe(10.25);
  });
  it("carries a rounded-up second", () => {
    expect(secondsToRosTime(1.9999999999)).toEqual({ sec: 2, nanosec: 0 });
  });
});

describe("ROS ⇄ core conversion through real CDR", () => {
  it("Imu round trip, orientation only when valid", () => {
    const s: ImuSample = {
      stamp: 1700000000.125,
      frameId: "imu_link",
      orientation: undefined,
      angularVelocity: { x: 0.1, y: -0.2, z: 0.3 },
      linearAcceleration: { x: 0.5, y: -9.81, z: 0.25 },
    };
    const back = imuFromRos(throughCdr("sensor_msgs/msg/Imu", imuToRos(s)));
    expect(back).toEqual(s);
    const withQ = imuFromRos(
      throughCdr("sensor_msgs/msg/Imu", imuToRos({ ...s, orientation: { x: 0, y: 0, z: 0.6, w: 0.8 } })),
    );
    expect(withQ.orientation).toEqual({ x: 0, y: 0, z: 0.6, w: 0.8 });
  });

  it("Odometry round trip", () => {
    const o: OdomSample = {
      stamp: 12.5,
      frameId: "odom",
      childFrameId: "base_link",
      pose: { position: { x: 1, y: 2, z: 0 }, orientation: { x: 0, y: 0, z: Math.SQRT1_2, w: Math.SQRT1_2 } },
      linear: { x: 1.5, y: 0, z: 0 },
      angular: { x: 0, y: 0, z: 0.2 },
    };
    expect(odomFromRos(throughCdr("nav_msgs/msg/Odometry", odomToRos(o)))).toEqual(o);
  });

  it("CameraInfo round trip and ROS 1 upper-case fields", () => {
    const c: CameraModel = {
      stamp: 3,
      frameId: "camera_optical_frame",
      width: 320,
      height: 240,
      K: [200, 0, 160, 0, 200, 120, 0, 0, 1],
      D: [-0.1, 0.01, 0.001, -0.001, 0],
      distortionModel: "plumb_bob",
      P: [200, 0, 160, 0, 0, 200, 120, 0, 0, 0, 1, 0],
    };
    expect(cameraInfoFromRos(throughCdr("sensor_msgs/msg/CameraInfo", cameraInfoToRos(c)))).toEqual(c);
    const ros1 = {
      header: { seq: 1, stamp: { sec: 3, nsec: 0 }, frame_id: "cam" },
      width: 640,
      height: 480,
      distortion_model: "plumb_bob",
      D: [0, 0, 0, 0, 0],
      K: [500, 0, 320, 0, 500, 240, 0, 0, 1],
      R: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      P: [],
    };
    const m = cameraInfoFromRos(ros1);
    expect(m.distortionModel).toBe("none");
    expect(m.P).toEqual([500, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0]);
    expect(() => cameraInfoFromRos({ ...ros1, K: [0, 0, 0, 0, 0, 0, 0, 0, 0] })).toThrow(/uncalibrated/);
  });

  it("TF round trip strips ROS 1 leading slashes", () => {
    const t: Transform = {
      stamp: 5,
      parent: "base_link",
      child: "imu_link",
      translation: { x: 0.1, y: 0, z: 0.2 },
      rotation: { x: 1, y: 0, z: 0, w: 0 },
      isStatic: true,
    };
    expect(transformsFromRos(throughCdr("tf2_msgs/msg/TFMessage", transformsToRos([t])), true)).toEqual([t]);
    const slashed = transformsToRos([{ ...t, parent: "/odom", child: "/base_link" }]);
    expect(transformsFromRos(slashed, false)[0]).toMatchObject({
      parent: "odom",
      child: "base_link",
      isStatic: false,
    });
  });
});

describe("images", () => {
  const header = { stamp: { sec: 1, nanosec: 0 }, frame_id: "cam" };
  it("bgr8 with row padding becomes tight rgb8", () => {
    // 2×2 image, step 8 (2 padding bytes per row).
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99]);
    const img = imageFromRos({
      header,
      width: 2,
      height: 2,
      encoding: "bgr8",
      is_bigendian: 0,
      step: 8,
      data,
    });
    expect(img.encoding).toBe("rgb8");
    expect(Array.from(img.data)).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
  });
  it("rgb8, mono8, bgra8 and mono16", () => {
    const rgb = imageFromRos({
      header,
      width: 1,
      height: 1,
      encoding: "rgb8",
      step: 3,
      data: Uint8Array.from([10, 20, 30]),
    });
    expect(Array.from(rgb.data)).toEqual([10, 20, 30]);
    const mono = imageFromRos({
      header,
      width: 2,
      height: 1,
      encoding: "mono8",
      step: 2,
      data: Uint8Array.from([7, 9]),
    });
    expect(mono.encoding).toBe("mono8");
    expect(Array.from(mono.data)).toEqual([7, 9]);
    const bgra = imageFromRos({
      header,
      width: 1,
      height: 1,
      encoding: "bgra8",
      step: 4,
      data: Uint8Array.from([1, 2, 3, 4]),
    });
    expect(Array.from(bgra.data)).toEqual([3, 2, 1]);
    const m16 = imageFromRos({
      header,
      width: 1,
      height: 1,
      encoding: "mono16",
      is_bigendian: 0,
      step: 2,
      data: Uint8Array.from([0x34, 0x12]),
    });
    expect(Array.from(m16.data)).toEqual([0x12]);
  });
  it("rejects short data and unknown encodings with the numbers", () => {
    expect(() =>
      imageFromRos({ header, width: 4, height: 4, encoding: "rgb8", step: 12, data: new Uint8Array(10) }),
    ).toThrow(/10 bytes, expected 48/);
    expect(() =>
      imageFromRos({ header, width: 1, height: 1, encoding: "nv21", step: 2, data: new Uint8Array(2) }),
    ).toThrow(/unsupported encoding 'nv21' \(supported: .*bayer_rggb8.*yuv422/);
  });
  it("Bayer mosaics of every pattern: one colour per 2×2 cell, odd edges from the cell before", () => {
    // 3×3 RGGB: R=200, G=100/110, B=50 in cell (0,0); the odd last row/column reuse it.
    const rggb = Uint8Array.from([200, 100, 200, 110, 50, 110, 200, 100, 200]);
    const img = imageFromRos({ header, width: 3, height: 3, encoding: "bayer_rggb8", step: 3, data: rggb });
    expect(img.encoding).toBe("rgb8");
    expect(Array.from(img.data.subarray(0, 3))).toEqual([200, 105, 50]);
    expect(Array.from(img.data.subarray(24, 27))).toEqual([200, 105, 50]);
    // The same scene in each pattern gives the same colour.
    const cell: Record<string, number[]> = {
      bggr: [50, 100, 110, 200],
      gbrg: [100, 50, 200, 110],
      grbg: [100, 200, 50, 110],
    };
    for (const [p, d] of Object.entries(cell)) {
      const m = imageFromRos({
        header,
        width: 2,
        height: 2,
        encoding: `bayer_${p}8`,
        step: 2,
        data: Uint8Array.from(d),
      });
      expect(Array.from(m.data.subarray(0, 3)), p).toEqual([200, 105, 50]);
    }
    // 16-bit: the high byte, little- or big-endian.
    const le = Uint8Array.from([0, 200, 0, 100, 0, 110, 0, 50]);
    const w = imageFromRos({ header, width: 2, height: 2, encoding: "bayer_rggb16", step: 4, data: le });
    expect(Array.from(w.data.subarray(9, 12))).toEqual([200, 105, 50]);
  });
  it("YUV 4:2:2, UYVY (yuv422, uyvy) and YUYV (yuv422_yuy2, yuyv), become rgb8", () => {
    // Two pixels: Y 76/29 with U 85, V 255 (pure red-ish, then darker).
    const uyvy = Uint8Array.from([85, 76, 255, 29]);
    const yuyv = Uint8Array.from([76, 85, 29, 255]);
    const a = imageFromRos({ header, width: 2, height: 1, encoding: "yuv422", step: 4, data: uyvy });
    const b = imageFromRos({ header, width: 2, height: 1, encoding: "yuv422_yuy2", step: 4, data: yuyv });
    expect(a.encoding).toBe("rgb8");
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data.subarray(0, 3))).toEqual([254, 0, 0]);
    expect(a.data[3]! < a.data[0]!).toBe(true);
    const c = imageFromRos({ header, width: 2, height: 1, encoding: "UYVY", step: 4, data: uyvy });
    expect(Array.from(c.data)).toEqual(Array.from(a.data));
    const d = imageFromRos({ header, width: 2, height: 1, encoding: "yuyv", step: 4, data: yuyv });
    expect(Array.from(d.data)).toEqual(Array.from(a.data));
  });
  it("a depth image is refused as a camera, by name", () => {
    for (const [encoding, bpp] of [
      ["16UC1", 2],
      ["32FC1", 4],
    ] as const)
      expect(() =>
        imageFromRos({ header, width: 2, height: 2, encoding, step: 2 * bpp, data: new Uint8Array(4 * bpp) }),
      ).toThrow(new RegExp(`encoding '${encoding}' is a depth image`));
  });
  it("output images serialise as valid ROS messages", () => {
    const img = {
      stamp: 2,
      frameId: "cam",
      width: 3,
      height: 2,
      encoding: "rgb8" as const,
      data: new Uint8Array(18).fill(5),
    };
    const back = imageFromRos(throughCdr("sensor_msgs/msg/Image", imageToRos(img)));
    expect(back).toEqual(img);
    const f = throughCdr(
      "sensor_msgs/msg/Image",
      float32ImageToRos(2, "cam", 2, 1, Float32Array.from([0.25, 1])),
    ) as {
      encoding: string;
      data: Uint8Array;
    };
    expect(f.encoding).toBe("32FC1");
    expect(Array.from(new Float32Array(f.data.slice().buffer))).toEqual([0.25, 1]);
    const grid = throughCdr(
      "nav_msgs/msg/OccupancyGrid",
      costmapToRos({
        stamp: 1,
        frameId: "odom",
        resolution: 0.5,
        width: 2,
        height: 1,
        originX: -1,
        originY: 2,
        data: Int8Array.from([-1, 100]),
      }),
    ) as { info: { resolution: number }; data: Int8Array };
    expect(grid.info.resolution).toBe(0.5);
    expect(Array.from(grid.data)).toEqual([-1, 100]);
  });
});

describe("definitions", () => {
  it("normalises type names", () => {
    expect(ros2TypeName("sensor_msgs/Imu")).toBe("sensor_msgs/msg/Imu");
    expect(ros2TypeName("sensor_msgs/msg/Imu")).toBe("sensor_msgs/msg/Imu");
    expect(shortTypeName("sensor_msgs/msg/Imu")).toBe("sensor_msgs/Imu");
  });
  it("writes ROS 2 style schemas with builtin_interfaces/Time", () => {
    const text = schemaTextFor("sensor_msgs/msg/Imu");
    expect(text).toMatch(/^std_msgs\/Header header/);
    expect(text).toContain("MSG: builtin_interfaces/Time\n\nint32 sec\nuint32 nanosec");
    expect(schemaTextFor("nav2_msgs/msg/SpeedLimit")).toMatch(/bool percentage\nfloat64 speed_limit/);
    expect(() => definitionsFor("ackermann_msgs/msg/AckermannDriveStamped")).toThrow(
      /no built-in message definition/,
    );
  });
});
