// Rolling local costmap in the fixed frame (`odom`), centred on the robot.
//
// Each processed frame contributes its roughness grid, projected onto the ground plane: the facade
// gives the ground position of every feature-cell centre; adjacent centres form quads (two triangles)
// that are rasterised onto the costmap with barycentric interpolation, so far-away cells (large on the
// ground) fill their whole footprint instead of leaving holes between sparse centres.
//
// Fusion over frames: per costmap cell we keep Σw·r and Σw with w = confidence, and Σn (how much
// evidence, confidence-free); all three decay with a half-life in sensor time, so old observations
// fade and recent ones dominate. Output value = round(100 · Σw·r / Σw); a cell is unknown (−1) when
// it has no evidence or its mean confidence Σw/Σn is below `min_confidence`.
//
// The window follows the robot in whole-cell steps (origin snapped to the resolution), shifting the
// accumulators in place, so a cell keeps its world position and value while it stays in the window.

import type { Costmap, Stamp } from "../core/types.ts";

export interface CostmapOptions {
  frameId: string;
  resolution: number;
  /** Window side (m). */
  size: number;
  /** Evidence half-life in seconds of sensor time. */
  halfLife: number;
  minConfidence: number;
  /** Ignore projected cells farther than this from the robot (m); default half the window diagonal. */
  maxRange?: number;
}

export class RollingCostmap {
  readonly frameId: string;
  readonly resolution: number;
  readonly width: number;
  readonly height: number;
  readonly halfLife: number;
  readonly minConfidence: number;
  readonly maxRange: number;
  /** World index of cell (0,0): originX = ix0 · resolution. */
  #ix0 = 0;
  #iy0 = 0;
  #placed = false;
  #lastStamp = Number.NaN;
  #sumWR: Float32Array;
  #sumW: Float32Array;
  #sumN: Float32Array;
  #tmp: Float32Array;
  #usable = new Uint8Array(0);
  // Decay without touching every cell every frame: stored sums are true sums / #scale, and #scale
  // shrinks with the half-life; new evidence is added as value / #scale. Folded back into the cells
  // before the stored values could grow out of float range.
  #scale = 1;

  constructor(options: CostmapOptions) {
    if (!(options.resolution > 0) || !(options.size > options.resolution)) {
      throw new Error(`costmap: size ${options.size} m must exceed resolution ${options.resolution} m`);
    }
    this.frameId = options.frameId;
    this.resolution = options.resolution;
    this.width = Math.round(options.size / options.resolution);
    this.height = this.width;
    this.halfLife = options.halfLife;
    this.minConfidence = options.minConfidence;
    this.maxRange = options.maxRange ?? (options.size / 2) * Math.SQRT2;
    const n = this.width * this.height;
    this.#sumWR = new Float32Array(n);
    this.#sumW = new Float32Array(n);
    this.#sumN = new Float32Array(n);
    this.#tmp = new Float32Array(n);
  }

  get originX(): number {
    return this.#ix0 * this.resolution;
  }
  get originY(): number {
    return this.#iy0 * this.resolution;
  }

  reset(): void {
    this.#sumWR.fill(0);
    this.#sumW.fill(0);
    this.#sumN.fill(0);
    this.#scale = 1;
    this.#placed = false;
    this.#lastStamp = Number.NaN;
  }

  /** Moves the window so the robot is at its centre and decays evidence to `stamp`. */
  advance(stamp: Stamp, robotX: number, robotY: number): void {
    const ix0 = Math.floor(robotX / this.resolution) - (this.width >> 1);
    const iy0 = Math.floor(robotY / this.resolution) - (this.height >> 1);
    if (!this.#placed) {
      this.#ix0 = ix0;
      this.#iy0 = iy0;
      this.#placed = true;
    } else if (ix0 !== this.#ix0 || iy0 !== this.#iy0) {
      const dx = ix0 - this.#ix0;
      const dy = iy0 - this.#iy0;
      for (const a of [this.#sumWR, this.#sumW, this.#sumN]) this.#shift(a, dx, dy);
      this.#ix0 = ix0;
      this.#iy0 = iy0;
    }
    if (Number.isFinite(this.#lastStamp) && stamp > this.#lastStamp && this.halfLife > 0) {
      this.#scale *= 0.5 ** ((stamp - this.#lastStamp) / this.halfLife);
      // 2^-40: new evidence is stored ×2^40 at most, far inside float32 range (and decayed evidence
      // below that is invisible next to it anyway).
      if (this.#scale < 2 ** -40) this.#fold();
    }
    if (!(stamp <= this.#lastStamp)) this.#lastStamp = stamp;
  }

  /** Applies #scale to the stored sums and resets it to 1. */
  #fold(): void {
    const f = this.#scale;
    const n = this.#sumW.length;
    for (let i = 0; i < n; i++) {
      this.#sumWR[i]! *= f;
      this.#sumW[i]! *= f;
      this.#sumN[i]! *= f;
    }
    this.#scale = 1;
  }

  #shift(a: Float32Array, dx: number, dy: number): void {
    const { width: w, height: h } = this;
    const t = this.#tmp;
    t.fill(0);
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < w; x++) {
        const sx = x + dx;
        if (sx < 0 || sx >= w) continue;
        t[y * w + x] = a[sy * w + sx]!;
      }
    }
    a.set(t);
  }

  /**
   * Adds one frame: cell-centre ground positions (xs, ys; NaN = no ground) on a rows × cols grid with
   * per-cell roughness and confidence. Call `advance` first with the robot's position at the frame.
   */
  integrate(
    rows: number,
    cols: number,
    xs: Float64Array,
    ys: Float64Array,
    roughness: Float32Array,
    confidence: Float32Array,
    robotX: number,
    robotY: number,
  ): void {
    const maxR2 = this.maxRange * this.maxRange;
    // Each cell is a corner of up to four quads: decide once whether it is usable.
    const n = rows * cols;
    if (this.#usable.length < n) this.#usable = new Uint8Array(n);
    const usable = this.#usable;
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      const y = ys[i]!;
      const dx = x - robotX;
      const dy = y - robotY;
      usable[i] =
        Number.isFinite(x) &&
        Number.isFinite(y) &&
        Number.isFinite(roughness[i]!) &&
        dx * dx + dy * dy <= maxR2
          ? 1
          : 0;
    }
    for (let r = 0; r + 1 < rows; r++) {
      for (let c = 0; c + 1 < cols; c++) {
        const a = r * cols + c;
        const b = a + 1;
        const d = a + cols;
        const e = d + 1;
        const oa = usable[a] === 1,
          ob = usable[b] === 1,
          od = usable[d] === 1,
          oe = usable[e] === 1;
        if (oa && ob && oe) this.#triangle(a, b, e, xs, ys, roughness, confidence);
        if (oa && oe && od) this.#triangle(a, e, d, xs, ys, roughness, confidence);
        // A quad with one corner missing (horizon edge) still contributes its valid triangle.
        if (!oe && oa && ob && od) this.#triangle(a, b, d, xs, ys, roughness, confidence);
        if (!oa && ob && oe && od) this.#triangle(b, e, d, xs, ys, roughness, confidence);
      }
    }
  }

  #triangle(
    i0: number,
    i1: number,
    i2: number,
    xs: Float64Array,
    ys: Float64Array,
    rough: Float32Array,
    conf: Float32Array,
  ): void {
    const res = this.resolution;
    // Triangle in costmap cell units, relative to the window origin.
    const x0 = xs[i0]! / res - this.#ix0,
      y0 = ys[i0]! / res - this.#iy0;
    const x1 = xs[i1]! / res - this.#ix0,
      y1 = ys[i1]! / res - this.#iy0;
    const x2 = xs[i2]! / res - this.#ix0,
      y2 = ys[i2]! / res - this.#iy0;
    const det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2);
    if (Math.abs(det) < 1e-9) return;
    const w = this.width;
    const h = this.height;
    const minX = Math.max(0, Math.floor(Math.min(x0, x1, x2)));
    const maxX = Math.min(w - 1, Math.ceil(Math.max(x0, x1, x2)));
    const minY = Math.max(0, Math.floor(Math.min(y0, y1, y2)));
    const maxY = Math.min(h - 1, Math.ceil(Math.max(y0, y1, y2)));
    const r0 = rough[i0]!,
      r1 = rough[i1]!,
      r2 = rough[i2]!;
    const c0 = conf[i0]!,
      c1 = conf[i1]!,
      c2 = conf[i2]!;
    // Barycentric coordinates are affine in the cell centre (px, py): l = a·px + b·py + c.
    const inv = 1 / det;
    const a0 = (y1 - y2) * inv;
    const b0 = (x2 - x1) * inv;
    const a1 = (y2 - y0) * inv;
    const b1 = (x0 - x2) * inv;
    const up = 1 / this.#scale;
    const sumWR = this.#sumWR;
    const sumW = this.#sumW;
    const sumN = this.#sumN;
    for (let cy = minY; cy <= maxY; cy++) {
      const dy = cy + 0.5 - y2;
      const rowBase = cy * w;
      for (let cx = minX; cx <= maxX; cx++) {
        const dx = cx + 0.5 - x2;
        const l0 = a0 * dx + b0 * dy;
        const l1 = a1 * dx + b1 * dy;
        const l2 = 1 - l0 - l1;
        // Half-open edges would miss shared borders by rounding; a small tolerance double-counts
        // a few border cells instead, which averaging absorbs.
        if (l0 < -1e-6 || l1 < -1e-6 || l2 < -1e-6) continue;
        const rv = l0 * r0 + l1 * r1 + l2 * r2;
        const cv = Math.max(0, Math.min(1, l0 * c0 + l1 * c1 + l2 * c2)) * up;
        const k = rowBase + cx;
        sumWR[k]! += cv * rv;
        sumW[k]! += cv;
        sumN[k]! += up;
      }
    }
  }

  /** The current costmap as nav_msgs/OccupancyGrid values (writes into `out` when given). */
  snapshot(stamp: Stamp, out?: Int8Array): Costmap {
    const n = this.width * this.height;
    const data = out && out.length === n ? out : new Int8Array(n);
    // The ratios do not depend on #scale; only the evidence threshold does.
    const minN = 1e-3 / this.#scale;
    // Locals, not fields, in the loop over every cell (a third of its time went to the lookups).
    const sumN = this.#sumN;
    const sumW = this.#sumW;
    const sumWR = this.#sumWR;
    const minConfidence = this.minConfidence;
    for (let i = 0; i < n; i++) {
      const sn = sumN[i]!;
      const sw = sumW[i]!;
      if (!(sn > minN) || sw / sn < minConfidence || !(sw > 0)) {
        data[i] = -1;
        continue;
      }
      const v = Math.round((100 * sumWR[i]!) / sw);
      data[i] = v < 0 ? 0 : v > 100 ? 100 : v;
    }
    return {
      stamp,
      frameId: this.frameId,
      resolution: this.resolution,
      width: this.width,
      height: this.height,
      originX: this.originX,
      originY: this.originY,
      data,
    };
  }
}
