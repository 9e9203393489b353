// Backbone model files: bundled names → paths in the package's models/ folder, and content hashes.

import { createHash, type Hash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IGraphProto = onnxProto.onnx.IGraphProto;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

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

/** The external data files a model's tensors reference (`location`, relative to the model's folder), sorted. */
export function externalDataLocations(model: Uint8Array): string[] {
  // Every external tensor names its file under the key "location": without those bytes there is none,
  // and a large embedded model (a 100 MB ViT) is not decoded just to learn that.
  if (Buffer.from(model.buffer, model.byteOffset, model.byteLength).indexOf("location") < 0) return [];
  const found = new Set<string>();
  const tensor = (t: ITensorProto | null | undefined) => {
    if (t?.dataLocation !== EXTERNAL) return;
    const location = t.externalData?.find((e) => e.key === "location")?.value;
    if (location) found.add(location);
  };
  const graph = (g: IGraphProto | null | undefined) => {
    if (!g) return;
    for (const t of g.initializer ?? []) tensor(t);
    for (const sp of g.sparseInitializer ?? []) {
      tensor(sp.values);
      tensor(sp.indices);
    }
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        tensor(a.t);
        for (const t of a.tensors ?? []) tensor(t);
        graph(a.g);
        for (const sub of a.graphs ?? []) graph(sub);
      }
  };
  graph(onnx.ModelProto.decode(model).graph);
  return [...found].sort();
}

interface Identity {
  /** sha256 of the .onnx and its external data files. */
  sha256: string;
  /** sha256 of the .onnx alone (what checkpoints recorded before external data was covered). */
  onnxSha256: string;
  external: string[];
}

const identities = new Map<string, { stamps: string; id: Identity }>();
const stampOf = (path: string) => {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
};

/**
 * A model's identity, cached per path while the sizes and mtimes of its files stay the same. The
 * hash is of the .onnx file, then, when its tensors lie in external data files, of each of those
 * (name and bytes, sorted by name): new weights in a side file make another model. Without external
 * data it is the .onnx file's plain sha256.
 */
export function modelIdentity(path: string): Identity {
  const abs = resolve(path);
  const cached = identities.get(abs);
  if (cached) {
    const stamps = [abs, ...cached.id.external.map((l) => resolve(dirname(abs), l))].map(stampOf).join("\n");
    if (stamps === cached.stamps) return cached.id;
  }
  const stamp = stampOf(abs);
  const bytes = readFileSync(abs);
  const onnxSha256 = createHash("sha256").update(bytes).digest("hex");
  let external: string[];
  try {
    external = externalDataLocations(bytes);
  } catch {
    // Not an ONNX protobuf: onnxruntime refuses it with its own error where it is loaded.
    external = [];
  }
  const stamps = [stamp];
  let sha256 = onnxSha256;
  if (external.length > 0) {
    const h = createHash("sha256").update(bytes);
    for (const location of external) {
      const file = resolve(dirname(abs), location);
      if (!existsSync(file))
        throw new Error(`model ${path}: its external data '${location}' is not next to it`);
      stamps.push(stampOf(file));
      h.update(`\0${location}\0`);
      hashFile(h, file);
    }
    sha256 = h.digest("hex");
  }
  const id = { sha256, onnxSha256, external };
  identities.set(abs, { stamps: stamps.join("\n"), id });
  return id;
}

/** Feeds a file to `h` in chunks (external data may be larger than one Buffer holds). */
function hashFile(h: Hash, file: string): void {
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      h.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** sha256 of a model (hex): its .onnx file and its external data files (see modelIdentity). */
export function modelSha256(path: string): string {
  return modelIdentity(path).sha256;
}
