// Generates a synthetic drive as a ROS 2 MCAP bag: the topics, frames and rates of the simulator
// section of notes/contracts.md. Deterministic: stamps start at a fixed epoch, all randomness comes
// from seeded streams, and messages are written in stamp order, so the same options give the same
// bytes.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { OPTICAL_IN_CAMERA_LINK } from "../src/core/camera.ts";
import { quatFromRPY, quatFromYaw } from "../src/core/geometry.ts";
import type { Transform } from "../src/core/types.ts";
import { type ChunkCompression, Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import {
  cameraInfoToRos,
  compressedToRos,
  costmapToRos,
  imageToRos,
  imuToRos,
  odomToRos,
  transformsToRos,
} from "../src/io/ros/convert.ts";
import { loadWorldAssets } from "./assets.ts";
import { type FrameSource, inlineFrames, workerFrames } from "./frames.ts";
import { ImuModel, type ImuReading } from "./imu.ts";
import { OdometryModel } from "./odom.ts";
import { cameraSetup } from "./render.ts";
import { newState, RouteDriver } from "./route.ts";
import { buildWorld, groundTruthGrids, terrainAt, type World, worldSummary } from "./world.ts";
import { worldDigest } from "./world-digest.ts";
import { loadWorldFile, parseWorld, type WorldFile } from "./world-schema.ts";

/** Stamp of the first message: fixed, so bags are reproducible (14 Nov 2023 22:13:20 UTC). */
export const SIM_EPOCH = 1_700_000_000;
export const SIM_VERSION = "6";

export const TOPICS = {
  image: "/camera/image_raw",
  compressed: "/camera/image_raw/compressed",
  cameraInfo: "/camera/camera_info",
  imu: "/imu/data",
  odom: "/odom",
  tf: "/tf",
  tfStatic: "/tf_static",
  roughness: "/sim/ground_truth/roughness",
  terrain: "/sim/ground_truth/terrain",
  pose: "/sim/ground_truth/pose",
} as const;

export const FRAMES = {
  odom: "odom",
  base: "base_link",
  cameraLink: "camera_link",
  optical: "camera_optical_frame",
  imu: "imu_link",
} as const;

const HERE = dirname(fileURLToPath(import.meta.url));
// Compiled, this file sits in dist/sim/; the world files stay in sim/worlds/.
export const WORLDS_DIR = existsSync(join(HERE, "worlds"))
  ? join(HERE, "worlds")
  : join(HERE, "..", "..", "sim", "worlds");
export const DEFAULT_WORLD = join(WORLDS_DIR, "default.yaml");

export interface GenerateOptions {
  /** Output .mcap path. */
  out: string;
  /** A world file path, a parsed world object, or undefined for sim/worlds/default.yaml. */
  world?: string | WorldFile | Record<string, unknown>;
  seed?: number;
  /** Seconds of simulated time (default 60). */
  duration?: number;
  /** Overrides of the world's camera resolution, rate and JPEG quality. */
  camera?: { width?: number; height?: number; rate?: number; jpegQuality?: number };
  imuRate?: number;
  /** Write JPEG CompressedImage on image_raw/compressed instead of raw Image. */
  jpeg?: boolean;
  compression?: ChunkCompression;
  /**
   * Called once the world, its photos and recordings and the sensor models are ready, before the
   * bag is written: a mistake in the world has been found by then.
   */
  onStart?: () => void;
  /** Called about every simulated second, and at the end. */
  onProgress?: (simSeconds: number, duration: number) => void;
  signal?: AbortSignal;
  /**
   * Render camera frames in a worker thread, ahead of the main loop (same bytes either way).
   * "auto" (default) uses one for long or large runs, where it pays for its start-up.
   */
  renderWorker?: boolean | "auto";
}

export interface GenerateResult {
  path: string;
  world: World;
  seed: number;
  duration: number;
  start: number;
  frames: number;
  imuSamples: number;
  odomSamples: number;
  groundTruthGrids: number;
  /** Distance driven (m), stops made, and samples with a wheel on never-driven terrain (expected 0). */
  distance: number;
  stops: number;
  violations: number;
  /** Seconds the robot spent on each terrain (true pose), by terrain name. */
  timeOnTerrain: Record<string, number>;
  /** Frames in which each terrain covers at least 2 % of the image, by terrain name. */
  framesSeeing: Record<string, number>;
  /**
   * Terrains with recorded vibration: their recordings' vertical level at 1 m/s (m/s² RMS), the
   * roughness that level means on the synthetic scale, the gain the one-scale rule applied, and
   * warnings about its recordings (a gyro in deg/s).
   */
  recordedVibration: {
    terrain: string;
    level: number;
    naturalRoughness: number;
    gain: number;
    warnings: string[];
  }[];
}

function resolveWorldFile(world: GenerateOptions["world"]): WorldFile {
  if (world === undefined) return loadWorldFile(DEFAULT_WORLD);
  if (typeof world === "string") return loadWorldFile(world);
  return parseWorld(world, "object");
}

/** Applies CLI-level overrides to a world file (returns a new object). */
export function withOverrides(
  file: WorldFile,
  options: Pick<GenerateOptions, "camera" | "imuRate">,
): WorldFile {
  return {
    ...file,
    camera: {
      ...file.camera,
      width: options.camera?.width ?? file.camera.width,
      height: options.camera?.height ?? file.camera.height,
      rate: options.camera?.rate ?? file.camera.rate,
      jpegQuality: options.camera?.jpegQuality ?? file.camera.jpegQuality,
    },
    imu: { ...file.imu, rate: options.imuRate ?? file.imu.rate },
  };
}

/** Streams on one clock: each has its k-th event at start + k / rate. */
interface Stream {
  name: "static" | "grid" | "odom" | "imu" | "camera";
  /** Events per second (0: only the one at the start). */
  rate: number;
  k: number;
  /** Tie-break order at equal stamps. */
  order: number;
}

export async function generateWorldBag(options: GenerateOptions): Promise<GenerateResult> {
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`seed must be a non-negative integer, got ${seed}`);
  const duration = options.duration ?? 60;
  if (!(duration > 0)) throw new Error(`duration must be positive, got ${duration}`);
  const file = withOverrides(resolveWorldFile(options.world), options);
  const assets = await loadWorldAssets(file);
  const world = buildWorld(file, seed, assets);
  const start = SIM_EPOCH;
  const end = start + duration;

  const setup = cameraSetup(world, file.camera.width, file.camera.height);
  const frameCount = Math.ceil(duration * file.camera.rate - 1e-9);
  const useWorker =
    options.renderWorker === "auto" || options.renderWorker === undefined
      ? frameCount * file.camera.width * file.camera.height > 30e6
      : options.renderWorker;
  const { width, height, rate } = file.camera;
  const frames: FrameSource = useWorker
    ? workerFrames(world, assets, seed, start, rate, width, height, frameCount)
    : inlineFrames(world, seed, start, rate, width, height);
  const route = new RouteDriver(world, seed, start);
  const imu = new ImuModel(world, seed, file.imu.rate);
  const odom = new OdometryModel(world, seed, route.start);
  options.onStart?.();

  const writer = await Ros2McapWriter.create(options.out, {
    compression: options.compression ?? "zstd",
    library: `terrain-learner sim ${SIM_VERSION}`,
    metadata: {
      terrain_learner_sim: {
        world: JSON.stringify(worldSummary(world)),
        digest: worldDigest(file),
        seed: String(seed),
        version: SIM_VERSION,
        duration: String(duration),
        start: String(start),
      },
    },
  });

  const result: GenerateResult = {
    path: options.out,
    world,
    seed,
    duration,
    start,
    frames: 0,
    imuSamples: 0,
    odomSamples: 0,
    groundTruthGrids: 0,
    distance: 0,
    stops: 0,
    violations: 0,
    timeOnTerrain: Object.fromEntries(world.terrains.map((t) => [t.name, 0])),
    framesSeeing: Object.fromEntries(world.terrains.map((t) => [t.name, 0])),
    recordedVibration: (imu.recordedTerrains ?? []).flatMap((r, i) =>
      r
        ? [
            {
              terrain: world.terrains[i]!.name,
              level: r.level,
              naturalRoughness: r.naturalRoughness,
              gain: r.gain,
              warnings: r.warnings,
            },
          ]
        : [],
    ),
  };

  const streams: Stream[] = [
    { name: "static", rate: 0, k: 0, order: 0 },
    { name: "grid", rate: 1 / file.groundTruth.period, k: 0, order: 1 },
    { name: "odom", rate: file.odometry.rate, k: 0, order: 2 },
    { name: "imu", rate: file.imu.rate, k: 0, order: 3 },
    { name: "camera", rate: file.camera.rate, k: 0, order: 4 },
  ];
  // k / rate (not k · period): the same expression the frame source uses for camera poses.
  const timeOf = (s: Stream) => (s.k === 0 ? start : start + s.k / s.rate);

  const state = newState();
  const reading: ImuReading = { ax: 0, ay: 0, az: 0, gx: 0, gy: 0, gz: 0, roughness: 0 };
  const model = setup.model;
  const staticTransforms = (stamp: number): Transform[] => [
    {
      stamp,
      parent: FRAMES.base,
      child: FRAMES.cameraLink,
      translation: setup.linkTranslation,
      rotation: quatFromRPY(0, setup.linkPitch, 0),
      isStatic: true,
    },
    {
      stamp,
      parent: FRAMES.cameraLink,
      child: FRAMES.optical,
      translation: { x: 0, y: 0, z: 0 },
      rotation: { ...OPTICAL_IN_CAMERA_LINK },
      isStatic: true,
    },
    {
      stamp,
      parent: FRAMES.base,
      child: FRAMES.imu,
      translation: imu.translation,
      rotation: imu.rotation,
      isStatic: true,
    },
  ];
  let lastProgress = -1;
  let gridCache: ReturnType<typeof groundTruthGrids> | undefined;
  let lastTerrainT = start;

  try {
    for (;;) {
      if (options.signal?.aborted) throw new Error("simulation aborted");
      // Next event: earliest stamp, ties in a fixed order.
      let next = streams[0]!;
      let nextT = timeOf(next);
      for (let i = 1; i < streams.length; i++) {
        const s = streams[i]!;
        const t = timeOf(s);
        if (t < nextT || (t === nextT && s.order < next.order)) {
          next = s;
          nextT = t;
        }
      }
      if (!(nextT < end)) break;
      next.k++;
      const t = nextT;

      switch (next.name) {
        case "static":
          await writer.write(
            TOPICS.tfStatic,
            "tf2_msgs/msg/TFMessage",
            t,
            transformsToRos(staticTransforms(t)),
          );
          break;
        case "grid": {
          // The ground does not change: compute the grids once, restamp them every period.
          gridCache ??= groundTruthGrids(world, t);
          const grids = {
            roughness: { ...gridCache.roughness, stamp: t },
            terrain: { ...gridCache.terrain, stamp: t },
          };
          await writer.write(
            TOPICS.roughness,
            "nav_msgs/msg/OccupancyGrid",
            t,
            costmapToRos(grids.roughness),
          );
          await writer.write(TOPICS.terrain, "nav_msgs/msg/OccupancyGrid", t, costmapToRos(grids.terrain));
          result.groundTruthGrids++;
          break;
        }
        case "odom": {
          route.sample(t, state);
          const e = odom.update(state);
          const q = quatFromYaw(e.yaw);
          await writer.write(
            TOPICS.odom,
            "nav_msgs/msg/Odometry",
            t,
            odomToRos({
              stamp: t,
              frameId: FRAMES.odom,
              childFrameId: FRAMES.base,
              pose: { position: { x: e.x, y: e.y, z: 0 }, orientation: q },
              linear: { x: e.v, y: 0, z: 0 },
              angular: { x: 0, y: 0, z: e.w },
            }),
          );
          await writer.write(
            TOPICS.tf,
            "tf2_msgs/msg/TFMessage",
            t,
            transformsToRos([
              {
                stamp: t,
                parent: FRAMES.odom,
                child: FRAMES.base,
                translation: { x: e.x, y: e.y, z: 0 },
                rotation: q,
                isStatic: false,
              },
            ]),
          );
          await writer.write(
            TOPICS.pose,
            "nav_msgs/msg/Odometry",
            t,
            odomToRos({
              stamp: t,
              frameId: FRAMES.odom,
              childFrameId: FRAMES.base,
              pose: { position: { x: state.x, y: state.y, z: 0 }, orientation: quatFromYaw(state.yaw) },
              linear: { x: state.v, y: 0, z: 0 },
              angular: { x: 0, y: 0, z: state.w },
            }),
          );
          result.odomSamples++;
          const ti = terrainAt(world, state.x, state.y);
          if (ti >= 0) {
            const name = world.terrains[ti]!.name;
            result.timeOnTerrain[name] = (result.timeOnTerrain[name] ?? 0) + (t - lastTerrainT);
          }
          lastTerrainT = t;
          break;
        }
        case "imu": {
          route.sample(t, state);
          imu.sample(state, reading);
          await writer.write(
            TOPICS.imu,
            "sensor_msgs/msg/Imu",
            t,
            imuToRos({
              stamp: t,
              frameId: FRAMES.imu,
              orientation: undefined,
              angularVelocity: { x: reading.gx, y: reading.gy, z: reading.gz },
              linearAcceleration: { x: reading.ax, y: reading.ay, z: reading.az },
            }),
          );
          result.imuSamples++;
          break;
        }
        case "camera": {
          const frame = await frames.take(next.k - 1);
          const pixels = frame.pixels;
          if (options.jpeg) {
            const jpeg = await sharp(pixels, {
              raw: { width: model.width, height: model.height, channels: 3 },
            })
              .jpeg({ quality: file.camera.jpegQuality, chromaSubsampling: "4:2:0" })
              .toBuffer();
            await writer.write(
              TOPICS.compressed,
              "sensor_msgs/msg/CompressedImage",
              t,
              compressedToRos({
                stamp: t,
                frameId: FRAMES.optical,
                format: "jpeg",
                data: new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength),
              }),
            );
          } else {
            await writer.write(
              TOPICS.image,
              "sensor_msgs/msg/Image",
              t,
              imageToRos({
                stamp: t,
                frameId: FRAMES.optical,
                width: model.width,
                height: model.height,
                encoding: "rgb8",
                data: pixels,
              }),
            );
          }
          for (const terrain of world.terrains) {
            if (frame.terrainPixels[terrain.index]! >= 0.02 * frame.sampledPixels) {
              result.framesSeeing[terrain.name] = (result.framesSeeing[terrain.name] ?? 0) + 1;
            }
          }
          await writer.write(
            TOPICS.cameraInfo,
            "sensor_msgs/msg/CameraInfo",
            t,
            cameraInfoToRos({ ...model, stamp: t }),
          );
          result.frames++;
          break;
        }
      }
      const simSeconds = t - start;
      if (options.onProgress && Math.floor(simSeconds) !== lastProgress) {
        lastProgress = Math.floor(simSeconds);
        options.onProgress(simSeconds, duration);
      }
    }
  } catch (err) {
    // An unfinished drive is not the bag that was asked for: the output path is left as it was.
    await frames.close().catch(() => {});
    await writer.abort();
    throw err;
  }
  await frames.close();
  await writer.close();
  result.distance = route.distance;
  result.stops = route.stops;
  result.violations = route.violations;
  options.onProgress?.(duration, duration);
  return result;
}
