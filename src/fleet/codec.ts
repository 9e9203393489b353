// The fleet's wire format: a batch (or a snapshot) of one robot's training samples, little-endian.
//
//   header   magic "TLF1" u32 · version u8 · kind u8 (0 samples, 1 snapshot) · target kind u8
//            (0 log10 energy, 1 roughness) · robot id length u8 · channels u16 · backbone channels u16
//            · input width u16 · layout version u16 · n u32 · seq u32 · stamp f64 · sent (wall s) f64
//            · lo f32 · hi f32 · backbone hash 16 bytes · robot id (utf8)
//   body     n × (target f32, weight f32), then n × channels features f32
//
// decodeBatch checks everything a hostile or broken peer could get wrong (length, magic, counts,
// finite numbers, ranges, the robot id against the topic it came on) and says why it refused, so the
// receiver can count each reason. It never throws on bad bytes.

export const FLEET_MAGIC = 0x31464c54; // "TLF1"
export const FLEET_VERSION = 1;
/** Bump when the meaning of the head's feature vector changes (features.ts). */
export const FLEET_LAYOUT_VERSION = 1;
const FIXED = 4 + 4 + 2 * 4 + 4 + 4 + 8 + 8 + 4 + 4 + 16;
/** Log10 energies and roughness outside this are not labels (energy spans ~±6 in practice). */
const TARGET_LIMIT = 30;
const WEIGHT_LIMIT = 1e3;
/** The longest robot id a payload holds (UTF-8 bytes). */
export const MAX_ID = 64;

/** What must match for a peer's feature vectors to mean the same as ours. */
export interface FleetModel {
  /** First 16 bytes of the SHA-256 of the backbone's ONNX file. */
  backboneHash: Uint8Array;
  /** The head's feature vector length. */
  channels: number;
  backboneChannels: number;
  inputWidth: number;
  layoutVersion: number;
}

export interface FleetBatch {
  kind: "samples" | "snapshot";
  robotId: string;
  model: FleetModel;
  targetKind: "logEnergy" | "roughness";
  n: number;
  seq: number;
  /** Sensor time of the newest sample (s). */
  stamp: number;
  /** Publisher's wall clock when sent (s since the epoch), for delivery latency. */
  sent: number;
  /** The publisher's label calibration bounds (log10 energy); NaN for roughness targets. */
  lo: number;
  hi: number;
  targets: Float32Array;
  weights: Float32Array;
  features: Float32Array;
}

export type RejectReason =
  | "size"
  | "schema"
  | "backbone"
  | "layout"
  | "non_finite"
  | "range"
  | "spoofed"
  /** A snapshot on a samples topic or a batch on a snapshot topic. */
  | "kind"
  | "rate"
  | "peers"
  /** A peer's label with no value on our scale (its roughness, before this robot has bounds). */
  | "unscaled";

export const REJECT_REASONS: readonly RejectReason[] = [
  "size",
  "schema",
  "backbone",
  "layout",
  "non_finite",
  "range",
  "spoofed",
  "kind",
  "rate",
  "peers",
  "unscaled",
];

export function batchBytes(idLength: number, n: number, channels: number): number {
  return FIXED + idLength + n * 8 + n * channels * 4;
}

export function encodeBatch(b: FleetBatch): Uint8Array {
  const id = new TextEncoder().encode(b.robotId);
  if (id.length > MAX_ID) throw new Error(`fleet: robot id longer than ${MAX_ID} bytes`);
  const C = b.model.channels;
  const bytes = new Uint8Array(batchBytes(id.length, b.n, C));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, FLEET_MAGIC, true);
  dv.setUint8(4, FLEET_VERSION);
  dv.setUint8(5, b.kind === "snapshot" ? 1 : 0);
  dv.setUint8(6, b.targetKind === "roughness" ? 1 : 0);
  dv.setUint8(7, id.length);
  dv.setUint16(8, C, true);
  dv.setUint16(10, b.model.backboneChannels, true);
  dv.setUint16(12, b.model.inputWidth, true);
  dv.setUint16(14, b.model.layoutVersion, true);
  dv.setUint32(16, b.n, true);
  dv.setUint32(20, b.seq >>> 0, true);
  dv.setFloat64(24, b.stamp, true);
  dv.setFloat64(32, b.sent, true);
  dv.setFloat32(40, b.lo, true);
  dv.setFloat32(44, b.hi, true);
  bytes.set(b.model.backboneHash.subarray(0, 16), 48);
  bytes.set(id, FIXED);
  let o = FIXED + id.length;
  for (let i = 0; i < b.n; i++, o += 8) {
    dv.setFloat32(o, b.targets[i]!, true);
    dv.setFloat32(o + 4, b.weights[i]!, true);
  }
  for (let i = 0; i < b.n * C; i++, o += 4) dv.setFloat32(o, b.features[i]!, true);
  return bytes;
}

/** The model a payload claims (undefined: not a fleet payload); no other checks. */
export function readModel(bytes: Uint8Array): FleetModel | undefined {
  if (bytes.length < FIXED) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== FLEET_MAGIC) return undefined;
  return {
    backboneHash: bytes.slice(48, 64),
    channels: dv.getUint16(8, true),
    backboneChannels: dv.getUint16(10, true),
    inputWidth: dv.getUint16(12, true),
    layoutVersion: dv.getUint16(14, true),
  };
}

export type DecodeResult =
  | { ok: true; batch: FleetBatch }
  | { ok: false; reason: RejectReason; detail: string };

const fail = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < 16 || b.length < 16) return false;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

const layoutName = (m: FleetModel) =>
  `${m.channels}/${m.backboneChannels}/${m.inputWidth}/v${m.layoutVersion}`;

export interface DecodeLimits {
  maxBytes: number;
  /** The robot id the topic names: a payload claiming another id is refused. */
  topicRobotId?: string;
  /** The kind the topic names (.../samples, .../snapshot): a payload of the other kind is refused. */
  topicKind?: "samples" | "snapshot";
}

/** Parses and validates one payload against our model; never throws. */
export function decodeBatch(bytes: Uint8Array, ours: FleetModel, limits: DecodeLimits): DecodeResult {
  if (bytes.length > limits.maxBytes) return fail("size", `${bytes.length} bytes > ${limits.maxBytes}`);
  if (bytes.length < FIXED) return fail("schema", `${bytes.length} bytes is shorter than the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== FLEET_MAGIC) return fail("schema", "bad magic");
  if (dv.getUint8(4) !== FLEET_VERSION)
    return fail(
      "schema",
      `format version ${dv.getUint8(4)}, ours ${FLEET_VERSION}: the peer runs a terrain-learner release with another fleet format`,
    );
  const kindByte = dv.getUint8(5);
  const targetByte = dv.getUint8(6);
  if (kindByte > 1 || targetByte > 1) return fail("schema", "bad kind");
  const idLength = dv.getUint8(7);
  if (idLength === 0 || idLength > MAX_ID) return fail("schema", `robot id length ${idLength}`);
  const C = dv.getUint16(8, true);
  const n = dv.getUint32(16, true);
  if (bytes.length !== batchBytes(idLength, n, C))
    return fail("schema", `${bytes.length} bytes for ${n} samples × ${C} channels`);
  const model: FleetModel = {
    backboneHash: bytes.slice(48, 64),
    channels: C,
    backboneChannels: dv.getUint16(10, true),
    inputWidth: dv.getUint16(12, true),
    layoutVersion: dv.getUint16(14, true),
  };
  let robotId: string;
  try {
    robotId = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(FIXED, FIXED + idLength));
  } catch {
    return fail("schema", "robot id is not UTF-8");
  }
  if (/[+#/\s]/.test(robotId)) return fail("schema", "robot id has '/', '+', '#' or spaces");
  if (limits.topicRobotId !== undefined && robotId !== limits.topicRobotId)
    return fail("spoofed", `payload of '${robotId}' on the topic of '${limits.topicRobotId}'`);
  const kind = kindByte === 1 ? "snapshot" : "samples";
  if (limits.topicKind !== undefined && kind !== limits.topicKind)
    return fail(
      "kind",
      `a ${kind === "snapshot" ? "snapshot" : "batch of samples"} on a ${limits.topicKind} topic`,
    );
  if (!sameHash(model.backboneHash, ours.backboneHash))
    return fail(
      "backbone",
      `another backbone (${Buffer.from(model.backboneHash).toString("hex")}, ours ${Buffer.from(ours.backboneHash).toString("hex")})`,
    );
  if (
    model.channels !== ours.channels ||
    model.backboneChannels !== ours.backboneChannels ||
    model.inputWidth !== ours.inputWidth ||
    model.layoutVersion !== ours.layoutVersion
  )
    return fail(
      "layout",
      `feature layout ${layoutName(model)}, ours ${layoutName(ours)} (head/backbone channels/input_width/version)`,
    );
  const stamp = dv.getFloat64(24, true);
  const sent = dv.getFloat64(32, true);
  const lo = dv.getFloat32(40, true);
  const hi = dv.getFloat32(44, true);
  const targetKind = targetByte === 1 ? "roughness" : "logEnergy";
  if (!Number.isFinite(stamp) || !Number.isFinite(sent)) return fail("non_finite", "stamp");
  if (targetKind === "logEnergy" && !(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo))
    return fail("range", "calibration bounds");
  const targets = new Float32Array(n);
  const weights = new Float32Array(n);
  let o = FIXED + idLength;
  for (let i = 0; i < n; i++, o += 8) {
    const t = dv.getFloat32(o, true);
    const w = dv.getFloat32(o + 4, true);
    if (!Number.isFinite(t) || !Number.isFinite(w)) return fail("non_finite", `sample ${i}`);
    if (Math.abs(t) > TARGET_LIMIT || !(w > 0) || w > WEIGHT_LIMIT) return fail("range", `sample ${i}`);
    if (targetKind === "roughness" && (t < 0 || t > 1)) return fail("range", `roughness of sample ${i}`);
    targets[i] = t;
    weights[i] = w;
  }
  const features = new Float32Array(n * C);
  for (let i = 0; i < n * C; i++, o += 4) {
    const x = dv.getFloat32(o, true);
    if (!Number.isFinite(x)) return fail("non_finite", `feature ${i}`);
    features[i] = x;
  }
  return {
    ok: true,
    batch: {
      kind,
      robotId,
      model,
      targetKind,
      n,
      seq: dv.getUint32(20, true),
      stamp,
      sent,
      lo,
      hi,
      targets,
      weights,
      features,
    },
  };
}
