// Synthetic worlds with known ground truth, written as ROS 2 MCAP bags (issue 3).
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
export { Biquad, GRAVITY, ImuModel, type ImuReading } from "./imu.ts";
export { OdometryModel } from "./odom.ts";
export { type CameraSetup, cameraSetup, GroundRenderer } from "./render.ts";
export { Rng } from "./rng.ts";
export { newState, ROUTE_DT, type RobotState, RouteDriver } from "./route.ts";
export { BUILTIN_TERRAINS, builtinTerrain, type TerrainType } from "./terrains.ts";
export { type Appearance, type BakedTexture, bakeTexture, textureContrast } from "./texture.ts";
export {
  buildWorld,
  groundTruthGrids,
  roughnessAt,
  terrainAt,
  type World,
  type WorldTerrain,
  worldSummary,
} from "./world.ts";
export {
  loadWorldFile,
  parseWorld,
  parseWorldText,
  type WorldFile,
  WorldFileSchema,
} from "./world-schema.ts";
