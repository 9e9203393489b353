// Picks the TensorFlow.js backend once per thread (tfjs keeps a global engine per JS realm; a worker
// thread has its own).
//
// auto: @tensorflow/tfjs-node ("tensorflow", native libtensorflow; an optionalDependency that robots
// with the prebuilt binary install) → the bundled WASM backend (SIMD; about 2–5× the pure-JS cpu
// backend for the small dense nets here) → cpu. The name in use is returned and reported in stats.

import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TF from "@tensorflow/tfjs";

// tfjs ships CommonJS: require() loads it without the export scan Node runs over every CommonJS file
// an `import` reaches, about 0.5 CPU-s less per thread that trains or predicts (docs/benchmarks.md).
// The union package, not tfjs-core alone: it registers the gradients training needs.
const require = createRequire(import.meta.url);
const tf: typeof TF = require("@tensorflow/tfjs");

export type BackendPreference = "auto" | "node" | "wasm" | "cpu";
export type BackendName = "tensorflow" | "wasm" | "cpu";

let ready: Promise<BackendName> | null = null;

async function tryNode(): Promise<boolean> {
  try {
    // Required only here: the package is optional and its native addon may be missing.
    require("@tensorflow/tfjs-node");
    return await tf.setBackend("tensorflow");
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    const wasm: typeof import("@tensorflow/tfjs-backend-wasm") = require("@tensorflow/tfjs-backend-wasm");
    // The .wasm binaries sit next to the package's main file (dist/).
    wasm.setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`);
    return await tf.setBackend("wasm");
  } catch {
    return false;
  }
}

async function tryCpu(): Promise<boolean> {
  const ok = await tf.setBackend("cpu");
  // The cpu backend nags once about installing tfjs-node; we already report the backend ourselves.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend && "firstUse" in backend) backend.firstUse = false;
  return ok;
}

async function choose(pref: BackendPreference): Promise<BackendName> {
  const order: Array<[BackendName, () => Promise<boolean>]> =
    pref === "node"
      ? [["tensorflow", tryNode]]
      : pref === "wasm"
        ? [["wasm", tryWasm]]
        : pref === "cpu"
          ? [["cpu", tryCpu]]
          : [
              ["tensorflow", tryNode],
              ["wasm", tryWasm],
              ["cpu", tryCpu],
            ];
  for (const [name, attempt] of order) {
    if (await attempt()) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(
    pref === "node"
      ? "learner.backend=node but @tensorflow/tfjs-node is not installed or its native addon failed to load (npm install @tensorflow/tfjs-node)"
      : `learner.backend=${pref} could not be initialised`,
  );
}

/**
 * Initialises the backend for this thread (first caller wins; a later call with a different explicit
 * preference is an error, since tensors of two backends cannot be mixed in one learner).
 */
export function initBackend(pref: BackendPreference = "auto"): Promise<BackendName> {
  if (!ready) {
    const attempt = choose(pref);
    ready = attempt;
    attempt.catch(() => {
      if (ready === attempt) ready = null;
    });
    return attempt;
  }
  if (pref === "auto") return ready;
  return ready.then((name) => {
    if ((pref === "node" ? "tensorflow" : pref) !== name) {
      throw new Error(`tfjs backend already initialised as ${name} in this thread; cannot switch to ${pref}`);
    }
    return name;
  });
}

export type { TF };
export { tf };
