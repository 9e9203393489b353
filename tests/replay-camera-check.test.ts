// A camera topic whose frames cannot be used (a depth camera's 16UC1, an encoding not read): replay
// read the whole bag, printed a summary of 0 frames and only then the reason. It now tries the
// frames of the first 2 s (five at least) and refuses before reading; a bag whose first frames are
// damaged but whose later ones are fine is not refused.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { type Msg, rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-camera-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 3,
    camera: { width: 64, height: 48, rate: 5 },
  });
  const copy = async (name: string, image: (m: Msg, i: number) => Msg) => {
    let i = 0;
    await rewriteBag(join(dir, "sim.mcap"), join(dir, name), (t, m) =>
      t.startsWith("/sim/") ? null : t === "/camera/image_raw" ? image(m, i++) : m,
    );
  };
  await copy("depth.mcap", (m) => ({ ...m, encoding: "16UC1" }));
  await copy("rgb16.mcap", (m) => ({ ...m, encoding: "rgb16" }));
  // The first two frames cut short (a driver's hiccup), the rest intact.
  await copy("hiccup.mcap", (m, i) => (i < 2 ? { ...m, data: (m.data as Uint8Array).subarray(0, 10) } : m));
  // Six empty frames while the camera starts (1.2 s at 5 Hz): more than five, less than the 2 s judged.
  await copy("startup.mcap", (m, i) => (i < 6 ? { ...m, data: new Uint8Array(0) } : m));
}, 120_000);

describe("a camera topic that gives no usable frame", () => {
  it("a depth topic is refused before reading: no summary, one line, exit 1", async () => {
    const r = await cli("replay", "depth.mcap");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "terrain-learner: depth.mcap: none of the first 11 camera frames can be used (/camera/image_raw: Image: encoding '16UC1' is a depth image, not a camera's picture (give the colour or mono camera's topic)); use --image or --compressed-image to name the colour or mono camera's topic\n",
    );
  }, 120_000);

  it("an encoding it cannot read names it", async () => {
    const r = await cli("replay", "rgb16.mcap", "--json");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^terrain-learner: rgb16\.mcap: none of the first 11 camera frames can be used \(\/camera\/image_raw: Image: unsupported encoding 'rgb16' \(supported: /,
    );
  }, 120_000);

  it("two damaged frames, then good ones: replayed, the two counted", async () => {
    const r = await cli("replay", "hiccup.mcap", "--json");
    expect(r.stderr).not.toMatch(/none of the first/);
    expect(JSON.parse(r.stdout).frames).toBe(13);
  }, 120_000);

  it("empty frames while the camera starts, for less than 2 s: replayed", async () => {
    const r = await cli("replay", "startup.mcap", "--json");
    expect(r.stderr).not.toMatch(/none of the first/);
    expect(JSON.parse(r.stdout).frames).toBe(9);
  }, 120_000);
});
