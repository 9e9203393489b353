// `terrain-learner bag info PATH [--json]`: what `ros2 bag info` prints, for every format we read
// (MCAP, rosbag2 .db3 or folder, ROS 1 .bag), and one JSON object for scripts.

import { basename } from "node:path";
import type { Command } from "commander";
import { type BagInfo, openBag } from "../io/bag/index.ts";
import { action, UserError } from "./errors.ts";

const STORAGE_ID: Record<BagInfo["format"], string> = {
  mcap: "mcap",
  "rosbag2-sqlite3": "sqlite3",
  ros1: "rosbag_v2",
};

export function register(program: Command): void {
  const bag = program
    .command("bag")
    .description("inspect recorded bags (MCAP, rosbag2 .db3 or folder, ROS 1 .bag)");
  bag
    .command("info <path>")
    .description("summarise a bag: files, time range, topics with types and message counts")
    .option("--json", "print exactly one JSON object instead of the table")
    .addHelpText(
      "after",
      `
PATH is a .mcap file, a .db3 file, a rosbag2 folder (with metadata.yaml), a ROS 1 .bag, or a folder
of the parts of a split ROS 1 recording (<name>_0.bag, <name>_1.bag, ...).
Types are shown in ROS 2 form (sensor_msgs/msg/Imu) whatever the bag recorded.
Counts come from the bag's summary/index where it has one; a bag cut short is read to count.

--json prints {"path","format","start","end","duration","topics":[{"name","type","count"}],"skipped":{},
"skippedWhy":{}} (times in seconds; "skipped" counts the messages it does not read, by type, and
"skippedWhy" has the same keys, each with why, as the table's Skipped lines say: "no message
definition", "message encoding json: not read", "bad schema: ..."; a
"warnings" array is added when reading found something to say: a cut-off or damaged file, no
metadata.yaml, parts decompressed to a temporary folder).

Examples:
  terrain-learner bag info recording.mcap
  terrain-learner bag info rosbag2_2024_05_01-12_00_00/ --json | jq '.topics'
`,
    )
    .action(
      action(async (path: string, opts: { json?: boolean }) => {
        let source: Awaited<ReturnType<typeof openBag>>;
        try {
          source = await openBag(path);
        } catch (err) {
          throw new UserError((err as Error).message);
        }
        let info: BagInfo;
        try {
          info = await source.info();
        } catch (err) {
          throw new UserError(`${path}: ${(err as Error).message}`);
        } finally {
          await source.close();
        }
        process.stdout.write(opts.json ? `${JSON.stringify(toJson(info))}\n` : formatInfo(info));
        if (!opts.json) for (const w of info.warnings) process.stderr.write(`warning: ${w}\n`);
      }),
    );
}

/** The `--json` object: exactly the documented keys, plus `warnings` when there are any. */
export function toJson(info: BagInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    path: info.path,
    format: info.format,
    start: info.start,
    end: info.end,
    duration: info.duration,
    topics: info.topics.map((t) => ({ name: t.name, type: t.type, count: t.count })),
    skipped: info.skipped,
    // Same keys as `skipped`, always: a script reads one reason per skipped type.
    skippedWhy: Object.fromEntries(
      Object.keys(info.skipped).map((type) => [type, info.skippedWhy?.[type] ?? "no message definition"]),
    ),
  };
  if (info.warnings.length > 0) out.warnings = info.warnings;
  return out;
}

function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  // Same shape as ros2 bag info: "Apr  9 2020 04:27:36.763032 (1586406456.763032)", in UTC.
  const month = d.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const day = String(d.getUTCDate()).padStart(2, " ");
  const hms = d.toISOString().slice(11, 19);
  const frac = (seconds - Math.floor(seconds)).toFixed(6).slice(1);
  return `${month} ${day} ${d.getUTCFullYear()} ${hms}${frac} UTC (${seconds.toFixed(6)})`;
}

export function formatInfo(info: BagInfo): string {
  const label = (s: string) => `${s}:`.padEnd(19);
  const lines: string[] = [];
  const files = (info.files ?? [info.path]).map((f) => basename(f));
  lines.push(`${label("Files")}${files[0] ?? ""}`);
  for (const f of files.slice(1)) lines.push(`${" ".repeat(19)}${f}`);
  lines.push(`${label("Bag size")}${formatSize(info.size ?? 0)}`);
  lines.push(`${label("Storage id")}${STORAGE_ID[info.format]}`);
  lines.push(`${label("Duration")}${info.duration.toFixed(9)}s`);
  lines.push(`${label("Start")}${formatTime(info.start)}`);
  lines.push(`${label("End")}${formatTime(info.end)}`);
  lines.push(`${label("Messages")}${info.messageCount ?? info.topics.reduce((a, t) => a + t.count, 0)}`);
  const width = Math.max(0, ...info.topics.map((t) => t.name.length));
  info.topics.forEach((t, i) => {
    const row = `Topic: ${t.name.padEnd(width)} | Type: ${t.type} | Count: ${t.count} | Serialization Format: ${t.serializationFormat ?? "cdr"}`;
    lines.push(`${i === 0 ? label("Topic information") : " ".repeat(19)}${row}`);
  });
  if (info.topics.length === 0) lines.push(label("Topic information"));
  const skipped = Object.entries(info.skipped);
  skipped.forEach(([type, n], i) => {
    lines.push(
      `${i === 0 ? label("Skipped") : " ".repeat(19)}${type}: ${n} messages (${info.skippedWhy?.[type] ?? "no message definition"})`,
    );
  });
  return `${lines.join("\n")}\n`;
}
