// Options several commands share.

import { InvalidArgumentError } from "commander";

/** Commander collector for a repeatable option (`--config a.yaml --config b.yaml`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Help text of `--config`: one form for every command. */
export const CONFIG_HELP =
  "config YAML: a ROS 2 params file (launch/params.yaml) or a plain map of the same keys; repeat it to layer files (later files win)";

/** Help text of `--fleet`: one form for every command. */
export const FLEET_HELP =
  "share training samples with the robots on this MQTT broker (mqtt://host:1883 or mqtts://host:8883; sets fleet.url, robot id from --robot-id / mqtt.robot_id; docs/fleet.md)";

/**
 * A commander argument parser for a number option: `Number(value)` (the whole string, so `2abc`
 * and `1.5` for an integer are refused, unlike parseInt/parseFloat) that must pass `check`. A
 * refusal is commander's InvalidArgumentError, which commander reports as one line and exit 1;
 * any other error thrown in a parser escapes as a stack trace.
 */
export function numberOption(check: (n: number) => boolean, expected: string): (value: string) => number {
  return (value: string) => {
    const n = value.trim() === "" ? Number.NaN : Number(value);
    if (!Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${expected}`);
    return n;
  };
}

/** A number > 0 (seconds, a baud rate, a rate). */
export const positiveNumber = numberOption((n) => n > 0, "a number > 0");

/** A whole number > 0 (a count). */
export const positiveInteger = numberOption((n) => Number.isInteger(n) && n > 0, "a whole number > 0");
