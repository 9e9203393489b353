import { describe, expect, it } from "vitest";
import { configFromObject } from "../src/runtime/config.ts";
import { rosOutputOptions, speedLimitToRos } from "../src/runtime/sinks/ros-outputs.ts";

interface SpeedLimitMsg {
  header: { frame_id: string };
  percentage: boolean;
  speed_limit: number;
}

describe("~/speed_limit for Nav2", () => {
  it("defaults to a percentage of outputs.max_speed in frames.base, so it can only slow a controller", () => {
    const config = configFromObject({
      outputs: { max_speed: 1.2, min_speed: 0.3 },
      frames: { base: "base_footprint" },
    });
    const opts = rosOutputOptions(config);
    const fast = speedLimitToRos(1, 1.2, opts) as SpeedLimitMsg;
    expect(fast).toMatchObject({ percentage: true, speed_limit: 100 });
    expect(fast.header.frame_id).toBe("base_footprint");
    expect((speedLimitToRos(1, 0.3, opts) as SpeedLimitMsg).speed_limit).toBeCloseTo(25, 9);
    // Above max_speed (a rounding or a changed config) still caps at the controller's own maximum,
    // and nothing reaches 0, which Nav2 reads as "no limit".
    expect((speedLimitToRos(1, 5, opts) as SpeedLimitMsg).speed_limit).toBe(100);
    expect((speedLimitToRos(1, 0, opts) as SpeedLimitMsg).speed_limit).toBeGreaterThan(0);
  });

  it("sends m/s when ros.speed_limit_as is absolute", () => {
    const config = configFromObject({ ros: { speed_limit_as: "absolute" } });
    const msg = speedLimitToRos(1, 0.7, rosOutputOptions(config)) as SpeedLimitMsg;
    expect(msg).toMatchObject({ percentage: false, speed_limit: 0.7 });
  });

  it("refuses an unknown mode", () => {
    expect(() => configFromObject({ ros: { speed_limit_as: "fraction" } })).toThrow(/speed_limit_as/);
  });
});
