import { describe, expect, it } from "vitest";
import { WelchPsd } from "../src/core/fft.ts";
import { quatFromRPY, quatRotate } from "../src/core/geometry.ts";
import { calibrateLogEnergy, VibrationLabeller } from "../src/core/labeller.ts";
import { PoseHistory } from "../src/core/pose-history.ts";
import { SelfSupervisor } from "../src/core/self-supervisor.ts";
import type { RoughnessLabel } from "../src/core/types.ts";
import { spearman } from "../src/eval/metrics.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { labelRun, loadRun, median } from "./core-borealtc-helpers.ts";
import { drive, gaussian, interleave, rng, staticTransforms, testConfig } from "./core-synthetic.ts";

function rotationMatrix(q: { x: number; y: number; z: number; w: number }): number[] {
  const c0 = quatRotate(q, { x: 1, y: 0, z: 0 });
  const c1 = quatRotate(q, { x: 0, y: 1, z: 0 });
  const c2 = quatRotate(q, { x: 0, y: 0, z: 1 });
  return [c0.x, c1.x, c2.x, c0.y, c1.y, c2.y, c0.z, c1.z, c2.z];
}

describe("WelchPsd", () => {
  it("integrates a sine's power (A²/2) inside the band and nothing outside", () => {
    for (const fs of [100, 200, 400]) {
      const n = 256;
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = 3 + 2 * Math.sin((2 * Math.PI * 12.5 * i) / fs);
      const w = new WelchPsd(1024);
      w.compute(x, 0, n, fs, 64);
      // Hann leaks over ±1 bin for a sine on a bin centre; a band of ±6 Hz around 12.5 Hz holds all of it.
      expect(w.bandPower(fs, 64, 6, 19)).toBeCloseTo(2, 9);
      // The offset (gravity, bias) is removed per segment.
      expect(w.bandPower(fs, 64, 0, 3)).toBeLessThan(1e-9);
    }
  });
});

/** Feeds a synthetic drive straight into a labeller (no facade). */
function labelDrive(d: ReturnType<typeof drive>, cfg = defaultConfig().labeler) {
  const poses = new PoseHistory();
  const lab = new VibrationLabeller(cfg, poses);
  for (const o of d.odom) poses.push(o);
  for (const s of d.imu) {
    const a = s.linearAcceleration,
      w = s.angularVelocity;
    lab.pushImu(s.stamp, a.x, a.y, a.z, w.x, w.y, w.z);
  }
  lab.finish();
  return { labels: lab.takeLabels(), lab };
}

describe("VibrationLabeller on synthetic streams", () => {
  it("gives the same energy at 100, 200 and 400 Hz for the same physical vibration", () => {
    const energies: number[] = [];
    for (const imuRate of [100, 200, 400]) {
      const poses = new PoseHistory();
      const lab = new VibrationLabeller(defaultConfig().labeler, poses);
      for (let i = 0; i <= 20 * 50; i++) poses.pushRaw(i / 50, (0.5 * i) / 50, 0, 0, 0, 0, 0, 1, 0.5, 0);
      for (let i = 0; i <= 20 * imuRate; i++) {
        const t = i / imuRate;
        // 8 Hz and 21 Hz components: 0.5²/2 + 0.3²/2 = 0.17 (m/s²)² in the 1–30 Hz band.
        const az = 9.81 + 0.5 * Math.sin(2 * Math.PI * 8 * t) + 0.3 * Math.sin(2 * Math.PI * 21 * t + 1);
        lab.pushImu(t, 0, 0, az, 0, 0, 0);
      }
      lab.finish();
      const labels = lab.takeLabels();
      expect(labels.length).toBeGreaterThan(30);
      const vbp = median(labels.map((l) => l.features.verticalBandPower));
      expect(vbp).toBeCloseTo(0.17, 1);
      energies.push(vbp);
    }
    expect(Math.max(...energies) / Math.min(...energies)).toBeLessThan(1.1);
  });

  it("emits one label per 0.25 m with a footprint of robot width × step, in odom", () => {
    const d = drive({ duration: 21, speed: 0.5, roughnessAt: () => 0.5, yaw: 0.5 });
    const { labels } = labelDrive(d);
    // 10 m travelled → 40 steps (the first starts with the first sample).
    expect(labels.length).toBeGreaterThanOrEqual(39);
    expect(labels.length).toBeLessThanOrEqual(42);
    const l = labels[10]!;
    expect(l.t1 - l.t0).toBeCloseTo(0.5, 2);
    expect(l.speed).toBeCloseTo(0.5, 2);
    expect(l.footprint.frameId).toBe("odom");
    const { xs, ys } = l.footprint;
    // Rectangle 0.25 m along the heading (yaw 0.5) and 0.6 m across.
    expect(Math.hypot(xs[1]! - xs[0]!, ys[1]! - ys[0]!)).toBeCloseTo(0.25, 2);
    expect(Math.hypot(xs[3]! - xs[0]!, ys[3]! - ys[0]!)).toBeCloseTo(0.6, 6);
    expect(Math.atan2(ys[1]! - ys[0]!, xs[1]! - xs[0]!)).toBeCloseTo(0.5, 6);
    const cx = (xs[0]! + xs[1]! + xs[2]! + xs[3]!) / 4;
    expect(cx).toBeCloseTo(l.x, 3);
    expect(Math.hypot(l.x, l.y)).toBeCloseTo(0.25 * 10.5, 1);
  });

  it("labels follow the roughness under the robot (Spearman ≥ 0.9) and are counted when skipped", () => {
    const rough = (x: number) => 0.1 + 0.9 * (0.5 + 0.5 * Math.sin(x / 1.5));
    // Speed varies 0.3..0.9 m/s, with a 4 s stop in the middle.
    const speed = (t: number) => (t > 30 && t < 34 ? 0 : 0.6 + 0.3 * Math.sin(t / 3));
    const d = drive({ duration: 60, speed, roughnessAt: rough });
    const { labels, lab } = labelDrive(d);
    expect(labels.length).toBeGreaterThan(100);
    const truth = labels.map((l) => rough(l.x));
    expect(
      spearman(
        labels.map((l) => l.energy),
        truth,
      ),
    ).toBeGreaterThan(0.9);
    // Raw (unnormalised) power correlates worse: speed is a confounder.
    const raw = labels.map((l) => l.features.verticalBandPower + 0.5 * l.features.angularRateEnergy);
    expect(spearman(raw, truth)).toBeLessThan(
      spearman(
        labels.map((l) => l.energy),
        truth,
      ),
    );
    expect(lab.stats().skipped.stationary).toBeGreaterThanOrEqual(1);
    for (const l of labels) expect(l.roughness >= 0 && l.roughness <= 1).toBe(true);
    const pct = lab.energyPercentiles([5, 50, 95]);
    expect(pct.p5!).toBeLessThan(pct.p50!);
    expect(pct.p50!).toBeLessThan(pct.p95!);
  });

  it("skips steps while turning hard and while too few samples arrive", () => {
    const poses = new PoseHistory();
    const lab = new VibrationLabeller(defaultConfig().labeler, poses);
    // Drives a circle of radius 0.5 m at 0.5 m/s: yaw rate 1 rad/s > maxYawRate 0.8.
    for (let i = 0; i <= 500; i++) {
      const t = i / 50;
      const a = t;
      const q = quatFromRPY(0, 0, a + Math.PI / 2);
      poses.pushRaw(t, 0.5 * Math.cos(a), 0.5 * Math.sin(a), 0, q.x, q.y, q.z, q.w, 0.5, 1);
    }
    const g = gaussian(rng(3));
    // IMU at only 10 Hz during the first half, then 200 Hz.
    for (let t = 0; t < 10; t += t < 5 ? 0.1 : 0.005) lab.pushImu(t, 0, 0, 9.81 + g(), 0, 0, 1);
    lab.finish();
    const s = lab.stats();
    expect(lab.takeLabels().length).toBe(0);
    expect(s.skipped.turning).toBeGreaterThan(5);
  });

  it("counts NaN, duplicate and backwards samples and labels the rest as if they were not there", () => {
    const d = drive({ duration: 20, speed: 0.5, roughnessAt: () => 0.5, seed: 7 });
    const clean = labelDrive(d).labels;
    const poses = new PoseHistory();
    const lab = new VibrationLabeller(defaultConfig().labeler, poses);
    for (const o of d.odom) poses.push(o);
    let injected = 0;
    d.imu.forEach((s, i) => {
      const a = s.linearAcceleration,
        w = s.angularVelocity;
      expect(lab.pushImu(s.stamp, a.x, a.y, a.z, w.x, w.y, w.z)).toBeNull();
      if (i % 97 === 5) {
        expect(lab.pushImu(s.stamp, a.x, a.y, a.z, w.x, w.y, w.z)).toBe("duplicate");
        expect(lab.pushImu(s.stamp - 0.5, a.x, a.y, a.z, w.x, w.y, w.z)).toBe("backwards");
        expect(lab.pushImu(s.stamp + 1e-4, Number.NaN, a.y, a.z, w.x, w.y, w.z)).toBe("nan");
        expect(lab.pushImu(Number.NaN, a.x, a.y, a.z, w.x, w.y, w.z)).toBe("nan");
        injected++;
      }
    });
    lab.finish();
    const st = lab.stats();
    expect(st.imuRejected).toEqual({ nan: 2 * injected, backwards: injected, duplicate: injected });
    const dirty = lab.takeLabels();
    expect(dirty.length).toBe(clean.length);
    for (let i = 0; i < clean.length; i++) expect(dirty[i]!.energy).toBeCloseTo(clean[i]!.energy, 12);
  });
});

describe("mounting: the IMU rotated (gravity not on z) gives the same labels as upright", () => {
  const run = loadRun("ASPHALT", "04");
  const cfg = defaultConfig().labeler;
  const upright = labelRun(run, cfg).labels;

  it.each([
    ["on its side (gravity on −y)", quatFromRPY(Math.PI / 2, 0, 0)],
    ["upside down", quatFromRPY(Math.PI, 0, 0)],
    ["arbitrary", quatFromRPY(1.1, -0.7, 2.3)],
  ])("real BorealTC run, IMU %s, gravity estimated from the data", (_name, q) => {
    const rotated = labelRun(run, cfg, { m: rotationMatrix({ x: -q.x, y: -q.y, z: -q.z, w: q.w }) });
    expect(rotated.labels.length).toBe(upright.length);
    for (let i = 0; i < upright.length; i++) {
      expect(rotated.labels[i]!.energy / upright[i]!.energy).toBeCloseTo(1, 9);
      expect(rotated.labels[i]!.roughness).toBeCloseTo(upright[i]!.roughness, 9);
    }
    const v = rotated.labeller.stats().vertical;
    // The estimated vertical is gravity's direction in the rotated IMU frame.
    const up = quatRotate({ x: -q.x, y: -q.y, z: -q.z, w: q.w }, { x: 0, y: 0, z: 1 });
    expect(v[0] * up.x + v[1] * up.y + v[2] * up.z).toBeGreaterThan(0.99);
  });

  it("synthetic stream through the facade with the mount from TF (base_link ← imu_link)", () => {
    const labelsWith = (q: { x: number; y: number; z: number; w: number }) => {
      const sup = new SelfSupervisor<null>(testConfig());
      sup.onTransforms(staticTransforms(q));
      const d = drive({
        duration: 20,
        speed: 0.6,
        roughnessAt: (x) => 0.3 + 0.2 * Math.sin(x),
        imuRotation: q,
        seed: 11,
      });
      const out: RoughnessLabel[] = [];
      for (const m of interleave(d.imu, d.odom)) {
        if ("linearAcceleration" in m) sup.onImu(m);
        else sup.onOdom(m);
      }
      out.push(...sup.flush().labels);
      return { out, st: sup.stats() };
    };
    const a = labelsWith({ x: 0, y: 0, z: 0, w: 1 });
    const b = labelsWith(quatFromRPY(0.4, Math.PI / 2, -1.0));
    expect(b.st.vertical.source).toBe("tf");
    expect(a.out.length).toBeGreaterThan(40);
    expect(b.out.length).toBe(a.out.length);
    for (let i = 0; i < a.out.length; i++) expect(b.out[i]!.energy / a.out[i]!.energy).toBeCloseTo(1, 6);
  });
});

describe("speed normalisation on the real BorealTC runs", () => {
  // Same terrain, two speeds. Raw vibration power grows steeply with speed; the default model
  // energy / (v / v_ref)^2.85 should bring the two runs of each pair far closer together.
  const pairs = [
    ["ASPHALT", "00", "04"],
    ["SANDY_LOAM", "00", "08"],
    ["SNOW", "00", "08"],
    ["SNOW", "09", "08"],
  ] as const;
  const cfg = defaultConfig().labeler;
  const rows = pairs.map(([terrain, slow, fast]) => {
    const a = labelRun(loadRun(terrain, slow), cfg).labels;
    const b = labelRun(loadRun(terrain, fast), cfg).labels;
    const rawOf = (l: RoughnessLabel) =>
      l.features.verticalBandPower + cfg.angular_weight * l.features.angularRateEnergy;
    return {
      pair: `${terrain} ${slow}/${fast}`,
      speedRatio: median(b.map((l) => l.speed)) / median(a.map((l) => l.speed)),
      rawRatio: median(b.map(rawOf)) / median(a.map(rawOf)),
      energyRatio: median(b.map((l) => l.energy)) / median(a.map((l) => l.energy)),
      labels: [a.length, b.length],
    };
  });

  it("labels the same terrain at ~0.23 and ~0.5 m/s far closer than the raw energies", () => {
    console.table(
      rows.map((r) => ({
        ...r,
        speedRatio: r.speedRatio.toFixed(2),
        rawRatio: r.rawRatio.toFixed(2),
        energyRatio: r.energyRatio.toFixed(2),
      })),
    );
    const absLog = (x: number) => Math.abs(Math.log(x));
    for (const r of rows) {
      expect(r.speedRatio).toBeGreaterThan(1.5);
      expect(r.rawRatio).toBeGreaterThan(2.5);
      // Every pair ends up closer than it started.
      expect(absLog(r.energyRatio)).toBeLessThan(absLog(r.rawRatio));
    }
    // The loose terrains (sandy loam, snow; raw 3.6× to 30×) end up within a factor 2.
    for (const r of rows.filter((x) => !x.pair.startsWith("ASPHALT")))
      expect(absLog(r.energyRatio)).toBeLessThan(Math.log(2));
    // Asphalt is over-corrected (its own exponent would be ~1.5: a smooth surface shakes less
    // with speed than loose ground), but stays within a factor 3.
    const asphalt = rows.find((x) => x.pair.startsWith("ASPHALT"))!;
    expect(asphalt.energyRatio).toBeGreaterThan(1 / 3);
    expect(asphalt.energyRatio).toBeLessThan(1);
    // Overall: mean |log ratio| shrinks by more than 3×.
    const meanAbsLog = (k: "rawRatio" | "energyRatio") =>
      rows.reduce((s, r) => s + absLog(r[k]), 0) / rows.length;
    expect(meanAbsLog("energyRatio")).toBeLessThan(meanAbsLog("rawRatio") / 3);
  });

  it("the default exponent is the least-squares fit of log raw-ratio on log speed-ratio", () => {
    let num = 0,
      den = 0;
    for (const r of rows) {
      num += Math.log(r.speedRatio) * Math.log(r.rawRatio);
      den += Math.log(r.speedRatio) ** 2;
    }
    expect(num / den).toBeCloseTo(cfg.speed_exponent, 1);
  });
});

describe("calibration", () => {
  function percentile(sorted: number[], p: number): number {
    const pos = (p / 100) * (sorted.length - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
  }

  it("running percentiles over a bounded window match a full sort of the last labels", () => {
    const d = drive({
      duration: 40,
      speed: 0.7,
      roughnessAt: (x) => 0.2 + (0.8 * ((Math.floor(x / 0.9) * 7919) % 13)) / 13,
      seed: 5,
    });
    const poses = new PoseHistory();
    const cfg = defaultConfig().labeler;
    const lab = new VibrationLabeller(cfg, poses, { percentileWindow: 16 });
    for (const o of d.odom) poses.push(o);
    for (const s of d.imu)
      lab.pushImu(
        s.stamp,
        s.linearAcceleration.x,
        s.linearAcceleration.y,
        s.linearAcceleration.z,
        s.angularVelocity.x,
        s.angularVelocity.y,
        s.angularVelocity.z,
      );
    lab.finish();
    const labels = lab.takeLabels();
    expect(labels.length).toBeGreaterThan(100);
    const last = labels
      .slice(-16)
      .map((l) => Math.log10(l.energy))
      .sort((a, b) => a - b);
    for (const p of [0, 5, 50, 95, 100]) expect(lab.logPercentile(p)).toBeCloseTo(percentile(last, p), 12);
    // Past the warmup, roughness is the position between the 5th and 95th percentile at the time
    // of the label: the last label uses the window that includes it.
    const l = labels[labels.length - 1]!;
    const lo = percentile(last, cfg.calibration.low_percentile);
    const hi = percentile(last, cfg.calibration.high_percentile);
    expect(l.roughness).toBeCloseTo(
      calibrateLogEnergy(Math.log10(l.energy), lo, hi, cfg.calibration.exponent),
      12,
    );
    expect(lab.calibrationBounds()).toEqual({ lo, hi, source: "percentile" });
  });

  it("fixed bounds map log10(energy) linearly onto 0.05..0.95 (exponent 0), with order-keeping tails beyond", () => {
    const cfg = {
      ...defaultConfig().labeler,
      calibration: {
        ...defaultConfig().labeler.calibration,
        mode: "fixed" as const,
        low: -1,
        high: 1,
        exponent: 0,
      },
    };
    const lab = new VibrationLabeller(cfg, new PoseHistory());
    expect(lab.calibrate(-1)).toBeCloseTo(0.05, 12);
    expect(lab.calibrate(0)).toBeCloseTo(0.5, 12);
    expect(lab.calibrate(1)).toBeCloseTo(0.95, 12);
    expect(lab.calibrationBounds()).toEqual({ lo: -1, hi: 1, source: "fixed" });
    // Beyond the bounds: still inside 0..1, still ordered (a rock field stays rougher than cobbles).
    const tail = [-9, -5, -2, -1.2, 1.2, 2, 5, 9].map((e) => lab.calibrate(e));
    for (const r of tail) expect(r > 0 && r < 1).toBe(true);
    for (let i = 1; i < tail.length; i++) expect(tail[i]!).toBeGreaterThan(tail[i - 1]!);
    // Continuous at the bounds.
    expect(lab.calibrate(1 + 1e-9)).toBeCloseTo(0.95, 6);
    expect(lab.calibrate(-1 - 1e-9)).toBeCloseTo(0.05, 6);
    expect(calibrateLogEnergy(0, 1, 1, 0)).toBe(0.5);
  });

  it("the labels' scale: the bounds stay at 0.05 and 0.95, the exponent spreads the rough end", () => {
    for (const g of [0, 0.25, 0.5, 1]) {
      expect(calibrateLogEnergy(-1.2, -1.2, 0.6, g)).toBeCloseTo(0.05, 12);
      expect(calibrateLogEnergy(0.6, -1.2, 0.6, g)).toBeCloseTo(0.95, 12);
      let prev = -1;
      for (let e = -4; e <= 3; e += 0.05) {
        const r = calibrateLogEnergy(e, -1.2, 0.6, g);
        expect(r).toBeGreaterThanOrEqual(prev);
        expect(r).toBeGreaterThan(0);
        expect(r).toBeLessThan(1);
        prev = r;
      }
    }
    // 0.5: linear in rms vibration. lo −2, hi 0 are rms 0.1 and 1; rms 0.55 is half way.
    expect(calibrateLogEnergy(2 * Math.log10(0.55), -2, 0, 0.5)).toBeCloseTo(0.5, 12);
    // Two rough terrains 0.2 decades apart near the top (the simulator's cobbles and gravel) are
    // further apart on a power scale than on the log scale; two smooth ones nearer.
    const gap = (a: number, b: number, g: number) =>
      calibrateLogEnergy(b, -1.2, 0.6, g) - calibrateLogEnergy(a, -1.2, 0.6, g);
    expect(gap(0.36, 0.56, 0.25)).toBeGreaterThan(gap(0.36, 0.56, 0) * 1.2);
    expect(gap(-1.13, -0.66, 0.25)).toBeLessThan(gap(-1.13, -0.66, 0));
  });
});
