// The layers of src/ import in one direction only: core ← io, learning, outputs ← eval, fleet ← runtime
// (the stream graph) ← adapters ← cli. A file may import its own layer's folder and any layer below;
// the core imports no I/O or ML package at all.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");
const TIER: Record<string, number> = {
  core: 0,
  io: 1,
  learning: 1,
  outputs: 1,
  eval: 2,
  fleet: 2,
  runtime: 3,
  adapters: 4,
  cli: 5,
};
const CORE_FORBIDDEN = /^(rclnodejs|mqtt|serialport|onnxruntime-node|@tensorflow\/|sharp|better-sqlite3)/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"/g)) out.push(m[1]!);
  return out;
}

const layerOf = (file: string) => relative(SRC, file).split("/")[0]!;

describe("layering of src/", () => {
  const all = files(SRC).filter((f) => layerOf(f) in TIER);

  it("finds the layers", () => {
    expect(new Set(all.map(layerOf))).toEqual(new Set(Object.keys(TIER)));
  });

  it("every import goes to the same layer or one below", () => {
    const wrong: string[] = [];
    for (const file of all) {
      const from = layerOf(file);
      for (const spec of imports(file)) {
        if (!spec.startsWith(".")) continue;
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(`${SRC}/`)) continue;
        const to = layerOf(target);
        if (!(to in TIER)) continue;
        if (to !== from && !(TIER[to]! < TIER[from]!)) wrong.push(`${relative(SRC, file)} → ${spec}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the core imports no I/O, ROS or ML package", () => {
    const wrong = all
      .filter((f) => layerOf(f) === "core")
      .flatMap((f) =>
        imports(f)
          .filter((s) => CORE_FORBIDDEN.test(s))
          .map((s) => `${relative(SRC, f)} → ${s}`),
      );
    expect(wrong).toEqual([]);
  });
});
