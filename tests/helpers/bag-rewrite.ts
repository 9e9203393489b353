// Copies a bag to an MCAP with each message passed through an edit: a short simulator bag turned
// into what a real robot's bag looks like (other encodings, CameraInfo, missing topics).

import { openBag } from "../../src/io/bag/index.ts";
import { Ros2McapWriter } from "../../src/io/bag/mcap-writer.ts";

export type Msg = Record<string, unknown>;

/** Copies `from` to `to`, each message through `edit` (null drops it) and renamed by `rename`. */
export async function rewriteBag(
  from: string,
  to: string,
  edit: (topic: string, m: Msg) => Msg | null,
  rename: (topic: string) => string = (t) => t,
): Promise<void> {
  const bag = await openBag(from);
  const out = await Ros2McapWriter.create(to, { compression: "none" });
  for await (const e of bag.messages()) {
    if (e.type !== "message") continue;
    const m = edit(e.topic, e.message as Msg);
    if (m) await out.write(rename(e.topic), e.schemaName, e.logTime, m);
  }
  await out.close();
  await bag.close();
}
