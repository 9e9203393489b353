// Drops messages whose stamp is not finite (or that fail `isValid`, e.g. a NaN field), repeats the
// previous stamp, or goes back in time, and emits a Problem for each instead (never throws). A
// `clockJump` Problem in the stream (the stamps went back on purpose) starts every stream afresh.
// Per stream: apply it to one topic, or give `streamOf` to check each stream of a merged one.

import { Observable, type OperatorFunction } from "rxjs";
import type { Problem, Stamp } from "../types.ts";
import { isProblem, problem } from "./events.ts";

export interface ValidateOptions<T> {
  topic: string;
  stampOf: (x: T) => Stamp;
  /** Extra content check (NaN in payload fields); a throw counts as invalid. */
  isValid?: (x: T) => boolean;
  /** Allow a stamp equal to the previous one (e.g. several TF messages in one tick). */
  allowEqual?: boolean | ((x: T) => boolean);
  /** On a merged stream: the stream an item belongs to (each keeps its own previous stamp). */
  streamOf?: (x: T) => string;
  /** Topic for the Problems (default `topic`). */
  topicOf?: (x: T) => string;
}

export function validateStamps<T>(options: ValidateOptions<T>): OperatorFunction<T | Problem, T | Problem> {
  const { stampOf, isValid, allowEqual = false, streamOf, topicOf } = options;
  return (source) =>
    new Observable<T | Problem>((subscriber) => {
      const lastOf = new Map<string, number>();
      let last = Number.NEGATIVE_INFINITY;
      return source.subscribe({
        next(x) {
          if (isProblem(x)) {
            // Ordering saw the stamps go back (reorder-by-stamp.ts): every stream starts afresh.
            if (x.kind === "clockJump") {
              lastOf.clear();
              last = Number.NEGATIVE_INFINITY;
            }
            subscriber.next(x);
            return;
          }
          const stream = streamOf?.(x);
          if (stream !== undefined) last = lastOf.get(stream) ?? Number.NEGATIVE_INFINITY;
          let stamp: number;
          let ok: boolean;
          try {
            stamp = stampOf(x);
            ok = isValid ? isValid(x) : true;
          } catch {
            stamp = Number.NaN;
            ok = false;
          }
          const topic = () => (topicOf ? topicOf(x) : options.topic);
          if (!Number.isFinite(stamp) || !ok) {
            subscriber.next(
              problem(
                "nan",
                `${topic()}: message with a non-finite stamp or value (stamp ${stamp})`,
                topic(),
              ),
            );
            return;
          }
          if (stamp === last && !(typeof allowEqual === "function" ? allowEqual(x) : allowEqual)) {
            subscriber.next(problem("duplicate", `${topic()}: duplicate stamp ${stamp}`, topic(), stamp));
            return;
          }
          if (stamp < last) {
            subscriber.next(
              problem(
                "backwards",
                `${topic()}: stamp ${stamp} is ${(last - stamp).toFixed(6)} s before the previous ${last}`,
                topic(),
                stamp,
              ),
            );
            return;
          }
          last = stamp;
          if (stream !== undefined) lastOf.set(stream, stamp);
          subscriber.next(x);
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
