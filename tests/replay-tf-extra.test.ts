// The TF-topics check refuses a bag whose TF is only on other topics than topics.tf /
// topics.tf_static (a namespaced /robot1/tf). A bag that has its TF on the configured topics and,
// besides, another TF topic (a motion-capture or ground-truth /tf_gt) replays as without it: it is
// not refused, nor is the extra topic suggested in place of the one that works.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "replay-tf-extra-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 5,
    camera: { width: 64, height: 48, rate: 5 },
  });
  // The camera's mount on /tf_static, odometry on /odom, and the moving TF only under another name.
  await rewriteBag(
    join(dir, "sim.mcap"),
    join(dir, "tfgt.mcap"),
    (t, m) => (t.startsWith("/sim/") ? null : m),
    (t) => (t === "/tf" ? "/tf_gt" : t),
  );
}, 120_000);

describe("a bag with its TF on topics.tf_static and another TF topic besides", () => {
  it("replays, as it does without the other topic, and label does not warn about it", async () => {
    const r = await cli("replay", "tfgt.mcap", "--json");
    expect(r.stderr).not.toContain("other topics than the config's");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).frames).toBeGreaterThan(0);
    const l = await cli("label", "tfgt.mcap");
    expect(l.stderr).not.toContain("other topics than the config's");
  }, 120_000);
});
