// World file format (YAML or JSON), validated with zod. Unknown keys are errors that name the key:
// a typo in a world file must not silently fall back to a default.

import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { readErrorText } from "../src/core/read-error.ts";
import { BUILTIN_TERRAINS, builtinTerrain } from "./terrains.ts";

const rgb = z.tuple([z.number().min(0).max(255), z.number().min(0).max(255), z.number().min(0).max(255)]);

export const LayerSchema = z.strictObject({
  kind: z.enum(["fbm", "cells", "stripes", "speckle", "blades", "ripples", "strokes"]),
  scale: z.number().positive(),
  weight: z.number(),
  octaves: z.number().int().min(1).max(8).optional(),
  gain: z.number().positive().max(1).optional(),
  jitter: z.number().min(0).max(1).optional(),
  mortar: z.number().min(0).max(0.5).optional(),
  density: z.number().min(0).max(1).optional(),
  angle: z.number().optional(),
  sharpness: z.number().min(1).optional(),
  aspect: z.number().min(1).optional(),
});

export const AppearanceSchema = z.strictObject({
  palette: z.array(rgb).min(2).max(8),
  layers: z.array(LayerSchema).min(1),
  texel: z.number().min(0.0005).max(0.05),
  bias: z.number().optional(),
});

export const VibrationSchema = z.strictObject({
  /** CSV files (header t, ax, ay, az[, gx, gy, gz][, speed]), paths relative to the world file. */
  recordings: z.array(z.string().min(1)).min(1),
  /** The recording's "up" (gravity reaction at rest) in its own sensor frame. */
  up: z
    .tuple([z.number(), z.number(), z.number()])
    .default([0, 0, 1])
    .refine((u) => Math.hypot(u[0], u[1], u[2]) > 1e-6, { message: "`up` must not be the zero vector" }),
  /** Speed (m/s) the recordings were driven at, for files without a `speed` column. */
  speed: z.number().positive().optional(),
});

export const TerrainEntrySchema = z
  .strictObject({
    /** Built-in type to start from (see `terrain-learner sim --list-terrains`). */
    type: z.string().optional(),
    /** Name in this world; defaults to `type`. Must be unique. */
    name: z.string().min(1).optional(),
    roughness: z.number().min(0).max(1).optional(),
    /** false: the route never drives on it (camera-only terrain, for confidence evaluation). */
    driven: z.boolean().default(true),
    /** Relative share of patches. */
    weight: z.number().positive().default(1),
    /** Replaces the built-in appearance (all fields required when there is no `type`). */
    appearance: AppearanceSchema.optional(),
    /**
     * Photographs of the ground (paths relative to the world file), mapped onto the ground plane
     * instead of the procedural appearance; several are mixed across the terrain's patches.
     */
    photos: z.array(z.string().min(1)).min(1).optional(),
    /** Metres of ground one photo covers (both sides: a non-square photo is stretched to a square). */
    photoSize: z.number().min(0.05).max(100).optional(),
    /** Recorded IMU vibration for this terrain instead of the synthetic model (see docs/worlds.md). */
    vibration: VibrationSchema.optional(),
  })
  .refine(
    (t) =>
      t.type !== undefined ||
      (t.name !== undefined &&
        t.roughness !== undefined &&
        (t.appearance !== undefined || t.photos !== undefined)),
    {
      message: "a terrain without `type` needs `name`, `roughness` and `appearance` or `photos`",
    },
  )
  .refine((t) => !(t.appearance !== undefined && t.photos !== undefined), {
    message: "give either `appearance` or `photos`, not both",
  })
  .refine((t) => t.photoSize === undefined || t.photos !== undefined, {
    message: "`photoSize` needs `photos`",
  });

const xy = z.tuple([z.number(), z.number()]);

const WorldFileFields = z.strictObject({
  name: z.string().default("world"),
  description: z.string().optional(),
  /** Drivable area in the odom frame (m). The route stays inside it. */
  bounds: z
    .strictObject({
      xMin: z.number().default(-40),
      xMax: z.number().default(40),
      yMin: z.number().default(-40),
      yMax: z.number().default(40),
    })
    .prefault({})
    .refine((b) => b.xMax - b.xMin >= 10 && b.yMax - b.yMin >= 10, {
      message: "bounds must be at least 10 m × 10 m",
    }),
  // The ground-truth terrain grid is an OccupancyGrid (int8): index 128 on would wrap negative.
  terrains: z
    .array(TerrainEntrySchema)
    .min(1)
    .max(127, { message: "at most 127 terrains (the ground-truth terrain grid holds an int8 index)" }),
  layout: z
    .strictObject({
      kind: z.enum(["voronoi", "stripes", "checker"]).default("voronoi"),
      /** Layout seed; when absent the CLI's --seed lays the world out too. */
      seed: z.number().int().optional(),
      /** Mean patch size (voronoi spacing, stripe width, checker square), m. */
      cellSize: z.number().positive().default(14),
      /** Stripe direction (deg from +x) for `stripes`. */
      angle: z.number().default(0),
      /** Amplitude of the boundary wobble, m. */
      warp: z.number().nonnegative().default(2),
      /** Rendered ground beyond the bounds (m); farther away is haze. */
      margin: z.number().nonnegative().default(30),
      /** Resolution of the terrain raster used for rendering and the wheels, m. */
      resolution: z.number().min(0.01).max(0.5).default(0.05),
      /** Explicit Voronoi sites (replace the random ones). */
      patches: z.array(z.strictObject({ x: z.number(), y: z.number(), terrain: z.string() })).optional(),
    })
    .prefault({}),
  /** Self-lit coloured discs painted on the ground (calibration targets; tests use them). */
  markers: z
    .array(
      z.strictObject({
        x: z.number(),
        y: z.number(),
        radius: z.number().positive().max(10),
        color: rgb,
      }),
    )
    .default([]),
  robot: z
    .strictObject({
      width: z.number().positive().default(0.6),
      wheelbase: z.number().positive().default(0.55),
      minSpeed: z.number().positive().default(0.3),
      maxSpeed: z.number().positive().default(2.0),
      maxYawRate: z.number().positive().default(0.9),
      accel: z.number().positive().default(0.6),
      decel: z.number().positive().default(1.2),
    })
    .prefault({})
    // The random route picks speeds in minSpeed..maxSpeed: a minSpeed above maxSpeed drove faster
    // than maxSpeed. The default minSpeed (0.3) is said, since a slow robot may only set maxSpeed.
    .refine((r) => r.minSpeed <= r.maxSpeed, {
      path: ["minSpeed"],
      message:
        "must not be above robot.maxSpeed (the default minSpeed is 0.3 m/s: give both for a slower robot)",
    }),
  route: z
    .strictObject({
      kind: z.enum(["random", "waypoints"]).default("random"),
      /** [x, y] or [x, y, speed]. */
      waypoints: z.array(z.union([xy, z.tuple([z.number(), z.number(), z.number().positive()])])).optional(),
      /** Start pose; default: the drivable point nearest the centre, facing +x. */
      start: z.strictObject({ x: z.number(), y: z.number(), yaw: z.number().default(0) }).optional(),
      /** Probability of a stop when a target is reached, and its duration range (s). */
      stopProbability: z.number().min(0).max(1).default(0.2),
      stopSeconds: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([1.5, 4]),
      /** Keep this far from never-driven terrain and from the bounds (m). */
      clearance: z.number().nonnegative().default(0.6),
    })
    .prefault({}),
  camera: z
    .strictObject({
      width: z.number().int().min(16).max(1920).default(320),
      height: z.number().int().min(16).max(1440).default(240),
      rate: z.number().positive().max(60).default(15),
      hfovDeg: z.number().min(20).max(150).default(80),
      /** camera_link on base_link: position (m; z = height above the ground) and downward pitch (deg). */
      mount: z
        .strictObject({
          x: z.number().default(0.25),
          y: z.number().default(0),
          z: z.number().positive().default(1.0),
          pitchDeg: z.number().min(-10).max(89).default(20),
        })
        .prefault({}),
      /** plumb_bob k1 k2 t1 t2 k3. */
      distortion: z.array(z.number()).length(5).default([-0.06, 0.012, 0.0004, -0.0003, 0]),
      /** Read noise (DN) and shot-noise factor. */
      noise: z.number().nonnegative().default(2.5),
      shotNoise: z.number().nonnegative().default(0.012),
      /** Vignetting strength (0 none, 0.35 = corners 35 % darker). */
      vignetting: z.number().min(0).max(0.9).default(0.3),
      jpegQuality: z.number().int().min(10).max(100).default(85),
      /**
       * Camera shake (deg RMS of pitch at roughness 1 and 1 m/s; roll is 0.6×), growing like the
       * IMU vibration. The TF stays nominal, as on a real robot: association has to live with it.
       */
      shakeDeg: z.number().min(0).max(5).default(0.4),
    })
    .prefault({}),
  imu: z
    .strictObject({
      rate: z.number().positive().max(2000).default(200),
      /** imu_link in base_link: translation (m) and roll/pitch/yaw (deg). */
      xyz: z.tuple([z.number(), z.number(), z.number()]).default([0.1, 0, 0.2]),
      rpyDeg: z.tuple([z.number(), z.number(), z.number()]).default([0, 90, 0]),
      accelNoise: z.number().nonnegative().default(0.03),
      gyroNoise: z.number().nonnegative().default(0.003),
      accelBias: z.number().nonnegative().default(0.05),
      gyroBias: z.number().nonnegative().default(0.004),
      /** Vibration gain: vertical RMS (m/s²) at roughness 1 and 1 m/s. */
      vibration: z.number().nonnegative().default(3.0),
      /** Vibration amplitude grows as speed^speedExponent (power as speed^(2×)). */
      speedExponent: z.number().nonnegative().default(1.35),
    })
    .prefault({}),
  odometry: z
    .strictObject({
      rate: z.number().positive().max(1000).default(50),
      /** Wheel-radius scale error and its random walk per √s. */
      scaleError: z.number().default(0.02),
      yawRateBias: z.number().default(0.004),
      /** Extra slip noise at roughness 1 (fraction of speed). */
      slip: z.number().nonnegative().default(0.06),
    })
    .prefault({}),
  lighting: z
    .strictObject({
      /** Slow exposure swing: amplitude (fraction) and period (s). */
      exposureAmplitude: z.number().min(0).max(0.8).default(0.15),
      exposurePeriod: z.number().positive().default(47),
      /** Moving cloud shadows: depth (0 none .. 0.6) and drift speed (m/s). */
      clouds: z.number().min(0).max(0.8).default(0.3),
      cloudSpeed: z.number().nonnegative().default(1.5),
      /** Per-patch colour jitter (fraction) and within-patch brightness variation (fraction). */
      patchJitter: z.number().min(0).max(0.5).default(0.08),
      shade: z.number().min(0).max(0.5).default(0.12),
      visibility: z.number().positive().default(120),
    })
    .prefault({}),
  groundTruth: z
    .strictObject({
      resolution: z.number().min(0.02).max(2).default(0.1),
      period: z.number().positive().default(10),
      /** Ground-truth grids cover the bounds plus this margin (m). */
      margin: z.number().nonnegative().default(15),
    })
    .prefault({}),
});

export const WorldFileSchema = WorldFileFields.superRefine(checkTerrainNames).superRefine(checkRouteInBounds);

/**
 * The route's start and waypoints lie inside the bounds: beyond them there is no ground truth, and
 * beyond the rendered margin no ground (the camera sees haze, the IMU feels roughness 1).
 */
function checkRouteInBounds(
  w: {
    bounds: { xMin: number; xMax: number; yMin: number; yMax: number };
    route: {
      kind: string;
      start?: { x: number; y: number } | undefined;
      waypoints?: number[][] | undefined;
    };
  },
  ctx: z.RefinementCtx,
): void {
  // Only a waypoint route reads `waypoints`: without `kind: waypoints` the robot drove a random route.
  if (w.route.kind !== "waypoints" && w.route.waypoints !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["route", "waypoints"],
      message: `only a waypoint route reads waypoints (route.kind is ${w.route.kind}): give kind: waypoints`,
    });
  }
  const b = w.bounds;
  const check = (x: number, y: number, path: (string | number)[]) => {
    if (x >= b.xMin && x <= b.xMax && y >= b.yMin && y <= b.yMax) return;
    ctx.addIssue({
      code: "custom",
      path,
      message: `(${x}, ${y}) is outside the bounds (x ${b.xMin}..${b.xMax}, y ${b.yMin}..${b.yMax})`,
    });
  };
  if (w.route.start) check(w.route.start.x, w.route.start.y, ["route", "start"]);
  for (const [i, p] of (w.route.waypoints ?? []).entries()) check(p[0]!, p[1]!, ["route", "waypoints", i]);
}

/**
 * The checks across keys, made when the file is read (not when the world is built) so that they name
 * the file and the key like every other mistake in it: built-in types exist, names are unique,
 * Voronoi patches name a terrain, and the route has a terrain to drive on.
 */
function checkTerrainNames(
  w: { terrains: TerrainEntry[]; layout: { kind: string; patches?: { terrain: string }[] | undefined } },
  ctx: z.RefinementCtx,
): void {
  const names = new Set<string>();
  for (const [i, t] of w.terrains.entries()) {
    if (t.type !== undefined && !builtinTerrain(t.type)) {
      ctx.addIssue({
        code: "custom",
        path: ["terrains", i, "type"],
        message: `unknown terrain type '${t.type}' (built-in: ${BUILTIN_TERRAINS.map((b) => b.name).join(", ")})`,
      });
    }
    const name = t.name ?? t.type;
    if (name === undefined) continue;
    if (names.has(name)) {
      ctx.addIssue({
        code: "custom",
        path: ["terrains", i, "name"],
        message: `duplicate terrain name '${name}'`,
      });
    }
    names.add(name);
  }
  if (!w.terrains.some((t) => t.driven)) {
    ctx.addIssue({ code: "custom", path: ["terrains"], message: "at least one terrain must be driven" });
  }
  // Only a Voronoi layout reads `patches`: given with another kind they would be ignored.
  if (w.layout.kind !== "voronoi") {
    if (w.layout.patches !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["layout", "patches"],
        message: `only a voronoi layout reads patches (layout.kind is ${w.layout.kind})`,
      });
    }
    return;
  }
  for (const [i, p] of (w.layout.patches ?? []).entries()) {
    if (!names.has(p.terrain)) {
      ctx.addIssue({
        code: "custom",
        path: ["layout", "patches", i, "terrain"],
        message: `no terrain named '${p.terrain}' in terrains`,
      });
    }
  }
}

export type WorldFile = z.infer<typeof WorldFileSchema>;
export type TerrainEntry = z.infer<typeof TerrainEntrySchema>;
export type VibrationEntry = z.infer<typeof VibrationSchema>;

/** Photo and recording paths made absolute against `baseDir` (the world file's folder). */
export function resolveAssetPaths(file: WorldFile, baseDir: string): WorldFile {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  if (!file.terrains.some((t) => t.photos || t.vibration)) return file;
  return {
    ...file,
    terrains: file.terrains.map((t) => ({
      ...t,
      ...(t.photos ? { photos: t.photos.map(abs) } : {}),
      ...(t.vibration ? { vibration: { ...t.vibration, recordings: t.vibration.recordings.map(abs) } } : {}),
    })),
  };
}

/** The keys the schema knows for the object at `path` (the keys a misspelt key was meant to be). */
function knownKeys(path: readonly PropertyKey[]): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: walks zod's internal definitions.
  let schema: any = WorldFileFields;
  const unwrap = () => {
    while (["default", "prefault", "optional", "nullable"].includes(schema?._zod?.def?.type))
      schema = schema._zod.def.innerType;
  };
  for (const step of path) {
    unwrap();
    const def = schema?._zod?.def;
    if (def?.type === "array" && typeof step === "number") schema = def.element;
    else if (def?.type === "object" && typeof step === "string") schema = def.shape[step];
    else return [];
  }
  unwrap();
  return schema?._zod?.def?.type === "object" ? Object.keys(schema._zod.def.shape) : [];
}

/** Edits (insert, delete, change, swap two neighbours) taking `a` to `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(
        d[i - 1]![j]! + 1,
        row[j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** A misspelt key: the known key it was meant to be, or the keys there are. */
function unknownKeyMessage(key: string, path: readonly PropertyKey[]): string {
  const known = knownKeys(path);
  const lower = key.toLowerCase();
  // One-letter keys (x, y, z) are all one edit apart: only a case slip or a missing unit suffix
  // (pitch → pitchDeg) is guessed for short keys.
  const prefixed = known.filter((k) => key.length >= 3 && k.toLowerCase().startsWith(lower));
  const near =
    known.find((k) => k.toLowerCase() === lower) ??
    (prefixed.length === 1 ? prefixed[0] : undefined) ??
    known
      .map((k) => ({ k, d: editDistance(k.toLowerCase(), lower) }))
      .filter(({ d }) => key.length >= 3 && d <= (key.length >= 8 ? 2 : 1))
      .sort((a, b) => a.d - b.d)[0]?.k;
  if (near) return `unknown key '${key}': did you mean '${near}'?`;
  return known.length > 0 ? `unknown key '${key}' (known here: ${known.join(", ")})` : `unknown key '${key}'`;
}

function formatIssues(error: z.ZodError, source: string): string {
  const at = (path: readonly PropertyKey[]) => (path.length > 0 ? path.map(String).join(".") : "(top level)");
  // A misspelt key also leaves its object short of that key; the misspelling is what to fix.
  const misspelt = new Set(error.issues.filter((i) => i.code === "unrecognized_keys").map((i) => at(i.path)));
  const lines = error.issues.flatMap((i) => {
    if (i.code === "unrecognized_keys")
      return i.keys.map((k) => `${at(i.path)}: ${unknownKeyMessage(k, i.path)}`);
    if (i.code === "custom" && misspelt.has(at(i.path))) return [];
    if (i.code === "invalid_type" && i.input === undefined) {
      if (misspelt.has(at(i.path.slice(0, -1)))) return [];
      return [`${at(i.path)}: missing (expected ${i.expected})`];
    }
    return [`${at(i.path)}: ${i.message}`];
  });
  return `invalid world ${source}: ${lines.join("; ")}`;
}

/**
 * Validates a parsed world object; throws an Error that names each bad key. Relative photo and
 * recording paths are resolved against `baseDir` (default: the current directory).
 */
export function parseWorld(obj: unknown, source = "object", baseDir = process.cwd()): WorldFile {
  if (obj === null || obj === undefined)
    throw new Error(
      `invalid world ${source}: empty; a world needs at least its terrains (e.g. terrains: [{ type: grass }])`,
    );
  // reportInput: a missing key (input undefined) is told apart from one of the wrong type.
  const r = WorldFileSchema.safeParse(obj, { reportInput: true });
  if (!r.success) throw new Error(formatIssues(r.error, source));
  return resolveAssetPaths(r.data, baseDir);
}

export function parseWorldText(text: string, source = "text", baseDir = process.cwd()): WorldFile {
  let obj: unknown;
  try {
    obj = parseYaml(text);
  } catch (err) {
    // The YAML library's message goes on with an excerpt of the file: its first line says where.
    const first = (err as Error).message.split("\n")[0]?.replace(/:$/, "");
    throw new Error(`cannot parse world ${source}: ${first}`);
  }
  return parseWorld(obj, source, baseDir);
}

export function loadWorldFile(path: string): WorldFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read world file ${path}: ${readErrorText(err)}`);
  }
  return parseWorldText(text, path, dirname(resolve(path)));
}
