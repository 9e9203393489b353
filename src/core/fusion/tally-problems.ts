// Counts Problems by kind (into a caller-owned record) and removes them from the stream, so the
// rest of a pipeline sees only good values while the counts stay inspectable.

import { filter, type OperatorFunction } from "rxjs";
import type { Problem } from "../types.ts";
import { isProblem } from "./events.ts";

export function tallyProblems<T>(
  counts: Record<string, number>,
  onProblem?: (p: Problem) => void,
): OperatorFunction<T | Problem, T> {
  return filter((x: T | Problem): x is T => {
    if (!isProblem(x)) return true;
    counts[x.kind] = (counts[x.kind] ?? 0) + 1;
    onProblem?.(x);
    return false;
  });
}
