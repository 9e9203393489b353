// Runs inside the training worker thread LiveTrainer spawns: trains an OnlineLearner, hands its weights back.

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { LearnerConfig } from "./config.ts";
import { OnlineLearner } from "./learner.ts";
import {
  type FromWorker,
  type ToWorker,
  WORKER_KIND,
  type WorkerInit,
  type WorkerStats,
} from "./worker-protocol.ts";

/** Steps per chunk between budget sleeps (~5–10 ms of work on wasm). */
const CHUNK_STEPS = 4;

async function runWorker(cfg: LearnerConfig, channels: number, lockstep: boolean): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const learner = await OnlineLearner.create(cfg, channels);
  const budget = Math.min(1, Math.max(0.01, cfg.cpu_budget));
  let running = true;
  let paused = false;
  let busyMs = 0;
  let windowStart = performance.now();
  let lastPublish = performance.now();
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = null;
        resolve();
      };
    });

  let generation = 0;
  const publish = async (id: number | null) => {
    const packed = generation;
    const now = performance.now();
    const stats: WorkerStats = {
      ...learner.stats(),
      busyFraction: busyMs / Math.max(1, now - windowStart),
      paused,
    };
    busyMs = 0;
    windowStart = now;
    lastPublish = now;
    const weights = await learner.getWeights();
    // The search space of the references just packed: the predictor need not estimate it again.
    const search = learner.searchState();
    const transfer: ArrayBuffer[] = [weights];
    if (search) transfer.push(search.space.buffer as ArrayBuffer);
    if (search?.transform) transfer.push(search.transform.buffer as ArrayBuffer);
    port.postMessage(
      { type: "weights", weights, search, stats, id, generation: packed } satisfies FromWorker,
      transfer,
    );
  };

  // Requests are handled in order; the training loop only yields at sleeps, so they interleave safely.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch((err: Error) => console.error(`training worker: ${err.message}`));
  };
  const fail = (id: number, err: unknown) =>
    port.postMessage({ type: "failed", id, message: (err as Error).message } satisfies FromWorker);
  // Lockstep: samples and calibration wait their turn behind queued training blocks too, so each
  // block sees exactly what was sent before it was requested.
  const inOrder = (fn: () => void) => (lockstep ? serial(async () => fn()) : fn());
  port.on("message", (msg: ToWorker) => {
    switch (msg.type) {
      case "samples":
        inOrder(() =>
          learner.addSamples(
            new Float32Array(msg.features),
            new Float32Array(msg.targets),
            new Float32Array(msg.weights),
          ),
        );
        break;
      case "calibration":
        inOrder(() => learner.setLabelCalibration(msg.lo, msg.hi, msg.exponent));
        break;
      case "train":
        serial(async () => {
          try {
            const t0 = performance.now();
            await learner.train(msg.steps);
            busyMs += performance.now() - t0;
            await publish(msg.id);
          } catch (err) {
            // The caller awaits this block: it must hear about the failure, not wait forever.
            fail(msg.id, err);
          }
        });
        break;
      case "publish":
        serial(() => publish(msg.id));
        break;
      case "save":
        serial(async () => {
          try {
            port.postMessage({
              type: "done",
              id: msg.id,
              result: await learner.saveCheckpoint(msg.dir, msg.camera),
            } satisfies FromWorker);
          } catch (err) {
            fail(msg.id, err);
          }
        });
        break;
      case "load":
        serial(async () => {
          try {
            const ok = await learner.loadLatestCheckpoint(msg.dir);
            if (ok) await publish(null);
            port.postMessage({ type: "done", id: msg.id, result: ok } satisfies FromWorker);
          } catch (err) {
            fail(msg.id, err);
          }
        });
        break;
      case "pause":
        paused = true;
        break;
      case "resume":
        paused = false;
        break;
      case "reset":
        inOrder(() => {
          learner.reset();
          generation = msg.generation;
        });
        break;
      case "stop":
        running = false;
        wake?.();
        break;
    }
  });
  port.postMessage({ type: "ready", backend: learner.backend } satisfies FromWorker);

  while (running && lockstep) await sleep(1000);
  while (running) {
    if (paused || learner.bufferSize < cfg.min_samples) {
      await sleep(25);
    } else {
      const t0 = performance.now();
      await learner.train(CHUNK_STEPS);
      const busy = performance.now() - t0;
      busyMs += busy;
      await sleep((busy * (1 - budget)) / budget);
    }
    await chain;
    if (running && performance.now() - lastPublish >= cfg.publish_every * 1000 && learner.trainSteps > 0)
      await publish(null);
  }
  await chain;
  if (!lockstep) await publish(null);
  port.postMessage({ type: "stopped" } satisfies FromWorker);
  learner.dispose();
  port.close();
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === WORKER_KIND) {
  const { cfg, channels, lockstep } = workerData as WorkerInit;
  runWorker(cfg, channels, lockstep === true).catch((err: Error) => {
    console.error(`training worker: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
