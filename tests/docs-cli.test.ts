// What a new user reads first must work as written: every flag that README.md and docs/*.md give a
// command exists on that command, and every link between the documents (file and #anchor) resolves.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/commands.ts";
import { ConfigSchema, defaultConfig } from "../src/runtime/config.ts";

const ROOT = join(import.meta.dirname, "..");
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

function text(file: string): string {
  return readFileSync(join(ROOT, file), "utf8");
}

async function program(): Promise<Command> {
  const p = new Command();
  for (const load of Object.values(COMMANDS)) (await load()).register(p);
  return p;
}

function flagsOf(cmd: Command): Set<string> {
  const flags = cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined);
  return new Set([...flags, "--help", "-h"]);
}

/**
 * `terrain-learner CMD [SUB] ... --flag` on one line, or a code span that starts with a command
 * (`replay BAG --record OUT.mcap`). ROS arguments after --ros-args are rcl's, not ours.
 */
function flagUses(line: string): { command: string; sub?: string; flags: string[] }[] {
  const uses: { command: string; sub?: string; flags: string[] }[] = [];
  const re = new RegExp(
    `(?:terrain-learner\\s+|\`)(${Object.keys(COMMANDS).join("|")})\\b(?:\\s+([a-z][a-z-]*))?([^\`|]*)`,
    "g",
  );
  for (const m of line.matchAll(re)) {
    const rest = `${m[2] ? ` ${m[2]}` : ""}${m[3] ?? ""}`.split("--ros-args")[0] ?? "";
    const flags = [...rest.matchAll(/(?:^|[\s[])(--?[a-z][a-z0-9-]*)/g)].map((f) => f[1] ?? "");
    uses.push({ command: m[1] ?? "", sub: m[2], flags });
  }
  return uses;
}

/**
 * A table row whose first cell names a command (`| \`replay\` | \`--record FILE\`; ... |` or
 * `| \`terrain-learner replay BAG\` | ...; \`--eval\` |`): the flags in its other cells are that command's.
 */
function rowFlagUses(line: string): { command: string; sub?: string; flags: string[] } | undefined {
  const m = new RegExp(
    `^\\|\\s*\`(?:terrain-learner\\s+)?(${Object.keys(COMMANDS).join("|")})(?:\\s+([a-z][a-z-]*))?[^\`]*\`\\s*\\|(.*)$`,
  ).exec(line);
  if (!m) return undefined;
  const flags = [...(m[3] ?? "").matchAll(/(?:^|[\s`(])(--[a-z][a-z0-9-]*)/g)].map((f) => f[1] ?? "");
  return { command: m[1] ?? "", sub: m[2], flags };
}

/** A command's whole --help, the text added after the options (examples) included. */
function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** Flags a use gives that its command (or subcommand) does not have, as `WHERE: CMD --flag`. */
function unknownFlags(
  p: Command,
  use: { command: string; sub?: string; flags: string[] },
  where: string,
): string[] {
  const top = p.commands.find((c) => c.name() === use.command);
  if (!top) return [];
  const cmd = top.commands.find((c) => c.name() === use.sub) ?? top;
  return use.flags.filter((f) => !flagsOf(cmd).has(f)).map((f) => `${where}: ${cmd.name()} ${f}`);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of text(file)
    .replace(/```[\s\S]*?```/g, "")
    .split("\n")) {
    const h = /^#{1,6}\s+(.*)$/.exec(line);
    if (!h) continue;
    const s = slug(h[1] ?? "");
    const n = seen.get(s);
    seen.set(s, (n ?? -1) + 1);
    out.add(n === undefined ? s : `${s}-${n + 1}`);
  }
  return out;
}

describe("the documents' commands and links", () => {
  it("finds the flags of a documented command line", () => {
    expect(flagUses("terrain-learner sim convert-recording --format u2is a.npy b.csv")).toEqual([
      { command: "sim", sub: "convert-recording", flags: ["--format"] },
    ]);
    expect(flagUses("Run `replay BAG --record OUT.mcap` or `demo --seed N`")).toEqual([
      { command: "replay", sub: undefined, flags: ["--record"] },
      { command: "demo", sub: undefined, flags: ["--seed"] },
    ]);
    expect(flagUses("terrain-learner ros --fleet U --ros-args -p a:=b")[0]?.flags).toEqual(["--fleet"]);
  });

  it("every flag README.md and docs/*.md give a command exists on that command", async () => {
    const p = await program();
    const unknown: string[] = [];
    let checked = 0;
    for (const file of DOCS) {
      text(file)
        .split("\n")
        .forEach((line, i) => {
          for (const use of flagUses(line)) {
            const top = p.commands.find((c) => c.name() === use.command);
            if (!top) continue;
            const cmd = top.commands.find((c) => c.name() === use.sub) ?? top;
            for (const flag of use.flags) {
              checked++;
              if (!flagsOf(cmd).has(flag)) unknown.push(`${file}:${i + 1}: ${cmd.name()} ${flag}`);
            }
          }
        });
    }
    expect(checked).toBeGreaterThan(50);
    expect(unknown).toEqual([]);
  });

  it("a table row that names a command gives only that command's flags", async () => {
    const p = await program();
    expect(
      rowFlagUses("| `replay` | `--record FILE`; `--save-checkpoint DIR` (the `--checkpoint` folder) |"),
    ).toEqual({
      command: "replay",
      sub: undefined,
      flags: ["--record", "--save-checkpoint", "--checkpoint"],
    });
    const unknown: string[] = [];
    let checked = 0;
    for (const file of DOCS)
      for (const [i, line] of text(file).split("\n").entries()) {
        const use = rowFlagUses(line);
        if (!use) continue;
        checked += use.flags.length;
        unknown.push(...unknownFlags(p, use, `${file}:${i + 1}`));
      }
    expect(checked).toBeGreaterThan(10);
    expect(unknown).toEqual([]);
  });

  it("every example in a command's --help uses flags that command has", async () => {
    const p = await program();
    const unknown: string[] = [];
    let checked = 0;
    const visit = (cmd: Command, path: string) => {
      for (const line of helpOf(cmd).split("\n"))
        for (const use of flagUses(line)) {
          checked += use.flags.length;
          unknown.push(...unknownFlags(p, use, `${path} --help`));
        }
      for (const sub of cmd.commands) visit(sub, `${path} ${sub.name()}`);
    };
    for (const cmd of p.commands) visit(cmd, cmd.name());
    expect(checked).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it("a default --help states as `(default KEY, VALUE)` is the config's default for KEY", async () => {
    const p = await program();
    const config = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
    const wrong: string[] = [];
    let checked = 0;
    const visit = (cmd: Command) => {
      for (const o of cmd.options) {
        for (const m of o.description.matchAll(/default:? (\w+)\.(\w+), ([^);]+)\)/g)) {
          checked++;
          const value = String(config[m[1] ?? ""]?.[m[2] ?? ""]);
          if (value !== m[3])
            wrong.push(`${cmd.name()} ${o.flags}: says ${m[3]}, ${m[1]}.${m[2]} is ${value}`);
        }
      }
      cmd.commands.forEach(visit);
    };
    visit(p);
    expect(checked).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });

  it("README lists every section of the config schema", () => {
    const list = /The sections: ([^.]*)\./.exec(text("README.md").replace(/\s+/g, " "))?.[1] ?? "";
    const named = [...list.matchAll(/`(\w+)`/g)].map((m) => m[1]);
    const sections = Object.keys(ConfigSchema.shape).filter((k) => k !== "use_sim_time");
    expect(named.sort()).toEqual(sections.sort());
  });

  it("a range of parameters in a code span (`outputs.ahead_min..ahead_max`) names keys of one section", () => {
    // Parameters are snake_case; a camelCase end (`..aheadMax`) is a key no params file accepts.
    const config = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
    const sectionOf = new Map<string, string[]>();
    for (const [section, keys] of Object.entries(config))
      if (keys && typeof keys === "object")
        for (const key of Object.keys(keys)) sectionOf.set(key, [...(sectionOf.get(key) ?? []), section]);
    const wrong: string[] = [];
    let checked = 0;
    for (const file of DOCS)
      for (const [i, line] of text(file).split("\n").entries())
        for (const span of line.match(/`[^`]+`/g) ?? [])
          for (const m of span.matchAll(/(?:(\w+)\.)?([a-z]\w*)\.\.([A-Za-z]\w*)/g)) {
            const sections = m[1] ? [m[1]] : (sectionOf.get(m[2] ?? "") ?? []);
            if (!sections.some((s) => config[s] && (m[2] ?? "") in config[s])) continue;
            checked++;
            if (!sections.some((s) => (m[3] ?? "") in (config[s] ?? {})))
              wrong.push(`${file}:${i + 1}: ${m[0]} (no key ${m[3]} in ${sections.join(" or ")})`);
          }
    expect(checked).toBeGreaterThan(2);
    expect(wrong).toEqual([]);
  });

  // Only sources: the JSON and ONNX files the documents name may be outputs of the commands shown.
  it("every script and source file the documents name exists", () => {
    const missing: string[] = [];
    for (const file of DOCS) {
      for (const m of text(file).matchAll(/\b(?:bench|scripts|src|sim|tests|models)\/[\w./-]+\.ts\b/g)) {
        if (!existsSync(join(ROOT, m[0]))) missing.push(`${file}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every `ros2 launch` names the package and one of its launch files", () => {
    // The launch files' <node pkg="terrain_learner"> runs the executable colcon installed: a launch
    // file given by path from an unbuilt checkout fails with "package 'terrain_learner' not found".
    const launchFiles = new Set(
      readdirSync(join(ROOT, "launch")).filter((f) => /\.launch\.(xml|py)$/.test(f)),
    );
    const wrong: string[] = [];
    for (const file of DOCS)
      for (const [i, line] of text(file).split("\n").entries())
        for (const m of line.matchAll(/ros2 launch\s+(\S+)\s+([^\s`]+)/g))
          if (m[1] !== "terrain_learner" || !launchFiles.has(m[2] ?? ""))
            wrong.push(`${file}:${i + 1}: ${m[0]}`);
    expect(wrong).toEqual([]);
  });

  it("every list of launch arguments names every argument the launch files declare", () => {
    const xml = text("launch/terrain_learner.launch.xml");
    const declared = [...xml.matchAll(/<arg name="(\w+)"/g)].map((m) => m[1] ?? "");
    const py = text("launch/terrain_learner.launch.py");
    for (const name of declared) expect(py).toContain(`"${name}"`);
    const missing: string[] = [];
    let lists = 0;
    for (const file of DOCS)
      for (const paragraph of text(file).split(/\n\s*\n/)) {
        if (!/^Launch arguments/m.test(paragraph)) continue;
        lists++;
        const named = new Set([...paragraph.matchAll(/`(\w+)`/g)].map((m) => m[1]));
        for (const name of declared) if (!named.has(name)) missing.push(`${file}: ${name}`);
      }
    expect(declared.length).toBeGreaterThan(5);
    expect(lists).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it("every relative link between the documents names a file that exists and an anchor it has", () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      for (const m of text(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] ?? "";
        if (/^[a-z]+:/.test(link)) continue;
        const [path = "", anchor] = link.split("#");
        const target = path ? normalize(join(dirname(file), path)) : file;
        if (!existsSync(join(ROOT, target))) broken.push(`${file}: ${link} (no ${relative(".", target)})`);
        else if (anchor && target.endsWith(".md") && !anchors(target).has(anchor))
          broken.push(`${file}: ${link} (no heading #${anchor} in ${target})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
