// The topics the live view advertises, with their ROS 2 types. Names follow the ROS node's (outputs
// under `/<ros.node_name>/`, the camera and TF under the input topics' names), so a layout made for
// the live view also works on a recording (`replay --record`) or on the real node through a bridge.

import type { Config } from "../../runtime/config.ts";
import { OUTPUT_TOPICS } from "../../runtime/sinks/ros-outputs.ts";

export type LiveViewKey =
  | "camera"
  | "cameraInfo"
  | "roughness"
  | "roughnessInfo"
  | "confidence"
  | "overlay"
  | "costmap"
  | "ahead"
  | "speedLimit"
  | "labels"
  | "robot"
  | "tf"
  | "tfStatic"
  | "learner";

export interface LiveChannel {
  key: LiveViewKey;
  topic: string;
  type: string;
  /** Large messages: published at most `live_view.max_rate` times per second. */
  heavy: boolean;
}

export function liveViewChannels(config: Config): LiveChannel[] {
  const ns = `/${config.ros.node_name}`;
  const out = (key: keyof typeof OUTPUT_TOPICS, heavy: boolean): LiveChannel => ({
    key,
    topic: `${ns}/${OUTPUT_TOPICS[key].topic}`,
    type: OUTPUT_TOPICS[key].type,
    heavy,
  });
  return [
    { key: "camera", topic: config.topics.image, type: "sensor_msgs/msg/Image", heavy: true },
    { key: "cameraInfo", topic: config.topics.camera_info, type: "sensor_msgs/msg/CameraInfo", heavy: false },
    out("roughness", true),
    {
      key: "roughnessInfo",
      topic: `${ns}/roughness/camera_info`,
      type: "sensor_msgs/msg/CameraInfo",
      heavy: false,
    },
    out("confidence", true),
    out("overlay", true),
    out("costmap", true),
    out("ahead", false),
    out("speedLimit", false),
    { key: "labels", topic: `${ns}/labels`, type: "visualization_msgs/msg/MarkerArray", heavy: true },
    { key: "robot", topic: `${ns}/robot`, type: "visualization_msgs/msg/Marker", heavy: false },
    { key: "tf", topic: config.topics.tf, type: "tf2_msgs/msg/TFMessage", heavy: false },
    { key: "tfStatic", topic: config.topics.tf_static, type: "tf2_msgs/msg/TFMessage", heavy: false },
    { key: "learner", topic: `${ns}/learner`, type: "terrain_learner_msgs/msg/LearnerStats", heavy: false },
  ];
}
