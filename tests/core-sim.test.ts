// Labels on a simulator bag against the ground truth: the simulator (sim/) writes a real MCAP with
// IMU (mounted on its side), drifting odometry, TF and the TRUE pose; the labeller sees only what
// a robot would (through `runLabel`: the real bag reader, conversion and facade), and each label is
// scored against the true roughness under the robot's wheels during its step.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerateResult, generateWorldBag, roughnessAt, WORLDS_DIR } from "../sim/index.ts";
import { type LabelSummary, runLabel } from "../src/cli/label.ts";
import { emptyPoseAt, PoseHistory } from "../src/core/pose-history.ts";
import { SelfSupervisor, type TrainingSample } from "../src/core/self-supervisor.ts";
import type { RoughnessLabel } from "../src/core/types.ts";
import { spearman } from "../src/eval/metrics.ts";
import { openBag } from "../src/io/bag/index.ts";
import {
  cameraInfoFromRos,
  headerOf,
  imuFromRos,
  odomFromRos,
  transformsFromRos,
} from "../src/io/ros/convert.ts";
import { defaultConfig } from "../src/runtime/config.ts";

let dir: string;
let gen: GenerateResult;
const labels: RoughnessLabel[] = [];
let summary: LabelSummary;
let truth: number[] = [];

/** Mean true roughness at the four wheel contacts over the step, from the true pose. */
async function trueRoughness(bag: string, ls: RoughnessLabel[]): Promise<number[]> {
  const src = await openBag(bag);
  const poses = new PoseHistory({ maxAge: 1e9 });
  for await (const ev of src.messages({ topics: ["/sim/ground_truth/pose"] })) {
    if (ev.type === "message") poses.push(odomFromRos(ev.message));
  }
  await src.close();
  const { width, wheelbase } = gen.world.file.robot;
  const wheels = [
    [wheelbase / 2, width / 2],
    [wheelbase / 2, -width / 2],
    [-wheelbase / 2, width / 2],
    [-wheelbase / 2, -width / 2],
  ] as const;
  const p = emptyPoseAt();
  return ls.map((l) => {
    let sum = 0;
    let n = 0;
    for (let k = 0; k < 10; k++) {
      if (!poses.interpolate(l.t0 + ((l.t1 - l.t0) * (k + 0.5)) / 10, p)) continue;
      const c = Math.cos(p.yaw),
        s = Math.sin(p.yaw);
      for (const [bx, by] of wheels) {
        sum += roughnessAt(gen.world, p.x + c * bx - s * by, p.y + s * bx + c * by);
        n++;
      }
    }
    return sum / n;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tl-core-sim-"));
  const bag = join(dir, "stripes.mcap");
  // The stripes world drives across eight terrain bands (roughness 0.05 … 0.92) at 0.6–1.6 m/s.
  gen = await generateWorldBag({
    out: bag,
    world: join(WORLDS_DIR, "stripes.yaml"),
    seed: 1,
    duration: 90,
    camera: { width: 64, height: 48, rate: 1 },
  });
  summary = await runLabel({ bag, config: defaultConfig(), onLabel: (l) => labels.push(l) });
  truth = await trueRoughness(bag, labels);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("labels on a simulator bag", () => {
  it("correlate with the true roughness under the robot (Spearman ≥ 0.9)", () => {
    expect(labels.length).toBeGreaterThan(200);
    expect(summary.vertical.source).toBe("tf");
    const sEnergy = spearman(
      labels.map((l) => l.energy),
      truth,
    );
    const sRaw = spearman(
      labels.map((l) => l.features.verticalBandPower),
      truth,
    );
    const sRough = spearman(
      labels.map((l) => l.roughness),
      truth,
    );
    console.log(
      `sim stripes seed 1: ${labels.length} labels, Spearman energy ${sEnergy.toFixed(3)}, roughness ${sRough.toFixed(3)}, raw band power ${sRaw.toFixed(3)}`,
    );
    expect(sEnergy).toBeGreaterThanOrEqual(0.9);
    // Speed normalisation matters: the robot changes speed between legs.
    expect(sEnergy).toBeGreaterThan(sRaw + 0.05);
    // Running-percentile calibration moves while it learns the range, and clips the tails.
    expect(sRough).toBeGreaterThanOrEqual(0.85);
  });

  it("with fixed bounds from --stats the roughness keeps the energy's order", async () => {
    const cfg = defaultConfig();
    cfg.labeler.calibration = {
      ...cfg.labeler.calibration,
      mode: "fixed",
      low: summary.log10EnergyPercentiles.p1!,
      high: summary.log10EnergyPercentiles.p99!,
    };
    const fixed: RoughnessLabel[] = [];
    await runLabel({ bag: join(dir, "stripes.mcap"), config: cfg, onLabel: (l) => fixed.push(l) });
    expect(fixed.length).toBe(labels.length);
    const s = spearman(
      fixed.map((l) => l.roughness),
      truth,
    );
    console.log(`sim stripes seed 1: Spearman roughness with fixed p1/p99 bounds ${s.toFixed(3)}`);
    expect(s).toBeGreaterThanOrEqual(0.9);
  });
});

describe("association on a simulator bag", () => {
  it("training-sample cells look at the ground the label was measured on (checked with the true pose)", async () => {
    const bag = join(dir, "stripes.mcap");
    const sup = new SelfSupervisor<null>(defaultConfig());
    const truePoses = new PoseHistory({ maxAge: 1e9 });
    const grid = { rows: 6, cols: 8, strideX: 8, strideY: 8 };
    const samples: TrainingSample[] = [];
    const kfStamp = new Map<number, number>();
    const src = await openBag(bag);
    for await (const ev of src.messages()) {
      if (ev.type !== "message") continue;
      switch (ev.topic) {
        case "/imu/data":
          sup.onImu(imuFromRos(ev.message));
          break;
        case "/odom":
          sup.onOdom(odomFromRos(ev.message));
          samples.push(...sup.drain().samples);
          break;
        case "/tf_static":
        case "/tf":
          sup.onTransforms(transformsFromRos(ev.message, ev.topic === "/tf_static"));
          break;
        case "/camera/camera_info":
          sup.onCameraInfo(cameraInfoFromRos(ev.message));
          break;
        case "/camera/image_raw": {
          const stamp = headerOf(ev.message).stamp;
          if (sup.wantsKeyframe(stamp)) {
            const id = sup.addKeyframe(stamp, grid, null);
            if (id !== null) kfStamp.set(id, stamp);
          }
          break;
        }
        case "/sim/ground_truth/pose":
          truePoses.push(odomFromRos(ev.message));
          break;
      }
    }
    await src.close();
    samples.push(...sup.flush().samples);
    expect(samples.length).toBeGreaterThan(500);
    const truthOf = new Map(labels.map((l, i) => [l.stamp, truth[i]!]));
    const n = grid.rows * grid.cols;
    const gx = new Float64Array(n),
      gy = new Float64Array(n);
    const p = emptyPoseAt();
    let agree = 0,
      total = 0;
    for (const s of samples) {
      const want = truthOf.get(s.label.stamp);
      const stamp = kfStamp.get(s.keyframeId)!;
      if (want === undefined || !truePoses.interpolate(stamp, p)) continue;
      // Where the keyframe's camera really looked (true pose, not the drifting odometry).
      sup.projectGridToGround(stamp, grid, gx, gy, { x: p.x, y: p.y, yaw: p.yaw });
      for (let k = 0; k < s.cells.length; k++) {
        const c = s.cells[k]!;
        const w = s.cellWeights[k]!;
        const r = roughnessAt(gen.world, gx[c]!, gy[c]!);
        total += w;
        if (Math.abs(r - want) < 0.1) agree += w;
      }
    }
    const share = agree / total;
    console.log(
      `sim stripes seed 1: ${samples.length} samples, ${(100 * share).toFixed(1)} % of cell weight on ground of the label's roughness (±0.1)`,
    );
    expect(share).toBeGreaterThan(0.8);
  });
});
