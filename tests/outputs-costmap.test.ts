import { describe, expect, it } from "vitest";
import { RollingCostmap } from "../src/outputs/costmap.ts";
import { roughnessAhead, SpeedLimiter, suggestedSpeed } from "../src/outputs/speed.ts";

// A 3×3 grid of cell centres laid out on the ground 1 m apart, from (2,-1) to (4,1): a square ahead
// of a robot at the origin facing +x.
function squareGrid(rough: number[], conf: number[]) {
  const xs = new Float64Array(9);
  const ys = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      // Row 0 is the top of the image = farthest ground.
      xs[r * 3 + c] = 4 - r;
      ys[r * 3 + c] = 1 - c;
    }
  }
  return { xs, ys, rough: Float32Array.from(rough), conf: Float32Array.from(conf) };
}

function valueAt(map: ReturnType<RollingCostmap["snapshot"]>, x: number, y: number): number {
  const cx = Math.floor((x - map.originX) / map.resolution);
  const cy = Math.floor((y - map.originY) / map.resolution);
  return map.data[cy * map.width + cx]!;
}

describe("RollingCostmap", () => {
  const options = { frameId: "odom", resolution: 0.5, size: 10, halfLife: 5, minConfidence: 0.3 };

  it("fills the projected footprint, centred on the robot, unknown elsewhere", () => {
    const cm = new RollingCostmap(options);
    const g = squareGrid([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], new Array(9).fill(1));
    cm.advance(0, 0, 0);
    cm.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
    const map = cm.snapshot(0);
    expect(map.width).toBe(20);
    expect(map.height).toBe(20);
    expect(map.originX).toBe(-5);
    expect(map.originY).toBe(-5);
    expect(map.frameId).toBe("odom");
    // Every cell whose centre lies inside [2,4]×[-1,1] holds 20, outside is -1.
    let inside = 0;
    for (let cy = 0; cy < map.height; cy++) {
      for (let cx = 0; cx < map.width; cx++) {
        const x = map.originX + (cx + 0.5) * 0.5;
        const y = map.originY + (cy + 0.5) * 0.5;
        const v = map.data[cy * map.width + cx]!;
        if (x > 2 && x < 4 && y > -1 && y < 1) {
          expect(v).toBe(20);
          inside++;
        } else if (x < 1.9 || x > 4.1 || y < -1.1 || y > 1.1) {
          expect(v).toBe(-1);
        }
      }
    }
    expect(inside).toBe(16);
  });

  it("leaves out views of ground farther than maxRange from the robot", () => {
    const g = squareGrid([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], new Array(9).fill(1));
    const known = (maxRange?: number) => {
      const cm = new RollingCostmap({ ...options, ...(maxRange ? { maxRange } : {}) });
      cm.advance(0, 0, 0);
      cm.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
      const map = cm.snapshot(0);
      return { near: valueAt(map, 2.6, 0.1), far: valueAt(map, 3.6, 0.1) };
    };
    // The far row of centres (x = 4, 4.0–4.1 m away) is past 3.5 m: its quads are left out.
    expect(known(3.5)).toEqual({ near: 20, far: -1 });
    expect(known()).toEqual({ near: 20, far: 20 });
  });

  it("interpolates across a roughness gradient and weights frames by confidence", () => {
    const cm = new RollingCostmap({ ...options, halfLife: 0 });
    // Far row rough (1), near row smooth (0): value grows with x.
    const g = squareGrid([1, 1, 1, 0.5, 0.5, 0.5, 0, 0, 0], new Array(9).fill(1));
    cm.advance(0, 0, 0);
    cm.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
    const m1 = cm.snapshot(0);
    expect(valueAt(m1, 2.25, 0.25)).toBe(13); // x = 2.25 → (2.25-2)/2 = 0.125
    expect(valueAt(m1, 3.75, 0.25)).toBe(88); // 0.875
    // A second frame says 0 everywhere with confidence 1/3 of the first: mean = 1·v/(1+1/3).
    const g2 = squareGrid(new Array(9).fill(0), new Array(9).fill(1 / 3));
    cm.integrate(3, 3, g2.xs, g2.ys, g2.rough, g2.conf, 0, 0);
    const m2 = cm.snapshot(0);
    expect(valueAt(m2, 3.75, 0.25)).toBe(Math.round((100 * 0.875) / (4 / 3)));
  });

  it("marks low-confidence cells unknown, keeps world positions as the window scrolls, decays", () => {
    const cm = new RollingCostmap(options);
    const low = squareGrid(new Array(9).fill(0.9), new Array(9).fill(0.1));
    cm.advance(0, 0, 0);
    cm.integrate(3, 3, low.xs, low.ys, low.rough, low.conf, 0, 0);
    expect(valueAt(cm.snapshot(0), 3, 0)).toBe(-1);

    const cm2 = new RollingCostmap(options);
    const g = squareGrid(new Array(9).fill(0.6), new Array(9).fill(1));
    cm2.advance(0, 0, 0);
    cm2.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
    cm2.advance(1, 1.7, 0.3); // robot moves: the window shifts by whole cells
    const m = cm2.snapshot(1);
    expect(m.originX).toBe(-3.5);
    expect(m.originY).toBe(-5);
    expect(valueAt(m, 3, 0)).toBe(60);
    // Evidence decays but the value (a ratio) stays until it drops below the evidence floor.
    cm2.advance(200, 1.7, 0.3);
    expect(valueAt(cm2.snapshot(200), 3, 0)).toBe(-1);
  });

  it("decays the same over hours of frames (lazy decay folds back before float range runs out)", () => {
    // One frame every 0.1 s for 2 h with a 5 s half-life: the scale would underflow 300 times over.
    const cm = new RollingCostmap(options);
    const g = squareGrid(new Array(9).fill(0.3), new Array(9).fill(1));
    const old = squareGrid(new Array(9).fill(0.9), new Array(9).fill(1));
    for (const g2 of [old.xs, old.ys]) for (let i = 0; i < 9; i++) g2[i] = -g2[i]!; // behind the robot
    cm.advance(0, 0, 0);
    cm.integrate(3, 3, old.xs, old.ys, old.rough, old.conf, 0, 0);
    let t = 0;
    for (let i = 0; i < 72_000; i++) {
      t += 0.1;
      cm.advance(t, 0, 0);
      cm.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
    }
    const m = cm.snapshot(t);
    expect(valueAt(m, 3, 0)).toBe(30);
    expect(valueAt(m, -3, 0)).toBe(-1); // the old evidence decayed away
    // A fresh map fed the last 30 s gives the same picture.
    const fresh = new RollingCostmap(options);
    for (let i = 0; i < 300; i++) {
      fresh.advance(t - 30 + i * 0.1, 0, 0);
      fresh.integrate(3, 3, g.xs, g.ys, g.rough, g.conf, 0, 0);
    }
    expect(Array.from(fresh.snapshot(t).data)).toEqual(Array.from(m.data));
  });
});

describe("roughness ahead and speed limit", () => {
  const g = squareGrid([1, 1, 1, 0.5, 0.5, 0.5, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5]);
  it("averages cells in the corridor, confidence-weighted", () => {
    const a = roughnessAhead(
      g.xs,
      g.ys,
      g.rough,
      g.conf,
      { x: 0, y: 0, yaw: 0 },
      { min: 2.5, max: 4.5, halfWidth: 0.5 },
    );
    // Cells at x=3 (0.5) and x=4 (1), only the centre column (y=0).
    expect(a.cells).toBe(2);
    expect(a.roughness).toBeCloseTo(0.75, 6);
    // Facing −x nothing is ahead.
    const b = roughnessAhead(
      g.xs,
      g.ys,
      g.rough,
      g.conf,
      { x: 0, y: 0, yaw: Math.PI },
      { min: 1, max: 4, halfWidth: 2 },
    );
    expect(b.cells).toBe(0);
    expect(Number.isNaN(b.roughness)).toBe(true);
    const c = roughnessAhead(
      g.xs,
      g.ys,
      g.rough,
      g.conf,
      { x: 0, y: 0, yaw: 0 },
      { min: 1, max: 3.5, halfWidth: 2 },
    );
    // x=2 (0, conf .5) ×3 and x=3 (0.5, conf 1) ×3 → (3·0.5·0 + 3·1·0.5) / (1.5 + 3)
    expect(c.roughness).toBeCloseTo(1.5 / 4.5, 6);
    expect(c.confidence).toBeCloseTo(0.75, 6);
  });
  it("maps roughness linearly to speed and unknown to the minimum", () => {
    const opts = { max_speed: 2, min_speed: 0.4, min_confidence: 0.3 };
    expect(suggestedSpeed({ roughness: 0, confidence: 1, cells: 1 }, opts)).toBe(2);
    expect(suggestedSpeed({ roughness: 1, confidence: 1, cells: 1 }, opts)).toBeCloseTo(0.4, 9);
    expect(suggestedSpeed({ roughness: 0.5, confidence: 1, cells: 1 }, opts)).toBeCloseTo(1.2, 9);
    expect(suggestedSpeed({ roughness: Number.NaN, confidence: 0, cells: 0 }, opts)).toBe(0.4);
    expect(suggestedSpeed({ roughness: 0, confidence: 0.1, cells: 3 }, opts)).toBe(0.4);
  });
  it("slows for the share of the corridor it cannot judge, however smooth the rest", () => {
    const opts = { max_speed: 2, min_speed: 0.4, min_confidence: 0.3 };
    // Row x=3: smooth and known; row x=4: never-driven ground, rough if anything, confidence 0.1.
    const half = squareGrid([1, 1, 1, 0, 0, 0, 0, 0, 0], [0.1, 0.1, 0.1, 1, 1, 1, 1, 1, 1]);
    const band = { min: 2.5, max: 4.5, halfWidth: 2, minConfidence: 0.3 };
    const a = roughnessAhead(half.xs, half.ys, half.rough, half.conf, { x: 0, y: 0, yaw: 0 }, band);
    // The mean confidence (0.55) passes min_confidence, and the weighted roughness all but ignores
    // the unknown row: alone it would give 1.85 m/s into ground shown as unknown.
    expect(a.confidence).toBeCloseTo(0.55, 6);
    expect(a.roughness).toBeCloseTo(0.1 / 1.1, 6);
    expect(a.unknown).toBeCloseTo(0.5, 9);
    const known = 2 - 1.6 * (0.1 / 1.1);
    expect(suggestedSpeed(a, opts)).toBeCloseTo(known - 0.5 * (known - 0.4), 6);
    expect(suggestedSpeed(a, opts)).toBeLessThan(1.2);
    // All of it known: as before.
    const all = roughnessAhead(
      half.xs,
      half.ys,
      half.rough,
      half.conf,
      { x: 0, y: 0, yaw: 0 },
      { ...band, max: 3.5 },
    );
    expect(all.unknown).toBe(0);
    expect(suggestedSpeed(all, opts)).toBe(2);
    // min_confidence 0 (every cell shown in the costmap): confidence 0 is still a model that knows
    // nothing, here the prior of an untrained head.
    const none = squareGrid([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2], [0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const zero = roughnessAhead(
      none.xs,
      none.ys,
      none.rough,
      none.conf,
      { x: 0, y: 0, yaw: 0 },
      {
        ...band,
        minConfidence: 0,
      },
    );
    expect(zero.unknown).toBe(1);
    expect(suggestedSpeed(zero, { ...opts, min_confidence: 0 })).toBe(0.4);
    expect(suggestedSpeed({ roughness: 0.2, confidence: 0, cells: 3 }, { ...opts, min_confidence: 0 })).toBe(
      0.4,
    );
    // A confidence that is not a number is not confidence.
    expect(suggestedSpeed({ roughness: 0, confidence: Number.NaN, cells: 3 }, opts)).toBe(0.4);
  });
  it("passes a drop in the speed limit at once and holds a rise to its rate", () => {
    const s = new SpeedLimiter(0.5);
    expect(s.next(10, 2)).toBe(2); // the first value is taken as it is
    expect(s.next(10.1, 0.4)).toBe(0.4); // rougher ground ahead: no delay
    expect(s.next(10.2, 2)).toBeCloseTo(0.45, 9); // 0.1 s × 0.5 m/s²
    expect(s.next(11.2, 2)).toBeCloseTo(0.95, 9);
    expect(s.next(11.3, 0.9)).toBe(0.9); // below where the rise had got: taken
    expect(s.next(20, 1.5)).toBe(1.5); // a long gap allows the whole rise
    expect(s.next(5, 2)).toBe(2); // time going back (a bag replayed again) starts over
    const off = new SpeedLimiter(0);
    expect(off.next(0, 0.4)).toBe(0.4);
    expect(off.next(0.1, 2)).toBe(2);
    expect(() => new SpeedLimiter(-1)).toThrow(/≥ 0/);
  });
});
