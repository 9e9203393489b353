import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { describe, expect, it } from "vitest";
import { secondsToRosTime } from "../src/core/time.ts";
import { costmapToRos, float32ImageToRos, imageFromRos } from "../src/io/ros/convert.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { StampMemo } from "../src/io/ros/stamp-memo.ts";

function throughCdr(type: string, msg: unknown): Record<string, unknown> {
  const defs = definitionsFor(type);
  return new MessageReader(defs).readMessage(new MessageWriter(defs).writeMessage(msg));
}

// A present-day stamp whose nanoseconds float64 seconds cannot hold (…789 comes back as …717).
const CAMERA = { sec: 1_733_380_000, nanosec: 123_456_789 };

describe("camera stamps at the ROS boundary", () => {
  it("float64 seconds alone lose the nanoseconds (what the memo is for)", () => {
    const s = CAMERA.sec + CAMERA.nanosec * 1e-9;
    expect(secondsToRosTime(s).nanosec).not.toBe(CAMERA.nanosec);
  });

  it("outputs made from a camera frame carry its stamp exactly", () => {
    const msg = throughCdr("sensor_msgs/msg/Image", {
      header: { stamp: CAMERA, frame_id: "camera_optical_frame" },
      height: 2,
      width: 2,
      encoding: "mono8",
      is_bigendian: 0,
      step: 2,
      data: new Uint8Array([1, 2, 3, 4]),
    });
    const frame = imageFromRos(msg);
    const roughness = throughCdr(
      "sensor_msgs/msg/Image",
      float32ImageToRos(frame.stamp, frame.frameId, 1, 1, new Float32Array([0.5])),
    );
    expect((roughness.header as { stamp: unknown }).stamp).toEqual(CAMERA);
    const costmap = throughCdr(
      "nav_msgs/msg/OccupancyGrid",
      costmapToRos({
        stamp: frame.stamp,
        frameId: "odom",
        resolution: 1,
        width: 1,
        height: 1,
        originX: 0,
        originY: 0,
        data: Int8Array.from([5]),
      }),
    );
    expect((costmap.header as { stamp: unknown }).stamp).toEqual(CAMERA);
    expect((costmap.info as { map_load_time: unknown }).map_load_time).toEqual(CAMERA);
  });

  it("forgets the oldest stamps beyond its capacity and falls back to rounding", () => {
    const memo = new StampMemo(2);
    const a = memo.remember({ sec: 1_733_380_000, nanosec: 1 });
    const b = memo.remember({ sec: 1_733_380_000, nanosec: 500_000_001 });
    const c = memo.remember({ sec: 1_733_380_001, nanosec: 7 });
    expect(memo.size).toBe(2);
    expect(memo.toRos(b)).toEqual({ sec: 1_733_380_000, nanosec: 500_000_001 });
    expect(memo.toRos(c)).toEqual({ sec: 1_733_380_001, nanosec: 7 });
    expect(memo.toRos(a)).toEqual(secondsToRosTime(a));
    // ROS 1 messages name it nsec.
    const d = memo.remember({ sec: 5, nsec: 9 });
    expect(memo.toRos(d)).toEqual({ sec: 5, nanosec: 9 });
  });
});
