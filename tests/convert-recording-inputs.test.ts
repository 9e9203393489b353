// `sim convert-recording` never replaces a file it reads: the BorealTC speed file found beside the
// IMU file (not only one named with --pro) and the --world file are inputs too; a missing or bad
// world file is one line, and the output is written through the shared atomic writer. A speed file
// that leaves the IMU run without speed is refused rather than held at its last value.

import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WORLDS_DIR } from "../sim/index.ts";
import { BOREAL_DIR } from "./core-borealtc-helpers.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "convert-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli(["sim", "convert-recording", ...args], dir);

describe("sim convert-recording: inputs are never outputs", () => {
  mkdirSync(join(dir, "bt"));
  copyFileSync(join(BOREAL_DIR, "ASPHALT/imu_04.csv"), join(dir, "bt/imu_04.csv"));
  copyFileSync(join(BOREAL_DIR, "ASPHALT/pro_04.csv"), join(dir, "bt/pro_04.csv"));
  copyFileSync(join(WORLDS_DIR, "stripes.yaml"), join(dir, "w3.yaml"));
  const pro = readFileSync(join(dir, "bt/pro_04.csv"));
  const world = readFileSync(join(dir, "w3.yaml"));

  it("refuses the default pro_NN.csv beside the IMU file as OUT", async () => {
    const r = await cli("--format", "borealtc", "bt/imu_04.csv", "bt/pro_04.csv");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      "terrain-learner: OUT bt/pro_04.csv is the input bt/pro_04.csv; refusing to overwrite it",
    );
    expect(readFileSync(join(dir, "bt/pro_04.csv")).equals(pro)).toBe(true);
  }, 120_000);

  it("refuses the --world file as OUT", async () => {
    const r = await cli("--format", "borealtc", "bt/imu_04.csv", "w3.yaml", "-w", "w3.yaml");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(
      "terrain-learner: OUT w3.yaml is the input w3.yaml; refusing to overwrite it",
    );
    expect(readFileSync(join(dir, "w3.yaml")).equals(world)).toBe(true);
  }, 120_000);

  it("a missing or invalid world file is one line; nothing is written", async () => {
    let r = await cli("--format", "borealtc", "bt/imu_04.csv", "o.csv", "-w", "nonexist.yaml");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe("terrain-learner: --world nonexist.yaml: no such file\n");
    writeFileSync(join(dir, "bad.yaml"), "foo: 1\n");
    r = await cli("--format", "borealtc", "bt/imu_04.csv", "o.csv", "-w", "bad.yaml");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^terrain-learner: --world bad\.yaml: invalid world/);
    expect(readdirSync(dir)).not.toContain("o.csv");
  }, 120_000);

  it("writes the output whole, with no temporary file left beside it", async () => {
    writeFileSync(join(dir, "o.csv"), "earlier\n");
    const r = await cli("--format", "borealtc", "bt/imu_04.csv", "o.csv", "-w", "w3.yaml");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "o.csv"), "utf8")).toMatch(/^#/);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp-"))).toEqual([]);
  }, 120_000);

  it("refuses a speed file that does not cover the IMU run (truncated or another run's): one line, nothing written", async () => {
    // The first second of pro_04.csv: the speed would be held for the other 49 s.
    const head = readFileSync(join(dir, "bt/pro_04.csv"), "utf8").split("\n").slice(0, 8).join("\n");
    writeFileSync(join(dir, "short-pro.csv"), `${head}\n`);
    const r = await cli("--format", "borealtc", "--pro", "short-pro.csv", "bt/imu_04.csv", "short.csv");
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "terrain-learner: short-pro.csv covers t 0..0.92 s but bt/imu_04.csv runs 0..50.61 s: 49.7 s without a speed (not the matching speed file?)",
    );
    expect(readdirSync(dir)).not.toContain("short.csv");
  }, 120_000);
});
