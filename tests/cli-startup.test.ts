// The commands whose registration is kept apart from their work load no heavy module until their
// flags have been checked: `replay --help` or a mistyped flag is answered without loading tfjs,
// onnxruntime, the bag readers, the MQTT client or the live-view server (it took 1.3-1.9 s of CPU
// when they loaded up front; bench/cli-startup.ts measures it).

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.ts";

const ROOT = join(import.meta.dirname, "..");
const HEAVY = [
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm",
  "onnxruntime-node",
  "rxjs",
  "sharp",
  "mqtt",
  "ws",
  "better-sqlite3",
  "@mcap/core",
];
const LIGHT_COMMANDS = ["replay-command", "demo-command", "run-command", "ros-command", "export-command"];

describe("command start-up", () => {
  it("the registration modules of replay, demo, run, ros and export load none of the heavy packages", () => {
    // CommonJS packages, imported from ESM, still land in require's cache: what got loaded.
    const script = `
      for (const m of ${JSON.stringify(LIGHT_COMMANDS)}) await import("./src/cli/" + m + ".ts");
      const { createRequire } = await import("node:module");
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      process.stdout.write(JSON.stringify(loaded));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const loaded = JSON.parse(out) as string[];
    expect(loaded.some((p) => p.includes("node_modules/commander/"))).toBe(true);
    const heavy = HEAVY.filter((pkg) => loaded.some((p) => p.includes(`node_modules/${pkg}/`)));
    expect(heavy).toEqual([]);
  });

  it("the replay's own modules leave the MQTT client, the live view's server and the ROS 1 and SQLite readers to runs that use them", () => {
    const script = `
      await import("./src/cli/replay.ts");
      const { createRequire } = await import("node:module");
      process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const loaded = JSON.parse(out) as string[];
    expect(loaded.some((p) => p.includes("node_modules/rxjs/"))).toBe(true);
    const optional = ["mqtt", "ws", "better-sqlite3", "@foxglove/rosbag", "@foxglove/ws-protocol"];
    expect(optional.filter((pkg) => loaded.some((p) => p.includes(`node_modules/${pkg}/`)))).toEqual([]);
  });

  it("a refused flag is still refused, and a good one still reaches the work (which loads the rest)", async () => {
    const refused = await runCli(["replay", "x.mcap", "--rate", "2abc"], ROOT);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--rate/);
    // A real (tiny) bag: the replay module loads and reads it, refusing it for its missing topics.
    const bag = join(ROOT, "tests", "fixtures", "bags", "rosbag2_talker_mcap", "talker.mcap");
    const read = await runCli(["replay", bag], ROOT);
    expect(read.code).toBe(1);
    expect(read.stderr).toMatch(/topic/i);
  });
});
