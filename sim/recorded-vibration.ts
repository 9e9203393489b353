// Playback of recorded vibration for the terrains of a world that have `vibration.recordings`.
//
// Each such terrain has a player that cuts its recordings into segments (random recording, random
// start among the samples where the recorded robot was moving, 1–4 s long) and splices them with
// an equal-power cross-fade of SPLICE_SECONDS, so no join steps further than the recording's own
// sample-to-sample changes. Every player advances every IMU sample, whether or not a wheel is on its
// terrain, so the output depends only on the seed and the sample count.
//
// One roughness scale (see docs/worlds.md): a recorded terrain's vibration is multiplied by
// gain = syntheticLevel(roughness) / recordingLevel, so its vertical RMS at the reference speed equals
// what the synthetic model gives for the terrain's `roughness`. A perfect labeller then orders
// recorded and synthetic terrains as the ground truth does. Setting a recorded terrain's roughness
// to `naturalRoughness` (gain 1) keeps the recordings' own levels.

import {
  gyroUnitWarning,
  type PreparedRecording,
  prepareRecording,
  type Recording,
  recordingLevel,
  speedUnitWarning,
} from "./recording.ts";
import { deriveSeed, Rng } from "./rng.ts";
import type { VibrationEntry } from "./world-schema.ts";

export const SPLICE_SECONDS = 0.25;
export const SEGMENT_SECONDS: readonly [number, number] = [1, 4];

/** Vertical vibration RMS (m/s²) of the synthetic model at 1 m/s, sampled at roughness k / (n − 1). */
export interface LevelCurve {
  levels: Float64Array;
}

export function levelAt(curve: LevelCurve, roughness: number): number {
  const L = curve.levels;
  const x = Math.max(0, Math.min(1, roughness)) * (L.length - 1);
  const i = Math.min(L.length - 2, Math.floor(x));
  return L[i]! + (L[i + 1]! - L[i]!) * (x - i);
}

/** Inverse of levelAt (the curve rises with roughness); clamped to 0..1. */
export function roughnessAtLevel(curve: LevelCurve, level: number): number {
  const L = curve.levels;
  if (level <= L[0]!) return 0;
  for (let i = 1; i < L.length; i++) {
    if (level <= L[i]!) return (i - 1 + (level - L[i - 1]!) / (L[i]! - L[i - 1]!)) / (L.length - 1);
  }
  return 1;
}

export class RecordingPlayer {
  readonly recordings: readonly PreparedRecording[];
  readonly gain: number;
  #rng: Rng;
  #fade: number;
  /** Consecutive usable samples from each index, per recording. */
  #run: Int32Array[];
  #weights: number[];
  #cur = { rec: 0, pos: 0, end: 0 };
  #next = { rec: 0, pos: 0, end: 0 };
  #fading = -1;
  #rate: number;
  /** Index of the last sample of every splice (for tests): the first sample of the new segment. */
  joins = 0;

  constructor(recordings: readonly PreparedRecording[], gain: number, seed: number) {
    if (recordings.length === 0) throw new Error("a recording player needs at least one recording");
    this.recordings = recordings;
    this.gain = gain;
    this.#rng = new Rng(seed);
    this.#rate = recordings[0]!.rate;
    this.#fade = Math.max(2, Math.round(SPLICE_SECONDS * this.#rate));
    this.#run = recordings.map((r) => {
      const run = new Int32Array(r.usable.length);
      for (let i = r.usable.length - 1; i >= 0; i--) {
        run[i] = r.usable[i] ? 1 + (i + 1 < run.length ? run[i + 1]! : 0) : 0;
      }
      return run;
    });
    this.#weights = recordings.map((r) => r.usableCount);
    this.#pick(this.#cur);
  }

  /** Chooses a new segment: recording by usable length, start where the robot moves throughout. */
  #pick(seg: { rec: number; pos: number; end: number }): void {
    const rng = this.#rng;
    const total = this.#weights.reduce((a, b) => a + b, 0);
    let u = rng.next() * total;
    let rec = 0;
    while (rec < this.#weights.length - 1 && u >= this.#weights[rec]!) u -= this.#weights[rec++]!;
    const run = this.#run[rec]!;
    let len = Math.round(rng.uniform(SEGMENT_SECONDS[0], SEGMENT_SECONDS[1]) * this.#rate);
    const need = len + this.#fade;
    let start = -1;
    for (let tries = 0; tries < 64 && start < 0; tries++) {
      const i = rng.int(run.length);
      if (run[i]! >= need) start = i;
    }
    if (start < 0) {
      // Runs shorter than the segment: play the longest one.
      let best = 0;
      for (let i = 1; i < run.length; i++) if (run[i]! > run[best]!) best = i;
      start = best;
      len = Math.max(this.#fade, run[best]! - this.#fade);
    }
    seg.rec = rec;
    seg.pos = start;
    seg.end = start + len + this.#fade;
  }

  /** Next sample, z-up, at 1 m/s: ax, ay, az, gx, gy, gz (× gain) into out. */
  next(out: Float64Array): void {
    const cur = this.#cur;
    const F = this.#fade;
    if (this.#fading < 0 && cur.end - cur.pos <= F) {
      this.#pick(this.#next);
      this.#fading = 0;
    }
    const a = this.recordings[cur.rec]!.channels;
    const g = this.gain;
    if (this.#fading < 0) {
      for (let c = 0; c < 6; c++) out[c] = g * a[c]![cur.pos]!;
      cur.pos++;
      return;
    }
    // Equal-power cross-fade: the two segments are unrelated, so powers add.
    const nx = this.#next;
    const b = this.recordings[nx.rec]!.channels;
    const w = ((this.#fading + 0.5) / F) * (Math.PI / 2);
    const wa = Math.cos(w);
    const wb = Math.sin(w);
    for (let c = 0; c < 6; c++) out[c] = g * (wa * a[c]![cur.pos]! + wb * b[c]![nx.pos]!);
    cur.pos++;
    nx.pos++;
    this.#fading++;
    if (this.#fading >= F) {
      this.#cur = { ...nx };
      this.#fading = -1;
      this.joins++;
    }
  }
}

export interface RecordedTerrain {
  terrain: string;
  roughness: number;
  /** false: the route never drives on it, so its recordings never play (said, not refused). */
  driven: boolean;
  vibration: VibrationEntry;
  recordings: readonly Recording[];
}

export interface PreparedTerrain {
  player: RecordingPlayer;
  /** Level of the recordings at 1 m/s before the gain, and the roughness that level means. */
  level: number;
  naturalRoughness: number;
  gain: number;
  hasGyro: boolean;
  /** Recordings whose gyro looks logged in deg/s (played as they are), or that never play. */
  warnings: string[];
}

/** Prepares one terrain's recordings for `rate` and sets its gain from the synthetic level curve. */
export function prepareTerrain(
  t: RecordedTerrain,
  rate: number,
  speedExponent: number,
  curve: LevelCurve,
  seed: number,
): PreparedTerrain {
  // As convert-recording's --speed: a speed no recording reads would be ignored without a word.
  if (t.vibration.speed !== undefined && t.recordings.every((r) => r.speed)) {
    throw new Error(
      `terrain '${t.terrain}': vibration.speed is for recordings without a speed column, and ${t.recordings.length > 1 ? "all of them have one" : `${t.recordings[0]?.path} has one`} (used instead): remove vibration.speed`,
    );
  }
  const prepared = t.recordings.map((r) =>
    prepareRecording(r, { up: t.vibration.up, speed: t.vibration.speed, rate, speedExponent }, t.terrain),
  );
  const level = recordingLevel(prepared);
  if (!(level > 0)) throw new Error(`terrain '${t.terrain}': its recordings have no vibration (level 0)`);
  const gain = levelAt(curve, t.roughness) / level;
  return {
    player: new RecordingPlayer(prepared, gain, deriveSeed(seed, `recording:${t.terrain}`)),
    level,
    naturalRoughness: roughnessAtLevel(curve, level),
    gain,
    hasGyro: prepared.every((p) => p.hasGyro),
    warnings: [
      ...(t.driven
        ? []
        : [
            `terrain '${t.terrain}': driven: false, so its vibration.recordings are never played (the robot never drives on it); drive it or remove them`,
          ]),
      ...t.recordings.flatMap((r) =>
        [gyroUnitWarning(r), speedUnitWarning(r)]
          .filter((w) => w !== undefined)
          .map((w) => `terrain '${t.terrain}': recording ${r.path}: ${w}`),
      ),
    ],
  };
}
