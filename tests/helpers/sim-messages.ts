// A short simulator drive at 160×120, as the messages a ROS 2 node would receive (decoded from the
// real bag, in log-time order): what the fake-rclnodejs tests deliver.

import { generateWorldBag } from "../../sim/index.ts";
import { type BagMessage, openBag } from "../../src/io/bag/index.ts";

export async function simDriveMessages(out: string, seed: number, duration: number): Promise<BagMessage[]> {
  await generateWorldBag({ out, seed, duration, camera: { width: 160, height: 120 } });
  const bag = await openBag(out);
  const messages: BagMessage[] = [];
  try {
    for await (const e of bag.messages({})) if (e.type === "message") messages.push(e);
  } finally {
    await bag.close();
  }
  return messages;
}
