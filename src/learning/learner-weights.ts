// The learner's weights format: networks, normaliser, novelty statistics and kNN references in one
// little-endian buffer with a self-describing header (what getWeights/setWeights and checkpoints carry).

const MAGIC = 0x31484c54; // "TLH1"
/**
 * Weights format: 2 added the head target and its fixed units (format 1 heads predicted calibrated
 * roughness through a sigmoid; their weights mean something else and are refused).
 */
const FORMAT = 2;
/** 8 u32 + 12 f64. */
const HEADER_BYTES = 8 * 4 + 12 * 8;
/** Weights are (de)serialised by byte copies on little-endian hosts (all onnxruntime-node ships for). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Writes `values` as little-endian float32 at byte `offset` of `dv`. */
function putFloat32s(dv: DataView, offset: number, values: Float32Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(dv.buffer, dv.byteOffset + offset, values.byteLength).set(
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
  } else {
    for (let i = 0; i < values.length; i++) dv.setFloat32(offset + 4 * i, values[i] as number, true);
  }
}

/** Reads `count` little-endian float32 at byte `offset` of `dv` (any alignment) into a new array. */
function getFloat32s(dv: DataView, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(new Uint8Array(dv.buffer, dv.byteOffset + offset, 4 * count));
  } else {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  }
  return out;
}

/** Everything a predictor needs, as the learner holds it. */
export interface LearnerWeights {
  /** Head weight arrays, in TerrainHead.shapes() order. */
  arrays: Float32Array[];
  /** kNN novelty references (row-major, refs.length / channels rows; empty for the autoencoder). */
  refs: Float32Array;
  steps: number;
  normCount: number;
  normMean: Float64Array;
  normM2: Float64Array;
  errMean: number;
  errStd: number;
  lastLoss: number;
  lastReconLoss: number;
  /** Label calibration bounds (NaN: none). */
  calLo: number;
  calHi: number;
  /** The labels' scale between the bounds (0 in files written before it existed: a log scale). */
  calExponent: number;
  logHead: boolean;
  /** A log-energy head's fixed target units (null: not set). */
  units: { offset: number; scale: number } | null;
}

/** The layout a reader expects (its own networks). */
export interface WeightsLayout {
  channels: number;
  hidden: number;
  bottleneck: number;
  logHead: boolean;
  shapes: number[][];
}

export function encodeWeights(w: LearnerWeights, layout: Omit<WeightsLayout, "shapes">): ArrayBuffer {
  const { arrays, refs } = w;
  const C = layout.channels;
  const headerBytes = HEADER_BYTES;
  const normBytes = 2 * C * 8;
  const floats = arrays.reduce((a, x) => a + x.length, 0);
  const refCount = refs.length / C;
  const buf = new ArrayBuffer(headerBytes + normBytes + (floats + refs.length) * 4);
  const dv = new DataView(buf);
  const u32 = [MAGIC, FORMAT, C, layout.hidden, layout.bottleneck, arrays.length, floats, refCount];
  u32.forEach((v, i) => {
    dv.setUint32(i * 4, v, true);
  });
  const f64 = [
    w.steps,
    w.normCount,
    w.errMean,
    w.errStd,
    w.lastLoss,
    w.lastReconLoss,
    w.calLo,
    w.calHi,
    w.logHead ? 1 : 0,
    w.units?.offset ?? Number.NaN,
    w.units?.scale ?? Number.NaN,
    w.calExponent,
  ];
  f64.forEach((v, i) => {
    dv.setFloat64(32 + i * 8, v, true);
  });
  let o = headerBytes;
  for (let k = 0; k < C; k++, o += 8) dv.setFloat64(o, w.normMean[k] as number, true);
  for (let k = 0; k < C; k++, o += 8) dv.setFloat64(o, w.normM2[k] as number, true);
  for (const a of arrays) {
    putFloat32s(dv, o, a);
    o += a.byteLength;
  }
  putFloat32s(dv, o, refs);
  return buf;
}

/** Parses and checks encodeWeights() output against the reader's layout; throws on any mismatch. */
export function decodeWeights(bytes: Uint8Array, layout: WeightsLayout): LearnerWeights {
  if (bytes.byteLength < HEADER_BYTES)
    throw new Error(`learner weights: ${bytes.byteLength} bytes is too short for the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== MAGIC) throw new Error(`learner weights: bad magic 0x${magic.toString(16)}`);
  const format = dv.getUint32(4, true);
  if (format !== FORMAT) {
    throw new Error(
      `learner weights: format ${format}, this terrain-learner reads format ${FORMAT} (format 1 was written before the head could learn log energy; its weights cannot be converted: start a fresh model or remove the old checkpoints)`,
    );
  }
  const logHead = dv.getFloat64(96, true) === 1;
  if (logHead !== layout.logHead) {
    const name = (b: boolean) => (b ? "log_energy" : "roughness");
    throw new Error(
      `learner weights are for learner.head_target ${name(logHead)}; this learner has ${name(layout.logHead)}`,
    );
  }
  const C = dv.getUint32(8, true);
  const hidden = dv.getUint32(12, true);
  const bottleneck = dv.getUint32(16, true);
  const nArrays = dv.getUint32(20, true);
  const floats = dv.getUint32(24, true);
  if (C !== layout.channels || hidden !== layout.hidden || bottleneck !== layout.bottleneck) {
    throw new Error(
      `learner weights are for ${C} channels/${hidden} hidden/${bottleneck} bottleneck; this learner has ${layout.channels}/${layout.hidden}/${layout.bottleneck}`,
    );
  }
  const refCount = dv.getUint32(28, true);
  const expected = HEADER_BYTES + 16 * C + 4 * floats + 4 * refCount * C;
  if (bytes.byteLength !== expected)
    throw new Error(`learner weights: ${bytes.byteLength} bytes, expected ${expected}`);
  const shapes = layout.shapes;
  if (nArrays !== shapes.length)
    throw new Error(`learner weights: ${nArrays} tensors, expected ${shapes.length}`);
  let o = HEADER_BYTES + 16 * C;
  const arrays = shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const a = getFloat32s(dv, o, size);
    o += 4 * size;
    return a;
  });
  const refs = getFloat32s(dv, o, refCount * C);
  const normMean = new Float64Array(C);
  const normM2 = new Float64Array(C);
  for (let k = 0; k < C; k++) normMean[k] = dv.getFloat64(HEADER_BYTES + 8 * k, true);
  for (let k = 0; k < C; k++) normM2[k] = dv.getFloat64(HEADER_BYTES + 8 * (C + k), true);
  const offset = dv.getFloat64(104, true);
  const scale = dv.getFloat64(112, true);
  return {
    arrays,
    refs,
    steps: dv.getFloat64(32, true),
    normCount: dv.getFloat64(40, true),
    normMean,
    normM2,
    errMean: dv.getFloat64(48, true),
    errStd: dv.getFloat64(56, true),
    lastLoss: dv.getFloat64(64, true),
    lastReconLoss: dv.getFloat64(72, true),
    calLo: dv.getFloat64(80, true),
    calHi: dv.getFloat64(88, true),
    calExponent: dv.getFloat64(120, true),
    logHead,
    units: scale > 0 ? { offset, scale } : null,
  };
}
