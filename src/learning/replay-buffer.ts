// Bounded replay buffer of (feature vector, roughness target, weight) samples in preallocated typed
// arrays: no per-sample objects, fixed memory (capacity × channels floats) however long the robot drives.
//
// Two policies:
// - "reservoir": a uniform random sample of everything ever added (Vitter's algorithm R).
// - "per-bin": targets are binned by roughness; when full, a random sample of the currently largest bin
//   is evicted, and batches draw a bin with probability ∝ √(bin size) before drawing within it. Mostly
//   smooth ground then cannot crowd out the rare rough patches (which are what a speed limit is for),
//   while a bin with three samples is not replayed as often as one with thousands (overfitting).
//
// Stored targets may be raw label values (the pipeline stores log10 vibration energy) with a target
// map that turns them into training targets when they are drawn: the map (label calibration) moves
// as the robot meets new ground, and re-mapping on the way out keeps every stored sample consistent
// with the latest calibration instead of with the one it happened to be labelled under.
//
// Recent share: a fraction of every batch is drawn from the samples added last (a ring of their
// slots), the rest by the balancing policy over everything stored. Ground met a moment ago is then
// learned within seconds however large the buffer, while the balanced part keeps every terrain
// driven earlier in each batch (the history does not get forgotten when a new terrain fills a bin).
//
// Randomness comes from a seeded PRNG, so a replay run is reproducible.

import { seededRandom } from "../core/random.ts";

// The generator lives in core; learning and the fleet take it from here as before.
export { seededRandom };

export type BalanceMode = "reservoir" | "per-bin";

export interface ReplayBufferOptions {
  capacity: number;
  channels: number;
  balance: BalanceMode;
  /** Roughness bins for "per-bin" (over 0..1). */
  bins?: number;
  seed?: number;
  /** Share of each batch drawn from the `recentSamples` stored last (0: none). */
  recentShare?: number;
  /** How many of the last stored samples count as recent. */
  recentSamples?: number;
}

export class ReplayBuffer {
  readonly capacity: number;
  readonly channels: number;
  readonly balance: BalanceMode;
  readonly bins: number;
  private readonly features: Float32Array;
  private readonly targets: Float32Array;
  private readonly weights: Float32Array;
  private readonly rand: () => number;
  private count = 0;
  /** Samples ever offered (reservoir needs it). */
  private seen = 0;
  // per-bin bookkeeping: members[b*capacity + j] = slot; binOf[slot]; posInBin[slot].
  private readonly members: Int32Array;
  private readonly binCount: Int32Array;
  private readonly binOf: Int32Array;
  private readonly posInBin: Int32Array;
  private readonly binWeight: Float64Array;
  private mark: Uint8Array | null = null;
  private targetMap: ((raw: number) => number) | null = null;
  /** Roughness 0..1 of a stored value, for the bins (default: the target map). */
  private binMap: ((raw: number) => number) | null = null;
  readonly recentShare: number;
  // Ring of the slots stored last (recentCount of them valid, next write at recentNext).
  private readonly recent: Int32Array;
  private recentNext = 0;
  private recentCount = 0;

  constructor(opts: ReplayBufferOptions) {
    if (!(opts.capacity > 0) || !(opts.channels > 0)) {
      throw new Error(
        `replay buffer needs capacity > 0 and channels > 0 (got ${opts.capacity}, ${opts.channels})`,
      );
    }
    this.capacity = opts.capacity;
    this.channels = opts.channels;
    this.balance = opts.balance;
    this.bins = Math.max(1, opts.bins ?? 5);
    this.features = new Float32Array(this.capacity * this.channels);
    this.targets = new Float32Array(this.capacity);
    this.weights = new Float32Array(this.capacity);
    this.rand = seededRandom(opts.seed ?? 1);
    const perBin = this.balance === "per-bin";
    this.members = new Int32Array(perBin ? this.bins * this.capacity : 0);
    this.binCount = new Int32Array(this.bins);
    this.binOf = new Int32Array(perBin ? this.capacity : 0);
    this.posInBin = new Int32Array(perBin ? this.capacity : 0);
    this.binWeight = new Float64Array(this.bins);
    const share = opts.recentShare ?? 0;
    if (!(share >= 0 && share <= 1))
      throw new Error(`replay buffer recent share must be in 0..1, got ${share}`);
    this.recentShare = share;
    const window =
      share > 0 ? Math.max(1, Math.min(this.capacity, Math.round(opts.recentSamples ?? 2048))) : 0;
    this.recent = new Int32Array(window);
  }

  get size(): number {
    return this.count;
  }
  get totalSeen(): number {
    return this.seen;
  }

  /** Samples per roughness bin (per-bin mode; in reservoir mode computed on the fly). */
  binSizes(): number[] {
    if (this.balance === "per-bin") return Array.from(this.binCount);
    const out = new Array<number>(this.bins).fill(0);
    for (let i = 0; i < this.count; i++) {
      const b = this.binFor(this.targets[i] as number);
      out[b] = (out[b] ?? 0) + 1;
    }
    return out;
  }

  clear(): void {
    this.count = 0;
    this.seen = 0;
    this.binCount.fill(0);
    this.recentCount = 0;
    this.recentNext = 0;
  }

  /**
   * Training target of a stored value (identity by default). Setting a map re-bins the stored
   * samples (O(size)), so callers change it when the calibration moved, not on every label.
   * `binMap`: roughness 0..1 for the bins when the training target is not roughness (a head that
   * learns log energy is still balanced over calibrated roughness).
   */
  setTargetMap(map: ((raw: number) => number) | null, binMap: ((raw: number) => number) | null = null): void {
    this.targetMap = map;
    this.binMap = binMap;
    if (this.balance !== "per-bin") return;
    this.binCount.fill(0);
    for (let slot = 0; slot < this.count; slot++) {
      const bin = this.binFor(this.targets[slot] as number);
      const pos = this.binCount[bin] as number;
      this.members[bin * this.capacity + pos] = slot;
      this.binOf[slot] = bin;
      this.posInBin[slot] = pos;
      this.binCount[bin] = pos + 1;
    }
  }

  private binFor(raw: number): number {
    const map = this.binMap ?? this.targetMap;
    const target = map ? map(raw) : raw;
    const b = Math.floor(target * this.bins);
    return b < 0 ? 0 : b >= this.bins ? this.bins - 1 : b;
  }

  /** Adds n samples: features n×C (row-major), targets n, optional weights n (default 1). */
  add(features: Float32Array, targets: Float32Array, weights?: Float32Array, n = targets.length): void {
    const C = this.channels;
    if (features.length < n * C)
      throw new Error(`features has ${features.length} floats, need ${n}×${C} = ${n * C}`);
    if (targets.length < n) throw new Error(`targets has ${targets.length} values, need ${n}`);
    if (weights && weights.length < n) throw new Error(`weights has ${weights.length} values, need ${n}`);
    for (let i = 0; i < n; i++) {
      const t = targets[i] as number;
      const w = weights ? (weights[i] as number) : 1;
      if (!Number.isFinite(t) || !(w > 0)) continue;
      let finite = true;
      for (let k = 0; k < C; k++) {
        if (!Number.isFinite(features[i * C + k] as number)) {
          finite = false;
          break;
        }
      }
      if (!finite) continue;
      this.seen++;
      const slot = this.balance === "per-bin" ? this.slotPerBin(t) : this.slotReservoir();
      if (slot < 0) continue;
      this.features.set(features.subarray(i * C, i * C + C), slot * C);
      this.targets[slot] = t;
      this.weights[slot] = w;
      if (this.recent.length > 0) {
        this.recent[this.recentNext] = slot;
        this.recentNext = (this.recentNext + 1) % this.recent.length;
        if (this.recentCount < this.recent.length) this.recentCount++;
      }
    }
  }

  private slotReservoir(): number {
    if (this.count < this.capacity) return this.count++;
    const j = Math.floor(this.rand() * this.seen);
    return j < this.capacity ? j : -1;
  }

  private slotPerBin(target: number): number {
    const bin = this.binFor(target);
    let slot: number;
    if (this.count < this.capacity) {
      slot = this.count++;
    } else {
      // Evict a random member of the largest bin (ties → lowest index, deterministic).
      let big = 0;
      for (let b = 1; b < this.bins; b++)
        if ((this.binCount[b] as number) > (this.binCount[big] as number)) big = b;
      const j = Math.floor(this.rand() * (this.binCount[big] as number));
      slot = this.members[big * this.capacity + j] as number;
      this.removeFromBin(slot);
    }
    const pos = this.binCount[bin] as number;
    this.members[bin * this.capacity + pos] = slot;
    this.binOf[slot] = bin;
    this.posInBin[slot] = pos;
    this.binCount[bin] = pos + 1;
    return slot;
  }

  private removeFromBin(slot: number): void {
    const b = this.binOf[slot] as number;
    const pos = this.posInBin[slot] as number;
    const last = (this.binCount[b] as number) - 1;
    const moved = this.members[b * this.capacity + last] as number;
    this.members[b * this.capacity + pos] = moved;
    this.posInBin[moved] = pos;
    this.binCount[b] = last;
  }

  private binTotal(): number {
    let total = 0;
    if (this.balance === "per-bin") {
      for (let b = 0; b < this.bins; b++) {
        this.binWeight[b] = Math.sqrt(this.binCount[b] as number);
        total += this.binWeight[b] as number;
      }
    }
    return total;
  }

  /** One slot drawn by the balancing policy (total = binTotal()). */
  private drawSlot(total: number): number {
    if (this.balance !== "per-bin") return Math.floor(this.rand() * this.count);
    const binWeight = this.binWeight;
    let r = this.rand() * total;
    let b = 0;
    while (b < this.bins - 1 && (r >= (binWeight[b] as number) || this.binCount[b] === 0)) {
      r -= binWeight[b] as number;
      b++;
    }
    while (this.binCount[b] === 0 && b > 0) b--; // float round-off past the last non-empty bin
    const cnt = this.binCount[b] as number;
    return this.members[b * this.capacity + Math.floor(this.rand() * cnt)] as number;
  }

  private copyOut(
    slot: number,
    i: number,
    outFeatures: Float32Array,
    outTargets: Float32Array,
    outWeights: Float32Array,
  ): void {
    const C = this.channels;
    outFeatures.set(this.features.subarray(slot * C, slot * C + C), i * C);
    const raw = this.targets[slot] as number;
    outTargets[i] = this.targetMap ? this.targetMap(raw) : raw;
    outWeights[i] = this.weights[slot] as number;
  }

  /**
   * Fills caller-owned batch arrays (features batch×C, targets, weights) with samples drawn with
   * replacement; returns how many were drawn (0 when empty). `withRecent` false: the balancing
   * policy alone (statistics of the stored ground rather than training batches).
   */
  sample(
    batch: number,
    outFeatures: Float32Array,
    outTargets: Float32Array,
    outWeights: Float32Array,
    withRecent = true,
  ): number {
    if (this.count === 0) return 0;
    const total = this.binTotal();
    // A fixed count per batch (not a coin per row): the recent part does not vary from step to step.
    const nRecent = withRecent && this.recentCount > 0 ? Math.round(batch * this.recentShare) : 0;
    for (let i = 0; i < batch; i++) {
      const slot =
        i < nRecent
          ? (this.recent[Math.floor(this.rand() * this.recentCount)] as number)
          : this.drawSlot(total);
      this.copyOut(slot, i, outFeatures, outTargets, outWeights);
    }
    return batch;
  }

  /**
   * Like sample() but without repeats (up to m rows; all of them when the buffer holds ≤ m): reference
   * sets for nearest-neighbour scores must not contain duplicates, or a row's twin is its neighbour.
   */
  sampleDistinct(
    m: number,
    outFeatures: Float32Array,
    outTargets: Float32Array,
    outWeights: Float32Array,
  ): number {
    if (this.count <= m) {
      for (let i = 0; i < this.count; i++) this.copyOut(i, i, outFeatures, outTargets, outWeights);
      return this.count;
    }
    if (!this.mark) this.mark = new Uint8Array(this.capacity);
    const mark = this.mark;
    const total = this.binTotal();
    const picked: number[] = [];
    for (let tries = 0; picked.length < m && tries < 20 * m; tries++) {
      const slot = this.drawSlot(total);
      if (mark[slot]) continue;
      mark[slot] = 1;
      picked.push(slot);
    }
    for (const [i, slot] of picked.entries()) {
      this.copyOut(slot, i, outFeatures, outTargets, outWeights);
      mark[slot] = 0;
    }
    return picked.length;
  }
}
