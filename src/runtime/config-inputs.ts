// Config sections of the inputs: `topics`, `frames`, `fusion` (stamp-order merging) and `keyframes`.

import { z } from "zod";

const positive = () => z.number().positive();

export const TopicsSchema = z
  .strictObject({
    image: z
      .string()
      .default("/camera/image_raw")
      .meta({ description: "sensor_msgs/Image input (ros.image_transport: raw)" }),
    compressed_image: z
      .string()
      .default("/camera/image_raw/compressed")
      .meta({ description: "sensor_msgs/CompressedImage input (ros.image_transport: compressed)" }),
    camera_info: z
      .string()
      .default("/camera/camera_info")
      .meta({ description: "sensor_msgs/CameraInfo of that camera" }),
    imu: z.string().default("/imu/data").meta({
      description: "sensor_msgs/Imu input, any mounting (TF base_link -> IMU frame, or gravity in the data)",
    }),
    odom: z.string().default("/odom").meta({ description: "nav_msgs/Odometry input, odom -> base_link" }),
    tf: z.string().default("/tf").meta({ description: "tf2_msgs/TFMessage transforms" }),
    tf_static: z
      .string()
      .default("/tf_static")
      .meta({ description: "tf2_msgs/TFMessage static transforms (transient local)" }),
  })
  .prefault({});

/** TF frames are read without ROS 1's leading slash, and tf2 refuses one: a slashed name matches nothing. */
const noLeadingSlash = (schema: z.ZodString) =>
  schema.refine((f) => !f.startsWith("/"), {
    error: (issue) =>
      `write it without the leading slash ('${String(issue.input).replace(/^\/+/, "")}'): tf2 frame ids have none`,
  });

/** A frame_id the outputs are stamped in: Nav2 rejects a map with an empty one, and tf2 finds nothing. */
const frameId = () =>
  noLeadingSlash(z.string().min(1, "must name a frame (an empty frame_id is refused by Nav2 and tf2)"));

export const FramesSchema = z
  .strictObject({
    /** Fixed frame of odometry and of the costmap. */
    odom: frameId().default("odom").meta({ description: "fixed frame of odometry, labels and the costmap" }),
    base: frameId().default("base_link").meta({ description: "robot body frame (REP-105)" }),
    /**
     * The camera's cells are projected onto the ground plane z = 0 of this frame (REP-105's
     * base_footprint, on the ground below base_link), when TF connects it to `base`; otherwise onto
     * z = 0 of `base` itself. Only its height and tilt relative to `base` are used.
     */
    ground: noLeadingSlash(z.string()).default("base_footprint").meta({
      description:
        "ground-level frame under the base (REP-105); without it in TF the ground is z = 0 of base",
    }),
    /** Height of `base` above the ground; when set it wins over TF (robots without base_footprint). */
    base_height: z.number().nonnegative().nullable().default(null).meta({
      unit: "m",
      description: "height of the base frame above the ground; null: from TF (frames.ground), else 0",
    }),
  })
  .prefault({});

export const FusionSchema = z
  .strictObject({
    /**
     * Messages may arrive this much out of order (s) and still be merged in stamp order; later ones
     * are dropped and counted (problems.late). A camera's frames typically arrive 30–150 ms after the
     * IMU samples of the same instant. Live, a frame never waits for this (see docs/design.md).
     */
    reorder_window: z.number().nonnegative().default(0.25).meta({
      unit: "s",
      description: "messages this late are still merged in stamp order; later ones are counted and dropped",
    }),
    /**
     * How much later (s) the camera's stamps are than the IMU's and odometry's for the same instant
     * (a driver that stamps frames on arrival, 0.05–0.2 s): subtracted from image and CameraInfo
     * stamps before anything uses them, so a frame is placed on the path where it was taken. The
     * reorder window is widened by it in replay (corrected frames arrive that much later).
     */
    camera_delay: z.number().min(-1).max(1).default(0).meta({
      unit: "s",
      description:
        "how much later the camera's stamps are than the IMU's for the same instant; subtracted from image and CameraInfo stamps",
    }),
    /** Seconds of odometry kept for pose interpolation. */
    pose_history: positive()
      .default(120)
      .meta({ unit: "s", description: "odometry kept for pose interpolation" }),
  })
  .prefault({});

export const KeyframesSchema = z
  .strictObject({
    /** Keep every Nth image as a keyframe ... */
    every_n_frames: z
      .number()
      .int()
      .positive()
      .default(1)
      .meta({ unit: "frames", description: "keep every Nth camera frame as a keyframe ..." }),
    /** ... but at least this far apart (m); 0 disables the distance rule. */
    min_distance: z
      .number()
      .nonnegative()
      .default(0.25)
      .meta({ unit: "m", description: "... at least this far apart (0: no distance rule)" }),
    /** Keyframes older than this (s of sensor time) or farther than max_distance (m) are dropped. */
    horizon_seconds: positive()
      .default(60)
      .meta({ unit: "s", description: "keyframes older than this are dropped ..." }),
    horizon_distance: positive()
      .default(15)
      .meta({ unit: "m", description: "... or farther away than this" }),
    max_count: z
      .number()
      .int()
      .positive()
      .default(200)
      .meta({ unit: "keyframes", description: "most keyframes kept" }),
  })
  .prefault({});
