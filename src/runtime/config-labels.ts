// Config sections of self-supervision: `labeler` (vibration labels) and `association` (what they teach).

import { z } from "zod";

const positive = () => z.number().positive();

export const LabellerSchema = z
  .strictObject({
    /** Ground step per label (m). */
    step_length: positive().default(0.25).meta({ unit: "m", description: "ground step per label" }),
    /** Band for vertical-acceleration power (Hz). */
    band_low: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "Hz", description: "low edge of the vertical-acceleration band" }),
    band_high: positive().default(30).meta({ unit: "Hz", description: "high edge of that band" }),
    /** Weight of roll/pitch-rate energy relative to vertical band power. */
    angular_weight: z
      .number()
      .nonnegative()
      .default(0.5)
      .meta({ unit: "1", description: "weight of roll/pitch-rate energy vs vertical band power" }),
    /**
     * Speed normalisation: energy / (speed / reference_speed)^speed_exponent. 2.85 is the
     * least-squares fit on the BorealTC Husky runs (same terrain at ~0.23 and 0.4–0.6 m/s; see
     * tests/core-borealtc.test.ts).
     */
    speed_exponent: z
      .number()
      .nonnegative()
      .default(2.85)
      .meta({ unit: "1", description: "energy / (speed / reference_speed)^speed_exponent" }),
    reference_speed: positive()
      .default(1)
      .meta({ unit: "m/s", description: "speed at which energy is not rescaled" }),
    min_speed: z
      .number()
      .nonnegative()
      .default(0.1)
      .meta({ unit: "m/s", description: "no label below this speed ..." }),
    max_yaw_rate: positive()
      .default(0.8)
      .meta({ unit: "rad/s", description: "... or while turning faster than this" }),
    min_samples: z
      .number()
      .int()
      .positive()
      .default(16)
      .meta({ unit: "samples", description: "IMU samples a step needs" }),
    /**
     * Minimum analysis window (s) centred on each step: a 0.25 m step at 1 m/s is 0.25 s of IMU,
     * too little for a stable band power; labels then wait window_seconds/2 for the data after.
     */
    window_seconds: z
      .number()
      .nonnegative()
      .default(1.5)
      .meta({ unit: "s", description: "least IMU window analysed around each step" }),
    /** Welch segment length (s), rounded to a power of two of samples at the IMU rate. */
    segment_seconds: positive().default(0.32).meta({ unit: "s", description: "Welch segment length" }),
    /** Time constant (s) of the running mean of acceleration that estimates "up" without TF. */
    gravity_time_constant: positive()
      .default(2)
      .meta({ unit: "s", description: "running mean estimating up when TF has no IMU mounting" }),
    /** A gap between IMU samples longer than this (s) voids the step; 0 = max(0.1 s, 5 samples). */
    max_gap: z.number().nonnegative().default(0).meta({
      unit: "s",
      description: "an IMU gap longer than this voids the step (0: max(0.1 s, 5 samples))",
    }),
    /** How normalised energy maps to 0..1: fixed bounds on log-energy, or running percentiles. */
    calibration: z
      .strictObject({
        mode: z
          .enum(["fixed", "percentile"])
          .default("percentile")
          .meta({ description: "fixed bounds on log10(energy), or running percentiles" }),
        /**
         * Fixed bounds on log10(energy): roughness 0.05 at `low`, 0.95 at `high`, order-keeping tails
         * towards 0 and 1 beyond (also used during warmup).
         */
        low: z
          .number()
          .default(-1.5)
          .meta({ unit: "log10", description: "fixed: log10(energy) mapped to roughness 0.05 ..." }),
        high: z
          .number()
          .default(1.5)
          .meta({ unit: "log10", description: "... and to 0.95 (also used during warmup)" }),
        low_percentile: z
          .number()
          .min(0)
          .max(100)
          .default(5)
          .meta({ unit: "%", description: "percentile: energy percentile mapped to 0.05 ..." }),
        high_percentile: z
          .number()
          .min(0)
          .max(100)
          .default(95)
          .meta({ unit: "%", description: "... and to 0.95" }),
        /** Labels before percentiles are trusted. */
        warmup: z
          .number()
          .int()
          .nonnegative()
          .default(30)
          .meta({ unit: "labels", description: "labels before percentiles are trusted" }),
        /**
         * The labels' scale between the bounds: 0 linear in log10(energy); γ > 0 linear in
         * energy^γ (0.5: rms vibration). A log scale squeezes the rough end (gravel, cobbles and
         * mud a few hundredths apart); 0.25 keeps both ends apart (docs/calibration.md).
         */
        exponent: z.number().min(0).max(1).default(0.25).meta({
          unit: "1",
          description: "labels linear in energy^exponent between the bounds (0: in log10 energy)",
        }),
      })
      // Bounds that are not ordered give every label roughness 0.5 (calibrateLogEnergy has no
      // range to map onto): refused here rather than training on a constant.
      .superRefine((c, ctx) => {
        if (!(c.high > c.low))
          ctx.addIssue({
            code: "custom",
            path: ["high"],
            message: `must be above labeler.calibration.low (${c.low} to ${c.high} is no range: every label would be 0.5)`,
          });
        if (!(c.high_percentile > c.low_percentile))
          ctx.addIssue({
            code: "custom",
            path: ["high_percentile"],
            message: `must be above labeler.calibration.low_percentile (${c.low_percentile} to ${c.high_percentile} is no range: every label after warmup would be 0.5)`,
          });
      })
      .prefault({}),
  })
  // Checked here, with the config's other errors, rather than when the labeller is built: by then
  // worker threads are running, and the error would come after seconds of start-up.
  .superRefine((l, ctx) => {
    if (!(l.band_high > l.band_low))
      ctx.addIssue({
        code: "custom",
        path: ["band_high"],
        message: `must be above labeler.band_low (band [${l.band_low}, ${l.band_high}] Hz is empty)`,
      });
  })
  .prefault({});

export const AssociationSchema = z
  .strictObject({
    /** A keyframe teaches about a footprint it saw from this far ahead (m). */
    min_distance: z
      .number()
      .nonnegative()
      .default(1)
      .meta({ unit: "m", description: "a keyframe teaches about ground it saw from this far ..." }),
    max_distance: positive().default(8).meta({ unit: "m", description: "... up to this far" }),
    /** Footprint width (m): the robot's track width. */
    robot_width: positive().default(0.6).meta({ unit: "m", description: "footprint width: the track width" }),
    /** Feature-grid cells covered less than this fraction are not part of a sample. */
    min_cell_coverage: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .meta({ unit: "1", description: "feature cells covered less than this fraction are not used" }),
    /** A footprint whose projection covers less than this share of its area in the image is skipped. */
    min_visible_fraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .meta({ unit: "1", description: "footprints less visible than this in the image are skipped" }),
    /**
     * Far views taught by near ones: keyframe cells 4–8 m away learn what the model predicted for the
     * same ground from 1–3 m, at this weight times the near views' confidence (labels: their coverage,
     * up to 1). Vibration labels alone teach mostly near views (src/core/near-view-teacher.ts). 0: off.
     */
    near_teacher_weight: z.number().min(0).default(0).meta({
      unit: "1",
      description: "weight of far keyframe cells taught the near views' prediction of their ground (0: off)",
    }),
  })
  .prefault({});
