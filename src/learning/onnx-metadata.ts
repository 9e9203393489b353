// ONNX metadata_props reading, and parsing of the per-channel normalisation values stored there.
//
// ModelProto.metadata_props is field 14 (StringStringEntryProto: key=1, value=2). onnxruntime-node
// does not expose custom metadata, and decoding a 100 MB ViT just to read a few strings is wasteful,
// so scan the top-level fields and skip everything else by length.

import { closeSync, openSync, readSync } from "node:fs";

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    if (b === undefined) throw new Error(`varint runs past end at ${pos + i}`);
    result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [result, pos + i + 1];
    mul *= 128;
  }
  throw new Error(`varint longer than 10 bytes at ${pos}`);
}

function parseStringEntry(buf: Uint8Array): [string, string] {
  let key = "";
  let value = "";
  let pos = 0;
  const dec = new TextDecoder();
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    if ((tag & 7) !== 2) throw new Error(`unexpected wire type ${tag & 7} in metadata entry`);
    const [len, p2] = readVarint(buf, p1);
    const s = dec.decode(buf.subarray(p2, p2 + len));
    if (tag >>> 3 === 1) key = s;
    else if (tag >>> 3 === 2) value = s;
    pos = p2 + len;
  }
  return [key, value];
}

/** Reads an ONNX file's metadata_props (key → value). Throws if the file is not a protobuf ModelProto. */
export function readOnnxMetadata(path: string): Record<string, string> {
  const fd = openSync(path, "r");
  try {
    const out: Record<string, string> = {};
    const head = new Uint8Array(20);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, head, 0, head.length, pos);
      if (n === 0) break;
      const view = head.subarray(0, n);
      const [tag, p1] = readVarint(view, 0);
      const field = tag >>> 3;
      const wire = tag & 7;
      let next: number;
      if (wire === 0) {
        next = pos + readVarint(view, p1)[1];
      } else if (wire === 2) {
        const [len, p2] = readVarint(view, p1);
        if (field === 14) {
          const entry = new Uint8Array(len);
          readSync(fd, entry, 0, len, pos + p2);
          const [k, v] = parseStringEntry(entry);
          out[k] = v;
        }
        next = pos + p2 + len;
      } else if (wire === 1) {
        next = pos + p1 + 8;
      } else if (wire === 5) {
        next = pos + p1 + 4;
      } else {
        throw new Error(`${path}: not an ONNX model (protobuf wire type ${wire} at byte ${pos})`);
      }
      pos = next;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** A metadata value that is one number (all channels) or three comma-separated ones; `fallback` when absent. */
export function parseTriple(
  s: string | undefined,
  fallback: number,
  key: string,
  path: string,
): [number, number, number] {
  if (s === undefined || s.trim() === "") return [fallback, fallback, fallback];
  const parts = s.split(",").map((x) => Number(x.trim()));
  if (parts.length === 1 && Number.isFinite(parts[0]))
    return [parts[0] as number, parts[0] as number, parts[0] as number];
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
    throw new Error(`${path}: metadata ${key}="${s}" must be one number or three comma-separated numbers`);
  }
  return parts as [number, number, number];
}
