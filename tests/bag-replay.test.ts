// replay$: as fast as possible, or paced at rate × real time by the log times. Pacing goes
// through an injected scheduler, so these tests run in virtual time and assert exact emission
// times without waiting.

import { firstValueFrom, take, toArray, VirtualTimeScheduler } from "rxjs";
import { describe, expect, it } from "vitest";
import type { Problem } from "../src/core/types.ts";
import {
  type BagEvent,
  type BagInfo,
  type BagSource,
  openBag,
  type ReadOptions,
  replay$,
} from "../src/io/bag/index.ts";
import { fixture } from "./helpers/bag-test-utils.ts";

/** A source over fixed events that records what it was asked and whether reading stopped. */
class FakeSource implements BagSource {
  readonly path = "fake.mcap";
  readonly format = "mcap" as const;
  closed = false;
  finished = false;
  pulled = 0;
  lastOptions: ReadOptions | undefined;
  constructor(
    private readonly events: BagEvent[],
    private readonly failAt?: number,
  ) {}
  async info(): Promise<BagInfo> {
    throw new Error("not used");
  }
  async *messages(options?: ReadOptions): AsyncGenerator<BagEvent> {
    this.lastOptions = options;
    try {
      for (const [i, e] of this.events.entries()) {
        if (options?.signal?.aborted) return;
        if (i === this.failAt) throw new Error("disk gone");
        this.pulled++;
        yield e;
      }
    } finally {
      this.finished = true;
    }
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const msg = (logTime: number, topic = "/imu"): BagEvent => ({
  type: "message",
  topic,
  schemaName: "sensor_msgs/msg/Imu",
  logTime,
  message: {},
  size: 0,
});

/** Runs an observable to completion on a virtual clock; returns [virtual ms, event] per emission. */
async function runVirtual(source: BagSource, options: Parameters<typeof replay$>[1]) {
  const scheduler = new VirtualTimeScheduler();
  const out: [number, BagEvent][] = [];
  let done = false;
  let error: unknown;
  replay$(source, options, scheduler).subscribe({
    next: (e) => out.push([scheduler.now(), e]),
    complete: () => {
      done = true;
    },
    error: (e) => {
      error = e;
      done = true;
    },
  });
  // Let the async reader run until it waits on the clock, then advance the clock; repeat.
  for (let guard = 0; !done && guard < 10_000; guard++) {
    await new Promise((r) => setImmediate(r));
    scheduler.flush();
  }
  expect(done).toBe(true);
  return { out, error };
}

describe("replay$", () => {
  const times = [1000, 1000.1, 1000.35, 1001, 1001, 1003.5];

  it("paces at real time (rate 1) by log time, in virtual time", async () => {
    const { out } = await runVirtual(new FakeSource(times.map((t) => msg(t))), { rate: 1 });
    expect(out.map(([ms]) => ms)).toEqual([0, 100, 350, 1000, 1000, 3500].map((x) => expect.closeTo(x, 6)));
  });

  it("paces at rate × real time", async () => {
    const { out } = await runVirtual(new FakeSource(times.map((t) => msg(t))), { rate: 5 });
    expect(out.map(([ms]) => ms)).toEqual([0, 20, 70, 200, 200, 700].map((x) => expect.closeTo(x, 6)));
  });

  it("without a rate emits everything without touching the clock", async () => {
    const { out } = await runVirtual(new FakeSource(times.map((t) => msg(t))), {});
    expect(out).toHaveLength(times.length);
    expect(out.every(([ms]) => ms === 0)).toBe(true);
  });

  it("passes problems through unpaced and in place", async () => {
    const problem: Problem = {
      type: "problem",
      kind: "decode",
      message: "bad",
      topic: "/imu",
      stamp: 1000.2,
    };
    const { out } = await runVirtual(new FakeSource([msg(1000), msg(1000.1), problem, msg(1002)]), {
      rate: 1,
    });
    expect(out.map(([ms, e]) => [Math.round(ms), e.type])).toEqual([
      [0, "message"],
      [100, "message"],
      [100, "problem"],
      [2000, "message"],
    ]);
  });

  it("hands topic and time filters to the source", async () => {
    const source = new FakeSource([msg(1)]);
    await runVirtual(source, { topics: ["/imu"], start: 1, end: 2 });
    expect(source.lastOptions).toMatchObject({ topics: ["/imu"], start: 1, end: 2 });
    expect(source.lastOptions?.signal).toBeInstanceOf(AbortSignal);
  });

  it("unsubscribing stops reading and closes nothing it does not own", async () => {
    const source = new FakeSource(Array.from({ length: 1000 }, (_, i) => msg(i * 0.001)));
    const got = await firstValueFrom(replay$(source).pipe(take(3), toArray()));
    expect(got).toHaveLength(3);
    await new Promise((r) => setImmediate(r));
    expect(source.finished).toBe(true);
    expect(source.pulled).toBeLessThan(10);
    expect(source.closed).toBe(false);
  });

  it("unsubscribing while waiting on the clock also ends the read", async () => {
    const source = new FakeSource([msg(0), msg(10), msg(20)]);
    const scheduler = new VirtualTimeScheduler();
    const seen: BagEvent[] = [];
    const sub = replay$(source, { rate: 1 }, scheduler).subscribe((e) => seen.push(e));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(1); // waiting 10 s of virtual time for the second
    sub.unsubscribe();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(source.finished).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it("an external AbortSignal stops the replay", async () => {
    const source = new FakeSource(Array.from({ length: 100 }, (_, i) => msg(i)));
    const controller = new AbortController();
    const seen: BagEvent[] = [];
    const scheduler = new VirtualTimeScheduler();
    let completed = false;
    replay$(source, { rate: 1, signal: controller.signal }, scheduler).subscribe({
      next: (e) => seen.push(e),
      complete: () => {
        completed = true;
      },
    });
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      scheduler.flush();
    }
    controller.abort();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      scheduler.flush();
    }
    expect(seen.length).toBeLessThan(10);
    expect(completed).toBe(true);
    expect(source.finished).toBe(true);
  });

  it("a source that throws errors the observable instead of crashing", async () => {
    const { out, error } = await runVirtual(new FakeSource([msg(0), msg(1), msg(2)], 2), {});
    expect(out).toHaveLength(2);
    expect((error as Error).message).toBe("disk gone");
  });

  it("rejects a rate that is not a positive number", () => {
    expect(() => replay$(new FakeSource([]), { rate: 0 })).toThrow(/rate must be a positive number, got 0/);
    expect(() => replay$(new FakeSource([]), { rate: Number.NaN })).toThrow(/positive/);
  });

  it("replays a real bag at 10× with emission times from its log times", async () => {
    const bag = await openBag(fixture("rosbag2_cdr_test_sqlite3"));
    try {
      const { out } = await runVirtual(bag, { rate: 10 });
      expect(out).toHaveLength(7);
      const t0 = (out[0]![1] as { logTime: number }).logTime;
      for (const [ms, e] of out) {
        expect(ms).toBeCloseTo((((e as { logTime: number }).logTime - t0) * 1000) / 10, 3);
      }
      // 0.151 s of recording at 10× takes ~15 ms of (virtual) time.
      expect(out.at(-1)![0]).toBeCloseTo(15.1137181, 3);
    } finally {
      await bag.close();
    }
  });
});
