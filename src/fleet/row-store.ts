// Fixed-capacity stores of fleet rows (feature vector, label, weight, the sender's calibration bounds
// and peer index) in preallocated arrays, for the exchange's own reservoir, peer pool and batch.

/** A reservoir of rows in preallocated arrays (Vitter's R when full). */
export class RowStore {
  readonly features: Float32Array;
  readonly targets: Float32Array;
  readonly weights: Float32Array;
  readonly lo: Float32Array;
  readonly hi: Float32Array;
  readonly peer: Int32Array;
  size = 0;
  seen = 0;
  constructor(
    readonly capacity: number,
    readonly channels: number,
    private readonly rand: () => number,
  ) {
    this.features = new Float32Array(capacity * channels);
    this.targets = new Float32Array(capacity);
    this.weights = new Float32Array(capacity);
    this.lo = new Float32Array(capacity);
    this.hi = new Float32Array(capacity);
    this.peer = new Int32Array(capacity);
  }
  /** A slot for a new row (−1: not kept), uniform over everything offered. */
  slot(): number {
    this.seen++;
    if (this.size < this.capacity) return this.size++;
    const j = Math.floor(this.rand() * this.seen);
    return j < this.capacity ? j : -1;
  }
  put(
    slot: number,
    f: Float32Array,
    fo: number,
    t: number,
    w: number,
    lo: number,
    hi: number,
    peer = -1,
  ): void {
    const C = this.channels;
    this.features.set(f.subarray(fo, fo + C), slot * C);
    this.targets[slot] = t;
    this.weights[slot] = w;
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    this.peer[slot] = peer;
  }
  /** A slot for a new row that always takes it: when full, a random row makes room (true: evicted). */
  slotEvicting(): { slot: number; evicted: boolean } {
    if (this.size < this.capacity) return { slot: this.size++, evicted: false };
    return { slot: Math.floor(this.rand() * this.capacity), evicted: true };
  }
  /** Removes slot i by moving the last row into it. */
  remove(i: number): void {
    const last = --this.size;
    if (i === last) return;
    const C = this.channels;
    this.features.copyWithin(i * C, last * C, last * C + C);
    this.targets[i] = this.targets[last]!;
    this.weights[i] = this.weights[last]!;
    this.lo[i] = this.lo[last]!;
    this.hi[i] = this.hi[last]!;
    this.peer[i] = this.peer[last]!;
  }
}
