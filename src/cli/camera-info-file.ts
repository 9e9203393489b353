// `replay --camera-info-file calib.yaml`: the camera's intrinsics from its calibration file, for a
// bag recorded without CameraInfo (a ROS 1 bag, a driver that does not publish it, a recording of
// the image topic alone). The file wins over a CameraInfo the bag has, and must describe the
// frames' own size: a calibration is made at one resolution, and a file for another one is more
// likely the wrong camera's than a resize, so it is refused rather than scaled.

import type { BagInfo, BagSource } from "../io/bag/index.ts";
import { withCameraInfo } from "../io/bag/with-camera-info.ts";
import type { CameraCalibration } from "../io/ros/camera-info-yaml.ts";
import { compressedFromRos, imageFromRos } from "../io/ros/convert.ts";
import { decodeCompressed } from "../io/ros/decode-image.ts";
import type { Config } from "../runtime/config.ts";
import { UserError } from "./errors.ts";

/** The size of the first of the camera's first `cap` frames that converts, or undefined. */
async function firstFrameSize(
  source: BagSource,
  config: Config,
  cap = 200,
): Promise<{ topic: string; width: number; height: number } | undefined> {
  const t = config.topics;
  const cams = [t.image, t.compressed_image].filter((name) => name !== "");
  let n = 0;
  for await (const e of source.messages({ topics: cams })) {
    if (e.type !== "message") continue;
    if (++n > cap) break;
    try {
      const f =
        e.topic === t.image ? imageFromRos(e.message) : await decodeCompressed(compressedFromRos(e.message));
      return { topic: e.topic, width: f.width, height: f.height };
    } catch {
      // An unusable frame: the readable-camera check names it.
    }
  }
  return undefined;
}

/**
 * The bag with CameraInfo from the calibration `file` after each frame (its own left out, with a
 * note), and its info; refused when the first usable frame is not of the file's size.
 */
export async function useCameraInfoFile(
  bag: string,
  source: BagSource,
  info: BagInfo,
  config: Config,
  file: string,
  calibration: CameraCalibration,
  warn: (line: string) => void,
): Promise<{ source: BagSource; info: BagInfo }> {
  const frame = await firstFrameSize(source, config);
  if (frame && (frame.width !== calibration.width || frame.height !== calibration.height))
    throw new UserError(
      `--camera-info-file ${file}: it calibrates ${calibration.width}x${calibration.height} images, and the frames on ${frame.topic} are ${frame.width}x${frame.height}: give the calibration made at the frames' size`,
    );
  const topic = config.topics.camera_info;
  const own = info.topics.find((x) => x.name === topic && x.count > 0);
  if (own)
    warn(
      `terrain-learner: ${bag}: the bag's CameraInfo on ${topic} (${own.count} messages) is left out: the intrinsics come from --camera-info-file ${file}`,
    );
  const wrapped = withCameraInfo(source, calibration.message, config.topics);
  return { source: wrapped, info: await wrapped.info() };
}
