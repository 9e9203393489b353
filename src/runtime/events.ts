// What flows out of the stream graph to its sinks (`pipeline.events$`) and what goes in
// (`pipeline.push`): the types every source, sink and tap shares.

import type {
  CameraModel,
  CompressedFrame,
  ImageFrame,
  ImuSample,
  OdomSample,
  Problem,
  RoughnessLabel,
  Stamp,
  Transform,
} from "../core/types.ts";
import type { EvalSummary } from "../eval/evaluator.ts";
import type { FrameOutputs } from "../outputs/index.ts";

export type CoreInput =
  | { kind: "imu"; sample: ImuSample }
  | { kind: "odom"; sample: OdomSample }
  | { kind: "image"; frame: ImageFrame }
  | { kind: "compressed"; frame: CompressedFrame }
  | { kind: "cameraInfo"; model: CameraModel }
  | { kind: "transforms"; transforms: Transform[] };

export interface PredictionEvent {
  type: "prediction";
  stamp: Stamp;
  /** The camera image the prediction was made on (rgb8/mono8). */
  image: ImageFrame;
  outputs: FrameOutputs;
  /** Whether this frame was stored as a keyframe. */
  keyframe: boolean;
}
export interface LabelEvent {
  type: "label";
  label: RoughnessLabel;
}
export interface StatsEvent {
  type: "stats";
  stamp: Stamp;
  stats: PipelineStats;
}
export interface ProblemEvent {
  type: "problem";
  problem: Problem;
}
export interface DoneEvent {
  type: "done";
  summary: PipelineSummary;
}
export type PipelineEvent = PredictionEvent | LabelEvent | StatsEvent | ProblemEvent | DoneEvent;

export interface PipelineStats {
  /** Sensor time of the last input (s). */
  stamp: Stamp;
  /** Sensor seconds since the first input. */
  sensorSeconds: number;
  framesIn: number;
  framesProcessed: number;
  /** Live mode: frames replaced by a newer one while a frame was processed. */
  framesDropped: number;
  keyframes: number;
  labels: number;
  samples: number;
  /** Feature rows (cells) given to the learner. */
  rows: number;
  /** Of those, far keyframe cells taught by near views (`association.near_teacher_weight`). */
  taughtRows: number;
  trainSteps: number;
  lastLoss: number;
  backend: string;
  bufferSize: number;
  problems: Record<string, number>;
  /** The SelfSupervisor's own counters. */
  supervisor: unknown;
  /** Mean wall-clock milliseconds per processed frame (backbone + head + outputs). */
  frameMs: number;
  /**
   * Of frameMs, the mean wait for the frame's features (the backbone): with the backbone worker and
   * read-ahead this is only what the overlap with the other work did not hide.
   */
  featureWaitMs: number;
  /**
   * Frames the backbone worker held when it died, computed again on the pipeline's thread (0 unless
   * problems.backboneWorker).
   */
  framesRecomputed: number;
  /** Sensor faults the pipeline sees across streams (bad samples by reason are in `supervisor`). */
  diagnostics: PipelineDiagnostics;
  /** Fleet sharing counters (docs/fleet.md), when a sample source reports them. */
  fleet?: Record<string, unknown>;
}

export interface PipelineDiagnostics {
  /** Silences of the camera longer than CAMERA_GAP_S between consecutive frames. */
  cameraGaps: number;
  /** Longest time between consecutive frames (s). */
  longestCameraGap: number;
  /** Frames whose stamp is not after the previous frame's. */
  framesBackwards: number;
  /** Odometry steps too long for the reported speed (relocalisation, odometry reset). */
  odomJumps: number;
}

export interface PipelineSummary extends PipelineStats {
  eval: EvalSummary | undefined;
  wallSeconds: number;
  realtimeFactor: number;
}
