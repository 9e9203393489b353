// Drops messages whose stamp is not finite (or that fail `isValid`, e.g. a NaN field), repeats the
// previous stamp, or goes back in time, and emits a Problem for each instead (never throws).
// Per stream: apply it to one topic before merging.

import { Observable, type OperatorFunction } from "rxjs";
import type { Problem, Stamp } from "../types.ts";
import { isProblem, problem } from "./events.ts";

export interface ValidateOptions<T> {
  topic: string;
  stampOf: (x: T) => Stamp;
  /** Extra content check (NaN in payload fields); a throw counts as invalid. */
  isValid?: (x: T) => boolean;
  /** Allow a stamp equal to the previous one (e.g. several TF messages in one tick). */
  allowEqual?: boolean;
}

export function validateStamps<T>(options: ValidateOptions<T>): OperatorFunction<T | Problem, T | Problem> {
  const { topic, stampOf, isValid, allowEqual = false } = options;
  return (source) =>
    new Observable<T | Problem>((subscriber) => {
      let last = Number.NEGATIVE_INFINITY;
      return source.subscribe({
        next(x) {
          if (isProblem(x)) {
            subscriber.next(x);
            return;
          }
          let stamp: number;
          let ok: boolean;
          try {
            stamp = stampOf(x);
            ok = isValid ? isValid(x) : true;
          } catch {
            stamp = Number.NaN;
            ok = false;
          }
          if (!Number.isFinite(stamp) || !ok) {
            subscriber.next(
              problem("nan", `${topic}: message with a non-finite stamp or value (stamp ${stamp})`, topic),
            );
            return;
          }
          if (stamp === last && !allowEqual) {
            subscriber.next(problem("duplicate", `${topic}: duplicate stamp ${stamp}`, topic, stamp));
            return;
          }
          if (stamp < last) {
            subscriber.next(
              problem(
                "backwards",
                `${topic}: stamp ${stamp} is ${(last - stamp).toFixed(6)} s before the previous ${last}`,
                topic,
                stamp,
              ),
            );
            return;
          }
          last = stamp;
          subscriber.next(x);
        },
        error: (e) => subscriber.error(e),
        complete: () => subscriber.complete(),
      });
    });
}
