// The fleet's pure parts: wire format and its validation, the peer pool's bounds and share, own
// labels over peers' ones, and the label-scale mapping between robots.
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { backboneHash } from "../src/adapters/fleet-model.ts";
import { diagnosticsMessage } from "../src/adapters/ros2-diagnostics.ts";
import { calibrateLogEnergy } from "../src/core/labeller.ts";
import { decodeBatch, encodeBatch, type FleetBatch, type FleetModel } from "../src/fleet/codec.ts";
import { FleetSchema } from "../src/fleet/config.ts";
import { FleetExchange, type FleetRows } from "../src/fleet/exchange.ts";
import { OffsetEstimator, viaCalibration } from "../src/fleet/scale.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { writeOwnBackbone } from "./helpers/own-backbones.ts";

const C = 6;
const model = (hashByte = 7, channels = C): FleetModel => ({
  backboneHash: new Uint8Array(16).fill(hashByte),
  channels,
  backboneChannels: 2,
  inputWidth: 320,
  layoutVersion: 1,
});

function batch(n: number, over: Partial<FleetBatch> = {}): FleetBatch {
  const rand = seededRandom(n + 1);
  return {
    kind: "samples",
    robotId: "b",
    model: model(),
    targetKind: "logEnergy",
    n,
    seq: 3,
    stamp: 100,
    sent: 1.7e9,
    lo: -1,
    hi: 1,
    targets: Float32Array.from({ length: n }, () => rand() * 2 - 1),
    weights: new Float32Array(n).fill(1),
    features: Float32Array.from({ length: n * C }, () => rand()),
    ...over,
  };
}

const limits = { maxBytes: 1 << 20, topicRobotId: "b" };

/** Own rows: features drawn around `centre` (per channel), targets given. */
function rows(n: number, centre: number, target: number, seed = 1): FleetRows {
  const rand = seededRandom(seed);
  return {
    stamp: 0,
    features: Float32Array.from({ length: n * C }, () => centre + 0.05 * rand()),
    targets: new Float32Array(n).fill(target),
    weights: new Float32Array(n).fill(1),
    n,
    channels: C,
    targetKind: "logEnergy",
    lo: -1,
    hi: 1,
  };
}

describe("fleet wire format", () => {
  it("round-trips a batch", () => {
    const b = batch(5);
    const r = decodeBatch(encodeBatch(b), model(), limits);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.batch.robotId).toBe("b");
    expect(r.batch.n).toBe(5);
    expect(Array.from(r.batch.targets)).toEqual(Array.from(b.targets));
    expect(Array.from(r.batch.features)).toEqual(Array.from(b.features));
    expect(r.batch.lo).toBe(-1);
  });

  it("refuses each kind of bad payload with its reason", () => {
    const good = encodeBatch(batch(4));
    const reason = (bytes: Uint8Array, ours = model(), lim = limits) => {
      const r = decodeBatch(bytes, ours, lim);
      return r.ok ? "ok" : r.reason;
    };
    expect(reason(good)).toBe("ok");
    expect(reason(good, model(), { maxBytes: 100, topicRobotId: "b" })).toBe("size");
    expect(reason(good.subarray(0, good.length - 1))).toBe("schema");
    expect(reason(new TextEncoder().encode("hello, fleet"))).toBe("schema");
    // A newer release's format: the log must say so, not only "schema".
    const newer = good.slice();
    newer[4] = 2;
    expect(decodeBatch(newer, model(), limits)).toMatchObject({
      ok: false,
      reason: "schema",
      detail: "format version 2, ours 1: the peer runs a terrain-learner release with another fleet format",
    });
    expect(reason(good, model(9))).toBe("backbone");
    expect(reason(encodeBatch(batch(4, { model: model(7, C + 1) })), model())).toBe("layout");
    expect(reason(good, model(), { maxBytes: 1 << 20, topicRobotId: "a" })).toBe("spoofed");
    expect(decodeBatch(good, model(), { ...limits, topicKind: "snapshot" })).toMatchObject({
      ok: false,
      reason: "kind",
      detail: "a batch of samples on a snapshot topic",
    });
    expect(decodeBatch(good, model(), { maxBytes: 1 << 20, topicKind: "samples" }).ok).toBe(true);
    const nan = batch(4);
    nan.features[3] = Number.NaN;
    expect(reason(encodeBatch(nan))).toBe("non_finite");
    const huge = batch(4);
    huge.targets[1] = 1e9;
    expect(reason(encodeBatch(huge))).toBe("range");
    expect(reason(encodeBatch(batch(4, { weights: new Float32Array(4).fill(-1) })))).toBe("range");
    expect(reason(encodeBatch(batch(4, { lo: 2, hi: 1 })))).toBe("range");
  });

  it("never throws on random or mutated bytes", () => {
    const rand = seededRandom(42);
    const good = encodeBatch(batch(3));
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes =
        i % 2
          ? Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))
          : good.map((v) => (rand() < 0.02 ? Math.floor(rand() * 256) : v));
      const r = decodeBatch(bytes, model(), limits);
      if (r.ok) {
        ok++;
        expect(r.batch.features.every(Number.isFinite)).toBe(true);
      }
    }
    expect(ok).toBeLessThan(3000);
  });
});

describe("label scale between robots", () => {
  it("a peer's label through both robots' bounds lands at the same place on our scale", () => {
    // Same bounds: unchanged, on any scale.
    for (const x of [-5, -1.2, -0.3, 0, 0.7, 1.4, 6])
      expect(viaCalibration(x, { lo: -1, hi: 1 }, { lo: -1, hi: 1 }, 0)).toBeCloseTo(x, 4);
    expect(viaCalibration(0.5, { lo: 0, hi: 1 }, { lo: 10, hi: 12 }, 0)).toBeCloseTo(11, 5);
    // On a power scale the peer's midpoint energy maps to our midpoint energy, not the log midpoint.
    const mid = viaCalibration(0.5, { lo: 0, hi: 1 }, { lo: 10, hi: 12 }, 0.5);
    expect(calibrateLogEnergy(mid, 10, 12, 0.5)).toBeCloseTo(calibrateLogEnergy(0.5, 0, 1, 0.5), 6);
    expect(mid).not.toBeCloseTo(11, 2);
  });

  it("the offset is the median of matched differences, only once there are enough", () => {
    const e = new OffsetEstimator(256, 5);
    for (const d of [0.4, 0.5, 0.45, 9]) e.add(d);
    expect(e.offset).toBeNaN();
    e.add(0.42);
    expect(e.offset).toBeCloseTo(0.45, 6);
  });

  it("the running median is the median of the last `window` differences, duplicates included", () => {
    const rand = seededRandom(11);
    const e = new OffsetEstimator(31, 1);
    const seen: number[] = [];
    for (let i = 0; i < 400; i++) {
      // Rounded to tenths: many equal values, the case an index-based removal gets wrong.
      const d = Math.round((rand() * 4 - 2) * 10) / 10 + 0; // + 0: no −0
      e.add(d);
      seen.push(d);
      const last = seen.slice(-31).sort((a, b) => a - b);
      const h = last.length >> 1;
      const median = last.length % 2 ? last[h]! : (last[h - 1]! + last[h]!) / 2;
      expect(e.offset).toBe(median);
      expect(e.matches).toBe(last.length);
    }
  });
});

describe("fleet exchange", () => {
  const cfg = () =>
    FleetSchema.parse({
      pool_size: 50,
      feed_rate: 20,
      burst: 10,
      max_share: 0.5,
      radius: 0.5,
      tolerance: 0.2,
      override_weight: 0.1,
      publish_rate: 8,
      batch_period: 1,
      snapshot_size: 16,
      own_samples: 64,
    });

  it("publishes thinned batches and a bounded snapshot of own rows", () => {
    const ex = new FleetExchange("a", model(), cfg());
    ex.outgoing(0, 0);
    ex.offerOwn(rows(100, 0, 0.3));
    const out = ex.outgoing(1, 1);
    expect(out).toHaveLength(1);
    expect(out[0]!.n).toBe(8);
    expect(out[0]!.lo).toBe(-1);
    const snap = ex.snapshot(2, 2);
    expect(snap.kind).toBe("snapshot");
    expect(snap.n).toBe(16);
    // What it publishes, a peer accepts.
    const peer = new FleetExchange("b", model(), cfg());
    expect(peer.receive(encodeBatch(out[0]!), "a", 1).ok).toBe(true);
    expect(peer.stats().received).toBe(8);
  });

  it("goes on publishing a batch each period and snapshots after the stamps went back (two recordings joined)", () => {
    const ex = new FleetExchange("a", model(), { ...cfg(), snapshot_period: 5 });
    const drive = (t0: number, t1: number) => {
      let batches = 0;
      let snapshots = 0;
      for (let t = t0; t <= t1; t++) {
        ex.offerOwn(rows(10, 0, 0.3, t));
        for (const b of ex.outgoing(t, t)) b.kind === "samples" ? batches++ : snapshots++;
      }
      return { batches, snapshots };
    };
    expect(drive(1000, 1010)).toEqual({ batches: 10, snapshots: 2 });
    // The second recording starts 990 s earlier: its seconds are periods as the first one's were.
    expect(drive(10, 20)).toEqual({ batches: 10, snapshots: 2 });
  });

  it("keeps the pool bounded, feeds at most feed_rate and the share, and counts rejections", () => {
    const ex = new FleetExchange("a", model(), { ...cfg(), max_z: 1e6 });
    ex.offerOwn(rows(10, 0, 0.3));
    for (let i = 0; i < 5; i++) ex.receive(encodeBatch(batch(20, { seq: i })), "b", i);
    ex.receive(encodeBatch(batch(3, { model: model(1) })), "b", 6);
    ex.receive(new Uint8Array([1, 2, 3]), "b", 6);
    const s = ex.stats();
    expect(s.pool).toBe(50);
    expect(s.evicted).toBe(50);
    expect(s.rejected).toEqual({ backbone: 1, schema: 1 });
    const first = ex.take(0)!;
    expect(first[0]!.n).toBeLessThanOrEqual(20);
    // burst 10 + share 0.5 of 10 own rows = at most 20 peer rows in all, whatever the pool holds.
    let total = first[0]!.n;
    for (let t = 1; t < 10; t++) total += ex.take(t)?.[0]?.n ?? 0;
    expect(total).toBe(20);
    // More own rows make room for more peer rows, at most feed_rate per second.
    ex.offerOwn(rows(100, 0, 0.3));
    expect(ex.take(10)![0]!.n).toBe(20);
    expect(ex.stats().used).toBe(40);
  });

  it("counts a peer's label it has no scale for as rejected (unscaled): every received sample is accounted for", () => {
    // No label of its own yet, so no bounds to put a peer's roughness (0..1) onto log10 energy.
    const ex = new FleetExchange("a", model(), { ...cfg(), max_z: 1e6 });
    const rough = batch(12, {
      targetKind: "roughness",
      lo: Number.NaN,
      hi: Number.NaN,
      targets: new Float32Array(12).fill(0.4),
    });
    expect(ex.receive(encodeBatch(rough), "b", 0).ok).toBe(true);
    expect(ex.take(0)).toBeUndefined();
    const s = ex.stats();
    expect(s.rejected).toEqual({ unscaled: 10 });
    // Every sample received is used, still pooled, evicted, forgotten or rejected.
    const rejected = Object.values(s.rejected).reduce((a, b) => a + b, 0);
    expect(s.used + s.pool + s.evicted + s.forgottenSamples + rejected).toBe(s.received);
  });

  it("hands a late joiner its burst at once, then feed_rate per second", () => {
    const ex = new FleetExchange("a", model(), {
      ...cfg(),
      pool_size: 1000,
      burst: 300,
      feed_rate: 20,
      max_z: 1e6,
    });
    for (let i = 0; i < 5; i++) ex.receive(encodeBatch(batch(100, { seq: i })), "b", i);
    expect(ex.take(0)![0]!.n).toBe(300);
    // Past the burst, with no own rows, the share allows nothing more.
    expect(ex.take(1)).toBeUndefined();
    ex.offerOwn(rows(400, 0, 0.3));
    expect(ex.take(2)![0]!.n).toBe(20);
  });

  it("down-weights a peer label that disagrees with an own label on the same ground", () => {
    const ex = new FleetExchange("a", model(), cfg());
    ex.offerOwn(rows(40, 0, -0.9)); // smooth ground here, own label
    const near = batch(10, {
      features: rows(10, 0, 0).features, // the very ground of own rows
      targets: new Float32Array(10).fill(0.9), // a peer calls the same ground rough
    });
    ex.receive(encodeBatch(near), "b", 0);
    const fed = ex.take(1)!;
    expect(fed[0]!.n).toBe(10);
    expect(Math.max(...fed[0]!.weights)).toBeCloseTo(0.1, 6);
    expect(ex.stats().overridden).toBe(10);
  });

  it("moves a peer's labels by the offset measured on shared ground", () => {
    const c = { ...cfg(), pool_size: 500, feed_rate: 500, burst: 500 };
    const ex = new FleetExchange("a", model(), c);
    ex.offerOwn(rows(60, 0, -0.5));
    // The peer's IMU feels 0.4 log10 units more on the same ground.
    const same = batch(60, {
      features: rows(60, 0, 0).features,
      targets: new Float32Array(60).fill(-0.1),
    });
    ex.receive(encodeBatch(same), "b", 0);
    ex.take(1);
    expect(ex.stats().perPeer.b!.offset).toBeCloseTo(-0.4, 5);
    const other = batch(5, { targets: new Float32Array(5).fill(0.6), seq: 9 });
    ex.receive(encodeBatch(other), "b", 1);
    const fed = ex.take(2)!;
    expect(fed[0]!.targets[0]).toBeCloseTo(0.2, 5);
  });

  it("hands the learner one scale spanning own and peers' bounds (moved by the offset), unless shared_scale is off", () => {
    const c = { ...cfg(), pool_size: 500, feed_rate: 500, burst: 500 };
    const own = { ...rows(60, 0, -0.5), lo: -1, hi: 0 }; // a robot that felt only smooth ground
    const peerBatch = (seq: number) =>
      batch(60, {
        features: rows(60, 0, 0).features,
        targets: new Float32Array(60).fill(-0.1),
        lo: -0.5,
        hi: 2,
        seq,
      });
    const shared = new FleetExchange("a", model(), c);
    shared.offerOwn(own);
    shared.receive(encodeBatch(peerBatch(0)), "b", 0);
    const first = shared.take(1)![0]!;
    // The offset is measured in this very take (60 matched pairs, ours − theirs = −0.4): the peer's
    // bounds move onto our units, [-0.9, 1.6], and the scale is their union with ours.
    expect(shared.stats().perPeer.b!.offset).toBeCloseTo(-0.4, 5);
    expect(first.lo).toBeCloseTo(-1, 6);
    expect(first.hi).toBeCloseTo(1.6, 5);
    expect(shared.stats().perPeer.b!.bounds).toEqual({ lo: -0.5, hi: 2 });
    const alone = new FleetExchange("a", model(), { ...c, shared_scale: false });
    alone.offerOwn(own);
    alone.receive(encodeBatch(peerBatch(0)), "b", 0);
    const mine = alone.take(1)![0]!;
    expect([mine.lo, mine.hi]).toEqual([-1, 0]);
  });

  it("refuses robot ids beyond max_peers as `peers`, not as a rate", () => {
    const ex = new FleetExchange("a", model(), { ...cfg(), max_peers: 2 });
    const from = (id: string) => ex.receive(encodeBatch(batch(4, { robotId: id })), id, 0);
    expect(["b", "c", "d"].map((id) => from(id).ok)).toEqual([true, true, false]);
    expect(ex.stats().rejected.peers).toBe(1);
    expect(ex.stats().rejected.rate ?? 0).toBe(0);
    // A known peer still gets through.
    expect(from("b").ok).toBe(true);
  });

  it("gives the place of a peer silent for peer_timeout to a new one, with its pooled samples", () => {
    const ex = new FleetExchange("a", model(), { ...cfg(), max_peers: 2, peer_timeout: 60, max_z: 1e6 });
    ex.offerOwn(rows(200, 0, 0));
    const from = (id: string, wall: number) => ex.receive(encodeBatch(batch(4, { robotId: id })), id, wall);
    expect(from("b", 0).ok).toBe(true);
    expect(from("c", 50).ok).toBe(true);
    // b silent 30 s: not yet.
    expect(from("d", 30).ok).toBe(false);
    expect(ex.stats().rejected.peers).toBe(1);
    // b silent 70 s: d takes its place and b's 4 waiting samples go with it.
    expect(ex.stats().pool).toBe(8);
    expect(from("d", 70).ok).toBe(true);
    const s = ex.stats();
    expect(Object.keys(s.perPeer).sort()).toEqual(["c", "d"]);
    expect([s.peers, s.forgottenPeers, s.forgottenSamples, s.pool]).toEqual([2, 1, 4, 8]);
    // Every pooled sample still belongs to a known peer: taking them works.
    expect(ex.take(1)!.length).toBeGreaterThan(0);
    // c heard from 21 s ago: b, back, waits for a place.
    expect(from("b", 71).ok).toBe(false);
    expect(ex.stats().rejected.peers).toBe(2);
  });

  it("rate-limits a flooding peer and refuses features far outside own ones", () => {
    const c = { ...cfg(), receive_rate: 10, snapshot_size: 5 };
    const ex = new FleetExchange("a", model(), c);
    // Bucket: 5 s × 10/s + 5 = 55 samples; the third 20-sample batch at once is over.
    const codes = [0, 1, 2].map((i) => ex.receive(encodeBatch(batch(20, { seq: i })), "b", 0));
    expect(codes.map((r) => r.ok)).toEqual([true, true, false]);
    expect(ex.stats().rejected.rate).toBe(1);
    const ex2 = new FleetExchange("a", model(), { ...cfg(), max_z: 30 });
    ex2.offerOwn(rows(200, 0, 0));
    const wild = batch(4, { features: new Float32Array(4 * C).fill(1e6) });
    ex2.receive(encodeBatch(wild), "b", 0);
    expect(ex2.take(1)).toBeUndefined();
    expect(ex2.stats().rejected.range).toBe(4);
  });
});

describe("fleet in /diagnostics", () => {
  it("adds a fleet status with the counters, WARN while the broker is unreachable", () => {
    const fleet = {
      connected: false,
      peers: 2,
      received: 10,
      used: 7,
      rejected: { backbone: 3 },
      rejectedTotal: 3,
    };
    const out = diagnosticsMessage({
      stamp: 1,
      hardwareId: "/terrain_learner",
      inputs: {} as never,
      subscriptions: [],
      stats: { problems: {}, fleet } as never,
      latencyMs: { mean: 0, max: 0, count: 0 },
      learning: true,
      speedLimitType: "nav2_msgs/msg/SpeedLimit",
    });
    const status = (
      out.message as { status: { name: string; level: number; values: { key: string; value: string }[] }[] }
    ).status;
    const f = status.find((s) => s.name === "terrain_learner: fleet")!;
    expect(f.level).toBe(1);
    const values = Object.fromEntries(f.values.map((v) => [v.key, v.value]));
    expect(values).toMatchObject({
      peers: "2",
      "samples received": "10",
      "samples used": "7",
      "rejected: backbone": "3",
    });
  });
});

describe("fleet in /diagnostics, connected but not sharing", () => {
  const level = (fleet: Record<string, unknown>) => {
    const out = diagnosticsMessage({
      stamp: 1,
      hardwareId: "/terrain_learner",
      inputs: {} as never,
      subscriptions: [],
      stats: { problems: {}, fleet: { connected: true, peers: 1, sameId: 0, ...fleet } } as never,
      latencyMs: { mean: 0, max: 0, count: 0 },
      learning: true,
      speedLimitType: "nav2_msgs/msg/SpeedLimit",
    });
    const status = (out.message as { status: { name: string; level: number; message: string }[] }).status;
    const f = status.find((s) => s.name === "terrain_learner: fleet")!;
    return [f.level, f.message];
  };

  it("is OK while sharing, WARN when the broker drops what it publishes or its id is taken", () => {
    expect(level({})).toEqual([0, "sharing with 1 peers"]);
    expect(level({ brokerDrops: true })).toEqual([
      1,
      "the broker drops what this robot publishes (ACL: user name, topic prefix)",
    ]);
    expect(level({ sameId: 3 })).toEqual([1, "another robot publishes under this robot's id"]);
  });
});

describe("fleet model key", () => {
  it("covers a backbone's external data: a byte-identical .onnx with other weights in its side file is another model", () => {
    const tmp = mkdtempSync(join(tmpdir(), "tl-fleet-key-"));
    try {
      const a = writeOwnBackbone(tmp, "ext-a.onnx", { channels: 8, seed: 1, externalWeights: true });
      writeOwnBackbone(tmp, "ext-b.onnx", { channels: 8, seed: 2, externalWeights: true });
      const before = Buffer.from(backboneHash(a));
      copyFileSync(join(tmp, "ext-b.onnx.data"), `${a}.data`);
      expect(Buffer.from(backboneHash(a)).equals(before)).toBe(false);
      // Without external data the key stays the file's own sha256 (robots on older versions still match).
      const bundled = join(import.meta.dirname, "..", "models", "backbone.onnx");
      const plain = createHash("sha256").update(readFileSync(bundled)).digest().subarray(0, 16);
      expect(Buffer.from(backboneHash(bundled)).equals(plain)).toBe(true);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
