// The peers a fleet exchange knows: admission up to max_peers, each one's token bucket and counts,
// and the fleet's label scale from their calibration bounds.

import type { FleetBatch } from "./codec.ts";
import type { FleetConfig } from "./config.ts";
import { OffsetEstimator } from "./scale.ts";

export interface PeerStats {
  samples: number;
  batches: number;
  snapshots: number;
  /** Label offset (ours − theirs, log10 energy) from shared ground; null until estimated. */
  offset: number | null;
  matches: number;
  lastStamp: number;
  /** The peer's latest calibration bounds (its own log10-energy units); null before any. */
  bounds: { lo: number; hi: number } | null;
}

/** A peer with its offset estimator and token bucket (tokens left, wall time of the last refill). */
export type Peer = PeerStats & { est: OffsetEstimator; tokens: number; at: number };

export class PeerTable {
  readonly #cfg: FleetConfig;
  /** Peer ids by index (the index the pooled samples carry). */
  readonly #ids: string[] = [];
  readonly #byId = new Map<string, Peer>();

  constructor(cfg: FleetConfig) {
    this.#cfg = cfg;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The index a new peer gets while there is room. */
  get nextIndex(): number {
    return this.#ids.length;
  }

  get(id: string): Peer | undefined {
    return this.#byId.get(id);
  }

  /** The peer at `index` (a pooled sample's). */
  at(index: number): Peer {
    return this.#byId.get(this.#ids[index]!)!;
  }

  indexOf(id: string): number {
    return this.#ids.indexOf(id);
  }

  /** Index of the peer silent longest, if longer than peer_timeout; −1 if none. */
  silentest(wallSeconds: number): number {
    let best = -1;
    let oldest = wallSeconds - this.#cfg.peer_timeout;
    for (let i = 0; i < this.#ids.length; i++) {
      const at = this.#byId.get(this.#ids[i]!)!.at;
      if (at <= oldest) {
        oldest = at;
        best = i;
      }
    }
    return best;
  }

  /** Drops the peer at `index`; the index is then free for another (its pooled samples are the caller's). */
  drop(index: number): void {
    this.#byId.delete(this.#ids[index]!);
  }

  /** A new peer at `index`, first heard at sensor time `stamp`, wall time `wallSeconds`. */
  add(id: string, index: number, stamp: number, wallSeconds: number): Peer {
    const peer: Peer = {
      samples: 0,
      batches: 0,
      snapshots: 0,
      offset: null,
      matches: 0,
      lastStamp: stamp,
      bounds: null,
      est: new OffsetEstimator(),
      tokens: this.#cfg.receive_rate * 5 + this.#cfg.snapshot_size,
      at: wallSeconds,
    };
    this.#byId.set(id, peer);
    this.#ids[index] = id;
    return peer;
  }

  /**
   * Takes `n` samples from the peer's token bucket on the wall clock (false when it holds fewer):
   * a flooding peer cannot fill the pool alone.
   */
  admit(peer: Peer, n: number, wallSeconds: number): boolean {
    const cap = this.#cfg.receive_rate * 5 + this.#cfg.snapshot_size;
    peer.tokens = Math.min(cap, peer.tokens + (wallSeconds - peer.at) * this.#cfg.receive_rate);
    peer.at = wallSeconds;
    if (n > peer.tokens) return false;
    peer.tokens -= n;
    return true;
  }

  /** Counts an admitted batch and keeps the peer's latest bounds. */
  record(peer: Peer, b: FleetBatch): void {
    if (b.kind === "snapshot") peer.snapshots++;
    else peer.batches++;
    peer.samples += b.n;
    peer.lastStamp = b.stamp;
    if (b.targetKind === "logEnergy" && b.hi > b.lo) peer.bounds = { lo: b.lo, hi: b.hi };
  }

  /**
   * The scale the learner calibrates with (shared_scale): our bounds widened to every peer's, each
   * moved onto our units by its offset (0 until one is measured: most fleets share an IMU model).
   * One scale for the fleet's ground: a robot that drove only smooth ground would otherwise squeeze
   * everything rougher that its peers felt into the top of its own scale, where it cannot be ranked.
   */
  scaleBounds(lo: number, hi: number): { lo: number; hi: number } {
    if (!this.#cfg.shared_scale) return { lo, hi };
    let l = lo;
    let h = hi;
    for (const p of this.#byId.values()) {
      if (!p.bounds) continue;
      const off = p.est.offset;
      const o = Number.isFinite(off) ? off : 0;
      l = Math.min(l, p.bounds.lo + o);
      h = Math.max(h, p.bounds.hi + o);
    }
    return { lo: l, hi: h };
  }

  stats(): Record<string, PeerStats> {
    const perPeer: Record<string, PeerStats> = {};
    for (const [id, p] of this.#byId)
      perPeer[id] = {
        samples: p.samples,
        batches: p.batches,
        snapshots: p.snapshots,
        offset: p.offset,
        matches: p.matches,
        lastStamp: p.lastStamp,
        bounds: p.bounds,
      };
    return perPeer;
  }
}
