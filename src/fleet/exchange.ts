// What a robot shares with its fleet and takes from it, without any I/O (the MQTT side is
// src/adapters/mqtt-fleet.ts):
//
// - out: the robot's own training rows (the graph's samples$ tap) are thinned to `publish_rate`
//   samples per sensor second into one batch per `batch_period`; a bounded reservoir of all of them
//   is the robot's snapshot (retained on the broker, so a robot that joins late has it at once).
// - in: a peer's payload is validated (codec.ts) and rate-limited per peer; its samples wait in a
//   bounded pool. Each sensor second the learner takes at most `feed_rate` of them, and no more than
//   `max_share` of what it trains on (past a one-off `burst` for a late joiner's snapshots).
// - own labels first: a peer sample whose nearest own sample (standardised feature distance) lies
//   within `radius` and whose roughness differs from it by more than `tolerance` is down-weighted
//   to `override_weight`. The same neighbour pairs estimate the offset between the two robots' label
//   scales (scale.ts).
// The peers themselves (admission, rate limit, counts, the fleet's scale) are kept in peers.ts.

import { calibrateLogEnergy, logEnergyForRoughness } from "../core/label-calibration.ts";
import { seededRandom } from "../learning/replay-buffer.ts";
import type { SampleRows } from "../learning/sample-rows.ts";
import {
  type DecodeResult,
  decodeBatch,
  type FleetBatch,
  type FleetModel,
  type RejectReason,
} from "./codec.ts";
import type { FleetConfig } from "./config.ts";
import { OwnFeatureMetric } from "./feature-metric.ts";
import { type PeerStats, PeerTable } from "./peers.ts";
import { RowStore } from "./row-store.ts";
import { viaCalibration } from "./scale.ts";

export type { PeerStats } from "./peers.ts";

/** Training rows as the learning stage takes them. */
export type FleetRows = SampleRows;

export interface FleetCounters {
  peers: number;
  received: number;
  used: number;
  overridden: number;
  evicted: number;
  duplicates: number;
  /** Peers silent for peer_timeout that gave their place to a new one, and their pooled samples. */
  forgottenPeers: number;
  forgottenSamples: number;
  rejected: Record<RejectReason, number>;
  sent: number;
  batchesSent: number;
  snapshotsSent: number;
  pool: number;
  perPeer: Record<string, PeerStats>;
}

export class FleetExchange {
  readonly robotId: string;
  readonly model: FleetModel;
  readonly #cfg: FleetConfig;
  readonly #C: number;
  readonly #rand: () => number;
  readonly #own: RowStore;
  readonly #pending: RowStore;
  readonly #batch: RowStore;
  readonly #metric: OwnFeatureMetric;
  #ownKind: "logEnergy" | "roughness" = "logEnergy";
  #lo = Number.NaN;
  #hi = Number.NaN;
  #ownFed = 0;
  #peerFed = 0;
  #lastTake = Number.NaN;
  #lastBatch = Number.NaN;
  #lastSnapshot = Number.NaN;
  /** Own rows taken since the last snapshot was made. */
  #ownSinceSnapshot = 0;
  #seq = 0;
  readonly #peers: PeerTable;
  readonly counters = {
    received: 0,
    used: 0,
    overridden: 0,
    evicted: 0,
    duplicates: 0,
    forgottenPeers: 0,
    forgottenSamples: 0,
    sent: 0,
    batchesSent: 0,
    snapshotsSent: 0,
    rejected: {} as Record<RejectReason, number>,
  };

  /**
   * @param labelExponent the labels' scale (`labeler.calibration.exponent`), shared by the fleet
   */
  constructor(
    robotId: string,
    model: FleetModel,
    cfg: FleetConfig,
    seed = 1,
    private readonly labelExponent = 0,
  ) {
    this.robotId = robotId;
    this.model = model;
    this.#cfg = cfg;
    const C = model.channels;
    this.#C = C;
    this.#rand = seededRandom(seed);
    this.#own = new RowStore(cfg.own_samples, C, this.#rand);
    this.#pending = new RowStore(cfg.pool_size, C, this.#rand);
    this.#batch = new RowStore(Math.max(1, Math.ceil(cfg.publish_rate * cfg.batch_period)), C, this.#rand);
    this.#metric = new OwnFeatureMetric(C);
    this.#peers = new PeerTable(cfg);
  }

  /** Own training rows (the samples$ tap): into the outgoing batch and the own reservoir. */
  offerOwn(rows: FleetRows): void {
    const C = this.#C;
    if (rows.channels !== C) return;
    this.#ownKind = rows.targetKind;
    if (rows.targetKind === "logEnergy" && rows.hi > rows.lo) {
      this.#lo = rows.lo;
      this.#hi = rows.hi;
    }
    for (let i = 0; i < rows.n; i++) {
      const t = rows.targets[i]!;
      const w = rows.weights[i]!;
      if (!Number.isFinite(t) || !(w > 0)) continue;
      const o = i * C;
      let finite = true;
      for (let k = 0; k < C; k++) if (!Number.isFinite(rows.features[o + k]!)) finite = false;
      if (!finite) continue;
      this.#ownFed++;
      this.#ownSinceSnapshot++;
      this.#metric.add(rows.features, o);
      const s = this.#own.slot();
      if (s >= 0) this.#own.put(s, rows.features, o, t, w, rows.lo, rows.hi);
      const b = this.#batch.slot();
      if (b >= 0) this.#batch.put(b, rows.features, o, t, w, rows.lo, rows.hi);
    }
    this.#metric.updateScale();
  }

  /** What to publish now (sensor time `stamp`): a batch every batch_period, a snapshot every snapshot_period. */
  outgoing(stamp: number, wallSeconds: number): FleetBatch[] {
    const out: FleetBatch[] = [];
    // Stamps that went back (two recordings joined, a simulator restarted) start the periods afresh.
    if (!(stamp >= this.#lastBatch)) this.#lastBatch = stamp;
    if (!(stamp >= this.#lastSnapshot)) this.#lastSnapshot = stamp;
    if (stamp - this.#lastBatch >= this.#cfg.batch_period && this.#batch.size > 0) {
      out.push(this.#toBatch("samples", this.#batch, this.#batch.size, stamp, wallSeconds));
      this.#batch.size = 0;
      this.#batch.seen = 0;
      this.#lastBatch = stamp;
    }
    if (stamp - this.#lastSnapshot >= this.#cfg.snapshot_period && this.#own.size > 0) {
      out.push(this.snapshot(stamp, wallSeconds));
      this.#lastSnapshot = stamp;
    }
    return out;
  }

  /**
   * A robot's last word (clean shutdown): the samples of the batch not yet due, and a snapshot when
   * it learned anything since the last one, so that a robot joining later has all it drove.
   */
  final(wallSeconds: number): FleetBatch[] {
    const stamp = this.#lastTake;
    if (!Number.isFinite(stamp)) return [];
    const out: FleetBatch[] = [];
    if (this.#batch.size > 0) {
      out.push(this.#toBatch("samples", this.#batch, this.#batch.size, stamp, wallSeconds));
      this.#batch.size = 0;
      this.#batch.seen = 0;
    }
    if (this.#ownSinceSnapshot > 0 && this.#own.size > 0) out.push(this.snapshot(stamp, wallSeconds));
    return out;
  }

  /** The own reservoir (at most snapshot_size rows, a uniform subset) as a snapshot. */
  snapshot(stamp: number, wallSeconds: number): FleetBatch {
    const n = Math.min(this.#own.size, this.#cfg.snapshot_size);
    return this.#toBatch("snapshot", this.#own, n, stamp, wallSeconds);
  }

  #toBatch(kind: FleetBatch["kind"], store: RowStore, n: number, stamp: number, sent: number): FleetBatch {
    const C = this.#C;
    // A subset of the reservoir when it holds more than n: every k-th row from a random start.
    const step = store.size / n;
    const start = Math.floor(this.#rand() * step);
    const features = new Float32Array(n * C);
    const targets = new Float32Array(n);
    const weights = new Float32Array(n);
    const logEnergy = this.#ownKind === "logEnergy" && this.#hi > this.#lo;
    for (let i = 0; i < n; i++) {
      const s = Math.min(store.size - 1, start + Math.floor(i * step));
      features.set(store.features.subarray(s * C, s * C + C), i * C);
      targets[i] = store.targets[s]!;
      weights[i] = store.weights[s]!;
    }
    if (kind === "snapshot") this.#ownSinceSnapshot = 0;
    const count = kind === "snapshot" ? "snapshotsSent" : "batchesSent";
    this.counters[count]++;
    if (kind === "samples") this.counters.sent += n;
    return {
      kind,
      robotId: this.robotId,
      model: this.model,
      targetKind: logEnergy ? "logEnergy" : "roughness",
      n,
      seq: this.#seq++,
      stamp,
      sent,
      lo: logEnergy ? this.#lo : Number.NaN,
      hi: logEnergy ? this.#hi : Number.NaN,
      targets,
      weights,
      features,
    };
  }

  #reject(reason: RejectReason, detail: string = reason): DecodeResult & { ok: false } {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    return { ok: false, reason, detail };
  }

  /**
   * A peer's payload from topic `<prefix>/fleet/<topicRobotId>/<topicKind>`; validated, counted,
   * pooled.
   */
  receive(
    bytes: Uint8Array,
    topicRobotId: string,
    wallSeconds: number,
    topicKind?: "samples" | "snapshot",
  ): DecodeResult {
    const r = decodeBatch(bytes, this.model, {
      maxBytes: this.#cfg.max_payload_bytes,
      topicRobotId,
      ...(topicKind ? { topicKind } : {}),
    });
    if (!r.ok) {
      this.#reject(r.reason);
      return r;
    }
    const b = r.batch;
    let peer = this.#peers.get(b.robotId);
    if (b.kind === "snapshot" && peer && peer.samples > 0) {
      // A peer's snapshot is what we took from it already (or will): once per peer is enough.
      this.counters.duplicates++;
      return r;
    }
    if (!peer) {
      // At the limit, the peer silent longest gives its place if it has been silent for
      // peer_timeout: robots that left a long-running fleet do not lock out the ones that join.
      let index = this.#peers.nextIndex;
      if (this.#peers.size >= this.#cfg.max_peers) {
        index = this.#peers.silentest(wallSeconds);
        if (index < 0)
          return this.#reject("peers", `${this.#cfg.max_peers} peers (max_peers) sent within peer_timeout`);
        this.#forget(index);
      }
      peer = this.#peers.add(b.robotId, index, b.stamp, wallSeconds);
    }
    if (!this.#peers.admit(peer, b.n, wallSeconds))
      return this.#reject(
        "rate",
        `over ${this.#cfg.receive_rate} samples/s from '${b.robotId}' (receive_rate)`,
      );
    this.#peers.record(peer, b);
    const index = this.#peers.indexOf(b.robotId);
    const raw = b.targetKind === "logEnergy";
    for (let i = 0; i < b.n; i++) {
      this.counters.received++;
      const { slot, evicted } = this.#pending.slotEvicting();
      if (evicted) this.counters.evicted++;
      this.#pending.put(
        slot,
        b.features,
        i * this.#C,
        b.targets[i]!,
        b.weights[i]!,
        raw ? b.lo : Number.NaN,
        raw ? b.hi : Number.NaN,
        index,
      );
    }
    return r;
  }

  /** Drops peer `index` and its samples still in the pool; the index is then free for another. */
  #forget(index: number): void {
    this.#peers.drop(index);
    const pool = this.#pending;
    for (let i = pool.size - 1; i >= 0; i--) {
      if (pool.peer[i] === index) {
        pool.remove(i);
        this.counters.forgottenSamples++;
      }
    }
    this.counters.forgottenPeers++;
  }

  /** Roughness 0..1 of a log10 label under bounds (or the label itself when it is roughness). */
  #rough(t: number, lo: number, hi: number): number {
    return hi > lo ? calibrateLogEnergy(t, lo, hi, this.labelExponent) : t;
  }

  /** The peer rows for the learner at this training tick (a SampleSource). */
  take(stamp: number): FleetRows[] | undefined {
    const dt = Number.isFinite(this.#lastTake) ? Math.min(5, Math.max(0, stamp - this.#lastTake)) : 1;
    this.#lastTake = stamp;
    const share = this.#cfg.max_share;
    const byShare = this.#cfg.burst + (share / Math.max(1e-6, 1 - share)) * this.#ownFed - this.#peerFed;
    // The burst (a late joiner's snapshots) goes in at once; after it, feed_rate per second.
    const burstLeft = Math.max(0, this.#cfg.burst - this.#peerFed);
    const m = Math.floor(
      Math.min(this.#pending.size, Math.max(this.#cfg.feed_rate * dt, burstLeft), byShare),
    );
    if (!(m > 0)) return undefined;
    const C = this.#C;
    const features = new Float32Array(m * C);
    const targets = new Float32Array(m);
    const weights = new Float32Array(m);
    // Our bounds; a robot with no label of its own yet takes the first peer sample's.
    let lo = this.#lo;
    let hi = this.#hi;
    const outKind: FleetRows["targetKind"] = this.#ownKind === "roughness" ? "roughness" : "logEnergy";
    let n = 0;
    const p = this.#pending;
    this.#metric.refresh(this.#own);
    let scale = this.#peers.scaleBounds(lo, hi);
    for (let c = 0; c < m; c++) {
      const i = Math.floor(this.#rand() * p.size);
      const o = i * C;
      const peer = this.#peers.at(p.peer[i]!);
      const t = p.targets[i]!;
      const plo = p.lo[i]!;
      const phi = p.hi[i]!;
      const peerRaw = phi > plo;
      let w = p.weights[i]!;
      const far = this.#metric.n > 100 && this.#metric.outside(p.features, o, this.#cfg.max_z);
      const near =
        this.#own.size > 0 && !far
          ? this.#metric.nearest(p.features, o, this.#own.size)
          : { d: Infinity, j: -1 };
      const close = near.j >= 0 && near.d <= this.#cfg.radius;
      if (close && peerRaw && outKind === "logEnergy") peer.est.add(this.#own.targets[near.j]! - t);
      const offset = peer.est.offset;
      peer.offset = Number.isFinite(offset) ? offset : null;
      peer.matches = peer.est.matches;
      features.set(p.features.subarray(o, o + C), n * C);
      p.remove(i);
      if (far) {
        this.#reject("range");
        continue;
      }
      if (outKind === "logEnergy" && !(hi > lo) && peerRaw) {
        lo = plo;
        hi = phi;
        scale = this.#peers.scaleBounds(lo, hi);
      }
      // The peer's label on our scale (scale.ts).
      let target: number;
      const ex = this.labelExponent;
      if (outKind === "roughness") target = peerRaw ? calibrateLogEnergy(t, plo, phi, ex) : t;
      else if (!peerRaw) target = hi > lo ? logEnergyForRoughness(t, lo, hi, ex) : Number.NaN;
      else if (Number.isFinite(offset)) target = t + offset;
      else target = viaCalibration(t, { lo: plo, hi: phi }, { lo, hi }, ex);
      if (!Number.isFinite(target)) {
        this.#reject("unscaled");
        continue;
      }
      if (close) {
        const own = this.#own;
        // Both on the fleet's scale when the learner uses it; else the own label at its own time.
        const shared = outKind === "logEnergy" && this.#cfg.shared_scale;
        const ownR = shared
          ? this.#rough(own.targets[near.j]!, scale.lo, scale.hi)
          : this.#rough(own.targets[near.j]!, own.lo[near.j]!, own.hi[near.j]!);
        const peerR =
          outKind === "roughness"
            ? target
            : this.#rough(target, shared ? scale.lo : lo, shared ? scale.hi : hi);
        if (Math.abs(ownR - peerR) > this.#cfg.tolerance) {
          w *= this.#cfg.override_weight;
          this.counters.overridden++;
        }
      }
      targets[n] = target;
      weights[n] = w;
      n++;
    }
    this.#peerFed += n;
    this.counters.used += n;
    if (n === 0) return undefined;
    scale = this.#peers.scaleBounds(lo, hi);
    return [
      {
        stamp,
        features: features.subarray(0, n * C),
        targets: targets.subarray(0, n),
        weights: weights.subarray(0, n),
        n,
        channels: C,
        targetKind: outKind,
        lo: outKind === "logEnergy" ? scale.lo : Number.NaN,
        hi: outKind === "logEnergy" ? scale.hi : Number.NaN,
      },
    ];
  }

  stats(): FleetCounters {
    return {
      peers: this.#peers.size,
      ...this.counters,
      rejected: { ...this.counters.rejected },
      pool: this.#pending.size,
      perPeer: this.#peers.stats(),
    };
  }
}
