// `label` on a bag whose TF it cannot use: TF under a namespace (/robot1/tf) or a body frame other
// than frames.base (`chassis`). Label works without TF, taking "up" from gravity in the IMU's data,
// so it is not refused; it used to say nothing but "from gravity" in its summary. It now warns on
// stderr (and under "warnings" in --json) with the key to set, as replay's refusal names it, and
// labels on. The same bags with the keys set use TF.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { type Msg, rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "label-tf-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli(args, dir);

/** Every frame name `base_link` in a message (TF, odometry's child) renamed `chassis`. */
function chassis(m: unknown): Msg {
  if (m === "base_link") return "chassis" as unknown as Msg;
  if (Array.isArray(m)) return m.map(chassis) as unknown as Msg;
  if (!m || typeof m !== "object" || ArrayBuffer.isView(m)) return m as Msg;
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, chassis(v)]));
}

beforeAll(async () => {
  await generateWorldBag({
    out: join(dir, "sim.mcap"),
    duration: 6,
    camera: { width: 32, height: 24, rate: 2 },
  });
  const drop = (t: string) => t.startsWith("/sim/") || t.startsWith("/camera/");
  await rewriteBag(
    join(dir, "sim.mcap"),
    join(dir, "ns.mcap"),
    (t, m) => (drop(t) ? null : m),
    (t) => (t.startsWith("/tf") ? `/robot1${t}` : t),
  );
  await rewriteBag(join(dir, "sim.mcap"), join(dir, "chassis.mcap"), (t, m) =>
    drop(t) ? null : t.startsWith("/tf") || t === "/odom" ? chassis(m) : m,
  );
  writeFileSync(join(dir, "ns.yaml"), "topics:\n  tf: /robot1/tf\n  tf_static: /robot1/tf_static\n");
  writeFileSync(join(dir, "chassis.yaml"), "frames:\n  base: chassis\n");
}, 120_000);

const warnings = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("warning: "));

describe("label on a bag whose TF it cannot use", () => {
  it("TF under a namespace: one warning naming topics.tf and topics.tf_static; labels from gravity", async () => {
    const r = await cli("label", "ns.mcap");
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      "warning: ns.mcap: the bag's TF is on other topics than the config's: set topics.tf: /robot1/tf (not /tf) and topics.tf_static: /robot1/tf_static (not /tf_static) in a config file given with -c; \"up\" is taken from gravity in the IMU's data instead",
    ]);
    expect(r.stdout).toMatch(/from gravity in the data/);
  }, 120_000);

  it("with the topics set: TF is used, no warning", async () => {
    const r = await cli("label", "ns.mcap", "-c", "ns.yaml");
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
    expect(r.stdout).toMatch(/\] from TF\n/);
  }, 120_000);

  it("a body frame TF has but frames.base does not name: one warning naming frames.base; --json has it", async () => {
    const r = await cli("label", "chassis.mcap", "--json");
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!).summary;
    expect(summary.labels).toBeGreaterThan(0);
    expect(summary.vertical.source).toBe("gravity");
    expect(summary.warnings).toHaveLength(1);
    expect(summary.warnings[0]).toMatch(
      /^chassis\.mcap: frames\.base 'base_link' is in no transform on \/tf or \/tf_static, and the odometry \(\/odom\) moves 'chassis', which TF has: set frames\.base: chassis \(a config file with frames: \{base: chassis\}, given with -c\); TF frames: .*; "up" is taken from gravity in the IMU's data instead$/,
    );
    expect(warnings(r.stderr)).toEqual([`warning: ${summary.warnings[0]}`]);
  }, 120_000);

  it("with frames.base: chassis: TF is used, no warning", async () => {
    const r = await cli("label", "chassis.mcap", "-c", "chassis.yaml");
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([]);
    expect(r.stdout).toMatch(/\] from TF\n/);
  }, 120_000);
});
