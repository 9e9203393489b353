// The `terrain-learner sim` command as a user runs it: summary, options, and one-line errors.

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";
import { loadDecompressHandlers } from "@mcap/support";
import { afterAll, describe, expect, it } from "vitest";
import { parseCameraSpec } from "../src/cli/sim.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BIN = join(import.meta.dirname, "..", "bin", "terrain-learner.js");

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, TERRAIN_LEARNER_DEBUG: "" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("terrain-learner sim", () => {
  it("writes a bag with the requested camera and IMU rates and prints a JSON summary", async () => {
    const out = join(dir, "cli.mcap");
    const r = await cli([
      "sim",
      "--world",
      join(import.meta.dirname, "..", "sim", "worlds", "stripes.yaml"),
      "--duration",
      "0.5",
      "--camera",
      "640x480@30",
      "--imu-rate",
      "400",
      "--seed",
      "4",
      "--out",
      out,
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      frames: number;
      imuSamples: number;
      bytes: number;
      world: string;
    };
    expect(summary).toMatchObject({ frames: 15, imuSamples: 200, world: "stripes" });
    expect(summary.bytes).toBe(statSync(out).size);
    const handle = await open(out, "r");
    try {
      const reader = await McapIndexedReader.Initialize({
        readable: new FileHandleReadable(handle),
        decompressHandlers: await loadDecompressHandlers(),
      });
      const counts = new Map<string, bigint>();
      for (const [id, n] of reader.statistics!.channelMessageCounts)
        counts.set(reader.channelsById.get(id)!.topic, n);
      expect(counts.get("/imu/data")).toBe(200n);
      expect(counts.get("/camera/image_raw")).toBe(15n);
      expect(counts.get("/odom")).toBe(25n);
    } finally {
      await handle.close();
    }
  });

  it("prints the one-line summary by default", async () => {
    const out = join(dir, "plain.mcap");
    const r = await cli(["sim", "--duration", "0.3", "--camera", "160x120", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^wrote .*plain\.mcap: 0\.3 s of world 'default' \(seed 1\), 5 frames 160x120@15, 60 IMU samples @200 Hz.*× real time/,
    );
  });

  it("reports user mistakes in one line with a non-zero exit", async () => {
    const bad = await cli(["sim", "--camera", "big", "--out", join(dir, "x.mcap")]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toBe(
      "terrain-learner: --camera 'big': expected WIDTHxHEIGHT@HZ, e.g. 320x240@15 or 640x480@30",
    );
    const missing = await cli(["sim", "--world", join(dir, "nope.yaml"), "--out", join(dir, "x.mcap")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/nope\.yaml: no such file \(ENOENT\)/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const noOut = await cli(["sim"]);
    expect(noOut.stderr).toMatch(/--out PATH\.mcap is required/);
  });

  it.each([
    [
      "an unknown terrain type",
      "terrains:\n  - type: gravel\n  - type: gravle\n",
      "terrains.1.type: unknown terrain type 'gravle' (built-in: ",
    ],
    [
      "a duplicate name",
      "terrains:\n  - type: gravel\n  - { type: sand, name: gravel }\n",
      "terrains.1.name: duplicate terrain name 'gravel'",
    ],
    [
      "no driven terrain",
      "terrains:\n  - { type: gravel, driven: false }\n",
      "terrains: at least one terrain must be driven",
    ],
    [
      "a patch naming no terrain",
      "layout: { patches: [{ x: 0, y: 0, terrain: lawn }] }\nterrains:\n  - type: gravel\n",
      "layout.patches.0.terrain: no terrain named 'lawn' in terrains",
    ],
    [
      "patches under a layout that does not read them",
      "layout: { kind: stripes, patches: [{ x: 0, y: 0, terrain: gravel }] }\nterrains:\n  - type: gravel\n",
      "layout.patches: only a voronoi layout reads patches (layout.kind is stripes)",
    ],
    [
      "waypoints without kind: waypoints (a random route was driven)",
      "route: { waypoints: [[5, 0], [0, 5]] }\nterrains:\n  - type: gravel\n",
      "route.waypoints: only a waypoint route reads waypoints (route.kind is random): give kind: waypoints",
    ],
    [
      "more terrains than the int8 ground-truth grid indexes",
      `terrains:\n${Array.from({ length: 128 }, (_, i) => `  - { type: gravel, name: g${i} }\n`).join("")}`,
      "terrains: at most 127 terrains (the ground-truth terrain grid holds an int8 index)",
    ],
    [
      "a raster too large",
      "bounds: { xMin: -2000, xMax: 2000, yMin: -2000, yMax: 2000 }\nterrains:\n  - type: gravel\n",
      "layout: raster of 81200×81200 cells is too large",
    ],
    [
      "a missing photo",
      "terrains:\n  - { name: lawn, roughness: 0.3, photos: [no-such.jpg] }\n",
      "terrain 'lawn': photo ",
    ],
  ])(
    "a world with %s: one line naming the file and the key, exit 1, no bag",
    async (_what, text, message) => {
      const world = join(dir, "mistake.yaml");
      writeFileSync(world, text);
      const out = join(dir, "mistake.mcap");
      const r = await cli(["sim", "--world", world, "--duration", "1", "--out", out]);
      expect(r.code).toBe(1);
      expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
      expect(r.stderr.startsWith(`terrain-learner: invalid world ${world}: ${message}`), r.stderr).toBe(true);
      expect(existsSync(out)).toBe(false);
    },
  );

  it("parses camera specs", () => {
    expect(parseCameraSpec("640x480@30")).toEqual({ width: 640, height: 480, rate: 30 });
    expect(parseCameraSpec("320x240")).toEqual({ width: 320, height: 240 });
    expect(parseCameraSpec("@7.5")).toEqual({ rate: 7.5 });
    expect(() => parseCameraSpec("8x8@15")).toThrow(/outside/);
    expect(() => parseCameraSpec("320x240@0")).toThrow(/outside/);
  });
});
