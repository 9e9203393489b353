import { from } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { isProblem, problem } from "../src/core/fusion/events.ts";
import { mergeSensors } from "../src/core/fusion/merge-sensors.ts";
import { reorderByStamp } from "../src/core/fusion/reorder-by-stamp.ts";
import { tallyProblems } from "../src/core/fusion/tally-problems.ts";
import { validateStamps } from "../src/core/fusion/validate-stamps.ts";
import type { ImuSample, OdomSample, Problem, Transform } from "../src/core/types.ts";

interface M {
  stamp: number;
  v?: number;
}

const scheduler = () =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

const stampOf = (m: M) => m.stamp;

describe("validateStamps", () => {
  it("passes increasing stamps and turns NaN, duplicate and backwards into Problems", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<M>("a-b-n-d-c-x-e|", {
        a: { stamp: 1 },
        b: { stamp: 2 },
        n: { stamp: Number.NaN },
        d: { stamp: 2 },
        c: { stamp: 1.5 },
        x: { stamp: 3, v: Number.NaN },
        e: { stamp: 3 },
      });
      const out = src.pipe(
        validateStamps<M>({ topic: "/imu", stampOf, isValid: (m) => !Number.isNaN(m.v ?? 0) }),
      );
      expectObservable(out).toBe("a-b-n-d-c-x-e|", {
        a: { stamp: 1 },
        b: { stamp: 2 },
        n: problem("nan", "/imu: message with a non-finite stamp or value (stamp NaN)", "/imu"),
        d: problem("duplicate", "/imu: duplicate stamp 2", "/imu", 2),
        c: problem("backwards", "/imu: stamp 1.5 is 0.500000 s before the previous 2", "/imu", 1.5),
        x: problem("nan", "/imu: message with a non-finite stamp or value (stamp 3)", "/imu"),
        e: { stamp: 3 },
      });
    });
  });

  it("a throwing validity check is a NaN problem, not an error", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<M>("a|", { a: { stamp: 1 } });
      const out = src.pipe(
        validateStamps<M>({
          topic: "t",
          stampOf,
          isValid: () => {
            throw new Error("boom");
          },
        }),
      );
      expectObservable(out).toBe("a|", {
        a: problem("nan", "t: message with a non-finite stamp or value (stamp NaN)", "t"),
      });
    });
  });
});

describe("reorderByStamp", () => {
  it("releases in stamp order once the watermark passes, flushes on completion", () => {
    scheduler().run(({ cold, expectObservable }) => {
      // Window 1 s: b (2.0) arrives after c (2.5) but within the window.
      const src = cold<M>("a 9ms c 9ms b 9ms d 9ms e 9ms |", {
        a: { stamp: 1 },
        c: { stamp: 2.5 },
        b: { stamp: 2 },
        d: { stamp: 3.2 },
        e: { stamp: 4.6 },
      });
      const out = src.pipe(reorderByStamp<M>({ window: 1, stampOf }));
      // a is released when c (2.5) arrives (1 ≤ 1.5); b at d (3.2 → ≤ 2.2); c and d at e (≤ 3.6);
      // e on completion.
      expectObservable(out).toBe("10ms a 19ms b 9ms (cd) 6ms (e|)", {
        a: { stamp: 1 },
        b: { stamp: 2 },
        c: { stamp: 2.5 },
        d: { stamp: 3.2 },
        e: { stamp: 4.6 },
      });
    });
  });

  it("an item older than what was already released becomes a late Problem", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<M>("a-b-l|", { a: { stamp: 1 }, b: { stamp: 5 }, l: { stamp: 0.5 } });
      const out = src.pipe(reorderByStamp<M>({ window: 1, stampOf, topicOf: () => "/odom" }));
      expectObservable(out).toBe("--a-l(b|)", {
        a: { stamp: 1 },
        b: { stamp: 5 },
        l: problem("late", "stamp 0.5 arrived 0.500000 s after 1 was released (window 1 s)", "/odom", 0.5),
      });
    });
  });

  it("stamps going back on every stream start a new timeline: one clockJump at the seam, nothing dropped", () => {
    interface S extends M {
      s: string;
    }
    const out: string[] = [];
    // A first recording to 131 on two streams, then a second one from 100 (both streams go back).
    const first: S[] = [100, 110, 120, 130, 130.05, 131].map((stamp, i) => ({
      stamp,
      s: i % 2 ? "odom" : "imu",
    }));
    const second: S[] = [100.1, 100.05, 100.2, 100.3, 100.4, 100.5].map((stamp, i) => ({
      stamp,
      s: i % 2 ? "odom" : "imu",
    }));
    from([...first, ...second])
      .pipe(
        reorderByStamp<S>({ window: 0.25, stampOf, topicOf: (x) => x.s }),
        validateStamps<S>({ topic: "", stampOf, streamOf: (x) => x.s }),
      )
      .subscribe((x) => out.push(isProblem(x) ? `${x.kind}@${x.stamp}` : `${x.stamp}`));
    expect(out).toEqual([
      "100",
      "110",
      "120",
      "130",
      "130.05",
      "131",
      "clockJump@100.05",
      "100.05",
      "100.1",
      "100.2",
      "100.3",
      "100.4",
      "100.5",
    ]);
  });

  it("one stream's straggler far behind is late, not a jump; a message of the old timeline after a jump is late", () => {
    interface S extends M {
      s: string;
    }
    const run = (items: S[]) => {
      const out: string[] = [];
      from(items)
        .pipe(reorderByStamp<S>({ window: 0.25, stampOf, topicOf: (x) => x.s }))
        .subscribe((x) => out.push(isProblem(x) ? `${x.kind}@${x.stamp}` : `${x.stamp}`));
      return out;
    };
    const at = (s: string, ...stamps: number[]) => stamps.map((stamp) => ({ stamp, s }));
    // 120 arrives 10 s late, alone; the recording goes on past a window: a straggler.
    expect(run([...at("imu", 129, 130, 120, 130.1, 130.2, 130.5, 131)])).toEqual([
      "129",
      "late@120",
      "130",
      "130.1",
      "130.2",
      "130.5",
      "131",
    ]);
    // A jump back on two streams; then an odometry message of before it, still in flight.
    expect(
      run([...at("imu", 130, 131), ...at("imu", 1), ...at("odom", 1.05, 131.02), ...at("imu", 1.5)]),
    ).toEqual(["130", "131", "clockJump@1", "late@131.02", "1", "1.05", "1.5"]);
  });

  it("flushes after idleFlush ms of silence on the given scheduler", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold<M>("a b 100ms c 500ms |", { a: { stamp: 1 }, b: { stamp: 1.05 }, c: { stamp: 1.1 } });
      const out = src.pipe(reorderByStamp<M>({ window: 1, stampOf, idleFlush: 50 }));
      // Nothing passes the watermark; 50 ms after b the buffer is flushed, and 50 ms after c again.
      expectObservable(out).toBe("51ms (ab) 97ms c 450ms |", {
        a: { stamp: 1 },
        b: { stamp: 1.05 },
        c: { stamp: 1.1 },
      });
    });
  });

  it("problems and pass-through items are not delayed; equal stamps keep arrival order", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const p = problem("decode", "bad");
      const src = cold<M | Problem>("a-p-s-b-c-----|", {
        a: { stamp: 1, v: 1 },
        p,
        s: { stamp: -1, v: 9 },
        b: { stamp: 1, v: 2 },
        c: { stamp: 3 },
      });
      const out = src.pipe(reorderByStamp<M>({ window: 1, stampOf, passThrough: (m) => m.v === 9 }));
      expectObservable(out).toBe("--p-s---(ab)--(c|)", {
        a: { stamp: 1, v: 1 },
        b: { stamp: 1, v: 2 },
        c: { stamp: 3 },
        p,
        s: { stamp: -1, v: 9 },
      });
    });
  });
});

function imu(stamp: number, az = 9.81): ImuSample {
  return {
    stamp,
    frameId: "imu",
    orientation: undefined,
    angularVelocity: { x: 0, y: 0, z: 0 },
    linearAcceleration: { x: 0, y: 0, z: az },
  };
}
function odom(stamp: number): OdomSample {
  return {
    stamp,
    frameId: "odom",
    childFrameId: "base_link",
    pose: { position: { x: stamp, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
    linear: { x: 1, y: 0, z: 0 },
    angular: { x: 0, y: 0, z: 0 },
  };
}

describe("mergeSensors", () => {
  it("merges IMU, odometry and TF in stamp order and reports every bad message as a counted Problem", () => {
    const counts: Record<string, number> = {};
    scheduler().run(({ cold, expectObservable }) => {
      const staticTf: Transform[] = [
        {
          stamp: 0,
          parent: "base_link",
          child: "imu",
          translation: { x: 0, y: 0, z: 0 },
          rotation: { x: 0, y: 0, z: 0, w: 1 },
          isStatic: true,
        },
      ];
      const imu$ = cold<ImuSample>("a-b-n-d-c-e---------|", {
        a: imu(1.0),
        b: imu(1.1),
        n: imu(1.2, Number.NaN),
        d: imu(1.1),
        c: imu(1.3),
        e: imu(2.5),
      });
      // Odometry lags: 1.05 arrives after IMU 1.1 (within the 0.5 s window).
      const odom$ = cold<OdomSample>("--o---p|", { o: odom(1.05), p: odom(1.4) });
      const tfStatic$ = cold<Transform[]>("s|", { s: staticTf });
      const out = mergeSensors({ imu$, odom$, tfStatic$ }, { reorderWindow: 0.5 }).pipe(
        tallyProblems(counts),
      );
      // Nothing passes the watermark (max stamp − 0.5 s) until e (2.5) arrives at frame 10.
      expectObservable(out).toBe("s 9ms (aobcp) 3ms (e|)", {
        s: { kind: "tfStatic", stamp: 0, value: staticTf },
        a: { kind: "imu", stamp: 1.0, value: imu(1.0) },
        b: { kind: "imu", stamp: 1.1, value: imu(1.1) },
        o: { kind: "odom", stamp: 1.05, value: odom(1.05) },
        c: { kind: "imu", stamp: 1.3, value: imu(1.3) },
        p: { kind: "odom", stamp: 1.4, value: odom(1.4) },
        e: { kind: "imu", stamp: 2.5, value: imu(2.5) },
      });
    });
    expect(counts).toEqual({ nan: 1, duplicate: 1 });
  });
});
