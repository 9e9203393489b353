// The pose a frame's prediction and costmap are placed with: the odometry interpolated at the
// frame's stamp, as keyframes are, not the last odometry before it (up to one odometry period
// behind: 0.1 m at 1 m/s with 10 Hz odometry). Replay's fusion already holds the odometry after a
// frame when it releases the frame; live, without it, the last pose is used, never extrapolated.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { quatFromYaw, yawOf } from "../src/core/geometry.ts";
import { SelfSupervisor } from "../src/core/self-supervisor.ts";
import type { OdomSample, Pose2 } from "../src/core/types.ts";
import { openBag } from "../src/io/bag/index.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, readAhead } from "../src/runtime/pipeline.ts";
import { fromBag } from "../src/runtime/stages/inputs.ts";

const dir = mkdtempSync(join(tmpdir(), "frame-pose-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const odom = (stamp: number, x: number, yaw = 0): OdomSample => ({
  stamp,
  frameId: "odom",
  childFrameId: "base_link",
  pose: { position: { x, y: 0, z: 0 }, orientation: quatFromYaw(yaw) },
  linear: { x: 1, y: 0, z: 0 },
  angular: { x: 0, y: 0, z: 0 },
});

describe("SelfSupervisor.framePose", () => {
  const config = defaultConfig();
  const sup = () => new SelfSupervisor<null>(config as ConstructorParameters<typeof SelfSupervisor<null>>[0]);

  it("interpolates towards the odometry fusion holds; without it, the last pose (no extrapolation)", () => {
    const s = sup();
    s.onOdom(odom(1.0, 1.0));
    expect(s.framePose(1.05)?.x).toBe(1.0);
    s.onOdomAhead(odom(1.1, 1.1, 0.2));
    const p = s.framePose(1.05)!;
    expect(p.x).toBeCloseTo(1.05, 12);
    expect(p.yaw).toBeCloseTo(0.1, 12);
    // Released: the history itself interpolates, and what was held ahead is dropped.
    s.onOdom(odom(1.1, 1.1, 0.2));
    expect(s.framePose(1.075)!.x).toBeCloseTo(1.075, 12);
    expect(s.framePose(1.15)!.x).toBe(1.1);
  });

  it("takes the short way across ±π and ignores held odometry more than 1 s away", () => {
    const s = sup();
    s.onOdom(odom(1.0, 0, Math.PI - 0.1));
    s.onOdomAhead(odom(1.1, 0, -Math.PI + 0.1));
    const p = s.framePose(1.05) as Pose2;
    expect(Math.cos(p.yaw)).toBeCloseTo(-1, 9);
    const far = sup();
    far.onOdom(odom(1.0, 1.0));
    far.onOdomAhead(odom(2.5, 2.5));
    expect(far.framePose(1.2)?.x).toBe(1.0);
  });
});

describe("replay of a simulator bag", () => {
  it("places every frame with the odometry interpolated at its stamp", async () => {
    const bag = join(dir, "sim.mcap");
    await generateWorldBag({ out: bag, duration: 6, camera: { width: 160, height: 120 } });
    const config = defaultConfig();
    // The bag's odometry, to interpolate independently of the pipeline.
    const odometry: { t: number; x: number; y: number; yaw: number }[] = [];
    const src = await openBag(bag);
    for await (const e of src.messages({ topics: [config.topics.odom] })) {
      if (e.type !== "message") continue;
      const input = fromBag(e, config.topics, false);
      if (input?.kind !== "odom") continue;
      const { position: p, orientation: q } = input.sample.pose;
      odometry.push({ t: input.stamp, x: p.x, y: p.y, yaw: yawOf(q) });
    }
    await src.close();
    const at = (t: number) => {
      const i = odometry.findIndex((o) => o.t > t);
      const a = odometry[i - 1]!;
      const b = odometry[i]!;
      const u = (t - a.t) / (b.t - a.t);
      return { x: a.x + u * (b.x - a.x), y: a.y + u * (b.y - a.y), before: a };
    };

    const pipeline = await createPipeline(config, { mode: "replay", overlay: false, warn: () => {} });
    const placed: { stamp: number; pose: Pose2 }[] = [];
    pipeline.taps.frames$.subscribe((f) => {
      if (f.pose) placed.push({ stamp: f.stamp, pose: { ...f.pose } });
    });
    const source = await openBag(bag);
    for await (const e of readAhead(pipeline, source.messages())) await pipeline.push(e);
    await pipeline.finish();
    await pipeline.close();
    await source.close();

    const inside = placed.filter((f) => f.stamp > odometry[0]!.t && f.stamp < odometry.at(-1)!.t);
    expect(inside.length).toBeGreaterThan(50);
    let moved = 0;
    for (const f of inside) {
      const want = at(f.stamp);
      expect(Math.hypot(f.pose.x - want.x, f.pose.y - want.y)).toBeLessThan(1e-6);
      // The last odometry before the frame is somewhere else: the check above can fail.
      if (Math.hypot(want.before.x - want.x, want.before.y - want.y) > 1e-3) moved++;
    }
    expect(moved).toBeGreaterThan(inside.length / 2);
  }, 120_000);
});
