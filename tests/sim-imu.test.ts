// IMU model: vibration band energy grows with roughness and with speed, smooth ground is not
// perfectly still, gravity and turning show on the axes the mounting implies.

import { describe, expect, it } from "vitest";
import { buildWorld, ImuModel, type ImuReading, newState, parseWorld } from "../sim/index.ts";
import { quatConjugate, quatRotate } from "../src/core/geometry.ts";
import type { Vec3 } from "../src/core/types.ts";

const RATE = 200;
const N = 1024;

function uniformWorld(terrain: Record<string, unknown>, rpyDeg: [number, number, number] = [0, 90, 0]) {
  const file = parseWorld({
    bounds: { xMin: -30, xMax: 30, yMin: -30, yMax: 30 },
    layout: { kind: "stripes", cellSize: 500, margin: 5, resolution: 0.1, seed: 1 },
    terrains: [terrain],
    imu: { rate: RATE, rpyDeg },
  });
  return buildWorld(file, 1);
}

/** N samples driving along +x at `speed` with yaw rate `w`, after a 1 s settling period. */
function drive(
  terrain: Record<string, unknown>,
  speed: number,
  w = 0,
  rpyDeg?: [number, number, number],
  seed = 4,
) {
  const world = uniformWorld(terrain, rpyDeg);
  const imu = new ImuModel(world, seed, RATE);
  const s = newState();
  const out: ImuReading = { ax: 0, ay: 0, az: 0, gx: 0, gy: 0, gz: 0, roughness: 0 };
  const acc: Vec3[] = [];
  const gyr: Vec3[] = [];
  for (let k = 0; k < N + RATE; k++) {
    s.t = k / RATE;
    // A circle when turning, a line otherwise; stays on the uniform terrain either way.
    s.yaw = w * s.t;
    s.x = w === 0 ? -20 + speed * s.t : (speed / w) * Math.sin(s.yaw);
    s.y = w === 0 ? 0 : (speed / w) * (1 - Math.cos(s.yaw));
    s.v = speed;
    s.w = w;
    imu.sample(s, out);
    if (k >= RATE) {
      acc.push({ x: out.ax, y: out.ay, z: out.az });
      gyr.push({ x: out.gx, y: out.gy, z: out.gz });
    }
  }
  // The vertical axis in imu_link, from the mounting.
  const up = quatRotate(quatConjugate(imu.rotation), { x: 0, y: 0, z: 1 });
  const vertical = acc.map((a) => a.x * up.x + a.y * up.y + a.z * up.z);
  return { acc, gyr, vertical, roughness: out.roughness };
}

/** Power of the mean-removed signal between f0 and f1 Hz (plain DFT). */
function bandPower(x: number[], f0: number, f1: number): number {
  const n = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / n;
  let p = 0;
  for (let k = Math.ceil((f0 * n) / RATE); k <= Math.floor((f1 * n) / RATE); k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      const a = (2 * Math.PI * k * i) / n;
      re += (x[i]! - mean) * Math.cos(a);
      im -= (x[i]! - mean) * Math.sin(a);
    }
    p += (2 * (re * re + im * im)) / (n * n);
  }
  return p;
}

const mean = (v: Vec3[]) =>
  v.reduce((s, a) => ({ x: s.x + a.x / v.length, y: s.y + a.y / v.length, z: s.z + a.z / v.length }), {
    x: 0,
    y: 0,
    z: 0,
  });

describe("IMU vibration", () => {
  it("band energy (1–30 Hz) increases with roughness at the same speed", () => {
    const energies = [0.05, 0.3, 0.6, 0.9].map((r) =>
      bandPower(drive({ type: "gravel", name: `g${r}`, roughness: r }, 1.0).vertical, 1, 30),
    );
    for (let i = 1; i < energies.length; i++) expect(energies[i]!).toBeGreaterThan(1.5 * energies[i - 1]!);
    // Smooth concrete vs rough gravel, the built-in types.
    const smooth = bandPower(drive({ type: "concrete" }, 1.0).vertical, 1, 30);
    const rough = bandPower(drive({ type: "gravel" }, 1.0).vertical, 1, 30);
    expect(rough).toBeGreaterThan(10 * smooth);
  });

  it("band energy increases with speed on the same terrain", () => {
    const e = [0.3, 0.8, 1.6].map((v) => bandPower(drive({ type: "gravel" }, v).vertical, 1, 30));
    expect(e[1]!).toBeGreaterThan(2 * e[0]!);
    expect(e[2]!).toBeGreaterThan(2 * e[1]!);
  });

  it("smooth ground still vibrates a little more than standing still", () => {
    const still = bandPower(drive({ type: "concrete" }, 0).vertical, 1, 30);
    const moving = bandPower(drive({ type: "concrete" }, 1).vertical, 1, 30);
    expect(moving).toBeGreaterThan(3 * still);
    expect(still).toBeGreaterThan(0);
  });

  it("rough ground moves energy to higher frequencies", () => {
    const centroid = (x: number[]) => {
      let num = 0;
      let den = 0;
      for (let f = 1; f < 60; f += 2) {
        const p = bandPower(x, f, f + 2);
        num += p * (f + 1);
        den += p;
      }
      return num / den;
    };
    const smooth = centroid(drive({ type: "gravel", name: "a", roughness: 0.1 }, 1).vertical);
    const rough = centroid(drive({ type: "gravel", name: "b", roughness: 0.9 }, 1).vertical);
    expect(rough).toBeGreaterThan(smooth + 2);
  });
});

describe("IMU mounting", () => {
  const G = 9.80665;
  for (const [rpy, expected] of [
    [[0, 90, 0], { x: -G, y: 0, z: 0 }],
    [[180, 0, 0], { x: 0, y: 0, z: -G }],
    [[0, 0, 0], { x: 0, y: 0, z: G }],
    [[90, 0, 0], { x: 0, y: G, z: 0 }],
  ] as const) {
    it(`gravity at rest reads ${JSON.stringify(expected)} for roll/pitch/yaw ${rpy.join("/")}°`, () => {
      const m = mean(drive({ type: "concrete" }, 0, 0, [...rpy]).acc);
      expect(m.x).toBeCloseTo(expected.x, 0);
      expect(m.y).toBeCloseTo(expected.y, 0);
      expect(m.z).toBeCloseTo(expected.z, 0);
    });
  }

  it("turning shows centripetal acceleration and yaw rate on the mounted axes", () => {
    // Pitched 90°: imu x = base −z, imu y = base y, imu z = base x.
    const { acc, gyr } = drive({ type: "concrete" }, 1.0, 0.5, [0, 90, 0]);
    const a = mean(acc);
    const g = mean(gyr);
    // v·ω = 0.5 m/s² to the left (+y), minus ω²·x_imu (0.25 · 0.1) from the lever arm.
    expect(a.y).toBeCloseTo(0.5, 1);
    expect(a.z).toBeCloseTo(-0.025, 1);
    expect(g.x).toBeCloseTo(-0.5, 2);
    expect(Math.abs(g.z)).toBeLessThan(0.05);
  });
});
