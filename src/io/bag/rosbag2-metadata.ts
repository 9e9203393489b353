// rosbag2's metadata.yaml: which storage plugin wrote the folder and which files belong to it.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";

export interface Rosbag2Metadata {
  version: number;
  storage: string;
  files: string[];
  compression: string;
  /** `compression_mode`: "FILE" (each data file compressed whole), "MESSAGE" (each message), or "". */
  compressionMode: string;
}

/** Reads `<dir>/metadata.yaml`; throws a clear Error naming the file for anything it cannot use. */
export async function readRosbag2Metadata(dir: string): Promise<Rosbag2Metadata> {
  const path = join(dir, "metadata.yaml");
  let doc: unknown;
  try {
    doc = parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: cannot read rosbag2 metadata: ${(err as Error).message}`);
  }
  const info = (doc as { rosbag2_bagfile_information?: Record<string, unknown> } | null)
    ?.rosbag2_bagfile_information;
  if (!info || typeof info !== "object")
    throw new Error(`${path}: not rosbag2 metadata (no rosbag2_bagfile_information)`);
  const storage = typeof info.storage_identifier === "string" ? info.storage_identifier : "";
  const rel = Array.isArray(info.relative_file_paths)
    ? info.relative_file_paths.filter((f) => typeof f === "string")
    : [];
  const compression = typeof info.compression_format === "string" ? info.compression_format : "";
  const compressionMode =
    typeof info.compression_mode === "string" ? info.compression_mode.toUpperCase() : "";
  return {
    version: typeof info.version === "number" ? info.version : 0,
    storage,
    files: (rel as string[]).map((f) => join(dir, f)),
    compression,
    compressionMode,
  };
}
