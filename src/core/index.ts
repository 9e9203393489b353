// Public API of the core (pure: no I/O, no adapter libraries).

export * from "./types.ts";
export * from "./time.ts";
export * from "./geometry.ts";
export * from "./camera.ts";
export { nextPow2, prevPow2, WelchPsd } from "./fft.ts";
export { PoseHistory, emptyPoseAt, type PoseAt, type PoseRejectReason } from "./pose-history.ts";
export { TfBuffer } from "./tf-buffer.ts";
export { KeyframeStore, type Keyframe, type KeyframeSettings, type KeyframeExpiry } from "./keyframes.ts";
export { VibrationLabeller, type LabellerSettings, type LabellerStats, type ImuRejectReason } from "./labeller.ts";
export { FootprintProjector, area2, type FeatureGridSpec, type GridFootprint } from "./association.ts";
export {
  SelfSupervisor,
  type SelfSupervisorConfig,
  type SelfSupervisorStats,
  type TrainingSample,
  type AssociationSkip,
} from "./self-supervisor.ts";
export * from "./fusion/index.ts";
