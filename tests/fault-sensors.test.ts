// Sensor faults in a replay: a simulator drive rewritten with a camera that stops for 10 s, IMU
// samples with NaNs, IMU stamps that go backwards, duplicated IMU and odometry messages, and an
// odometry jump (a relocalisation). The pipeline must run to the end, keep learning, and report
// every fault in its stats by exactly the number injected: fusion catches what is wrong in time
// (stamps half a second back: later than the reorder window; repeated stamps), the supervisor what
// is wrong in content (NaN).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline, type PipelineSummary } from "../src/runtime/pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-fault-sensors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DURATION = 36;
const CAMERA_STOP = [10, 20] as const; // seconds after the first message
const ODOM_JUMP_AT = 28;
const ODOM_JUMP_M = 25;

const injected = {
  imuNaN: 0,
  imuBackwards: 0,
  imuDuplicate: 0,
  odomDuplicate: 0,
  framesDropped: 0,
  framesKept: 0,
};

type Stamped = { header: { stamp: { sec: number; nanosec: number } } };
type Imu = Stamped & { linear_acceleration: { x: number; y: number; z: number } };
type Odom = Stamped & { pose: { pose: { position: { x: number; y: number; z: number } } } };

const clone = <T>(m: T): T => structuredClone(m);

async function writeFaultyBag(src: string, out: string): Promise<void> {
  const source = await openBag(src);
  const w = await Ros2McapWriter.create(out, { compression: "zstd" });
  let t0 = Number.NaN;
  let imuIndex = 0;
  let odomIndex = 0;
  for await (const e of source.messages()) {
    if (e.type !== "message") continue;
    if (Number.isNaN(t0)) t0 = e.logTime;
    const t = e.logTime - t0;
    const write = (m: unknown) => w.write(e.topic, e.schemaName, e.logTime, m);
    if (e.topic === "/camera/image_raw" || e.topic === "/camera/camera_info") {
      const stopped = t >= CAMERA_STOP[0] && t < CAMERA_STOP[1];
      if (e.topic === "/camera/image_raw") {
        if (stopped) injected.framesDropped++;
        else injected.framesKept++;
      }
      if (!stopped) await write(e.message);
      continue;
    }
    if (e.topic === "/imu/data") {
      const i = imuIndex++;
      const m = clone(e.message as Imu);
      // Disjoint fault sets, after the first second (the first sample has nothing to go back from).
      if (t > 1 && i % 50 === 5) {
        m.linear_acceleration.z = Number.NaN;
        injected.imuNaN++;
      } else if (t > 1 && i % 50 === 17) {
        // Half a second back in time (a clock step on the IMU's bus).
        const s = m.header.stamp.sec + m.header.stamp.nanosec / 1e9 - 0.5;
        m.header.stamp = {
          sec: Math.floor(s),
          nanosec: Math.round((s - Math.floor(s)) * 1e9) % 1_000_000_000,
        };
        injected.imuBackwards++;
      } else if (t > 1 && i % 50 === 31) {
        await write(m);
        injected.imuDuplicate++;
      }
      await write(m);
      continue;
    }
    if (e.topic === "/odom") {
      const i = odomIndex++;
      const m = clone(e.message as Odom);
      if (t >= ODOM_JUMP_AT) m.pose.pose.position.x += ODOM_JUMP_M;
      if (t > 1 && i % 40 === 7) {
        await write(m);
        injected.odomDuplicate++;
      }
      await write(m);
      continue;
    }
    await write(e.message);
  }
  await source.close();
  await w.close();
}

let summary: PipelineSummary;
/** Problem events by `kind topic`. */
const problems: Record<string, number> = {};

beforeAll(async () => {
  const clean = join(dir, "clean.mcap");
  const faulty = join(dir, "faulty.mcap");
  await generateWorldBag({
    out: clean,
    seed: 4,
    duration: DURATION,
    camera: { width: 160, height: 120, rate: 5 },
  });
  await writeFaultyBag(clean, faulty);
  const pipeline = await createPipeline(defaultConfig(), { mode: "replay", overlay: false, warn: () => {} });
  pipeline.events$.subscribe((e) => {
    if (e.type !== "problem") return;
    const key = `${e.problem.kind} ${e.problem.topic}`;
    problems[key] = (problems[key] ?? 0) + 1;
  });
  const source = await openBag(faulty);
  for await (const e of source.messages()) await pipeline.push(e);
  summary = await pipeline.finish();
  await pipeline.close();
  await source.close();
}, 300_000);

describe("a replay with sensor faults", () => {
  it("runs to the end and keeps learning", () => {
    expect(summary.framesProcessed).toBe(injected.framesKept);
    expect(summary.sensorSeconds).toBeGreaterThan(DURATION - 1);
    expect(summary.labels).toBeGreaterThan(10);
    expect(summary.trainSteps).toBeGreaterThan(0);
    expect(summary.problems.frame ?? 0).toBe(0);
    expect(summary.problems.train ?? 0).toBe(0);
  });

  it("counts every bad IMU sample by reason", () => {
    const sup = summary.supervisor as {
      imu: { dropped: Record<string, number> };
      odom: { dropped: Record<string, number> };
    };
    expect(injected.imuNaN).toBeGreaterThan(100);
    expect(injected.imuBackwards).toBeGreaterThan(100);
    expect(sup.imu.dropped.nan).toBe(injected.imuNaN);
    expect(problems["late imu"]).toBe(injected.imuBackwards);
    expect(problems["duplicate imu"]).toBe(injected.imuDuplicate);
    expect(sup.imu.dropped.backwards).toBe(0);
    expect(sup.imu.dropped.duplicate).toBe(0);
  });

  it("counts duplicated odometry", () => {
    expect(problems["duplicate odom"]).toBe(injected.odomDuplicate);
    expect(summary.problems).toEqual({
      late: injected.imuBackwards,
      duplicate: injected.imuDuplicate + injected.odomDuplicate,
    });
  });

  it("reports the 10 s camera stop and the odometry jump in its diagnostics", () => {
    const d = (
      summary as unknown as {
        diagnostics: { cameraGaps: number; longestCameraGap: number; odomJumps: number };
      }
    ).diagnostics;
    expect(injected.framesDropped).toBe(50);
    expect(d.cameraGaps).toBe(1);
    expect(d.longestCameraGap).toBeGreaterThan(9.9);
    expect(d.longestCameraGap).toBeLessThan(10.3);
    expect(d.odomJumps).toBe(1);
  });
});
