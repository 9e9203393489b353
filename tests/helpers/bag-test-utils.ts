// Shared by the bag tests: fixture paths, collecting a source's events, and a structural
// normaliser so decoded messages compare equal whatever array type a codec chose.

import { fileURLToPath } from "node:url";
import type { Problem } from "../../src/core/types.ts";
import type { BagEvent, BagMessage, BagSource, ReadOptions } from "../../src/io/bag/index.ts";

export const FIXTURES = fileURLToPath(new URL("../fixtures/bags/", import.meta.url));
export const fixture = (p: string): string => `${FIXTURES}${p}`;

export interface Collected {
  messages: BagMessage[];
  problems: Problem[];
}

export async function collect(source: BagSource, options?: ReadOptions): Promise<Collected> {
  const out: Collected = { messages: [], problems: [] };
  for await (const e of source.messages(options)) {
    if (e.type === "message") out.messages.push(e);
    else out.problems.push(e);
  }
  return out;
}

export function isMessage(e: BagEvent): e is BagMessage {
  return e.type === "message";
}

/** Typed arrays → arrays, bigint → number where exact: codecs differ in these, values must not. */
export function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (ArrayBuffer.isView(v) && !(v instanceof DataView))
    return Array.from(v as unknown as ArrayLike<number>, plain);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}
