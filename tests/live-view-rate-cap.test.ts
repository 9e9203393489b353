import { describe, expect, it } from "vitest";
import { RateCap } from "../src/adapters/live-view/rate-cap.ts";

/** Offers messages at these times (ms) to a cap, sending each one it lets through; the sent times. */
function through(cap: RateCap, times: readonly number[]): number[] {
  const sent: number[] = [];
  for (const t of times)
    if (cap.due(t)) {
      cap.sent(t);
      sent.push(t);
    }
  return sent;
}

// Deterministic jitter: ±10 ms around each 15 Hz arrival.
const jittered = (hz: number, n: number, jitter: number) =>
  Array.from({ length: n }, (_, i) => (i * 1000) / hz + jitter * Math.sin(i * 2.3));

describe("live view rate cap", () => {
  it("passes a jittery stream at the cap whole (a strict gap dropped about a third)", () => {
    const frames = jittered(15, 150, 10);
    expect(through(new RateCap(15), frames)).toHaveLength(150);
  });

  it("holds a faster stream to the cap on average", () => {
    const frames = jittered(60, 600, 3); // 10 s at 60 Hz
    const sent = through(new RateCap(15), frames);
    expect(sent.length).toBeGreaterThanOrEqual(148);
    expect(sent.length).toBeLessThanOrEqual(152);
  });

  it("lets one message through at once after a pause, not a burst", () => {
    const cap = new RateCap(10);
    expect(through(cap, [0, 100, 200])).toEqual([0, 100, 200]);
    // Silence, then a burst of four within 10 ms: one passes, the next waits for its interval.
    expect(through(cap, [5000, 5002, 5004, 5006, 5060])).toEqual([5000, 5060]);
  });

  it("0 is no cap", () => {
    expect(through(new RateCap(0), [0, 1, 2, 3])).toHaveLength(4);
  });
});
