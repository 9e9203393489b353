// Camera frames for the generator, rendered either in this thread or in a worker thread that runs
// a few frames ahead while this thread does the IMU, odometry, serialisation and compression.
//
// Both paths produce the same bytes: the renderer is deterministic given the sequence of poses it
// is asked for, and the worker builds the same world and renderer from the same file and seed. The
// camera's poses come from their own RouteDriver (the trajectory is deterministic too), so the
// worker can be fed poses ahead of the main loop without disturbing the other sensors' sampling.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { spawnModuleWorker } from "../src/learning/ts-worker.ts";
import type { WorldAssets } from "./assets.ts";
import { cameraSetup, GroundRenderer } from "./render.ts";
import { newState, RouteDriver } from "./route.ts";
import { buildWorld, type World } from "./world.ts";
import type { WorldFile } from "./world-schema.ts";

const WORKER_KIND = "terrain-learner/sim-render";

export interface RenderedFrame {
  pixels: Uint8Array;
  /** Sampled ground pixels per terrain, and all sampled pixels (see GroundRenderer). */
  terrainPixels: Uint32Array;
  sampledPixels: number;
}

export interface FrameSource {
  /** Frame k (at start + k / rate); call with k = 0, 1, 2, … in order. */
  take(k: number): Promise<RenderedFrame>;
  close(): Promise<void>;
}

interface Init {
  kind: string;
  file: WorldFile;
  /** Photos and recordings, loaded by the main thread (structured-cloned). */
  assets: WorldAssets;
  seed: number;
  width: number;
  height: number;
}

interface Request {
  k: number;
  x: number;
  y: number;
  yaw: number;
  t: number;
  v: number;
}

/** Renders in this thread, on demand. */
export function inlineFrames(
  world: World,
  seed: number,
  start: number,
  rate: number,
  width: number,
  height: number,
): FrameSource {
  const renderer = new GroundRenderer(world, cameraSetup(world, width, height), seed);
  const route = new RouteDriver(world, seed, start);
  const s = newState();
  return {
    async take(k) {
      const t = start + k / rate;
      route.sample(t, s);
      const pixels = renderer.render(s.x, s.y, s.yaw, t - start, undefined, s.v);
      return {
        pixels,
        terrainPixels: renderer.terrainPixels.slice(),
        sampledPixels: renderer.sampledPixels,
      };
    },
    async close() {},
  };
}

/** Renders in a worker thread, `ahead` frames in advance, never past `count` frames. */
export function workerFrames(
  world: World,
  assets: WorldAssets,
  seed: number,
  start: number,
  rate: number,
  width: number,
  height: number,
  count: number,
  ahead = 4,
): FrameSource {
  const init: Init = { kind: WORKER_KIND, file: world.file, assets, seed, width, height };
  const worker = spawnModuleWorker(import.meta.url, init);
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const route = new RouteDriver(world, seed, start);
  const s = newState();
  const pending = new Map<number, { resolve: (f: RenderedFrame) => void; reject: (e: Error) => void }>();
  const results = new Map<number, Promise<RenderedFrame>>();
  let failure: Error | undefined;
  let next = 0;
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on(
    "message",
    (
      m:
        | { k: number; pixels: Uint8Array; terrainPixels: Uint32Array; sampledPixels: number }
        | { error: string },
    ) => {
      if ("error" in m) {
        fail(new Error(`render worker: ${m.error}`));
        return;
      }
      const p = pending.get(m.k);
      pending.delete(m.k);
      p?.resolve({ pixels: m.pixels, terrainPixels: m.terrainPixels, sampledPixels: m.sampledPixels });
    },
  );
  worker.on("error", (err) => fail(err));
  worker.on("exit", (code) => {
    if (pending.size > 0) fail(new Error(`render worker exited with code ${code}`));
  });
  const submit = () => {
    const k = next++;
    const t = start + k / rate;
    route.sample(t, s);
    results.set(
      k,
      new Promise<RenderedFrame>((resolve, reject) => {
        if (failure) reject(failure);
        else pending.set(k, { resolve, reject });
      }),
    );
    const req: Request = { k, x: s.x, y: s.y, yaw: s.yaw, t: t - start, v: s.v };
    worker.postMessage(req);
  };
  return {
    async take(k) {
      while (next <= k || next < Math.min(count, k + ahead + 1)) submit();
      const r = results.get(k);
      if (!r) throw new Error(`render worker: frame ${k} was never requested`);
      results.delete(k);
      return r;
    },
    async close() {
      // Frames rendered ahead that nobody will take: their rejection when the worker goes is expected.
      for (const r of results.values()) r.catch(() => undefined);
      results.clear();
      // Asked to stop, the worker ends between frames. terminate() stops it inside the render loop,
      // where V8 may still be optimising that code on another thread: Node 20 then aborts the whole
      // process (NodePlatform::ForIsolate assertion) about one Ctrl-C in four. terminate() is only
      // the fallback for a worker that does not answer.
      worker.postMessage({ stop: true });
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// --- worker side ----------------------------------------------------------------------------------

if (!isMainThread && (workerData as Init | undefined)?.kind === WORKER_KIND && parentPort) {
  const port = parentPort;
  const init = workerData as Init;
  try {
    const world = buildWorld(init.file, init.seed, init.assets);
    const renderer = new GroundRenderer(world, cameraSetup(world, init.width, init.height), init.seed);
    port.on("message", (req: Request | { stop: true }) => {
      if ("stop" in req) {
        port.close();
        return;
      }
      try {
        const pixels = renderer.render(req.x, req.y, req.yaw, req.t, undefined, req.v);
        const terrainPixels = renderer.terrainPixels.slice();
        port.postMessage({ k: req.k, pixels, terrainPixels, sampledPixels: renderer.sampledPixels }, [
          pixels.buffer as ArrayBuffer,
        ]);
      } catch (err) {
        port.postMessage({ error: (err as Error).message });
      }
    });
  } catch (err) {
    port.postMessage({ error: (err as Error).message });
  }
}
