// Costmap agreement: how right the published costmap is where the flicker looks. A costmap can be
// made steadier by averaging away its better views (docs/learning.md, "Where the flicker comes
// from"), so the flicker is read beside this figure: Spearman's ρ of the costmap's value against the
// true roughness of its ground, pooled over every (cell, frame) of the cells in view (the cells the
// flicker follows: one terrain type, a known value). Every frame counts its in-view cells once, so a
// cell in view longer weighs more, as in the flicker.

import type { InViewCell } from "./costmap-flicker.ts";
import { spearman } from "./metrics.ts";

export class CostmapAgreementMeter {
  #values = new Uint8Array(1 << 16);
  #truth = new Float32Array(1 << 16);
  #n = 0;

  /** One frame's cells in view (cellsInView); cells of two types or unknown truth are skipped. */
  observeCells(cells: Map<number, InViewCell>): void {
    for (const c of cells.values()) {
      if (c.type < 0 || !Number.isFinite(c.truth)) continue;
      if (this.#n === this.#values.length) this.#grow();
      this.#values[this.#n] = c.value;
      this.#truth[this.#n] = c.truth;
      this.#n++;
    }
  }

  /** (cell, frame) samples pooled. */
  get samples(): number {
    return this.#n;
  }

  /** Spearman ρ of value against truth; null with fewer than two samples or either side constant. */
  get rho(): number | null {
    if (this.#n < 2) return null;
    const r = spearman(this.#values.subarray(0, this.#n), this.#truth.subarray(0, this.#n));
    return Number.isFinite(r) ? r : null;
  }

  #grow(): void {
    const v = new Uint8Array(this.#values.length * 2);
    v.set(this.#values);
    this.#values = v;
    const t = new Float32Array(this.#truth.length * 2);
    t.set(this.#truth);
    this.#truth = t;
  }
}
