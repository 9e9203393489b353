// Options several commands share.

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
