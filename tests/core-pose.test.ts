import { describe, expect, it } from "vitest";
import { mountedOpticalMat34 } from "../src/core/camera.ts";
import { mat34, mat34FromTransform, quatFromRPY, quatFromYaw, yawOf } from "../src/core/geometry.ts";
import { KeyframeStore } from "../src/core/keyframes.ts";
import { emptyPoseAt, PoseHistory } from "../src/core/pose-history.ts";
import { TfBuffer } from "../src/core/tf-buffer.ts";
import { staticTransforms } from "./core-synthetic.ts";

function pushYaw(
  h: PoseHistory,
  t: number,
  x: number,
  y: number,
  yaw: number,
  speed = Number.NaN,
  w = Number.NaN,
) {
  const q = quatFromYaw(yaw);
  return h.pushRaw(t, x, y, 0, q.x, q.y, q.z, q.w, speed, w);
}

describe("PoseHistory", () => {
  it("interpolates position linearly and orientation by slerp, across the ±π seam", () => {
    const h = new PoseHistory();
    pushYaw(h, 10, 0, 0, 3.0);
    pushYaw(h, 11, 2, 4, -3.0); // +0.283 rad through π, not −6 rad the long way
    const p = emptyPoseAt();
    expect(h.interpolate(10.25, p)).toBe(true);
    expect(p.x).toBeCloseTo(0.5, 12);
    expect(p.y).toBeCloseTo(1, 12);
    const expectedYaw = 3.0 + 0.25 * (2 * Math.PI - 6.0);
    expect(p.yaw).toBeCloseTo(expectedYaw, 12);
    // The slerped quaternion has the same heading.
    expect(yawOf({ x: p.qx, y: p.qy, z: p.qz, w: p.qw })).toBeCloseTo(expectedYaw, 9);
    expect(h.yawAt(10.5)).toBeCloseTo(Math.PI, 12);
    // Outside the span: false (no silent extrapolation), unless within the slack.
    expect(h.interpolate(11.2, p)).toBe(false);
    expect(h.interpolate(11.2, p, 0.5)).toBe(true);
    expect(p.x).toBe(2);
  });

  it("keeps cumulative distance, inverts it, and derives speed and yaw rate", () => {
    const h = new PoseHistory();
    // A square's first two sides at 1 m/s, 1 s per side, without twist.
    pushYaw(h, 0, 0, 0, 0);
    pushYaw(h, 1, 1, 0, 0);
    pushYaw(h, 2, 1, 1, Math.PI / 2);
    expect(h.distanceAt(1.5)).toBeCloseTo(1.5, 12);
    expect(h.distanceAt(2)).toBeCloseTo(2, 12);
    expect(h.stampAtDistance(0.25)).toBeCloseTo(0.25, 12);
    expect(h.stampAtDistance(1.75)).toBeCloseTo(1.75, 12);
    expect(h.stampAtDistance(2.5)).toBeNaN();
    expect(h.speedAt(0.5)).toBeCloseTo(1, 9);
    expect(h.yawRateAt(1.5)).toBeCloseTo(Math.PI / 2, 9);
    expect(h.meanYawRate(0, 1)).toBe(0);
  });

  it("prefers the odometry twist when the source provides one", () => {
    const h = new PoseHistory();
    pushYaw(h, 0, 0, 0, 0, 0.4, 0.1);
    pushYaw(h, 1, 0.5, 0, 0.1, 0.6, 0.3);
    expect(h.speedAt(0.5)).toBeCloseTo(0.5, 12);
    expect(h.yawRateAt(0.5)).toBeCloseTo(0.2, 12);
  });

  it("rejects NaN, duplicate and backwards poses without throwing", () => {
    const h = new PoseHistory();
    expect(pushYaw(h, 1, 0, 0, 0)).toBeNull();
    expect(pushYaw(h, 1, 0, 0, 0)).toBe("duplicate");
    expect(pushYaw(h, 0.5, 0, 0, 0)).toBe("backwards");
    expect(pushYaw(h, 2, Number.NaN, 0, 0)).toBe("nan");
    expect(h.pushRaw(3, 0, 0, 0, 0, 0, 0, 0)).toBe("nan"); // zero quaternion
    expect(h.size).toBe(1);
  });

  it("is a bounded ring: old poses fall out by age and by capacity", () => {
    const h = new PoseHistory({ maxAge: 5, capacity: 64 });
    for (let i = 0; i <= 100; i++) pushYaw(h, i * 0.1, i * 0.1, 0, 0);
    expect(h.latestStamp).toBeCloseTo(10, 12);
    expect(h.oldestStamp).toBeGreaterThanOrEqual(5 - 1e-9);
    expect(h.size).toBeLessThanOrEqual(64);
    // Distance keeps counting from the start even though early poses are gone.
    expect(h.distanceAt(10)).toBeCloseTo(10, 9);
    const g = new PoseHistory({ maxAge: 1e9, capacity: 16 });
    for (let i = 0; i < 40; i++) pushYaw(g, i, i, 0, 0);
    expect(g.size).toBe(16);
    expect(g.oldestStamp).toBe(24);
  });
});

describe("TfBuffer", () => {
  it("chains base_link ← camera_link ← camera_optical_frame like the mount helper", () => {
    const tf = new TfBuffer();
    tf.add(staticTransforms());
    const t = tf.lookup("base_link", "camera_optical_frame");
    expect(t).not.toBeNull();
    const got = mat34FromTransform(t!, mat34());
    const want = mountedOpticalMat34({ x: 0.2, z: 0.6, pitchDown: 0.35 }, mat34());
    for (let i = 0; i < 12; i++) expect(got[i]).toBeCloseTo(want[i]!, 12);
    expect(t!.isStatic).toBe(true);
    // The reverse and a sibling lookup go through the common parent.
    const inv = tf.lookup("camera_optical_frame", "base_link")!;
    expect(inv.parent).toBe("camera_optical_frame");
    const sib = tf.lookup("imu_link", "camera_link")!;
    expect(sib.translation.x).toBeCloseTo(0.2, 12);
    expect(sib.translation.z).toBeCloseTo(0.4, 12);
    expect(tf.lookup("base_link", "nowhere")).toBeNull();
  });

  it("interpolates dynamic transforms and composes them with static ones", () => {
    const tf = new TfBuffer();
    tf.add(staticTransforms());
    const dyn = (stamp: number, x: number, yaw: number) => ({
      stamp,
      parent: "odom",
      child: "base_link",
      translation: { x, y: 0, z: 0 },
      rotation: quatFromYaw(yaw),
      isStatic: false,
    });
    tf.add([dyn(1, 0, 0), dyn(2, 1, Math.PI / 2)]);
    const t = tf.lookup("odom", "imu_link", 1.5)!;
    expect(t.translation.x).toBeCloseTo(0.5, 12);
    expect(t.translation.z).toBeCloseTo(0.2, 12);
    expect(yawOf(t.rotation)).toBeCloseTo(Math.PI / 4, 12);
    // A NaN transform is rejected and counted.
    expect(tf.add([{ ...dyn(3, Number.NaN, 0) }])).toBe(1);
    // A dynamic transform does not replace a static mount.
    expect(
      tf.add([
        { ...dyn(3, 0, 0), parent: "base_link", child: "camera_link", rotation: quatFromRPY(0, 0, 0) },
      ]),
    ).toBe(1);
  });
});

describe("KeyframeStore", () => {
  it("keeps every Nth frame at least minDistance apart and expires by age, distance and count", () => {
    const kf = new KeyframeStore<number>({
      every_n_frames: 2,
      min_distance: 0.5,
      horizon_seconds: 10,
      horizon_distance: 3,
      max_count: 4,
    });
    const kept: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = i * 0.1;
      const d = i * 0.2; // 2 m/s
      if (kf.offer(t, d)) kept.push(kf.add(t, d, i));
    }
    // Every 2nd frame is 0.4 m apart (< 0.5), so every 4th frame is kept: frames 0, 4, 8, 12, 16.
    expect(kept.length).toBe(5);
    expect(kf.size).toBe(4);
    expect(kf.expired.count).toBe(1);
    expect(kf.get(kept[4]!)?.data).toBe(16);
    expect(kf.prune(2, 4.0)).toBe(1); // frame 4 at 0.8 m is 3.2 m back
    expect(kf.expired.distance).toBe(1);
    expect(kf.prune(11.25, 4)).toBe(2); // frames at 0.8 s and 1.2 s are more than 10 s old
    expect(kf.expired.age).toBe(2);
    expect(kf.all().map((f) => f.data)).toEqual([16]);
  });
});
