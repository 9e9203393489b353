// An existing file under `export --out`: replaced only when it is an ONNX model.

import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "./errors.ts";

/**
 * An existing --out is replaced only when it is an ONNX model (an earlier export): a bag or params
 * file named there by mistake is the user's data. A serialised ModelProto starts with its
 * ir_version field (tag 0x08); an empty file holds nothing to lose.
 */
export function refuseNonModel(out: string): void {
  let first: number | undefined;
  try {
    const fd = openSync(out, "r");
    try {
      const b = new Uint8Array(1);
      if (readSync(fd, b, 0, 1, 0) === 1) first = b[0];
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // no such file yet (checkOutputs has refused what cannot be written)
  }
  if (first !== undefined && first !== 0x08)
    throw new UserError(
      `--out ${out}: an existing file that is not an ONNX model; refusing to replace it (give another name, or remove it first)`,
    );
}
