// Reads the simulator's world description (MCAP metadata record `terrain_learner_sim`) from a bag.
// The bag-source interface carries messages only; metadata records are an MCAP feature, read here
// directly through the summary's metadata index (no chunk is decompressed).

import { open } from "node:fs/promises";
import { McapIndexedReader } from "@mcap/core";
import { FileHandleReadable } from "@mcap/nodejs";

export const SIM_METADATA_NAME = "terrain_learner_sim";

/** The metadata record `name` of an MCAP file, or undefined (not MCAP, no index, no such record). */
export async function readMcapMetadata(
  path: string,
  name = SIM_METADATA_NAME,
): Promise<Map<string, string> | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, "r");
    const reader = await McapIndexedReader.Initialize({ readable: new FileHandleReadable(handle) });
    for await (const record of reader.readMetadata({ name })) return record.metadata;
    return undefined;
  } catch {
    // Not an MCAP, or an unindexed one: the evaluation falls back to the driven trajectory.
    return undefined;
  } finally {
    await handle?.close();
  }
}
