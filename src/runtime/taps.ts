// Taps: read-only views into the graph for evaluation, viewers and fleet sharing. Each is a
// synchronous stream: a subscriber sees every item in graph order, before the graph takes its next
// input, so a tap that scores a frame does so with the model as it was for that frame. A tap never
// changes what flows (sinks that publish results subscribe to `pipeline.events$` instead).

import type { Observable, Subscription } from "rxjs";
import type { RoughnessLabel } from "../core/types.ts";
import type { PrequentialEvaluator } from "../eval/evaluator.ts";
import { gridMapFromRos } from "../eval/ground-truth.ts";
import type { GraphInput } from "./stages/inputs.ts";
import type { PerceivedFrame } from "./stages/perception.ts";
import type { SampleRows } from "./stages/supervision.ts";

export interface GraphTaps {
  /** Fused inputs, stamp-ordered, as the graph takes them (sim ground truth included when evaluating). */
  readonly inputs$: Observable<GraphInput>;
  /** Labels as the supervisor makes them. */
  readonly labels$: Observable<RoughnessLabel>;
  /** Own training rows, as they go to the learner (borrowed arrays: copy what you keep). */
  readonly samples$: Observable<SampleRows>;
  /** Each perceived frame before its outputs are built (features valid during the call only). */
  readonly frames$: Observable<PerceivedFrame>;
}

/** The prequential evaluator as a tap: frames scored when seen, before their ground is labelled. */
export function evaluationTap(taps: GraphTaps, evaluator: PrequentialEvaluator): Subscription {
  const sub = taps.inputs$.subscribe((e) => {
    switch (e.kind) {
      case "transforms":
        evaluator.onTransforms(e.transforms);
        return;
      case "cameraInfo":
        evaluator.onCameraInfo(e.model);
        return;
      case "truePose":
        evaluator.onTruePose(e.sample);
        return;
      case "groundTruth":
        evaluator.onGroundTruth(e.which, gridMapFromRos(e.message));
        return;
      default:
    }
  });
  sub.add(taps.labels$.subscribe((l) => evaluator.onLabel(l.roughness, l.stamp)));
  sub.add(taps.frames$.subscribe((f) => evaluator.scoreFrame(f.grid)));
  return sub;
}
