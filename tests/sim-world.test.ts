// Determinism of the generated bag, world-file validation, the shipped worlds, and the route's
// promise never to drive on `driven: false` terrain.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BUILTIN_TERRAINS,
  buildWorld,
  cameraSetup,
  GroundRenderer,
  generateWorldBag,
  loadWorldFile,
  newState,
  parseWorld,
  parseWorldText,
  RouteDriver,
  terrainAt,
  textureContrast,
  WORLDS_DIR,
} from "../sim/index.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-world-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("determinism", () => {
  it("same seed → byte-identical bag; different seed → different bag", async () => {
    const small = { width: 160, height: 120 };
    const a = join(dir, "a.mcap");
    const b = join(dir, "b.mcap");
    const c = join(dir, "c.mcap");
    await generateWorldBag({ out: a, seed: 7, duration: 1.5, camera: small });
    await generateWorldBag({ out: b, seed: 7, duration: 1.5, camera: small });
    await generateWorldBag({ out: c, seed: 8, duration: 1.5, camera: small });
    const ba = readFileSync(a);
    expect(ba.length).toBeGreaterThan(10_000);
    expect(Buffer.compare(ba, readFileSync(b))).toBe(0);
    expect(Buffer.compare(ba, readFileSync(c))).not.toBe(0);
  });

  it("rendering in a worker thread gives the same bytes as rendering inline", async () => {
    const a = join(dir, "inline.mcap");
    const b = join(dir, "worker.mcap");
    const camera = { width: 160, height: 120 };
    const ra = await generateWorldBag({ out: a, seed: 3, duration: 1, camera, renderWorker: false });
    const rb = await generateWorldBag({ out: b, seed: 3, duration: 1, camera, renderWorker: true });
    expect(rb.frames).toBe(15);
    expect(rb.framesSeeing).toEqual(ra.framesSeeing);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
  });

  it("JPEG output is deterministic too and replaces image_raw", async () => {
    const a = join(dir, "ja.mcap");
    const b = join(dir, "jb.mcap");
    const r = await generateWorldBag({
      out: a,
      seed: 1,
      duration: 0.5,
      jpeg: true,
      camera: { width: 160, height: 120 },
    });
    await generateWorldBag({
      out: b,
      seed: 1,
      duration: 0.5,
      jpeg: true,
      camera: { width: 160, height: 120 },
    });
    expect(r.frames).toBe(8);
    const bytes = readFileSync(a);
    expect(Buffer.compare(bytes, readFileSync(b))).toBe(0);
    const text = bytes.toString("latin1");
    expect(text).toContain("/camera/image_raw/compressed");
    expect(text).not.toMatch(/\/camera\/image_raw[^/]/);
  });
});

describe("world files", () => {
  it("ships at least three worlds that all validate and build", () => {
    const files = readdirSync(WORLDS_DIR).filter((f) => f.endsWith(".yaml"));
    expect(files).toEqual(expect.arrayContaining(["default.yaml", "patchwork.yaml", "stripes.yaml"]));
    for (const f of files) {
      const w = loadWorldFile(join(WORLDS_DIR, f));
      expect(w.terrains.length, f).toBeGreaterThan(0);
    }
  });

  it("the default world has ≥ 8 terrain types, ≥ 2 never driven, colours that do not give roughness away", () => {
    const world = buildWorld(loadWorldFile(join(WORLDS_DIR, "default.yaml")), 1);
    expect(world.terrains.length).toBeGreaterThanOrEqual(8);
    expect(world.terrains.filter((t) => !t.driven).length).toBeGreaterThanOrEqual(2);
    const by = Object.fromEntries(world.terrains.map((t) => [t.name, t]));
    // Concrete (smooth) and gravel (rough): similar mean colour, different fine-scale contrast.
    const dc = by.concrete!.texture.mean.map((v, i) => Math.abs(v - by.gravel!.texture.mean[i]!));
    expect(Math.max(...dc)).toBeLessThan(25);
    expect(by.gravel!.roughness - by.concrete!.roughness).toBeGreaterThan(0.5);
    expect(textureContrast(by.gravel!.texture)).toBeGreaterThan(2 * textureContrast(by.concrete!.texture));
    expect(BUILTIN_TERRAINS.length).toBeGreaterThanOrEqual(8);
  });

  it("rejects a bad world with an error that names the key", () => {
    expect(() => parseWorld({ terrains: [{ type: "gravel" }], camera: { hfovDeg: "wide" } })).toThrow(
      /camera\.hfovDeg/,
    );
    expect(() => parseWorld({ terrains: [{ type: "gravel" }], robot: { wheelbse: 1 } })).toThrow(/wheelbse/);
    expect(() => parseWorld({ terrains: [] })).toThrow(/terrains/);
    expect(() => parseWorldText("terrains: [ {type: gravel", "x.yaml")).toThrow(/cannot parse world x\.yaml/);
    // Checks across keys are made when the file is read, so they name it like the rest.
    expect(() => parseWorld({ terrains: [{ type: "lava" }] }, "w.yaml")).toThrow(
      /^invalid world w\.yaml: terrains\.0\.type: unknown terrain type 'lava' \(built-in: concrete, /,
    );
    expect(() => loadWorldFile(join(dir, "missing.yaml"))).toThrow(/missing\.yaml.*ENOENT/);
  });

  it("lays out every terrain and keeps the layout fixed by layout.seed", () => {
    const file = loadWorldFile(join(WORLDS_DIR, "default.yaml"));
    const w1 = buildWorld(file, 1);
    const w2 = buildWorld(file, 99);
    expect(Buffer.compare(Buffer.from(w1.patchId.buffer), Buffer.from(w2.patchId.buffer))).toBe(0);
    const seen = new Set<number>();
    const b = file.bounds;
    for (let y = b.yMin; y < b.yMax; y += 1)
      for (let x = b.xMin; x < b.xMax; x += 1) seen.add(terrainAt(w1, x, y));
    expect(seen.size).toBe(w1.terrains.length);
  });
});

describe("route", () => {
  // A 20 m world of 5 m stripes, rubble (never driven) in every other one.
  const striped = (route: Record<string, unknown>) =>
    parseWorld(
      {
        bounds: { xMin: -10, xMax: 10, yMin: -10, yMax: 10 },
        layout: { kind: "stripes", cellSize: 5, seed: 1, warp: 0 },
        terrains: [{ type: "grass" }, { type: "rubble", driven: false }],
        route,
      },
      "w.yaml",
    );

  it("a slow robot: maxSpeed under the default minSpeed is refused; given both, it is kept to", () => {
    const slow = (robot: Record<string, number>) =>
      parseWorld(
        { terrains: [{ type: "grass" }], bounds: { xMin: -10, xMax: 10, yMin: -10, yMax: 10 }, robot },
        "w.yaml",
      );
    // It drove at 0.3 m/s, above the 0.25 the file asks for.
    expect(() => slow({ maxSpeed: 0.25 })).toThrow(
      /^invalid world w\.yaml: robot\.minSpeed: must not be above robot\.maxSpeed \(the default minSpeed is 0\.3 m\/s/,
    );
    const route = new RouteDriver(buildWorld(slow({ minSpeed: 0.1, maxSpeed: 0.25 }), 1), 1, 0);
    const s = newState();
    let top = 0;
    for (let t = 0; t < 60; t += 0.05) top = Math.max(top, route.sample(t, s).v);
    expect(top).toBeGreaterThan(0.1);
    expect(top).toBeLessThanOrEqual(0.25 + 1e-9);
  });

  it("refuses a start or waypoint outside the bounds, naming the key", () => {
    expect(() =>
      striped({
        kind: "waypoints",
        waypoints: [
          [0, 0],
          [50, 0],
        ],
      }),
    ).toThrow(
      /^invalid world w\.yaml: route\.waypoints\.1: \(50, 0\) is outside the bounds \(x -10\.\.10, y -10\.\.10\)/,
    );
    expect(() => striped({ kind: "random", start: { x: 0, y: -30 } })).toThrow(
      /route\.start: \(0, -30\) is outside/,
    );
  });

  it("refuses a random-route start the robot cannot drive away from", () => {
    // At the edge of the bounds (or on never-driven ground) the random walk finds no target and the
    // robot stood still for the whole drive.
    for (const start of [
      { x: 9.8, y: 0 },
      { x: -2.5, y: 0 },
    ]) {
      const world = buildWorld(striped({ kind: "random", start }), 1);
      expect(() => new RouteDriver(world, 1, 0)).toThrow(/^route\.start: the robot at .* does not fit there/);
    }
  });

  it("refuses waypoint legs that drive onto never-driven terrain", () => {
    // Grass is x in -10..-5 and 0..5, rubble x in -5..0 and 5..10.
    const wps = (waypoints: number[][], start = { x: 2.5, y: -8 }) =>
      new RouteDriver(buildWorld(striped({ kind: "waypoints", start, waypoints }), 1), 1, 0);
    // Up one grass stripe and back: fine, and it moves.
    const ok = wps([
      [2.5, 8],
      [2.5, -8],
    ]);
    const s = newState();
    for (let t = 0; t < 20; t += 0.05) ok.sample(t, s);
    expect(ok.distance).toBeGreaterThan(5);
    // To the other grass stripe: the leg crosses rubble, that the route must never drive on.
    expect(() => wps([[-7.5, 8]])).toThrow(
      /^route\.start: the leg from \(2\.5, -8\) to \(-7\.5, 8\) drives onto never-driven terrain 'rubble'/,
    );
    expect(() =>
      wps([
        [2.5, 8],
        [-7.5, 8],
      ]),
    ).toThrow(/^route\.waypoints\.0: the leg from \(2\.5, 8\) to \(-7\.5, 8\)/);
  });

  it("never drives onto never-driven terrain or out of bounds, and does move, turn and stop", () => {
    const file = loadWorldFile(join(WORLDS_DIR, "default.yaml"));
    const world = buildWorld(file, 1);
    for (const seed of [1, 2, 3]) {
      const route = new RouteDriver(world, seed, 0);
      const s = newState();
      let maxSpeed = 0;
      let maxTurn = 0;
      let stoppedSamples = 0;
      for (let t = 0; t < 300; t += 0.05) {
        route.sample(t, s);
        const ti = terrainAt(world, s.x, s.y);
        expect(world.terrains[ti]!.driven, `seed ${seed} at t=${t.toFixed(2)} (${s.x}, ${s.y})`).toBe(true);
        expect(s.x).toBeGreaterThanOrEqual(file.bounds.xMin);
        expect(s.x).toBeLessThanOrEqual(file.bounds.xMax);
        maxSpeed = Math.max(maxSpeed, s.v);
        maxTurn = Math.max(maxTurn, Math.abs(s.w));
        if (t > 2 && Math.abs(s.v) < 1e-3 && Math.abs(s.w) < 1e-3) stoppedSamples++;
      }
      expect(route.violations).toBe(0);
      expect(route.distance).toBeGreaterThan(100);
      expect(maxSpeed).toBeGreaterThan(1.2);
      expect(maxSpeed).toBeLessThanOrEqual(2.0 + 1e-9);
      expect(maxTurn).toBeGreaterThan(0.3);
      expect(route.stops).toBeGreaterThan(0);
      expect(stoppedSamples).toBeGreaterThan(10);
    }
  });

  it("drives past the never-driven terrains so the camera sees them", () => {
    const world = buildWorld(loadWorldFile(join(WORLDS_DIR, "default.yaml")), 1);
    const renderer = new GroundRenderer(world, cameraSetup(world, 80, 60), 1);
    const route = new RouteDriver(world, 1, 0);
    const s = newState();
    const frames = new Map<string, number>();
    for (let t = 0; t < 180; t += 1) {
      route.sample(t, s);
      renderer.render(s.x, s.y, s.yaw, t);
      for (const terrain of world.terrains) {
        if (renderer.terrainPixels[terrain.index]! >= 0.02 * renderer.sampledPixels) {
          frames.set(terrain.name, (frames.get(terrain.name) ?? 0) + 1);
        }
      }
    }
    // Every terrain of the world shows up in a 3-minute drive, the never-driven ones included.
    for (const terrain of world.terrains)
      expect(frames.get(terrain.name) ?? 0, terrain.name).toBeGreaterThanOrEqual(5);
  });
});
