// A bag as it would have been recorded had its camera driver published CameraInfo from a
// calibration file (camera_info_manager's way): after each camera frame, a CameraInfo with the
// frame's header on `topics.camera_info`. The bag's own CameraInfo, if any, is left out: whoever
// gives a calibration file means it. Every reader of the source (checks, probe pre-pass, replay,
// the recorder) then sees one camera model, in the same shape a bag's own would have.

import type { BagEvent, BagInfo, BagMessage, BagSource, ReadOptions } from "./types.ts";

export interface CameraInfoTopics {
  camera_info: string;
  image: string;
  compressed_image: string;
}

const TYPE = "sensor_msgs/msg/CameraInfo";

/** The frame's header as a ROS 2 header (a ROS 1 frame's {sec, nsec} and seq are not carried). */
function headerOf(message: unknown): { stamp: { sec: number; nanosec: number }; frame_id: string } {
  const h = (message as { header?: { stamp?: Record<string, unknown>; frame_id?: unknown } }).header;
  const s = h?.stamp ?? {};
  return {
    stamp: { sec: Number(s.sec ?? 0), nanosec: Number(s.nanosec ?? s.nsec ?? 0) },
    frame_id: typeof h?.frame_id === "string" ? h.frame_id : "",
  };
}

export function withCameraInfo(
  source: BagSource,
  cameraInfo: Record<string, unknown>,
  topics: CameraInfoTopics,
): BagSource {
  const cameras = new Set([topics.image, topics.compressed_image].filter((t) => t !== ""));
  const infoTopic = topics.camera_info;
  return {
    path: source.path,
    format: source.format,
    async info(): Promise<BagInfo> {
      const info = await source.info();
      const frames = info.topics.filter((t) => cameras.has(t.name)).reduce((n, t) => n + t.count, 0);
      const own = info.topics.find((t) => t.name === infoTopic)?.count ?? 0;
      const topics = info.topics.filter((t) => t.name !== infoTopic);
      if (frames > 0) topics.push({ name: infoTopic, type: TYPE, count: frames });
      const messageCount = info.messageCount === undefined ? undefined : info.messageCount - own + frames;
      return { ...info, topics, ...(messageCount === undefined ? {} : { messageCount }) };
    },
    async *messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
      const wanted = options?.topics === undefined ? undefined : new Set(options.topics);
      const wantInfo = wanted === undefined || wanted.has(infoTopic);
      let read = options;
      if (wanted && wantInfo) read = { ...options, topics: [...new Set([...wanted, ...cameras])] };
      for await (const e of source.messages(read)) {
        if (e.type !== "message") {
          yield e;
          continue;
        }
        if (e.topic === infoTopic) continue;
        const isFrame = cameras.has(e.topic);
        if (!isFrame || wanted === undefined || wanted.has(e.topic)) yield e;
        if (!isFrame || !wantInfo) continue;
        const info: BagMessage = {
          type: "message",
          topic: infoTopic,
          schemaName: TYPE,
          logTime: e.logTime,
          message: { ...cameraInfo, header: headerOf(e.message) },
          size: 0,
        };
        yield info;
      }
    },
    close: () => source.close(),
  };
}
