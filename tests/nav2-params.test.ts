import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { outputQos, publisherSpecs } from "../src/adapters/ros2-wiring.ts";
import { definitionsFor } from "../src/io/ros/definitions.ts";
import { costmapToRos } from "../src/io/ros/to-ros.ts";
import { RollingCostmap } from "../src/outputs/costmap.ts";
import { configFromObject, defaultConfig } from "../src/runtime/config.ts";

// The Nav2 parameters the project ships, checked against what the node publishes and against how
// nav2_costmap_2d's StaticLayer reads its parameters (Nav2 itself cannot run here).
const ROOT = join(import.meta.dirname, "..");
const file = parse(readFileSync(join(ROOT, "launch/nav2-roughness.yaml"), "utf8"));
const costmap = file.local_costmap.local_costmap.ros__parameters;
const config = defaultConfig();
const specs = publisherSpecs(
  config,
  { node: config.ros.node_name, namespace: "/" },
  { speedLimitFallback: false },
);
const topicOf = (key: string) => specs.find((s) => s.key === key)!.topic;

describe("launch/nav2-roughness.yaml", () => {
  it("reads the node's costmap topic, transient local as the node offers it", () => {
    const layer = costmap.roughness_layer;
    expect(layer.plugin).toBe("nav2_costmap_2d::StaticLayer");
    expect(layer.map_topic).toBe(topicOf("costmap"));
    expect(layer.map_subscribe_transient_local).toBe(true);
    expect(outputQos("costmap", config).durability).toBe("transient_local");
    expect(costmap.global_frame).toBe(config.frames.odom);
  });

  it("puts the roughness layer before the layers it would otherwise overwrite, inflation last", () => {
    const plugins: string[] = costmap.plugins;
    expect(plugins[0]).toBe("roughness_layer");
    expect(plugins.at(-1)).toBe("inflation_layer");
  });

  it("sets the StaticLayer's costmap-level switches on the costmap, not in the layer", () => {
    expect(costmap.trinary_costmap).toBe(false);
    expect(costmap.track_unknown_space).toBe(false);
    for (const key of ["trinary_costmap", "track_unknown_space", "use_maximum", "lethal_cost_threshold"])
      expect(costmap.roughness_layer, key).not.toHaveProperty(key);
  });

  it("points the controller server at the node's speed limit", () => {
    expect(file.controller_server.ros__parameters.speed_limit_topic).toBe(topicOf("speedLimit"));
  });

  it("is what docs/ros2.md shows", () => {
    const doc = readFileSync(join(ROOT, "docs/ros2.md"), "utf8");
    const nav2 = doc.slice(doc.indexOf("## Nav2"));
    const block = /```yaml\n([\s\S]*?)```/.exec(nav2)?.[1];
    expect(block).toBeDefined();
    expect(parse(block!)).toEqual(file);
  });
});

// What Nav2's StaticLayer does with a map before using it (nav2_ros_common/validate_messages.hpp,
// nav2_costmap_2d/plugins/static_layer.cpp): a map failing these is logged "malformed. Rejecting."
// and never reaches the costmap.
describe("~/roughness/costmap as Nav2's StaticLayer reads it", () => {
  function nav2Accepts(m: {
    header: { stamp: { nanosec: number }; frame_id: string };
    info: {
      resolution: number;
      width: number;
      height: number;
      origin: { position: Record<string, number>; orientation: Record<"x" | "y" | "z" | "w", number> };
    };
    data: ArrayLike<number>;
  }): boolean {
    const q = m.info.origin.orientation;
    const finite = [m.info.resolution, ...Object.values(m.info.origin.position), q.x, q.y, q.z, q.w];
    return (
      m.header.stamp.nanosec < 1e9 &&
      m.header.frame_id !== "" &&
      finite.every(Number.isFinite) &&
      Math.abs(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w - 1) < 1e-4 &&
      m.info.width > 0 &&
      m.info.height > 0 &&
      m.info.width <= 32767 &&
      m.info.height <= 32767 &&
      m.data.length === m.info.width * m.info.height
    );
  }

  it("is a map Nav2 accepts, in frames.odom, -1 where nothing is judged", () => {
    const c = defaultConfig();
    const map = new RollingCostmap({
      frameId: c.frames.odom,
      resolution: c.outputs.costmap_resolution,
      size: c.outputs.costmap_size,
      halfLife: c.outputs.costmap_half_life,
      minConfidence: c.outputs.min_confidence,
    });
    map.advance(1.999999999, 3.3, -1.7);
    // A 2x2 grid of ground cells 2-3 m ahead: smooth and confident, rough and confident.
    const xs = Float64Array.from([5.3, 5.3, 6.3, 6.3]);
    const ys = Float64Array.from([-2.2, -1.2, -2.2, -1.2]);
    map.integrate(2, 2, xs, ys, new Float32Array([0, 0, 1, 1]), new Float32Array([1, 1, 1, 1]), 3.3, -1.7);
    const msg = costmapToRos(map.snapshot(1.999999999)) as Parameters<typeof nav2Accepts>[0];
    const back = new MessageReader(definitionsFor("nav_msgs/msg/OccupancyGrid")).readMessage(
      new MessageWriter(definitionsFor("nav_msgs/msg/OccupancyGrid")).writeMessage(msg),
    ) as Parameters<typeof nav2Accepts>[0];
    expect(nav2Accepts(back)).toBe(true);
    expect(back.header.frame_id).toBe("odom");
    const values = new Set(Array.from(back.data));
    expect(values.has(-1)).toBe(true);
    expect(values.has(0)).toBe(true);
    expect(values.has(100)).toBe(true);
    expect([...values].every((v) => v === -1 || (v >= 0 && v <= 100))).toBe(true);
  });

  it("refuses an empty frames.odom or frames.base at load: Nav2 rejects a map with no frame", () => {
    for (const frames of [{ odom: "" }, { base: "" }])
      expect(() => configFromObject({ frames })).toThrow(new RegExp(`frames\\.${Object.keys(frames)[0]}`));
  });

  it("refuses a frame with ROS 1's leading slash: TF frames are read without it, so it would match nothing", () => {
    for (const frames of [{ odom: "/odom" }, { base: "/base_link" }, { ground: "/base_footprint" }]) {
      const [key, value] = Object.entries(frames)[0] as [string, string];
      expect(() => configFromObject({ frames })).toThrow(
        new RegExp(`frames\\.${key}: write it without the leading slash \\('${value.slice(1)}'\\)`),
      );
    }
    expect(configFromObject({ frames: { odom: "map", ground: "" } }).frames.odom).toBe("map");
  });
});
