// Messages a reader skips (a type it has no definition for, a message encoding it does not read),
// counted by type with why, for `bag info`.

import type { BagInfo } from "./types.ts";

export type Skipped = Pick<BagInfo, "skipped"> & { skippedWhy: Record<string, string> };

export const noneSkipped = (): Skipped => ({ skipped: {}, skippedWhy: {} });

/**
 * A reader's reason (`unsupported message encoding "json"`, `no message definition for pkg/msg/T`,
 * `bad schema for pkg/msg/T: ...`) in the few words `bag info` prints after the type's count.
 */
export function skipReason(unknown: string): string {
  const encoding = /^unsupported (message encoding|serialization format) "(.*)"$/.exec(unknown);
  if (encoding) return `${encoding[1]} ${encoding[2]}: not read`;
  if (unknown.startsWith("no message definition")) return "no message definition";
  return unknown.replace(/^bad (schema|message definition) for [^:]*: /, "bad $1: ");
}

/** Counts `count` messages of `type` skipped for `unknown`; the first reason given for a type is kept. */
export function countSkipped(into: Skipped, type: string, count: number, unknown: string): void {
  into.skipped[type] = (into.skipped[type] ?? 0) + count;
  into.skippedWhy[type] ??= skipReason(unknown);
}
