// Ground truth of a simulator bag, as the evaluation needs it: the roughness and terrain-type maps
// (nav_msgs/OccupancyGrid in `odom`), the TRUE pose of base_link (so odometry drift does not count
// against the learner), and the world description from the MCAP metadata record
// `terrain_learner_sim` (which terrain types the route drives on).

import {
  type Mat34,
  mat34Compose,
  mat34FromQuat,
  mat34FromTransform,
  mat34Identity,
} from "../core/geometry.ts";
import type { Transform } from "../core/types.ts";

export interface GridMap {
  originX: number;
  originY: number;
  /** Rotation of the grid in the fixed frame (rad); simulator grids have 0. */
  yaw: number;
  resolution: number;
  width: number;
  height: number;
  values: Int8Array;
}

type Obj = Record<string, unknown>;

/** nav_msgs/OccupancyGrid message object → GridMap. */
export function gridMapFromRos(msg: unknown): GridMap {
  const m = msg as Obj;
  const info = m.info as Obj;
  const origin = info.origin as Obj;
  const pos = origin.position as Obj;
  const q = origin.orientation as Obj;
  const qz = Number(q.z ?? 0),
    qw = Number(q.w ?? 1),
    qx = Number(q.x ?? 0),
    qy = Number(q.y ?? 0);
  const yaw = Math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz));
  const data = m.data as ArrayLike<number>;
  const values = data instanceof Int8Array ? data : Int8Array.from(data as ArrayLike<number>);
  const width = Number(info.width);
  const height = Number(info.height);
  if (values.length < width * height) {
    throw new Error(`OccupancyGrid: ${values.length} values for ${width}x${height} cells`);
  }
  return {
    originX: Number(pos.x),
    originY: Number(pos.y),
    yaw,
    resolution: Number(info.resolution),
    width,
    height,
    values,
  };
}

/** Index of the grid cell containing (x, y), or -1 outside. */
export function gridIndex(g: GridMap, x: number, y: number): number {
  let dx = x - g.originX;
  let dy = y - g.originY;
  if (g.yaw !== 0) {
    const c = Math.cos(g.yaw),
      s = Math.sin(g.yaw);
    const rx = c * dx + s * dy;
    dy = -s * dx + c * dy;
    dx = rx;
  }
  const cx = Math.floor(dx / g.resolution);
  const cy = Math.floor(dy / g.resolution);
  if (!(cx >= 0 && cy >= 0 && cx < g.width && cy < g.height)) return -1;
  return cy * g.width + cx;
}

export interface TerrainInfo {
  index: number;
  name: string;
  roughness: number;
  /** Whether the route drives on it (from the world file). */
  driven: boolean;
}

/**
 * The world description from the `terrain_learner_sim` metadata record. Reads the fields leniently
 * (terrains / terrainTypes / types; driven / onRoute / route) so small renames in the simulator do not
 * silently disable the confidence metric; returns undefined when no terrain list is found.
 */
export function parseSimWorld(
  metadata: Map<string, string> | Record<string, string> | undefined,
): TerrainInfo[] | undefined {
  if (!metadata) return undefined;
  const get = (k: string) => (metadata instanceof Map ? metadata.get(k) : metadata[k]);
  const text = get("world");
  if (!text) return undefined;
  let world: Obj;
  try {
    world = JSON.parse(text) as Obj;
  } catch {
    return undefined;
  }
  const list = (world.terrains ??
    world.terrainTypes ??
    world.types ??
    (world.terrain as Obj | undefined)?.types) as Obj[] | Record<string, Obj> | undefined;
  if (!list) return undefined;
  const entries: [string | undefined, Obj][] = Array.isArray(list)
    ? list.map((t) => [undefined, t])
    : Object.entries(list).map(([k, t]) => [k, t]);
  return entries.map(([key, t], i) => {
    const drivenRaw = t.driven ?? t.onRoute ?? t.route ?? t.drivenOn ?? t.visited;
    return {
      index: typeof t.index === "number" ? t.index : i,
      name: String(t.name ?? key ?? `terrain${i}`),
      roughness: Number(t.roughness ?? Number.NaN),
      driven: drivenRaw === undefined ? true : Boolean(drivenRaw),
    };
  });
}

/** Interpolated true pose of base_link in the fixed frame, kept as plain growable arrays. */
export class TruePoses {
  #t: number[] = [];
  #x: number[] = [];
  #y: number[] = [];
  #z: number[] = [];
  #q: number[] = [];

  get size(): number {
    return this.#t.length;
  }

  add(
    stamp: number,
    p: { x: number; y: number; z: number },
    q: { x: number; y: number; z: number; w: number },
  ): void {
    const n = this.#t.length;
    if (n && stamp <= this.#t[n - 1]!) return;
    this.#t.push(stamp);
    this.#x.push(p.x);
    this.#y.push(p.y);
    this.#z.push(p.z);
    this.#q.push(q.x, q.y, q.z, q.w);
  }

  /** world ← base_link at `stamp` into `out`; false when outside the recorded span (± 50 ms). */
  at(stamp: number, out: Mat34): boolean {
    const t = this.#t;
    const n = t.length;
    if (n === 0 || stamp < t[0]! - 0.05 || stamp > t[n - 1]! + 0.05) return false;
    let lo = 0,
      hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (t[mid]! <= stamp) lo = mid;
      else hi = mid;
    }
    const span = t[hi]! - t[lo]!;
    let f = span > 0 ? (stamp - t[lo]!) / span : 0;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    const q = this.#q;
    let dot = 0;
    for (let k = 0; k < 4; k++) dot += q[4 * lo + k]! * q[4 * hi + k]!;
    const sign = dot < 0 ? -1 : 1;
    // Normalised lerp: poses 20 ms apart rotate far too little for slerp to matter.
    let qx = q[4 * lo]! * (1 - f) + sign * q[4 * hi]! * f;
    let qy = q[4 * lo + 1]! * (1 - f) + sign * q[4 * hi + 1]! * f;
    let qz = q[4 * lo + 2]! * (1 - f) + sign * q[4 * hi + 2]! * f;
    let qw = q[4 * lo + 3]! * (1 - f) + sign * q[4 * hi + 3]! * f;
    const norm = Math.hypot(qx, qy, qz, qw) || 1;
    qx /= norm;
    qy /= norm;
    qz /= norm;
    qw /= norm;
    const lerp = (a: number[]) => a[lo]! * (1 - f) + a[hi]! * f;
    mat34FromQuat(
      { x: qx, y: qy, z: qz, w: qw },
      { x: lerp(this.#x), y: lerp(this.#y), z: lerp(this.#z) },
      out,
    );
    return true;
  }
}

/**
 * `parent ← child` from static transforms by walking child → parent links; null when the chain
 * does not reach `parent`.
 */
export function staticChain(
  transforms: ReadonlyMap<string, Transform>,
  parent: string,
  child: string,
): Mat34 | null {
  const acc = mat34Identity(new Float64Array(12));
  const tmp = new Float64Array(12);
  const edge = new Float64Array(12);
  let frame = child;
  for (let hops = 0; hops < 32; hops++) {
    if (frame === parent) return acc;
    const t = transforms.get(frame);
    if (!t) return null;
    // acc = parent_of_frame ← child: prepend this edge.
    mat34FromTransform(t, edge);
    mat34Compose(edge, acc, tmp);
    acc.set(tmp);
    frame = t.parent;
  }
  return null;
}
