// frames.png captions: the frames of a short run are tenths of a second apart, and their captions
// must tell them apart (whole seconds gave "t = 0 s, 0 s, 1 s, 1 s" for a 1 s run).

import { describe, expect, it } from "vitest";
import { panelCaption } from "../src/cli/replay-panel.ts";

/** The captions replay gives its four panels over a bag of `duration` s at `hz` frames a second. */
function captions(duration: number, hz: number): string[] {
  const spacing = duration / 5;
  // Each panel shows the first frame at or after its time.
  return [1, 2, 3, 4].map((i) => panelCaption(Math.ceil(i * spacing * hz - 1e-9) / hz, spacing));
}

describe("frame panel captions", () => {
  it("tell apart the panels of a short run", () => {
    for (const duration of [0.3, 1, 3, 4.9]) {
      const c = captions(duration, 15);
      expect(new Set(c).size, `${duration} s: ${c.join(", ")}`).toBe(4);
    }
    expect(captions(1, 15)).toEqual(["t = 0.2 s", "t = 0.4 s", "t = 0.6 s", "t = 0.8 s"]);
  });

  it("keep whole seconds for a run of the usual length", () => {
    expect(captions(180, 15)).toEqual(["t = 36 s", "t = 72 s", "t = 108 s", "t = 144 s"]);
    expect(captions(20, 15)).toEqual(["t = 4 s", "t = 8 s", "t = 12 s", "t = 16 s"]);
  });
});
