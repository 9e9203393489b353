// Problems: recoverable trouble as values (a bag message that does not decode or convert, a message
// later than the reorder window, a frame the backbone rejects, a failed training block). Each is
// counted by kind and emitted as a `problem` event; the run goes on.

import type { Subject } from "rxjs";
import type { Problem } from "../../core/types.ts";
import type { PipelineEvent } from "../events.ts";

export class ProblemLog {
  readonly counts: Record<string, number> = {};

  constructor(
    private readonly events: Subject<PipelineEvent>,
    private readonly warn: (m: string) => void,
  ) {}

  report(p: Problem): void {
    const count = (this.counts[p.kind] ?? 0) + 1;
    this.counts[p.kind] = count;
    // Failures of our own processing (not bad input) are worth one line each kind, even without a sink.
    if (count === 1 && (p.kind === "frame" || p.kind === "train")) this.warn(`terrain-learner: ${p.message}`);
    this.emit(p);
  }

  /** For problems already counted (by `tallyProblems`). */
  emit(p: Problem): void {
    this.events.next({ type: "problem", problem: p });
  }
}

/**
 * What to do about a message fusion dropped for its stamp (a `late` problem), for the one line a
 * run prints about it; "" for other kinds.
 */
export function stampRemedy(p: Problem): string {
  if (p.kind === "late" && !p.message.includes("before the clock jumped back"))
    return "; raise fusion.reorder_window by more than that to merge such messages in stamp order";
  return "";
}
