// A corrupt LZ4 chunk costs that chunk, not the rest of the bag: the wasm LZ4 decoder fails every
// call after its first failure, so a reader that kept using it lost every later chunk, and every
// later bag read by the same process. ROS 1 bags written with LZ4 chunks (as `rosbag record --lz4`).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openBag } from "../src/io/bag/index.ts";
import { ros1Imu, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-lz4-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function imuBag(): Uint8Array {
  const msgs = Array.from({ length: 60 }, (_, i) => ros1Imu(i, { sec: 100, nsec: i * 10_000_000 }));
  return writeRos1Bag(msgs, { compression: "lz4", chunkMessages: 15 });
}

async function count(path: string): Promise<{ messages: number; problems: string[] }> {
  const source = await openBag(path);
  let messages = 0;
  const problems: string[] = [];
  try {
    for await (const e of source.messages({})) {
      if (e.type === "message") messages++;
      else if (e.type === "problem") problems.push(e.message);
    }
  } finally {
    await source.close();
  }
  return { messages, problems };
}

describe("ROS 1 bag with LZ4 chunks", () => {
  it("a corrupt chunk loses that chunk only; an intact bag read after it reads whole", async () => {
    const bytes = imuBag();
    const intact = join(dir, "intact.bag");
    writeFileSync(intact, bytes);
    // Two bytes cut from the third of four chunks: its data no longer decodes, and every later
    // offset (the index) is off, so the reader scans the chunks one by one.
    const at = Math.round(bytes.length * 0.7);
    const corrupt = join(dir, "corrupt.bag");
    writeFileSync(corrupt, Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 2)]));

    expect((await count(intact)).messages).toBe(60);
    const broken = await count(corrupt);
    expect(broken.messages, broken.problems.join("\n")).toBeGreaterThanOrEqual(30);
    expect(broken.problems.length).toBeGreaterThan(0);
    const again = await count(intact);
    expect(again.messages, again.problems.join("\n")).toBe(60);
    expect(again.problems).toEqual([]);
  });
});
