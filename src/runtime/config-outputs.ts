// The `outputs` config section: costmap, roughness ahead, speed limit, overlay.

import { z } from "zod";

const positive = () => z.number().positive();

/** Most costmap cells a side: 16 M cells, four float32 accumulators of 64 MB and a 16 MB message. */
export const MAX_COSTMAP_SIDE = 4000;

export const OutputsSchema = z
  .strictObject({
    costmap_resolution: positive()
      .default(0.2)
      .meta({ unit: "m", description: "cell size of ~/roughness/costmap" }),
    costmap_size: positive()
      .default(20)
      .meta({ unit: "m", description: "side of the rolling costmap around the robot" }),
    /** Distance band ahead of the robot summarised as `roughness/ahead` (m). */
    ahead_min: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "m", description: "band ahead of the robot summarised in ~/roughness/ahead, from ..." }),
    ahead_max: positive().default(4).meta({ unit: "m", description: "... to" }),
    /** Speed limit: max_speed at roughness 0, min_speed at roughness 1. */
    max_speed: positive().default(2).meta({ unit: "m/s", description: "~/speed_limit at roughness 0 ..." }),
    min_speed: positive()
      .default(0.3)
      .meta({ unit: "m/s", description: "... at roughness 1, and on ground it cannot judge" }),
    /** How fast the speed limit may rise (drops pass at once); 0: it follows every frame. */
    speed_limit_rise: z.number().nonnegative().default(0.5).meta({
      unit: "m/s^2",
      description: "~/speed_limit rises at most this fast (drops pass at once); 0: follows every frame",
    }),
    /** Cells below this confidence are unknown (-1) in the costmap. */
    min_confidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .meta({ unit: "1", description: "cells less confident than this are unknown (-1) in the costmap" }),
    /**
     * Views of ground farther than this from the robot do not enter the costmap (m); 0: every view
     * within the window. The learner is taught views up to association.max_distance; farther ones
     * are its extrapolations, and a cell's first values came from them (docs/learning.md).
     */
    costmap_max_range: z.number().nonnegative().default(0).meta({
      unit: "m",
      description:
        "views of ground farther than this from the robot do not enter the costmap (0: the whole window)",
    }),
    /** Costmap evidence half-life (s of sensor time): older observations fade. */
    costmap_half_life: positive()
      .default(10)
      .meta({ unit: "s", description: "costmap evidence half-life: older observations fade" }),
    /** Half width of the corridor summarised as `roughness/ahead` (m). */
    ahead_half_width: positive()
      .default(0.5)
      .meta({ unit: "m", description: "half width of the corridor summarised in ~/roughness/ahead" }),
    /** Opacity of the colour layer in the overlay image at confidence 1. */
    overlay_alpha: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .meta({ unit: "1", description: "opacity of ~/roughness/overlay's colour layer at confidence 1" }),
    /**
     * Shrinkage towards what the robot has felt: each cell's roughness is pulled towards the running
     * mean label roughness by prior_weight × (1 − confidence). Ground unlike anything driven on gets
     * an estimate close to the typical ground instead of an extrapolation from texture alone (which
     * can be far off either way); familiar ground keeps its prediction. 0 = off.
     */
    prior_weight: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .meta({ unit: "1", description: "pull of uncertain cells towards the mean label roughness (0: off)" }),
    /** Passes of confidence-weighted 3×3 smoothing over neighbouring ground cells before output (0 = off). */
    smoothing: z.number().int().min(0).max(5).default(2).meta({
      unit: "passes",
      description: "confidence-weighted 3x3 smoothing passes over ground cells (0: off)",
    }),
  })
  // Checked with the config's other errors rather than when the costmap is built (src/outputs/costmap.ts).
  .superRefine((o, ctx) => {
    if (!(o.costmap_size > o.costmap_resolution))
      ctx.addIssue({
        code: "custom",
        path: ["costmap_size"],
        message: `must exceed outputs.costmap_resolution (${o.costmap_size} m ≤ ${o.costmap_resolution} m: no cells)`,
      });
    // Four float arrays of side² cells, rewritten every frame: a resolution typed 10× too fine took
    // all the memory of the machine instead of failing.
    const side = Math.round(o.costmap_size / o.costmap_resolution);
    if (side > MAX_COSTMAP_SIDE)
      ctx.addIssue({
        code: "custom",
        path: ["costmap_size"],
        message: `${o.costmap_size} m at outputs.costmap_resolution ${o.costmap_resolution} m is ${side} cells a side; at most ${MAX_COSTMAP_SIDE} (raise costmap_resolution or lower costmap_size)`,
      });
    // Swapped, rougher ground and ground it cannot judge would get the higher speed.
    if (o.min_speed > o.max_speed)
      ctx.addIssue({
        code: "custom",
        path: ["min_speed"],
        message: `must not exceed outputs.max_speed (${o.min_speed} > ${o.max_speed} m/s: rough and unknown ground would be driven faster than smooth)`,
      });
    // An empty band holds no cell: the speed limit would stay at min_speed for ever.
    if (!(o.ahead_max > o.ahead_min))
      ctx.addIssue({
        code: "custom",
        path: ["ahead_max"],
        message: `must exceed outputs.ahead_min (${o.ahead_max} m ≤ ${o.ahead_min} m: no ground ahead is judged)`,
      });
  })
  .prefault({});
