// A digest of everything a generated bag depends on besides seed and duration: the world file as
// parsed (defaults filled, overrides applied) and the bytes of the photos and vibration recordings
// it names. Paths are replaced by their contents' digests, so a moved clone keeps its cache and an
// edited photo under the same name does not.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { WorldFile } from "./world-schema.ts";

function fileDigest(path: string, memo: Map<string, string>): string {
  let d = memo.get(path);
  if (d === undefined) {
    d = createHash("sha256").update(readFileSync(path)).digest("hex");
    memo.set(path, d);
  }
  return d;
}

/** Key-sorted JSON: the digest must not depend on the order a parser built the object in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export function worldDigest(file: WorldFile): string {
  const memo = new Map<string, string>();
  const terrains = file.terrains.map((t) => ({
    ...t,
    ...(t.photos ? { photos: t.photos.map((p) => fileDigest(p, memo)) } : {}),
    ...(t.vibration
      ? { vibration: { ...t.vibration, recordings: t.vibration.recordings.map((r) => fileDigest(r, memo)) } }
      : {}),
  }));
  return createHash("sha256")
    .update(canonical({ ...file, terrains }))
    .digest("hex");
}
