// IMU model: what a 6-axis IMU on a small ground robot measures.
//
// Specific force in base_link = rigid-body acceleration (forward, centripetal, lever arm) + the
// reaction to gravity (+9.81 up at rest) tilted by small roll/pitch vibration + vertical vibration.
// The vibration is band-limited noise in three bands whose mix shifts towards high frequencies and
// whose amplitude grows with the roughness under the wheels (mean of the four wheel contacts) and
// with speed (amplitude ∝ speed^speedExponent, so power ∝ speed^(2·speedExponent)), plus an impact
// process (stones hit by the wheels) on rough ground, plus a faint speed-dependent drive-train hum
// so that smooth ground is not perfectly still. Gyro: roll/pitch-rate vibration and the true yaw rate.
// The result is rotated into imu_link (mounted with a configurable rotation) and gets bias, bias
// random walk and white noise.
//
// Terrains with recorded vibration (recorded-vibration.ts) replace the synthetic vibration for the
// wheels on them: with a share f of the four wheel contacts on recorded terrain T, the vibration is
// √f_syn · synthetic(roughness of the other wheels) + Σ √f_T · recording_T · speed^speedExponent
// (equal-power mixing: powers add in proportion to the contacts). Gravity, rigid-body motion, bias
// and noise are the same for both.

import { type Mat34, mat34, mat34FromQuat, quatFromRPY } from "../src/core/geometry.ts";
import { type LevelCurve, type PreparedTerrain, prepareTerrain } from "./recorded-vibration.ts";
import { DETREND_SECONDS, removeMovingMean } from "./recording.ts";
import { Rng } from "./rng.ts";
import type { RobotState } from "./route.ts";
import { roughnessAt, terrainAt, uniformWorld, type World } from "./world.ts";
import type { WorldFile } from "./world-schema.ts";

export const GRAVITY = 9.80665;

/** RBJ band-pass biquad (0 dB peak), transposed direct form II. */
export class Biquad {
  readonly b0: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;
  #z1 = 0;
  #z2 = 0;
  /** Scale that gives unit output variance for unit-variance white input. */
  readonly whiteGain: number;

  constructor(f0: number, q: number, fs: number) {
    const f = Math.min(f0, 0.45 * fs);
    const w0 = (2 * Math.PI * f) / fs;
    const alpha = Math.sin(w0) / (2 * q);
    const a0 = 1 + alpha;
    this.b0 = alpha / a0;
    this.b2 = -alpha / a0;
    this.a1 = (-2 * Math.cos(w0)) / a0;
    this.a2 = (1 - alpha) / a0;
    // Σ h[n]² from the impulse response: the exact output variance for white input.
    let energy = 0;
    for (let n = 0; n < 20000; n++) {
      const y = this.process(n === 0 ? 1 : 0);
      energy += y * y;
    }
    this.#z1 = 0;
    this.#z2 = 0;
    this.whiteGain = 1 / Math.sqrt(energy);
  }

  process(x: number): number {
    const y = this.b0 * x + this.#z1;
    this.#z1 = -this.a1 * y + this.#z2;
    this.#z2 = this.b2 * x - this.a2 * y;
    return y;
  }
}

export interface ImuReading {
  /** m/s² and rad/s in imu_link. */
  ax: number;
  ay: number;
  az: number;
  gx: number;
  gy: number;
  gz: number;
  /** Roughness under the wheels used for this sample (for tests and debugging). */
  roughness: number;
}

export class ImuModel {
  readonly rate: number;
  /** base_link ← imu_link rotation (and translation), for /tf_static. */
  readonly mount: Mat34;
  readonly rotation: { x: number; y: number; z: number; w: number };
  readonly translation: { x: number; y: number; z: number };
  #world: World;
  #rng: Rng;
  #bands: Biquad[];
  #impact: Biquad;
  #rollF: Biquad;
  #pitchF: Biquad;
  #prevRoll = 0;
  #prevPitch = 0;
  #first = true;
  #humPhase = 0;
  #bias: Float64Array;
  #biasWalk: number;
  #wheels: Float64Array;
  /** Per terrain index: its recorded vibration, or null (synthetic). Null when the world has none. */
  #recorded: (PreparedTerrain | null)[] | null = null;
  #recSample = new Float64Array(6);
  #wheelTerrain = new Int32Array(4);

  constructor(world: World, seed: number, rate: number) {
    const cfg = world.file.imu;
    this.rate = rate;
    this.#world = world;
    this.#rng = Rng.stream(seed, "imu");
    const [r, p, y] = cfg.rpyDeg.map((d) => (d * Math.PI) / 180) as [number, number, number];
    this.rotation = quatFromRPY(r, p, y);
    this.translation = { x: cfg.xyz[0], y: cfg.xyz[1], z: cfg.xyz[2] };
    this.mount = mat34FromQuat(this.rotation, this.translation, mat34());
    // Heave of the suspension, chassis shake, and stone chatter.
    this.#bands = [new Biquad(4, 1.2, rate), new Biquad(12, 1.5, rate), new Biquad(32, 1.8, rate)];
    this.#impact = new Biquad(18, 4, rate);
    this.#rollF = new Biquad(3, 1.0, rate);
    this.#pitchF = new Biquad(2.5, 1.0, rate);
    const rng = this.#rng;
    this.#bias = Float64Array.from([
      cfg.accelBias * rng.gauss(),
      cfg.accelBias * rng.gauss(),
      cfg.accelBias * rng.gauss(),
      cfg.gyroBias * rng.gauss(),
      cfg.gyroBias * rng.gauss(),
      cfg.gyroBias * rng.gauss(),
    ]);
    this.#biasWalk = Math.sqrt(1 / rate);
    const { width, wheelbase } = world.file.robot;
    // Wheel contacts in base_link: front-left, front-right, rear-left, rear-right.
    this.#wheels = Float64Array.from([
      wheelbase / 2,
      width / 2,
      wheelbase / 2,
      -width / 2,
      -wheelbase / 2,
      width / 2,
      -wheelbase / 2,
      -width / 2,
    ]);
    if (world.terrains.some((t) => t.recordings)) {
      const curve = syntheticLevelCurve(world.file, rate);
      this.#recorded = world.terrains.map((t) =>
        t.recordings && t.vibration
          ? prepareTerrain(
              {
                terrain: t.name,
                roughness: t.roughness,
                driven: t.driven,
                vibration: t.vibration,
                recordings: t.recordings,
              },
              rate,
              cfg.speedExponent,
              curve,
              seed,
            )
          : null,
      );
    }
  }

  /** Recorded vibration per terrain index (null: synthetic), or null when the world has none. */
  get recordedTerrains(): readonly (PreparedTerrain | null)[] | null {
    return this.#recorded;
  }

  /** One reading for the robot state `s` (call once per IMU period, in time order). */
  sample(s: RobotState, out: ImuReading): ImuReading {
    const cfg = this.#world.file.imu;
    const rng = this.#rng;
    const dt = 1 / this.rate;
    const c = Math.cos(s.yaw);
    const sn = Math.sin(s.yaw);
    const w = this.#wheels;
    let rl = 0;
    let rr = 0;
    let rf = 0;
    let rb = 0;
    for (let k = 0; k < 4; k++) {
      const bx = w[2 * k]!;
      const by = w[2 * k + 1]!;
      const r = roughnessAt(this.#world, s.x + c * bx - sn * by, s.y + sn * bx + c * by);
      if (by > 0) rl += r / 2;
      else rr += r / 2;
      if (bx > 0) rf += r / 2;
      else rb += r / 2;
    }
    const rough = (rl + rr) / 2;
    const speed = Math.abs(s.v);
    const speedTerm = speed ** cfg.speedExponent;
    const recorded = this.#recorded;
    // Share of wheel contacts on synthetic terrain, their mean roughness (recorded worlds only).
    let fSyn = 1;
    let fSynGyro = 1;
    let roughV = rough;
    if (recorded) {
      let nSyn = 0;
      let nSynGyro = 0;
      let sumSyn = 0;
      for (let k = 0; k < 4; k++) {
        const bx = w[2 * k]!;
        const by = w[2 * k + 1]!;
        const t = terrainAt(this.#world, s.x + c * bx - sn * by, s.y + sn * bx + c * by);
        this.#wheelTerrain[k] = t;
        const rec = t >= 0 ? recorded[t] : null;
        if (!rec) {
          nSyn++;
          sumSyn += t < 0 ? 1 : this.#world.roughnessOf[t]!;
        }
        if (!rec?.hasGyro) nSynGyro++;
      }
      fSyn = nSyn / 4;
      fSynGyro = nSynGyro / 4;
      roughV = nSyn > 0 ? sumSyn / nSyn : 0;
    }
    // A small floor: smooth ground still shakes a moving robot a little.
    const amp = cfg.vibration * (0.03 + roughV) * speedTerm;
    const [low, mid, high] = this.#bands as [Biquad, Biquad, Biquad];
    // Rough ground moves energy up the spectrum.
    const wLow = 1;
    const wMid = 0.4 + 1.2 * roughV;
    const wHigh = 0.1 + 2.0 * roughV * roughV;
    const wNorm = 1 / Math.sqrt(wLow * wLow + wMid * wMid + wHigh * wHigh);
    let az =
      amp *
      wNorm *
      (wLow * low.whiteGain * low.process(rng.gauss()) +
        wMid * mid.whiteGain * mid.process(rng.gauss()) +
        wHigh * high.whiteGain * high.process(rng.gauss()));
    // Impacts: each wheel meets a "stone" every `spacing` metres on average once roughness > 0.3.
    let kick = 0;
    if (roughV > 0.3 && speed > 0.05) {
      const spacing = 0.06 + 0.6 * (1 - roughV);
      const p = Math.min(0.5, (4 * speed * dt) / spacing);
      if (rng.next() < p)
        kick =
          cfg.vibration *
          6 *
          (roughV - 0.3) *
          speedTerm *
          rng.uniform(0.3, 1.5) *
          (rng.next() < 0.5 ? -1 : 1);
    }
    az += this.#impact.process(kick);
    // Drive-train hum: a tone whose pitch follows wheel speed.
    const humF = Math.min(0.4 * this.rate, 25 + 15 * speed);
    this.#humPhase = (this.#humPhase + 2 * Math.PI * humF * dt) % (2 * Math.PI);
    az += 0.05 * Math.min(1, speed) * Math.sin(this.#humPhase);

    // Roll/pitch vibration angles (rad): driven by side-to-side / front-to-back roughness.
    const angAmp = 0.012 * speedTerm;
    const roll =
      angAmp * (0.05 + rough + Math.abs(rl - rr)) * this.#rollF.whiteGain * this.#rollF.process(rng.gauss());
    const pitch =
      angAmp *
      (0.05 + rough + Math.abs(rf - rb)) *
      this.#pitchF.whiteGain *
      this.#pitchF.process(rng.gauss());
    const rollRate = this.#first ? 0 : (roll - this.#prevRoll) / dt;
    const pitchRate = this.#first ? 0 : (pitch - this.#prevPitch) / dt;
    this.#first = false;
    this.#prevRoll = roll;
    this.#prevPitch = pitch;

    // Rigid body at the IMU position (planar motion + lever arm).
    const { x: rx, y: ry } = this.translation;
    const wz = s.w;
    let fx = s.a - s.alpha * ry - wz * wz * rx - GRAVITY * pitch;
    let fy = s.v * wz + s.alpha * rx - wz * wz * ry + GRAVITY * roll;
    let fz = GRAVITY + az;
    let gx = rollRate;
    let gy = pitchRate;
    let gz = wz;
    if (recorded) {
      // Synthetic parts weighted by their share of contacts; each recording by its own share.
      const ws = Math.sqrt(fSyn);
      const wg = Math.sqrt(fSynGyro);
      fx = s.a - s.alpha * ry - wz * wz * rx - GRAVITY * pitch * wg;
      fy = s.v * wz + s.alpha * rx - wz * wz * ry + GRAVITY * roll * wg;
      fz = GRAVITY + az * ws;
      gx = rollRate * wg;
      gy = pitchRate * wg;
      const v = this.#recSample;
      for (let t = 0; t < recorded.length; t++) {
        const rec = recorded[t];
        if (!rec) continue;
        rec.player.next(v);
        let n = 0;
        for (let k = 0; k < 4; k++) if (this.#wheelTerrain[k] === t) n++;
        if (n === 0) continue;
        const wr = Math.sqrt(n / 4) * speedTerm;
        fx += wr * v[0]!;
        fy += wr * v[1]!;
        fz += wr * v[2]!;
        if (rec.hasGyro) {
          gx += wr * v[3]!;
          gy += wr * v[4]!;
          gz += wr * v[5]!;
        }
      }
    }

    // base_link → imu_link: v_imu = Rᵀ v_base.
    const m = this.mount;
    const ax = m[0]! * fx + m[4]! * fy + m[8]! * fz;
    const ay = m[1]! * fx + m[5]! * fy + m[9]! * fz;
    const azI = m[2]! * fx + m[6]! * fy + m[10]! * fz;
    const wx = m[0]! * gx + m[4]! * gy + m[8]! * gz;
    const wy = m[1]! * gx + m[5]! * gy + m[9]! * gz;
    const wzI = m[2]! * gx + m[6]! * gy + m[10]! * gz;
    fx = ax;
    fy = ay;
    fz = azI;
    gx = wx;
    gy = wy;
    gz = wzI;

    // Bias random walk (slow) and white noise.
    const b = this.#bias;
    for (let i = 0; i < 6; i++) {
      b[i] = b[i]! + (i < 3 ? 0.0005 : 0.00005) * this.#biasWalk * rng.gauss();
    }
    out.ax = fx + b[0]! + cfg.accelNoise * rng.gauss();
    out.ay = fy + b[1]! + cfg.accelNoise * rng.gauss();
    out.az = fz + b[2]! + cfg.accelNoise * rng.gauss();
    out.gx = gx + b[3]! + cfg.gyroNoise * rng.gauss();
    out.gy = gy + b[4]! + cfg.gyroNoise * rng.gauss();
    out.gz = gz + b[5]! + cfg.gyroNoise * rng.gauss();
    out.roughness = rough;
    return out;
  }
}

const levelCurves = new Map<string, LevelCurve>();

/**
 * The synthetic model's vibration level against roughness, for this world's IMU and robot at `rate`:
 * RMS (m/s²) of the vertical specific force minus gravity, its 2 s moving mean removed (as for a
 * recording), driving straight at 1 m/s for 60 s on uniform ground, roughness 0, 0.05, …, 1.
 */
export function syntheticLevelCurve(file: WorldFile, rate: number): LevelCurve {
  const imu = { ...file.imu, rpyDeg: [0, 0, 0] as [number, number, number], accelNoise: 0, accelBias: 0 };
  const key = JSON.stringify([imu, file.robot, rate]);
  const hit = levelCurves.get(key);
  if (hit) return hit;
  const n = Math.round(60 * rate);
  const levels = new Float64Array(21);
  const reading: ImuReading = { ax: 0, ay: 0, az: 0, gx: 0, gy: 0, gz: 0, roughness: 0 };
  const state: RobotState = {
    t: 0,
    x: 0,
    y: 0,
    yaw: 0,
    v: 1,
    w: 0,
    a: 0,
    alpha: 0,
  };
  for (let k = 0; k < levels.length; k++) {
    const r = k / (levels.length - 1);
    const model = new ImuModel(uniformWorld({ ...file, imu }, r), 1, rate);
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      state.t = i / rate;
      state.x = i / rate;
      z[i] = model.sample(state, reading).az - GRAVITY;
    }
    removeMovingMean(z, Math.round(DETREND_SECONDS * rate));
    let sum = 0;
    for (let i = 0; i < n; i++) sum += z[i]! * z[i]!;
    levels[k] = Math.sqrt(sum / n);
  }
  const curve = { levels };
  if (levelCurves.size > 16) levelCurves.clear();
  levelCurves.set(key, curve);
  return curve;
}
