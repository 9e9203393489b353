// Number options are checked by commander as they are parsed: a bad value is commander's one-line
// usage error and exit 1, never a stack trace (a plain Error thrown in a parser escapes commander),
// and the whole value must be a number (parseInt/parseFloat took `3abc` as 3).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { numberOption, positiveInteger, positiveNumber } from "../src/cli/options.ts";
import { runCli } from "./helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "number-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, dir, 60_000);

describe("number option parsers", () => {
  it("take the whole string as the number", () => {
    expect(positiveNumber("2.5")).toBe(2.5);
    expect(positiveInteger("115200")).toBe(115200);
    for (const bad of ["0", "-1", "abc", "2abc", "", " ", "Infinity", "NaN"])
      expect(() => positiveNumber(bad), bad).toThrow(InvalidArgumentError);
    expect(() => positiveInteger("1.5")).toThrow("expected a whole number > 0");
    expect(numberOption((n) => n >= 0, "a number ≥ 0")("0")).toBe(0);
  });
});

describe("bad number options on the command line", () => {
  const cases: [string[], RegExp][] = [
    [["run", "--serial", "/dev/null", "--duration", "0"], /option '--duration <s>' argument '0' is invalid/],
    [["run", "--baud", "-1"], /option '--baud <n>' argument '-1' is invalid/],
    [["serial-dump", "/dev/null", "--count", "0"], /option '--count <n>' argument '0' is invalid/],
    [["serial-dump", "/dev/null", "--baud", "abc"], /option '--baud <n>' argument 'abc' is invalid/],
    [["serial-dump", "/dev/null", "--duration", "-2"], /option '--duration <s>' argument '-2' is invalid/],
    [["demo", "--seed", "1.5"], /option '--seed <n>' argument '1\.5' is invalid\. expected a whole number/],
    [["demo", "--seed", "3abc"], /option '--seed <n>' argument '3abc' is invalid/],
    [["demo", "--duration", "2abc"], /option '--duration <s>' argument '2abc' is invalid/],
    [["replay", "x.mcap", "--rate", "2abc"], /option '--rate <x>' argument '2abc' is invalid/],
  ];
  it("one usage error, exit 1, no stack trace", async () => {
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr, args.join(" ")).not.toMatch(/\n\s+at |UserError|Node\.js v/);
      // The error, then commander's usage hint.
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(2);
    });
  }, 120_000);
});
