// The ordering pieces every adapter relies on: k-way merge across files and the bounded reorder
// window used for files read without an index.

import { describe, expect, it } from "vitest";
import { MinHeap, mergeByLogTime, reorderWindow, type TimedEvent } from "../src/io/bag/common.ts";

const ev = (t: number, topic = "/a", size = 1): TimedEvent => ({
  ns: BigInt(t),
  event: { type: "message", topic, schemaName: "x/msg/Y", logTime: t, message: t, size },
});

async function* from(items: TimedEvent[], log?: string[]): AsyncGenerator<TimedEvent> {
  try {
    yield* items;
  } finally {
    log?.push("closed");
  }
}

async function all(g: AsyncIterable<TimedEvent>): Promise<number[]> {
  const out: number[] = [];
  for await (const x of g) out.push(Number(x.ns));
  return out;
}

describe("bag ordering", () => {
  it("MinHeap pops by key, equal keys in insertion order", () => {
    const h = new MinHeap<string>();
    for (const [k, v] of [
      [5n, "a"],
      [1n, "b"],
      [5n, "c"],
      [3n, "d"],
      [1n, "e"],
    ] as const)
      h.push(k, v);
    const out = [];
    while (h.size > 0) out.push(h.pop());
    expect(out).toEqual(["b", "e", "d", "a", "c"]);
  });

  it("mergeByLogTime interleaves sorted inputs into one sorted stream", async () => {
    const merged = await all(
      mergeByLogTime([
        from([ev(1), ev(4), ev(9)]),
        from([ev(2), ev(3), ev(10)]),
        from([]),
        from([ev(0), ev(4), ev(5)]),
      ]),
    );
    expect(merged).toEqual([0, 1, 2, 3, 4, 4, 5, 9, 10]);
  });

  it("mergeByLogTime closes every input when the consumer stops early", async () => {
    const log: string[] = [];
    const g = mergeByLogTime([from([ev(1), ev(3)], log), from([ev(2), ev(4)], log)]);
    for await (const x of g) if (x.ns === 2n) break;
    expect(log).toEqual(["closed", "closed"]);
  });

  it("reorderWindow fixes inversions smaller than the window", async () => {
    const input = [3, 1, 2, 6, 4, 5, 9, 7, 8].map((t) => ev(t));
    expect(await all(reorderWindow(from(input), 3))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("reorderWindow is bounded: inversions larger than the window stay, nothing is lost", async () => {
    const input = [10, 1, 2, 3, 4, 0].map((t) => ev(t));
    const out = await all(reorderWindow(from(input), 2));
    expect(out).toHaveLength(6);
    expect([...out].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 10]);
  });

  it("reorderWindow's byte budget keeps few large messages", async () => {
    const input = [2, 1, 4, 3].map((t) => ev(t, "/camera", 40));
    // 100 bytes hold two 40-byte images: pairs reorder, nothing more is held.
    expect(await all(reorderWindow(from(input), 1000, 100))).toEqual([1, 2, 3, 4]);
    expect(await all(reorderWindow(from([3, 2, 1].map((t) => ev(t, "/c", 60))), 1000, 100))).toEqual([
      2, 1, 3,
    ]);
  });
});
