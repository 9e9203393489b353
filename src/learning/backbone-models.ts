// Backbone model files: bundled names → paths in the package's models/ folder, and content hashes.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A file in the package's models/ folder, found relative to this file or the package root. */
function bundledModelPath(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "models", file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../models", file);
}

/** The bundled filter-bank backbone (models/backbone.onnx). */
export function defaultBackbonePath(): string {
  return bundledModelPath("backbone.onnx");
}

/**
 * Backbones shipped in models/, selectable by name as `learner.backbone`: the filter bank (also the
 * empty string) and MobileNetV2 cut after block 13 (models/build-mobilenetv2.ts).
 */
export const BUNDLED_BACKBONES: Record<string, string> = {
  filterbank: "backbone.onnx",
  mobilenetv2: "mobilenetv2.onnx",
};

/** `learner.backbone` → model path: "" or a bundled name → that file in models/, anything else as given. */
export function resolveBackbonePath(backbone: string): string {
  const name = backbone.trim();
  if (name === "") return defaultBackbonePath();
  const file = BUNDLED_BACKBONES[name];
  return file ? bundledModelPath(file) : name;
}

const hashes = new Map<string, { mtimeMs: number; size: number; sha256: string }>();

/** sha256 of a model file (hex), cached per path while its size and mtime stay the same. */
export function modelSha256(path: string): string {
  const abs = resolve(path);
  const st = statSync(abs);
  const cached = hashes.get(abs);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.sha256;
  const sha256 = createHash("sha256").update(readFileSync(abs)).digest("hex");
  hashes.set(abs, { mtimeMs: st.mtimeMs, size: st.size, sha256 });
  return sha256;
}
