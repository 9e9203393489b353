// Synthetic worlds with known ground truth, written as ROS 2 MCAP bags (issue 3).

export { loadWorldAssets, NO_ASSETS, needsAssets, type WorldAssets } from "./assets.ts";
export {
  DEFAULT_WORLD,
  FRAMES,
  type GenerateOptions,
  type GenerateResult,
  generateWorldBag,
  SIM_EPOCH,
  SIM_VERSION,
  TOPICS,
  WORLDS_DIR,
  withOverrides,
} from "./generate.ts";
export { Biquad, GRAVITY, ImuModel, type ImuReading, syntheticLevelCurve } from "./imu.ts";
export { OdometryModel } from "./odom.ts";
export { bakePhoto, blendSeam, loadPhoto, type PhotoTile, photoTileSize, seamRatio } from "./photo.ts";
export {
  type LevelCurve,
  levelAt,
  type PreparedTerrain,
  RecordingPlayer,
  roughnessAtLevel,
  SPLICE_SECONDS,
} from "./recorded-vibration.ts";
export {
  loadRecording,
  type PreparedRecording,
  parseRecordingCsv,
  prepareRecording,
  type Recording,
  recordingLevel,
  rotationToZ,
} from "./recording.ts";
export { type CameraSetup, cameraSetup, GroundRenderer } from "./render.ts";
export { Rng } from "./rng.ts";
export { newState, ROUTE_DT, type RobotState, RouteDriver } from "./route.ts";
export { BUILTIN_TERRAINS, builtinTerrain, type TerrainType } from "./terrains.ts";
export { type Appearance, type BakedTexture, bakeTexture, textureContrast } from "./texture.ts";
export {
  buildWorld,
  DEFAULT_PHOTO_SIZE,
  groundTruthGrids,
  roughnessAt,
  terrainAt,
  uniformWorld,
  type World,
  type WorldTerrain,
  worldSummary,
} from "./world.ts";
export { worldDigest } from "./world-digest.ts";
export {
  loadWorldFile,
  parseWorld,
  parseWorldText,
  type WorldFile,
  WorldFileSchema,
} from "./world-schema.ts";
