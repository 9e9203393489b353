// `run` has no camera, so it has no fleet samples (image features with their labels) to share, and
// nothing in it learns from a peer's: --fleet is refused with the reason, and a config's fleet.url
// is set aside with a warning instead of subscribing to every peer's batches for nothing.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "run-fleet-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("run and the fleet", () => {
  it("refuses --fleet in one line, naming the commands that share", async () => {
    const r = await runCli(["run", "--serial", join(dir, "tty"), "--fleet", "mqtt://127.0.0.1:1"], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "terrain-learner: --fleet needs a camera (fleet samples are image features): use it with ros, replay or demo",
    );
  });

  it("sets a config's fleet.url aside with a warning", async () => {
    const cfg = join(dir, "fleet.yaml");
    writeFileSync(cfg, "fleet:\n  url: mqtt://127.0.0.1:1\n");
    const r = await runCli(["run", "--serial", join(dir, "tty"), "--duration", "0.5", "-c", cfg], dir);
    expect(r.stderr).toContain("fleet.url ignored: run has no camera");
    // The device never opened: the run itself still says so.
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/fleet: (connecting|closed)/);
  });
});
