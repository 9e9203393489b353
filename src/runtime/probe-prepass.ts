// Chooses a simulator run's knowledge probe set from the whole bag, before replay: one pass over the
// camera, TF and ground-truth topics keeps `frames` candidate frames spread evenly over the bag
// (the first frame at or after each of `frames` evenly spaced times), then the pipeline's backbone
// computes their features and the ground truth says which cells lie on one terrain type in the
// scored range. selectProbeCells (eval/probe-set.ts) takes the same number per type from those.
// Deterministic: same bag and config, same probe set. Camera stamps are corrected by
// fusion.camera_delay as the replay corrects them.

import type { CompressedFrame, ImageFrame } from "../core/types.ts";
import { PrequentialEvaluator } from "../eval/evaluator.ts";
import { gridMapFromRos, parseSimWorld } from "../eval/ground-truth.ts";
import {
  DEFAULT_PROBE_OPTIONS,
  type ProbeCandidate,
  type ProbeSelectOptions,
  type ProbeSet,
  probeTerrains,
  selectProbeCells,
} from "../eval/probe-set.ts";
import type { BagInfo, BagSource } from "../io/bag/types.ts";
import type { FeatureMap } from "../learning/backbone.ts";
import type { Config } from "./config.ts";
import { correctCameraStamp } from "./stages/fusion.ts";
import { fromBag, SIM_TOPICS } from "./stages/inputs.ts";

export interface ProbePrepassOptions extends ProbeSelectOptions {
  /** Candidate frames, evenly spaced over the bag. */
  frames: number;
}

/**
 * The probe set of a simulator bag, or undefined (with a warning) when the bag has no ground truth
 * or no cell qualifies. `features` is the pipeline's own feature extraction (Pipeline.frameFeatures).
 */
export async function chooseProbeSet(
  source: BagSource,
  info: BagInfo,
  config: Config,
  simMetadata: Map<string, string> | Record<string, string> | undefined,
  features: (frame: ImageFrame | CompressedFrame) => Promise<FeatureMap>,
  warn: (m: string) => void,
  options: Partial<ProbePrepassOptions> = {},
): Promise<ProbeSet | undefined> {
  const o = { ...DEFAULT_PROBE_OPTIONS, ...options };
  const t = config.topics;
  const present = new Set(info.topics.map((x) => x.name));
  if (!present.has(SIM_TOPICS.roughness) || !present.has(SIM_TOPICS.pose)) return undefined;
  const evaluator = new PrequentialEvaluator({
    minRange: config.association.min_distance,
    maxRange: config.association.max_distance,
    baseFrame: config.frames.base,
  });
  const world = parseSimWorld(simMetadata);
  evaluator.setTerrains(world);
  const topics = [
    t.image,
    t.compressed_image,
    t.camera_info,
    t.tf,
    t.tf_static,
    SIM_TOPICS.roughness,
    SIM_TOPICS.terrain,
    SIM_TOPICS.pose,
  ].filter((x) => present.has(x));
  const times = Array.from(
    { length: o.frames },
    (_, i) => info.start + (info.duration * (i + 0.5)) / o.frames,
  );
  const kept: (ImageFrame | CompressedFrame)[] = [];
  let next = 0;
  for await (const event of source.messages({ topics })) {
    if (event.type !== "message") continue;
    let input: ReturnType<typeof fromBag>;
    try {
      input = fromBag(event, t, true);
    } catch {
      continue; // the replay reports it
    }
    if (!input) continue;
    // The instants the frames were taken (fusion.camera_delay), as the replay sees them: the probe
    // frames are held out by these stamps and their truth is where the robot was then.
    input = correctCameraStamp(input, config.fusion.camera_delay);
    switch (input.kind) {
      case "transforms":
        evaluator.onTransforms(input.transforms);
        break;
      case "cameraInfo":
        evaluator.onCameraInfo(input.model);
        break;
      case "truePose":
        evaluator.onTruePose(input.sample);
        break;
      case "groundTruth":
        evaluator.onGroundTruth(input.which, gridMapFromRos(input.message));
        break;
      case "frame":
        if (next < times.length && input.stamp >= times[next]!) {
          kept.push(input.frame);
          while (next < times.length && times[next]! <= input.stamp) next++;
        }
        break;
      default:
    }
  }
  const { minRange, maxRange } = evaluator.options;
  const candidates: ProbeCandidate[] = [];
  const maps: (FeatureMap | undefined)[] = [];
  for (let i = 0; i < kept.length; i++) {
    const frame = kept[i]!;
    let fm: FeatureMap;
    try {
      fm = await features(frame);
    } catch (err) {
      // The replay reports the frame as a problem; the probe goes on without it.
      warn(`eval: probe candidate frame at ${frame.stamp.toFixed(3)} s skipped: ${(err as Error).message}`);
      continue;
    }
    maps[i] = fm;
    const truth = evaluator.truthFor(frame.stamp, { ...fm, frameId: frame.frameId });
    if (!truth) continue;
    for (let k = 0; k < fm.rows * fm.cols; k++) {
      const r = truth.range[k]!;
      const type = truth.terrain[k]!;
      if (type < 0 || truth.boundary[k] || !(r >= minRange && r <= maxRange)) continue;
      if (!Number.isFinite(truth.roughness[k]!)) continue;
      candidates.push({ frame: i, cell: k, type, truth: truth.roughness[k]! });
    }
  }
  const sel = selectProbeCells(candidates, o);
  if (sel.cells.length === 0) {
    warn("eval: no probe cells in this bag (no frame shows ground of one terrain type 1–8 m ahead)");
    return undefined;
  }
  const C = maps[sel.cells[0]!.frame]!.channels;
  const featuresOut = new Float32Array(sel.cells.length * C);
  sel.cells.forEach((c, j) => {
    featuresOut.set(maps[c.frame]!.data.subarray(c.cell * C, c.cell * C + C), j * C);
  });
  const name = (index: number) => world?.find((w) => w.index === index)?.name ?? `terrain${index}`;
  for (const e of sel.excluded)
    warn(`eval: terrain ${name(e.index)} left out of the probe set (${e.available} cells in view)`);
  const cells = sel.cells.map((c) => ({
    stamp: kept[c.frame]!.stamp,
    cell: c.cell,
    type: c.type,
    truth: c.truth,
  }));
  return {
    channels: C,
    features: featuresOut,
    cells,
    frameStamps: [...new Set(cells.map((c) => c.stamp))].sort((a, b) => a - b),
    terrains: probeTerrains(sel.cells, world, evaluator.drivenByTrajectory).map((x) => ({
      ...x,
      eligible: sel.available.get(x.index),
    })),
    cellsPerType: sel.cellsPerType,
    excluded: sel.excluded.map((e) => ({ ...e, name: name(e.index) })),
    candidateFrames: kept.length,
  };
}
