// The stream graph's time-dependent stages in virtual time (rxjs TestScheduler marble tests):
// fusion's mode policy, the sensor clock's ticks, the live frame queue and the sequencer; then the
// learning stage's tick and the taps' order.

import { of, Subject, timer } from "rxjs";
import { map } from "rxjs/operators";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { problem } from "../src/core/fusion/events.ts";
import { reorderByStamp } from "../src/core/fusion/reorder-by-stamp.ts";
import type { ImageFrame, ImuSample, OdomSample } from "../src/core/types.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";
import { SensorClock, type Tick } from "../src/runtime/stages/clock.ts";
import { fusion } from "../src/runtime/stages/fusion.ts";
import type { GraphInput } from "../src/runtime/stages/inputs.ts";
import { LearningStage } from "../src/runtime/stages/learning.ts";
import { latestWins, Sequencer } from "../src/runtime/stages/queues.ts";
import type { SampleRows } from "../src/runtime/stages/supervision.ts";

const scheduler = () =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

const imu = (stamp: number): GraphInput => ({ kind: "imu", stamp, sample: { stamp } as ImuSample });
const odom = (stamp: number): GraphInput => ({ kind: "odom", stamp, sample: { stamp } as OdomSample });
const image = (stamp: number): GraphInput => ({ kind: "frame", stamp, frame: { stamp } as ImageFrame });
const staticTf = (): GraphInput => ({ kind: "transforms", stamp: 0, transforms: [], isStatic: true });

describe("fusion stage", () => {
  it("replay: orders everything by stamp within the window, frames included; later ones are late problems", () => {
    scheduler().run(({ cold, expectObservable }) => {
      // A frame stamped 1.0 arrives 150 ms late, after IMU 1.1 and odometry 1.05 (window 0.25 s);
      // IMU 0.5 arrives after 1.2 had been seen: more than the window.
      const src = cold<GraphInput>("s 9ms a 9ms f 9ms b 9ms o 9ms c 9ms l 9ms d 9ms |", {
        s: staticTf(),
        a: imu(1.1),
        f: image(1.0),
        b: imu(1.15),
        o: odom(1.05),
        c: imu(1.3),
        l: imu(0.5),
        d: imu(1.6),
      });
      const out = src.pipe(fusion({ window: 0.25, mode: "replay" }));
      // Static TF at once; at 1.3 everything up to 1.05 is released, at 1.6 up to 1.35; the end flushes.
      expectObservable(out).toBe("s 49ms (fo) 6ms l 9ms (abc) 5ms (d|)", {
        s: staticTf(),
        f: image(1.0),
        o: odom(1.05),
        a: imu(1.1),
        b: imu(1.15),
        c: imu(1.3),
        l: problem(
          "late",
          "stamp 0.5 arrived 0.550000 s after 1.05 was released (window 0.25 s)",
          "imu",
          0.5,
        ),
        d: imu(1.6),
      });
    });
  });

  it("equal stamps come out in the same order whatever order they arrived in", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<GraphInput>("f 9ms i 9ms o 9ms x 9ms |", {
        f: image(2),
        i: imu(2),
        o: odom(2),
        x: imu(3),
      });
      const out = src.pipe(fusion({ window: 0.5, mode: "replay" }));
      // odometry, IMU, image: the simulator's (and a one-clock recorder's) order.
      expectObservable(out).toBe("30ms (oif) 5ms (x|)", { o: odom(2), i: imu(2), f: image(2), x: imu(3) });
    });
  });

  it("live: a frame is never held; the others are released once every stream that keeps up passed them", () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Window 0.1 s. Once a window of stamps has passed (streams may still appear until then), an
      // input is released as soon as IMU and odometry have both passed it; the frame (late) goes
      // through at once; after 100 ms of silence what is held goes too.
      const src = cold<GraphInput>("a 9ms o 9ms b 9ms f 9ms p 9ms c 9ms q 200ms |", {
        a: imu(1.0),
        o: odom(1.0),
        b: imu(1.1),
        f: image(1.02),
        p: odom(1.12),
        c: imu(1.2),
        q: odom(1.21),
      });
      const out = src.pipe(fusion({ window: 0.1, mode: "live", idleFlushMs: 100 }));
      expectObservable(out).toBe("20ms (oa) 6ms f 9ms b 9ms p 9ms c 99ms q 100ms |", {
        a: imu(1.0),
        o: odom(1.0),
        f: image(1.02),
        b: imu(1.1),
        p: odom(1.12),
        c: imu(1.2),
        q: odom(1.21),
      });
    });
  });

  it("a flush releases everything held (the end of a run that may go on)", () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const flush$ = hot<void>("-----x");
      const src = cold<GraphInput>("a b c ---------|", { a: imu(1), b: imu(1.1), c: imu(1.2) });
      const out = src.pipe(fusion({ window: 1, mode: "replay", flush$ }));
      expectObservable(out).toBe("-----(abc)--|", { a: imu(1), b: imu(1.1), c: imu(1.2) });
    });
  });
});

describe("reorderByStamp with per-source watermarks", () => {
  it("learns a source's disorder: after it, that source's crossings are placed", () => {
    scheduler().run(({ cold, expectObservable }) => {
      type M = { s: string; t: number };
      const src = cold<M>("a 9ms b 9ms c 9ms d 9ms e 9ms f 9ms g 9ms h 9ms |", {
        a: { s: "x", t: 10 },
        b: { s: "y", t: 10 },
        c: { s: "y", t: 11 },
        d: { s: "x", t: 11.1 },
        e: { s: "x", t: 11.05 }, // crossed, not yet released: placed, and x's disorder is now 0.05 s
        f: { s: "y", t: 11.5 },
        g: { s: "x", t: 11.4 }, // x is trusted up to 11.35 now, so 11.4 is held...
        h: { s: "x", t: 11.37 }, // ...and this crossing is placed, not late
      });
      const out = src.pipe(
        reorderByStamp<M>({ window: 1, stampOf: (m) => m.t, sourceOf: (m) => m.s, topicOf: (m) => m.s }),
      );
      expectObservable(out).toBe("20ms (ab) 6ms c 19ms e 9ms d 19ms (hgf|)", {
        a: { s: "x", t: 10 },
        b: { s: "y", t: 10 },
        c: { s: "y", t: 11 },
        d: { s: "x", t: 11.1 },
        e: { s: "x", t: 11.05 },
        f: { s: "y", t: 11.5 },
        g: { s: "x", t: 11.4 },
        h: { s: "x", t: 11.37 },
      });
    });
  });
});

describe("sensor clock", () => {
  it("ticks before the input that starts a new second, stats every N s, drains after IMU/odometry at 10 Hz", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const clock = new SensorClock(2); // stats every 2 s
      const src = cold<GraphInput>("a 9ms b 9ms c 9ms d 9ms e 9ms f 9ms |", {
        a: imu(10.0),
        b: imu(10.05),
        c: imu(10.2),
        d: image(11.0),
        e: odom(12.1),
        f: imu(16.5),
      });
      const t = (kind: Tick["kind"], stamp: number): Tick => ({ kind, stamp });
      expectObservable(src.pipe(clock.stage())).toBe(
        "(aA) 6ms b 9ms (cC) 6ms (Sd) 6ms (UTeE) 4ms (VVVVXfF) 1ms |",
        {
          a: imu(10.0),
          A: t("drain", 10.0),
          b: imu(10.05),
          c: imu(10.2),
          C: t("drain", 10.2),
          S: t("second", 11.0),
          d: image(11.0),
          U: t("second", 12.1),
          T: t("stats", 12.1),
          e: odom(12.1),
          E: t("drain", 12.1),
          // A 4.4 s jump in the stamps owes four blocks, not thousands.
          V: t("second", 16.5),
          X: t("stats", 16.5),
          f: imu(16.5),
          F: t("drain", 16.5),
        },
      );
    });
  });
});

describe("live frame queue (latest wins)", () => {
  it("one frame at a time; a newer frame replaces the one waiting, which is counted", () => {
    const dropped: number[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      // Each frame takes 30 ms to process.
      const src = cold<string>("1 9ms 2 9ms 3 4ms 4 44ms 5|");
      const out = src.pipe(
        latestWins(
          (f) => timer(30).pipe(map(() => f)),
          (f) => dropped.push(Number(f)),
        ),
      );
      // 1 runs 0–30 ms; 2, then 3 wait in turn and are replaced by 4, which runs 30–60 ms; 5 at 70 ms.
      expectObservable(out).toBe("30ms 1 29ms 4 39ms (5|)");
    });
    expect(dropped).toEqual([2, 3]);
  });
});

describe("sequencer", () => {
  it("handles items one at a time in order; an async item holds the rest; idle() waits for all", async () => {
    const log: string[] = [];
    let open: (() => void) | undefined;
    const seq = new Sequencer<string>((x) => {
      log.push(x);
      if (x === "F") return new Promise<void>((r) => (open = r)).then(() => void log.push("F done"));
      return undefined;
    });
    const input = new Subject<string>();
    input.pipe(seq.stage()).subscribe();
    for (const x of ["a", "F", "b", "c"]) input.next(x);
    expect(log).toEqual(["a", "F"]);
    expect(seq.queued).toBe(2);
    const idle = seq.idle();
    open!();
    await idle;
    expect(log).toEqual(["a", "F", "F done", "b", "c"]);
    expect(seq.queued).toBe(0);
  });

  it("refuses to grow past its bound: the failure comes out of idle(), nothing silently lost", async () => {
    const seq = new Sequencer<number>(() => new Promise<void>((r) => setTimeout(r, 1)), 2);
    of(1, 2, 3, 4).pipe(seq.stage()).subscribe();
    await expect(seq.idle()).rejects.toThrow(/graph queue full \(2 inputs waiting\)/);
  });
});

describe("learning stage", () => {
  function fakeLearner() {
    const calls: string[] = [];
    let buffer = 0;
    const learner = {
      backend: "fake",
      channels: 2,
      addSamples: (f: Float32Array) => {
        calls.push(`add ${f.length / 2}`);
        buffer += f.length / 2;
      },
      setLabelCalibration: (lo: number, hi: number) => void calls.push(`calibrate ${lo}..${hi}`),
      train: async (steps: number) => {
        calls.push(`train ${steps}`);
        return { loss: 0.5, steps };
      },
      predict: () => ({ roughness: new Float32Array(0), confidence: new Float32Array(0) }),
      saveCheckpoint: async () => "",
      loadLatestCheckpoint: async () => false,
      reset: () => {},
      stats: () => ({ bufferSize: buffer, trainSteps: 0, lastLoss: Number.NaN }),
      close: async () => {},
    };
    return { calls, learner };
  }
  const rows = (n: number, stamp = 1): SampleRows => ({
    stamp,
    features: new Float32Array(2 * n),
    targets: new Float32Array(n),
    weights: new Float32Array(n).fill(1),
    n,
    channels: 2,
    targetKind: "logEnergy",
    lo: -2,
    hi: 1,
  });

  it("takes the sources' rows at each tick before the block, and pauses with learner.enabled", async () => {
    const config = defaultConfig();
    const { calls, learner } = fakeLearner();
    const taken: number[] = [];
    const source = {
      take: (stamp: number) => {
        taken.push(stamp);
        return [rows(3, stamp)];
      },
    };
    const stage = new LearningStage(config, learner, "replay", [source], () => {});
    stage.add(rows(2));
    const block = stage.second(11);
    expect(block).toBeInstanceOf(Promise);
    await block;
    expect(taken).toEqual([11]);
    expect(calls).toEqual(["calibrate -2..1", "add 2", "calibrate -2..1", "add 3", "train 20"]);
    expect(stage.trainSteps).toBe(20);
    config.learner.enabled = false;
    calls.length = 0;
    stage.add(rows(4));
    expect(stage.second(12)).toBeUndefined();
    // Paused: rows keep the calibration current but are not buffered; no block runs.
    expect(calls).toEqual(["calibrate -2..1", "calibrate -2..1"]);
    expect(taken).toEqual([11, 12]);
  });

  it("calibrates with own and source bounds together, so neither pulls the scale back", async () => {
    const { calls, learner } = fakeLearner();
    // A fleet's shared scale: wider than this robot's own bounds.
    const source = { take: (stamp: number) => [{ ...rows(1, stamp), lo: -3, hi: 2 }] };
    const stage = new LearningStage(defaultConfig(), learner, "replay", [source], () => {});
    stage.add(rows(1));
    await stage.second(1);
    stage.add({ ...rows(1), lo: -2.5, hi: 0.5 });
    expect(calls.filter((c) => c.startsWith("calibrate"))).toEqual([
      "calibrate -2..1",
      "calibrate -3..2",
      "calibrate -3..2",
    ]);
  });
});

describe("taps", () => {
  it("see the fused inputs in stamp order and each frame before its prediction event", async () => {
    const C = 4;
    const backbone = {
      channels: C,
      stride: 8,
      name: "instant",
      extract: async (img: ImageFrame) => ({
        rows: 1,
        cols: 1,
        channels: C,
        strideX: 8,
        strideY: 8,
        data: new Float32Array(C).fill(img.stamp),
      }),
      close: async () => {},
    };
    const learner = {
      backend: "fake",
      channels: 2 * C + 1,
      addSamples() {},
      predict: (_f: Float32Array, n: number) => ({
        roughness: new Float32Array(n).fill(0.5),
        confidence: new Float32Array(n).fill(1),
      }),
      stats: () => ({ bufferSize: 0, trainSteps: 0, lastLoss: Number.NaN }),
      saveCheckpoint: async () => "",
      loadLatestCheckpoint: async () => false,
      reset() {},
      close: async () => {},
    };
    const p = await createPipeline(defaultConfig(), {
      mode: "replay",
      backbone: backbone as never,
      learner,
      warn: () => {},
    });
    const seen: string[] = [];
    p.taps.inputs$.subscribe((e) => seen.push(`${e.kind} ${e.stamp}`));
    p.taps.frames$.subscribe((f) => seen.push(`tap frame ${f.stamp}`));
    p.events$.subscribe((e) => {
      if (e.type === "prediction") seen.push(`prediction ${e.stamp}`);
    });
    const frame = (stamp: number): ImageFrame => ({
      stamp,
      frameId: "cam",
      width: 8,
      height: 8,
      encoding: "rgb8",
      data: new Uint8Array(8 * 8 * 3),
    });
    const sample = (stamp: number) =>
      ({
        stamp,
        frameId: "imu",
        orientation: undefined,
        angularVelocity: { x: 0, y: 0, z: 0 },
        linearAcceleration: { x: 0, y: 0, z: 9.8 },
      }) as ImuSample;
    await p.push({ kind: "imu", sample: sample(1.0) });
    await p.push({ kind: "image", frame: frame(1.05) }); // arrives after IMU 1.1 would have: fine
    await p.push({ kind: "imu", sample: sample(1.02) });
    await p.push({ kind: "imu", sample: sample(2.0) });
    await p.finish();
    await p.close();
    expect(seen).toEqual(["imu 1", "imu 1.02", "frame 1.05", "tap frame 1.05", "prediction 1.05", "imu 2"]);
  });
});
