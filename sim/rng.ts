// Seeded randomness for the simulator. Nothing in sim/ may use Math.random or the clock: the same
// seed must give the same bag byte for byte. Each subsystem draws from its own stream (derived from
// the seed and a name), so that e.g. a different camera rate does not change the IMU noise.

/** 32-bit integer hash (lowbias32, Chris Wellons): good avalanche, cheap. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Hash of a lattice point (ix, iy) with a seed → [0, 1). The seed is mixed in as given: pass it
 * through `hash32` (or `deriveSeed`) first so that nearby seeds give unrelated fields.
 */
export function hash2(ix: number, iy: number, seed: number): number {
  let x = (Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ seed) >>> 0;
  // lowbias32 inlined: this is the inner loop of every texture and noise field.
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

/** Seed for a named stream, so that streams are independent of each other. */
export function deriveSeed(seed: number, name: string): number {
  let h = hash32(seed >>> 0 || 0x9e3779b9);
  for (let i = 0; i < name.length; i++) h = hash32((h ^ name.charCodeAt(i)) >>> 0);
  return h;
}

/** mulberry32: a small, fast, well-distributed 32-bit PRNG. */
export class Rng {
  #state: number;
  #spare = Number.NaN;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  static stream(seed: number, name: string): Rng {
    return new Rng(deriveSeed(seed, name));
  }

  /** Uniform [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  gauss(): number {
    if (!Number.isNaN(this.#spare)) {
      const s = this.#spare;
      this.#spare = Number.NaN;
      return s;
    }
    let u = this.next();
    while (u <= 1e-300) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("cannot pick from an empty list");
    return items[this.int(items.length)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}
