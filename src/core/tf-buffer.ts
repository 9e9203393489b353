// A small TF buffer: static transforms plus a short history of dynamic ones, looked up through the
// frame tree (e.g. base_link ← camera_optical_frame through camera_link).
//
// The core needs TF for mount extrinsics (static) and, optionally, odom ← base_link (dynamic); a
// full tf2 is not needed. Each frame has one parent (a tree, as in tf2); a dynamic child keeps its
// last `historySize` transforms and is interpolated (linear translation, slerp rotation) at lookup.

import { composeTransforms, invertTransform, quatNormalize } from "./geometry.ts";
import type { Quat, Stamp, Transform } from "./types.ts";

interface Edge {
  parent: string;
  isStatic: boolean;
  /** Ascending stamps; static edges hold exactly one. */
  history: Transform[];
  /** Its history is from before the stamps went back: the next transform replaces it. */
  stale?: boolean;
}

export class TfBuffer {
  private readonly edges = new Map<string, Edge>();
  readonly historySize: number;
  /** Incremented on every change of a static edge: users cache derived extrinsics against it. */
  staticVersion = 0;
  /** Incremented when a dynamic edge appears or changes parent (the tree's shape changed). */
  treeVersion = 0;

  constructor(options: { historySize?: number } = {}) {
    this.historySize = options.historySize ?? 200;
  }

  /** Adds transforms; returns how many were rejected (non-finite, or a child re-parented dynamically). */
  add(transforms: readonly Transform[]): number {
    let rejected = 0;
    for (const t of transforms) {
      if (!finiteTransform(t) || t.parent === t.child) {
        rejected++;
        continue;
      }
      const edge = this.edges.get(t.child);
      if (t.isStatic) {
        this.edges.set(t.child, { parent: t.parent, isStatic: true, history: [t] });
        this.staticVersion++;
        continue;
      }
      if (!edge || edge.parent !== t.parent || edge.isStatic) {
        if (edge?.isStatic) {
          // A dynamic transform never overrides a static mount (tf2 would complain too).
          rejected++;
          continue;
        }
        this.edges.set(t.child, { parent: t.parent, isStatic: false, history: [t] });
        this.treeVersion++;
        continue;
      }
      if (edge.stale) {
        edge.history = [t];
        edge.stale = false;
        continue;
      }
      const h = edge.history;
      const last = h[h.length - 1]!;
      if (t.stamp > last.stamp) h.push(t);
      else if (t.stamp === last.stamp) h[h.length - 1] = t;
      else {
        // Out of order: insert in place (rare; TF is mostly in order).
        let i = h.length - 1;
        while (i > 0 && h[i - 1]!.stamp > t.stamp) i--;
        if (h[i - 1]?.stamp === t.stamp) h[i - 1] = t;
        else h.splice(i, 0, t);
      }
      if (h.length > this.historySize) h.splice(0, h.length - this.historySize);
    }
    return rejected;
  }

  /**
   * The stamps went back (a new timeline): each dynamic edge keeps its latest transform until its
   * first new one replaces the whole history, so old and new stamps never interleave.
   */
  restartDynamic(): void {
    for (const e of this.edges.values()) if (!e.isStatic) e.stale = true;
  }

  has(frame: string): boolean {
    return this.edges.has(frame);
  }

  /** parent ← child at `stamp` for one edge (dynamic edges: interpolated, clamped to their span). */
  private edgeAt(child: string, stamp: Stamp | undefined): Transform {
    const e = this.edges.get(child)!;
    const h = e.history;
    if (e.isStatic || h.length === 1 || stamp === undefined) return h[h.length - 1]!;
    if (stamp <= h[0]!.stamp) return h[0]!;
    if (stamp >= h[h.length - 1]!.stamp) return h[h.length - 1]!;
    let lo = 0;
    let hi = h.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (h[mid]!.stamp <= stamp) lo = mid;
      else hi = mid;
    }
    const a = h[lo]!;
    const b = h[hi]!;
    const u = (stamp - a.stamp) / (b.stamp - a.stamp);
    return {
      stamp,
      parent: a.parent,
      child: a.child,
      translation: {
        x: a.translation.x + u * (b.translation.x - a.translation.x),
        y: a.translation.y + u * (b.translation.y - a.translation.y),
        z: a.translation.z + u * (b.translation.z - a.translation.z),
      },
      rotation: slerp(a.rotation, b.rotation, u),
      isStatic: false,
    };
  }

  /** Frames from `frame` up to its root, inclusive. */
  private pathToRoot(frame: string): string[] {
    const path = [frame];
    let f = frame;
    for (let guard = 0; guard < 64; guard++) {
      const e = this.edges.get(f);
      if (!e) return path;
      f = e.parent;
      path.push(f);
    }
    throw new Error(`TF tree has a cycle through '${frame}'`);
  }

  /**
   * target ← source at `stamp` (undefined: latest of each edge), or null when the frames are not
   * connected. Walks both frames to their common ancestor and composes.
   */
  lookup(target: string, source: string, stamp?: Stamp): Transform | null {
    if (target === source) {
      return {
        stamp: stamp ?? 0,
        parent: target,
        child: source,
        translation: { x: 0, y: 0, z: 0 },
        rotation: { x: 0, y: 0, z: 0, w: 1 },
        isStatic: true,
      };
    }
    const up = this.pathToRoot(source);
    const down = this.pathToRoot(target);
    const downSet = new Map(down.map((f, i) => [f, i]));
    let common = -1;
    for (let i = 0; i < up.length; i++) {
      if (downSet.has(up[i]!)) {
        common = i;
        break;
      }
    }
    if (common < 0) return null;
    const ancestor = up[common]!;
    // ancestor ← source
    let fromSource: Transform | null = null;
    for (let i = common - 1; i >= 0; i--) {
      const edge = this.edgeAt(up[i]!, stamp);
      fromSource = fromSource ? composeTransforms(fromSource, edge) : edge;
    }
    // ancestor ← target
    let fromTarget: Transform | null = null;
    for (let i = downSet.get(ancestor)! - 1; i >= 0; i--) {
      const edge = this.edgeAt(down[i]!, stamp);
      fromTarget = fromTarget ? composeTransforms(fromTarget, edge) : edge;
    }
    if (!fromTarget) return fromSource;
    const inv = invertTransform(fromTarget);
    return fromSource ? composeTransforms(inv, fromSource) : inv;
  }

  /** Is there a path target ← source made only of static transforms? */
  isStaticChain(target: string, source: string): boolean {
    const t = this.lookup(target, source);
    return t?.isStatic === true;
  }
}

function finiteTransform(t: Transform): boolean {
  const a = t.translation;
  const q = t.rotation;
  return (
    Number.isFinite(t.stamp) &&
    Number.isFinite(a.x) &&
    Number.isFinite(a.y) &&
    Number.isFinite(a.z) &&
    Number.isFinite(q.x) &&
    Number.isFinite(q.y) &&
    Number.isFinite(q.z) &&
    Number.isFinite(q.w) &&
    Math.hypot(q.x, q.y, q.z, q.w) > 1e-9
  );
}

function slerp(a: Quat, b: Quat, u: number): Quat {
  let dot = a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
  let bx = b.x,
    by = b.y,
    bz = b.z,
    bw = b.w;
  if (dot < 0) {
    dot = -dot;
    bx = -bx;
    by = -by;
    bz = -bz;
    bw = -bw;
  }
  let wa = 1 - u;
  let wb = u;
  if (dot < 0.9995) {
    const th = Math.acos(Math.min(1, dot));
    const s = Math.sin(th);
    wa = Math.sin((1 - u) * th) / s;
    wb = Math.sin(u * th) / s;
  }
  return quatNormalize({
    x: wa * a.x + wb * bx,
    y: wa * a.y + wb * by,
    z: wa * a.z + wb * bz,
    w: wa * a.w + wb * bw,
  });
}
