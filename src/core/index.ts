// Public API of the core (pure: no I/O, no adapter libraries).

export { area2, type FeatureGridSpec, FootprintProjector, type GridFootprint } from "./association.ts";
export * from "./camera.ts";
export { nextPow2, prevPow2, WelchPsd } from "./fft.ts";
export * from "./fusion/index.ts";
export * from "./geometry.ts";
export { type Keyframe, type KeyframeExpiry, type KeyframeSettings, KeyframeStore } from "./keyframes.ts";
export {
  type ImuRejectReason,
  type LabellerSettings,
  type LabellerStats,
  VibrationLabeller,
} from "./labeller.ts";
export { emptyPoseAt, type PoseAt, PoseHistory, type PoseRejectReason } from "./pose-history.ts";
export {
  type AssociationSkip,
  SelfSupervisor,
  type SelfSupervisorConfig,
  type SelfSupervisorStats,
  type TrainingSample,
} from "./self-supervisor.ts";
export { TfBuffer } from "./tf-buffer.ts";
export * from "./time.ts";
export * from "./types.ts";
