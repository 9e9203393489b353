// SelfSupervisor: the one facade the pipeline (replay and live) uses from the core.
//
// API (stable; the pipeline codes against these names):
//
//   const sup = new SelfSupervisor<FeatureMap>(config);   // config: { frames, fusion, keyframes, labeller, association }
//   sup.onImu(sample) / sup.onImuRaw(stamp, ax, ay, az, wx, wy, wz, frameId?)   — IMU (hot path: raw form)
//   sup.onOdom(sample)                       — odometry (odom ← base_link), drives distance and poses
//   sup.onTransforms(transforms)             — /tf and /tf_static (mount extrinsics: base_link ← camera, ← imu)
//   sup.onCameraInfo(model)                  — intrinsics (plumb_bob, …)
//   sup.wantsKeyframe(stamp) → boolean       — call once per camera frame; true: extract features and add it
//   sup.addKeyframe(stamp, grid, data) → id | null   — null when no pose covers the stamp
//   sup.drain() → { labels, samples }        — labels made since the last call + TrainingSamples
//   sup.flush() → { labels, samples }        — drain() plus the last steps (end of a bag / shutdown)
//   sup.keyframeData(id) → T | undefined     — the payload of a live keyframe
//   sup.projectGridToGround(stamp, grid, outX, outY, pose?) → boolean   — odom position of each cell centre (NaN: sky/behind)
//   sup.groundPlane → GroundPlane            — which ground the projections use (frames.ground / base_height)
//   sup.energyPercentiles() → { p1, p5, …, p99 }   — calibration statistics of the speed-normalised energy
//   sup.calibrationBounds() → { lo, hi, source }     — what label roughness is calibrated with right now
//   sup.stats() → SelfSupervisorStats        — every counter (drops by reason, labels skipped by reason, …)
//
// All inputs are validated: NaN, backwards, duplicate stamps are dropped and counted, never thrown.
// Messages are expected in stamp order per stream (use the fusion operators in ./fusion to merge
// streams with a reorder window); IMU samples wait in a ring buffer until odometry covers them, so
// IMU running ahead of odometry is fine.
//
// Association happens in `drain()`: each new label is projected into every live keyframe that saw
// its footprint from [association.min_distance, association.max_distance] m ahead; keyframes are then
// pruned to the horizon (so a label that comes after its keyframes expired gets no samples, counted
// as `association.noKeyframe`).

import type { FeatureGridSpec } from "./association.ts";
import { CameraMount, stripSlash } from "./camera-mount.ts";
import { type Mat34, quatConjugate, quatNormalize, quatRotate, yawOf } from "./geometry.ts";
import { GridGroundProjector, type GroundPlane } from "./grid-ground-projection.ts";
import { type KeyframeSettings, KeyframeStore } from "./keyframes.ts";
import { type AssociationSettings, LabelAssociator, type TrainingSample } from "./label-association.ts";
import { type LabelEnergyOverride, type LabellerSettings, VibrationLabeller } from "./labeller.ts";
import { emptyPoseAt, PoseHistory } from "./pose-history.ts";
import { assembleStats, newSupervisorCounters, type SelfSupervisorStats } from "./supervisor-stats.ts";
import { TfBuffer } from "./tf-buffer.ts";
import type { CameraModel, ImuSample, OdomSample, Pose2, RoughnessLabel, Stamp, Transform } from "./types.ts";

// Re-exported so importers of the supervisor keep finding these types here.
export type { FeatureGridSpec } from "./association.ts";
export { describeGround, type GroundPlane } from "./grid-ground-projection.ts";
export type { TrainingSample } from "./label-association.ts";
export type { AssociationSkip, SelfSupervisorStats } from "./supervisor-stats.ts";

/** The config sections the core reads (structurally compatible with src/runtime/config.ts). */
export interface SelfSupervisorConfig {
  /**
   * `ground`: the frame whose z = 0 is the ground when TF connects it to `base` (REP-105's
   * base_footprint); `base_height`: the base's height above the ground, winning over TF. Neither:
   * the ground is z = 0 of `base`.
   */
  frames: { odom: string; base: string; ground?: string; base_height?: number | null };
  fusion: { reorder_window: number; pose_history: number };
  keyframes: KeyframeSettings;
  labeler: LabellerSettings;
  association: AssociationSettings;
  /** Diagnostic: label energies from elsewhere (VibrationLabeller's `energyOf`). */
  labelEnergy?: LabelEnergyOverride;
}

/**
 * The camera as it was when a keyframe was taken: a camera mount or CameraInfo that changes later
 * (a re-published /tf_static, a recalibration) must not move the cells of what it already saw.
 */
export interface KeyframeMount {
  camera: CameraModel;
  groundFromOptical: Mat34;
}

interface KeyframeRecord<T> {
  data: T;
  grid: FeatureGridSpec;
  /** Planar pose once odometry covers the stamp. */
  pose: Pose2 | null;
  mount: KeyframeMount;
}

/** How far past the newest odometry a keyframe stamp may be (odometry usually lags the camera). */
const KEYFRAME_POSE_SLACK = 1.0;
/** Bound on the odometry held ahead (onOdomAhead): far more than a reorder window's worth. */
const AHEAD_MAX = 1024;

export class SelfSupervisor<T> {
  private readonly cfg: SelfSupervisorConfig;
  private readonly poses: PoseHistory;
  /** Id of the last keyframe takeKeyframesPassed returned. */
  private passedCursor = 0;
  private readonly tf = new TfBuffer();
  private readonly labeller: VibrationLabeller;
  private readonly keyframes: KeyframeStore<KeyframeRecord<T>>;
  private readonly associator: LabelAssociator;
  private readonly projector = new GridGroundProjector();
  private readonly mount: CameraMount;
  private imuFrame = "";
  private imuFrameRaw = "";
  private tfVersionSeen = -1;
  private treeVersionSeen = -1;
  /** The IMU frame's orientation in the base came from TF. */
  private imuAxisFromTf = false;
  private readonly poseScratch = emptyPoseAt();
  /** Odometry fusion holds but has not released yet, in stamp order (onOdomAhead). */
  private readonly ahead: { stamp: Stamp; x: number; y: number; yaw: number }[] = [];
  private readonly counters = newSupervisorCounters();

  constructor(config: SelfSupervisorConfig) {
    this.cfg = config;
    this.poses = new PoseHistory({ maxAge: config.fusion.pose_history });
    this.labeller = new VibrationLabeller(config.labeler, this.poses, {
      robotWidth: config.association.robot_width,
      frameId: config.frames.odom,
      energyOf: config.labelEnergy,
    });
    this.keyframes = new KeyframeStore(config.keyframes);
    this.associator = new LabelAssociator(config.association, this.counters.assocSkipped);
    this.mount = new CameraMount(config.frames, this.tf);
  }

  // -------------------------------------------------------------------------------------------
  // Inputs

  onImu(s: ImuSample): void {
    if (s.frameId !== this.imuFrameRaw) {
      this.imuFrameRaw = s.frameId;
      this.imuFrame = stripSlash(s.frameId);
      this.refreshExtrinsics();
    }
    const a = s.linearAcceleration;
    const w = s.angularVelocity;
    this.labeller.pushImu(s.stamp, a.x, a.y, a.z, w.x, w.y, w.z);
  }

  /** Allocation-free IMU input (serial adapters, benchmarks). */
  onImuRaw(
    stamp: Stamp,
    ax: number,
    ay: number,
    az: number,
    wx: number,
    wy: number,
    wz: number,
    frameId?: string,
  ): void {
    if (frameId !== undefined && frameId !== this.imuFrameRaw) {
      this.imuFrameRaw = frameId;
      this.imuFrame = stripSlash(frameId);
      this.refreshExtrinsics();
    }
    this.labeller.pushImu(stamp, ax, ay, az, wx, wy, wz);
  }

  onOdom(s: OdomSample): void {
    const ahead = this.ahead;
    while (ahead.length > 0 && ahead[0]!.stamp <= s.stamp) ahead.shift();
    const why = this.poses.push(s);
    if (why) {
      this.counters.odomDropped[why]++;
      return;
    }
    this.counters.odomAccepted++;
  }

  /**
   * Odometry that fusion has taken but not released yet (it still waits for older messages): only
   * for framePose, which may interpolate towards it. onOdom takes it when it is released.
   */
  onOdomAhead(s: OdomSample): void {
    const p = s.pose.position;
    const yaw = yawOf(quatNormalize(s.pose.orientation));
    if (!Number.isFinite(s.stamp) || !Number.isFinite(p.x) || !Number.isFinite(p.y) || !Number.isFinite(yaw))
      return;
    const a = this.ahead;
    if (a.length >= AHEAD_MAX) a.shift();
    let i = a.length;
    while (i > 0 && a[i - 1]!.stamp > s.stamp) i--;
    a.splice(i, 0, { stamp: s.stamp, x: p.x, y: p.y, yaw });
  }

  onTransforms(ts: readonly Transform[]): void {
    const rejected = this.tf.add(ts);
    this.counters.tfDropped += rejected;
    this.counters.tfAccepted += ts.length - rejected;
    if (this.tf.staticVersion !== this.tfVersionSeen) this.refreshExtrinsics();
    else if (this.tf.treeVersion !== this.treeVersionSeen && this.extrinsicsMissing()) {
      // A mount sent on /tf (ROS 1's static_transform_publisher, robot_state_publisher's moving
      // joints) may come after CameraInfo or the IMU: look again when the tree grows.
      this.refreshExtrinsics();
    } else if (this.mount.groundPending && mentions(ts, this.cfg.frames.ground!)) this.mount.refreshGround();
  }

  /** The camera or the IMU is known but TF has not linked it to the base yet. */
  private extrinsicsMissing(): boolean {
    const imuUnlinked = this.imuFrame !== "" && this.imuFrame !== this.cfg.frames.base && !this.imuAxisFromTf;
    return this.mount.unlinked || imuUnlinked;
  }

  onCameraInfo(c: CameraModel): void {
    const K = c.K;
    const ok =
      c.width > 0 &&
      c.height > 0 &&
      K.length >= 9 &&
      K.every(Number.isFinite) &&
      c.D.every(Number.isFinite) &&
      K[0]! > 0 &&
      K[4]! > 0;
    if (!ok) {
      this.counters.camDropped++;
      return;
    }
    this.counters.camAccepted++;
    if (this.mount.receive(c)) this.refreshExtrinsics();
  }

  /**
   * The size of the images the camera model must describe (each frame's, before it is projected):
   * CameraInfo for another size is scaled to it, or unusable if the image is not a resize of it.
   */
  fitImage(width: number, height: number): void {
    if (this.mount.fitImage(width, height)) this.refreshExtrinsics();
  }

  /** Recomputes what depends on static TF: the camera pose on the ground and the IMU's vertical axis. */
  private refreshExtrinsics(): void {
    const base = this.cfg.frames.base;
    this.tfVersionSeen = this.tf.staticVersion;
    this.treeVersionSeen = this.tf.treeVersion;
    this.mount.refresh();
    if (this.imuFrame) {
      const t = this.imuFrame === base ? null : this.tf.lookup(base, this.imuFrame);
      this.imuAxisFromTf = t !== null;
      if (t) this.labeller.setVerticalAxis(quatRotate(quatConjugate(t.rotation), { x: 0, y: 0, z: 1 }));
      else if (this.imuFrame === base) this.labeller.setVerticalAxis({ x: 0, y: 0, z: 1 });
      else this.labeller.setVerticalAxis(null);
    }
  }

  /**
   * The stamps went back (a bag of two recordings, a simulation reset): forgets everything kept by
   * stamp (odometry, IMU and steps in progress, keyframes, dynamic TF history) so nothing from
   * before is associated with what comes after. The camera, its mount and the label calibration
   * describe the robot and stay. Take the labels first (flush()): those not taken are dropped.
   */
  restartTime(): void {
    this.poses.clear();
    this.labeller.restart();
    this.keyframes.clear();
    this.tf.restartDynamic();
  }

  // -------------------------------------------------------------------------------------------
  // Keyframes

  /** Camera model, extrinsics and a pose near `stamp` are all known. */
  private canUseFrame(stamp: Stamp): boolean {
    return (
      this.mount.camera !== null &&
      this.mount.groundFromOptical !== null &&
      this.poses.size > 0 &&
      this.poses.covers(stamp, KEYFRAME_POSE_SLACK)
    );
  }

  wantsKeyframe(stamp: Stamp): boolean {
    if (!this.canUseFrame(stamp)) return false;
    const d = this.poses.covers(stamp) ? this.poses.distanceAt(stamp) : this.poses.latestDistance;
    return this.keyframes.offer(stamp, d);
  }

  addKeyframe(stamp: Stamp, grid: FeatureGridSpec, data: T): number | null {
    if (!this.canUseFrame(stamp)) {
      this.counters.kfNoPose++;
      return null;
    }
    const d = this.poses.covers(stamp) ? this.poses.distanceAt(stamp) : this.poses.latestDistance;
    const mount = { camera: this.mount.camera!, groundFromOptical: this.mount.groundFromOptical! };
    const rec: KeyframeRecord<T> = { data, grid, pose: null, mount };
    this.resolvePose(stamp, rec);
    return this.keyframes.add(stamp, d, rec);
  }

  keyframeData(id: number): T | undefined {
    return this.keyframes.get(id)?.data.data;
  }

  /**
   * The robot's pose for a camera frame at `stamp` (its prediction's ground positions, the costmap):
   * interpolated in the odometry history like a keyframe's; for a frame newer than the history's last
   * pose, interpolated between that pose and the next odometry fusion already holds (onOdomAhead).
   * Replay holds it always (its reorder window is longer than an odometry period), so nothing waits:
   * holding the frame until that odometry is released instead would let the labels and training of
   * the instants after the frame reach its prediction. Live, where a frame is never held, the next
   * odometry may not have come yet: then the last pose (at most one odometry period old), never an
   * extrapolation, whose velocity noise would shift the whole costmap. Null without odometry near.
   */
  framePose(stamp: Stamp): Pose2 | null {
    const p = this.poseScratch;
    if (!this.poses.interpolate(stamp, p, KEYFRAME_POSE_SLACK)) return null;
    const last = this.poses.latestStamp;
    if (stamp > last) {
      for (const n of this.ahead) {
        if (n.stamp <= stamp) continue;
        if (n.stamp - last > KEYFRAME_POSE_SLACK) break;
        const u = (stamp - last) / (n.stamp - last);
        const dyaw = n.yaw - p.yaw;
        return {
          x: p.x + u * (n.x - p.x),
          y: p.y + u * (n.y - p.y),
          yaw: p.yaw + u * (dyaw - 2 * Math.PI * Math.round(dyaw / (2 * Math.PI))),
        };
      }
    }
    return { x: p.x, y: p.y, yaw: p.yaw };
  }

  /** The odometry pose at `stamp` (null when odometry does not cover it). */
  poseAt(stamp: Stamp): Pose2 | null {
    const p = this.poseScratch;
    if (!this.poses.interpolate(stamp, p, KEYFRAME_POSE_SLACK)) return null;
    return { x: p.x, y: p.y, yaw: p.yaw };
  }

  /**
   * Keyframes the robot has since driven at least `distance` m past, each returned once, oldest
   * first (with their pose); keyframes pruned before that are never returned.
   */
  takeKeyframesPassed(
    distance: number,
  ): { stamp: Stamp; pose: Pose2; grid: FeatureGridSpec; data: T; mount: KeyframeMount }[] {
    if (this.poses.size === 0) return [];
    const limit = this.poses.latestDistance - distance;
    const out: { stamp: Stamp; pose: Pose2; grid: FeatureGridSpec; data: T; mount: KeyframeMount }[] = [];
    for (const f of this.keyframes.all()) {
      if (f.distance > limit) break;
      if (f.id <= this.passedCursor) continue;
      this.passedCursor = f.id;
      this.resolvePose(f.stamp, f.data);
      const r = f.data;
      if (r.pose) out.push({ stamp: f.stamp, pose: r.pose, grid: r.grid, data: r.data, mount: r.mount });
    }
    return out;
  }

  private resolvePose(stamp: Stamp, rec: KeyframeRecord<T>): void {
    if (rec.pose || !this.poses.covers(stamp)) return;
    const p = this.poseScratch;
    this.poses.interpolate(stamp, p);
    rec.pose = { x: p.x, y: p.y, yaw: p.yaw };
  }

  // -------------------------------------------------------------------------------------------
  // Labels and samples

  drain(): { labels: RoughnessLabel[]; samples: TrainingSample[] } {
    this.labeller.process();
    return this.collect();
  }

  /**
   * Like drain(), and also labels the last steps whose analysis window runs past the end of the
   * data (call once at the end of a bag or before shutting down).
   */
  flush(): { labels: RoughnessLabel[]; samples: TrainingSample[] } {
    this.labeller.finish();
    return this.collect();
  }

  private collect(): { labels: RoughnessLabel[]; samples: TrainingSample[] } {
    const labels = this.labeller.takeLabels();
    const samples: TrainingSample[] = [];
    const frames = this.keyframes.all();
    for (const f of frames) this.resolvePose(f.stamp, f.data);
    for (const label of labels) {
      const before = samples.length;
      for (const f of frames) {
        if (f.stamp > label.t1) break;
        const m = f.data.mount;
        this.associator.associate(label, f.id, f.data, m.camera, m.groundFromOptical, samples);
      }
      if (samples.length === before) this.counters.noKeyframe++;
    }
    this.counters.samples += samples.length;
    if (this.poses.size > 0) this.keyframes.prune(this.poses.latestStamp, this.poses.latestDistance);
    return { labels, samples };
  }

  /**
   * Ground (odom) position of every grid cell centre for a frame at `stamp` (row-major; NaN where
   * the ray does not reach the ground: above the horizon). `pose` overrides the odometry pose
   * (e.g. the true pose, for evaluation); `mount` the camera (a keyframe's, as it was taken).
   * Returns false when the pose, camera or extrinsics are unknown (outputs untouched).
   */
  projectGridToGround(
    stamp: Stamp,
    grid: FeatureGridSpec,
    outX: Float64Array,
    outY: Float64Array,
    pose?: Pose2,
    maxRange = Number.POSITIVE_INFINITY,
    mount?: KeyframeMount,
  ): boolean {
    const camera = mount ? mount.camera : this.mount.camera;
    const groundFromOptical = mount ? mount.groundFromOptical : this.mount.groundFromOptical;
    if (!camera || !groundFromOptical) return false;
    let p = pose;
    if (!p) {
      if (!this.poses.interpolate(stamp, this.poseScratch, KEYFRAME_POSE_SLACK)) return false;
      p = { x: this.poseScratch.x, y: this.poseScratch.y, yaw: this.poseScratch.yaw };
    }
    this.projector.project(camera, groundFromOptical, p, grid, outX, outY, maxRange);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Introspection

  /** Percentiles of the speed-normalised energy over the labels so far (for `calibration`). */
  energyPercentiles(ps?: readonly number[]): Record<string, number> {
    return this.labeller.energyPercentiles(ps);
  }

  /** Current bounds on log10(energy) behind label roughness (see VibrationLabeller.calibrationBounds). */
  calibrationBounds(): { lo: number; hi: number; source: "fixed" | "warmup" | "percentile" } {
    return this.labeller.calibrationBounds();
  }

  /** The pose history (read-only use: interpolation for outputs and evaluation). */
  get poseHistory(): PoseHistory {
    return this.poses;
  }

  /** The TF buffer (read-only use). */
  get transforms(): TfBuffer {
    return this.tf;
  }

  get cameraModel(): CameraModel | null {
    return this.mount.camera;
  }

  /** Which ground plane the projections and the association use (changes only with TF). */
  get groundPlane(): GroundPlane {
    return this.mount.plane;
  }

  stats(): SelfSupervisorStats {
    return assembleStats(
      this.labeller.stats(),
      this.counters,
      this.keyframes,
      this.mount.groundFromOptical !== null,
      this.mount.camera !== null,
      this.mount.plane,
      this.mount.mismatch,
    );
  }
}

/** A transform of the batch has `frame` as its parent or child. */
function mentions(ts: readonly Transform[], frame: string): boolean {
  for (const t of ts) if (t.child === frame || t.parent === frame) return true;
  return false;
}
