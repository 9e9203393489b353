// A bag with the raw and the compressed camera topic (what `ros2 bag record -a` captures): replay
// read both, decoded every frame twice and reported each second copy as a duplicate. It now reads
// one, the raw one unless --compressed-image alone or ros.image_transport: compressed chooses the
// other, says once which topic it leaves out, and leaves it out of a --record recording too. (Three seconds teach nothing, so each run exits 1
// after its summary; the summary is what is checked.)

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { Ros2McapWriter } from "../src/io/bag/mcap-writer.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-both-cameras-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

type Img = { header: unknown; width: number; height: number; data: Uint8Array };

beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 3,
    camera: { width: 64, height: 48, rate: 5 },
  });
  // Each raw frame also as a JPEG on /camera/image_raw/compressed, as image_transport republishes it.
  const bag = await openBag(join(dir, "sim.mcap"));
  const out = await Ros2McapWriter.create(join(dir, "both.mcap"), { compression: "none" });
  // The same, with the raw topic in an encoding replay cannot read (NV21 from a phone-style driver).
  const nv21 = await Ros2McapWriter.create(join(dir, "nv21.mcap"), { compression: "none" });
  for await (const e of bag.messages()) {
    if (e.type !== "message" || e.topic.startsWith("/sim/")) continue;
    await out.write(e.topic, e.schemaName, e.logTime, e.message as Record<string, unknown>);
    const raw = e.topic === "/camera/image_raw";
    const asNv21 = raw ? { ...(e.message as Record<string, unknown>), encoding: "nv21" } : e.message;
    await nv21.write(e.topic, e.schemaName, e.logTime, asNv21 as Record<string, unknown>);
    if (!raw) continue;
    const m = e.message as Img;
    const jpeg = await sharp(m.data, { raw: { width: m.width, height: m.height, channels: 3 } })
      .jpeg()
      .toBuffer();
    const compressed = { header: m.header, format: "jpeg", data: new Uint8Array(jpeg) };
    await out.write("/camera/image_raw/compressed", "sensor_msgs/msg/CompressedImage", e.logTime, compressed);
    await nv21.write(
      "/camera/image_raw/compressed",
      "sensor_msgs/msg/CompressedImage",
      e.logTime,
      compressed,
    );
  }
  await out.close();
  await nv21.close();
  await bag.close();
  writeFileSync(join(dir, "compressed.yaml"), "ros:\n  image_transport: compressed\n");
}, 120_000);

const notes = (stderr: string) => stderr.split("\n").filter((l) => /leaves out/.test(l));

describe("a bag with both camera topics", () => {
  it("reads the raw one, says so once, and counts no duplicates", async () => {
    const r = await cli("replay", "both.mcap", "--json");
    const j = JSON.parse(r.stdout);
    expect(j.frames).toBe(15);
    expect(j.problems.duplicate).toBeUndefined();
    expect(notes(r.stderr)).toEqual([
      "terrain-learner: both.mcap: the bag has both camera topics: replay reads /camera/image_raw and leaves out /camera/image_raw/compressed (to read that one instead, give --compressed-image /camera/image_raw/compressed or set ros.image_transport: compressed)",
    ]);
  }, 120_000);

  it("--compressed-image alone chooses the compressed one", async () => {
    const r = await cli(
      "replay",
      "both.mcap",
      "--json",
      "--compressed-image",
      "/camera/image_raw/compressed",
    );
    expect(JSON.parse(r.stdout).problems.duplicate).toBeUndefined();
    expect(notes(r.stderr)).toEqual([
      "terrain-learner: both.mcap: the bag has both camera topics: replay reads /camera/image_raw/compressed and leaves out /camera/image_raw (to read that one instead, give --image /camera/image_raw or set ros.image_transport: raw)",
    ]);
  }, 120_000);

  it("ros.image_transport: compressed in the config chooses it too", async () => {
    const r = await cli("replay", "both.mcap", "--json", "-c", "compressed.yaml");
    expect(JSON.parse(r.stdout).problems.duplicate).toBeUndefined();
    expect(notes(r.stderr)[0]).toMatch(/replay reads \/camera\/image_raw\/compressed and leaves out/);
  }, 120_000);

  // --record copied every bag topic, the one replay left out included: the recording held each frame
  // twice, beside outputs made from one copy. It holds the topic replay read.
  it("--record records the camera topic replay read, not the one it left out", async () => {
    const cameras = async (path: string) => {
      const bag = await openBag(join(dir, path));
      const info = await bag.info();
      await bag.close();
      return info.topics.filter((t) => t.name.startsWith("/camera/image_raw") && t.count > 0);
    };
    await cli("replay", "both.mcap", "--record", "raw.mcap");
    expect(await cameras("raw.mcap")).toEqual([
      expect.objectContaining({ name: "/camera/image_raw", count: 15 }),
    ]);
    await cli(
      "replay",
      "both.mcap",
      "--record",
      "compressed.mcap",
      "--compressed-image",
      "/camera/image_raw/compressed",
    );
    expect(await cameras("compressed.mcap")).toEqual([
      expect.objectContaining({ name: "/camera/image_raw/compressed", count: 15 }),
    ]);
    // The other inputs are still there.
    const bag = await openBag(join(dir, "raw.mcap"));
    const names = (await bag.info()).topics.map((t) => t.name);
    await bag.close();
    expect(names).toEqual(expect.arrayContaining(["/camera/camera_info", "/imu/data", "/odom", "/tf"]));
  }, 120_000);

  // The raw topic chosen by default cannot be read while its compressed copy can: it was refused
  // ("none of the first ... frames can be used") though the compressed frames replay.
  it("falls back to the compressed one when no flag chose and the raw one cannot be read", async () => {
    const r = await cli("replay", "nv21.mcap", "--json");
    expect(JSON.parse(r.stdout).frames).toBe(15);
    expect(r.stderr).toMatch(
      /^terrain-learner: nv21\.mcap: the bag has both camera topics, and \/camera\/image_raw cannot be used: none of the first \d+ camera frames can be used \(\/camera\/image_raw: Image: unsupported encoding 'nv21'.*; replay reads \/camera\/image_raw\/compressed instead$/m,
    );
    // Named by a flag, the raw topic is what the user asked for: refused, not replaced.
    const named = await cli("replay", "nv21.mcap", "--image", "/camera/image_raw");
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/none of the first \d+ camera frames can be used/);
  }, 120_000);
});
