import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { outputQos, publisherSpecs } from "../src/adapters/ros2-wiring.ts";
import { defaultConfig } from "../src/runtime/config.ts";

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
