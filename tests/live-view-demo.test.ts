// `demo --live-view` as a user runs it: the demo replays as fast as it can, so `--rate 1` paces it
// at the recorded speed for a viewer to watch. A real Foxglove protocol client follows it.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnCli } from "./helpers/cli.ts";
import { TestViewer } from "./helpers/foxglove-client.ts";
import { waitFor } from "./helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-live-demo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const STRIPES = join(import.meta.dirname, "..", "sim", "worlds", "stripes.yaml");
const DURATION = 3;

describe("demo --live-view --rate", () => {
  it("paces the demo's replay at the recorded speed for a viewer", async () => {
    const cli = spawnCli([
      "demo",
      ...["--world", STRIPES, "--duration", String(DURATION), "--rate", "1"],
      ...["--cache", join(dir, "cache"), "--out", join(dir, "out"), "--live-view=0"],
    ]);
    let viewer: TestViewer | undefined;
    try {
      await waitFor(
        () => `the live view's address (stderr: ${cli.stderr()})`,
        () => /ws:\/\/\S+:\d+/.test(cli.stderr()) || cli.child.exitCode !== null,
        120_000,
      );
      const url = /ws:\/\/\S+:\d+/.exec(cli.stderr())?.[0];
      expect(url, cli.stderr()).toBeDefined();
      viewer = new TestViewer(url!, { decode: false });
      await viewer.ready();
      viewer.subscribe(["/tf"]);
      // Wall time of each transform as it arrives: at the recorded speed they span the drive.
      const arrivals: number[] = [];
      viewer.client.on("message", () => arrivals.push(performance.now()));
      expect(await cli.exit, cli.stderr()).toBe(0);
      expect(arrivals.length).toBeGreaterThan(50);
      expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan((DURATION - 1) * 1000);
    } finally {
      await viewer?.close().catch(() => {});
      cli.child.kill();
    }
  }, 180_000);
});
