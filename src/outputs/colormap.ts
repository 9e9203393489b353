// Roughness colour map shared by the overlay image and the evaluation plots, so that a person
// reads the same colour as the same roughness everywhere: green (smooth) → yellow → red (rough),
// dark red for the roughest. A 256-entry LUT keeps the per-pixel path to one table read.

const ANCHORS: readonly (readonly [number, number, number, number])[] = [
  [0.0, 26, 152, 80],
  [0.25, 145, 207, 96],
  [0.5, 254, 224, 139],
  [0.75, 244, 109, 67],
  [1.0, 165, 0, 38],
];

/** 256 × rgb, index = round(roughness × 255). */
export const ROUGHNESS_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < ANCHORS.length - 2 && t > ANCHORS[k + 1]![0]) k++;
    const a = ANCHORS[k]!;
    const b = ANCHORS[k + 1]!;
    const f = (t - a[0]) / (b[0] - a[0]);
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(a[c + 1]! + f * (b[c + 1]! - a[c + 1]!));
  }
  return lut;
})();

/** LUT index for a roughness value (clamped to 0..1; NaN → -1). */
export function lutIndex(roughness: number): number {
  if (!Number.isFinite(roughness)) return -1;
  const r = roughness < 0 ? 0 : roughness > 1 ? 1 : roughness;
  return Math.round(r * 255);
}

/** CSS colour for a roughness value (plots, legends). */
export function roughnessCss(roughness: number): string {
  const i = lutIndex(roughness);
  if (i < 0) return "rgb(128,128,128)";
  return `rgb(${ROUGHNESS_LUT[3 * i]},${ROUGHNESS_LUT[3 * i + 1]},${ROUGHNESS_LUT[3 * i + 2]})`;
}
