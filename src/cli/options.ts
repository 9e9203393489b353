// Options several commands share.

/** Commander collector for a repeatable option (`--config a.yaml --config b.yaml`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Help text of `--config`: one form for every command. */
export const CONFIG_HELP =
  "config YAML: a ROS 2 params file (launch/params.yaml) or a plain map of the same keys; repeat it to layer files (later files win)";
