// Turns one roughness label and one keyframe into a TrainingSample, or counts why not.

import { type FeatureGridSpec, FootprintProjector } from "./association.ts";
import { type Mat34, mat34, mat34Compose, mat34FromPose2, mat34Invert } from "./geometry.ts";
import type { AssociationSkip } from "./supervisor-stats.ts";
import type { CameraModel, Pose2, RoughnessLabel } from "./types.ts";

export interface TrainingSample {
  /** Id returned by addKeyframe. */
  keyframeId: number;
  /** Feature-grid cell indices (r·cols + c) inside the projected footprint. */
  cells: Int32Array;
  /** Fraction of each cell covered (0..1). */
  cellWeights: Float32Array;
  /** Label value 0..1. */
  roughness: number;
  label: RoughnessLabel;
  /** Metres from the keyframe's camera to the footprint centre. */
  distance: number;
}

/** The `association` config section. */
export interface AssociationSettings {
  min_distance: number;
  max_distance: number;
  robot_width: number;
  min_cell_coverage?: number;
  min_visible_fraction?: number;
}

/** What association needs to know about a keyframe. */
export interface AssociationKeyframe {
  grid: FeatureGridSpec;
  /** Planar pose once odometry covers the stamp. */
  pose: Pose2 | null;
}

export class LabelAssociator {
  private readonly projector: FootprintProjector;
  private readonly m1 = mat34();
  private readonly m2 = mat34();

  constructor(
    private readonly settings: AssociationSettings,
    /** Counted into, by reason, for every pair that yields no sample. */
    private readonly skipped: Record<AssociationSkip, number>,
  ) {
    this.projector = new FootprintProjector({ minCellCoverage: settings.min_cell_coverage ?? 0.1 });
  }

  /**
   * Appends a sample to `out` when keyframe `id` saw the label's footprint ahead, in range and mostly
   * in view. `groundFromOptical`: the camera in the ground-level frame under the base (the ground is
   * its z = 0; grid-ground-projection.ts).
   */
  associate(
    label: RoughnessLabel,
    id: number,
    rec: AssociationKeyframe,
    camera: CameraModel | null,
    groundFromOptical: Mat34 | null,
    out: TrainingSample[],
  ): void {
    const skipped = this.skipped;
    const pose = rec.pose;
    if (!pose || !camera || !groundFromOptical) {
      skipped.keyframe_without_pose++;
      return;
    }
    const a = this.settings;
    const dx = label.x - pose.x;
    const dy = label.y - pose.y;
    const c = Math.cos(pose.yaw);
    const s = Math.sin(pose.yaw);
    const ahead = c * dx + s * dy;
    const range = Math.hypot(dx, dy);
    if (!(ahead > 0) || range < a.min_distance || range > a.max_distance) {
      skipped.out_of_range++;
      return;
    }
    const odomFromOptical = mat34Compose(
      mat34FromPose2(pose.x, pose.y, pose.yaw, this.m1),
      groundFromOptical,
      this.m2,
    );
    const camX = odomFromOptical[3]!,
      camY = odomFromOptical[7]!,
      camZ = odomFromOptical[11]!;
    const opticalFromOdom = mat34Invert(odomFromOptical, this.m1);
    const fp = label.footprint;
    const proj = this.projector.project(camera, opticalFromOdom, fp.xs, fp.ys, rec.grid, 0);
    if (!proj || proj.cells.length === 0) {
      skipped.not_visible++;
      return;
    }
    if (proj.visibleFraction < (a.min_visible_fraction ?? 0.5)) {
      skipped.partly_visible++;
      return;
    }
    out.push({
      keyframeId: id,
      cells: proj.cells,
      cellWeights: proj.weights,
      roughness: label.roughness,
      label,
      distance: Math.hypot(label.x - camX, label.y - camY, camZ),
    });
  }
}
