// Outputs: a perceived frame → what consumers get: the grid, the coloured overlay, the rolling odom
// costmap, the roughness ahead of the robot and the suggested speed limit. Core types only; sinks
// turn them into ROS messages, MQTT JSON or recordings (src/runtime/sinks/).

import type { SelfSupervisor } from "../../core/self-supervisor.ts";
import type { FeatureMap } from "../../learning/backbone.ts";
import { type CostmapOptions, RollingCostmap } from "../../outputs/costmap.ts";
import { renderOverlay } from "../../outputs/images.ts";
import type { FrameOutputs } from "../../outputs/index.ts";
import { roughnessAhead, SpeedLimiter, suggestedSpeed } from "../../outputs/speed.ts";
import type { Config } from "../config.ts";
import type { PerceivedFrame } from "./perception.ts";

export interface OutputOptions {
  /** Build the rgb8 overlay for every frame (costs a pass over the image). */
  overlay: boolean;
  /** Build the costmap snapshot for every frame. */
  costmap: boolean;
}

/** The rolling costmap a config asks for (costmap_max_range 0: views from the whole window). */
export function costmapOptions(config: Config): CostmapOptions {
  const o = config.outputs;
  return {
    frameId: config.frames.odom,
    resolution: o.costmap_resolution,
    size: o.costmap_size,
    halfLife: o.costmap_half_life,
    minConfidence: o.min_confidence,
    ...(o.costmap_max_range > 0 ? { maxRange: o.costmap_max_range } : {}),
  };
}

export class OutputStage {
  readonly #costmap: RollingCostmap;
  // The robot's last known pose (kept when a frame comes before any odometry covers it).
  readonly #pose = { x: 0, y: 0, yaw: 0, known: false };
  #speed: SpeedLimiter;

  constructor(
    private readonly config: Config,
    private readonly supervisor: SelfSupervisor<FeatureMap>,
    private readonly opts: OutputOptions,
  ) {
    this.#costmap = new RollingCostmap(costmapOptions(config));
    this.#speed = new SpeedLimiter(config.outputs.speed_limit_rise);
  }

  /** Forgets the costmap: its cells are the predictions of a model that was just reset. */
  reset(): void {
    this.#costmap.reset();
  }

  /** The stamps went back (a new timeline): the costmap, the pose and the speed limit start afresh. */
  restartTime(): void {
    this.#costmap.reset();
    this.#pose.known = false;
    this.#speed = new SpeedLimiter(this.config.outputs.speed_limit_rise);
  }

  build(p: PerceivedFrame): FrameOutputs {
    const { stamp, grid, xs, ys, grounded, image } = p;
    const o = this.config.outputs;
    // The robot's pose at the frame's stamp, the one its cells were placed with (framePose).
    const pose = this.#pose;
    if (p.pose) {
      pose.x = p.pose.x;
      pose.y = p.pose.y;
      pose.yaw = p.pose.yaw;
      pose.known = true;
    }
    let costmap: FrameOutputs["costmap"];
    if (pose.known && this.opts.costmap) {
      this.#costmap.advance(stamp, pose.x, pose.y);
      if (grounded)
        this.#costmap.integrate(
          grid.rows,
          grid.cols,
          xs,
          ys,
          grid.roughness,
          grid.confidence,
          pose.x,
          pose.y,
        );
      costmap = this.#costmap.snapshot(stamp);
    }
    const ahead = roughnessAhead(xs, ys, grid.roughness, grid.confidence, pose, {
      min: o.ahead_min,
      max: o.ahead_max,
      halfWidth: o.ahead_half_width,
      minConfidence: o.min_confidence,
    });
    const overlay = this.opts.overlay
      ? renderOverlay(image, grid, {
          alpha: o.overlay_alpha,
          minConfidence: o.min_confidence,
          mask: grounded ? p.mask : undefined,
        })
      : undefined;
    return {
      stamp,
      frameId: image.frameId,
      grid,
      overlay,
      costmap,
      // Unknown (NaN) where the speed limit treats it as unknown, for every sink alike: before any
      // label the untrained head's output is not a roughness to report.
      ahead: ahead.confidence > 0 && ahead.confidence >= o.min_confidence ? ahead.roughness : Number.NaN,
      aheadConfidence: ahead.confidence,
      speedLimit: this.#speed.next(stamp, suggestedSpeed(ahead, o)),
      camera: this.supervisor.cameraModel ?? undefined,
    };
  }
}
