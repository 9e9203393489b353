// The MQTT `cmd` topic's commands: their names, the runner's handlers, and payload parsing.

/** The same names as the node's services (`~/save_checkpoint`, `~/reset`, `~/pause_learning`). */
export type MqttCommand = "save_checkpoint" | "reset" | "pause_learning";
export const MQTT_COMMANDS: readonly MqttCommand[] = ["save_checkpoint", "reset", "pause_learning"];

/** A command's argument: `data` of the JSON form, as std_srvs/SetBool's request carries it. */
export interface MqttCommandArgs {
  data?: unknown;
}

/** What the runner does for each command; the resolved value goes into the response's `result`. */
export type MqttCommandHandlers = Partial<Record<MqttCommand, (args: MqttCommandArgs) => unknown>>;

/** Parses a `cmd` payload: plain `reset` or JSON {"command"|"cmd": "pause_learning", "id": ..., "data": ...}. */
export function parseCommand(payload: string): {
  command: string;
  id: string | number | null;
  data?: unknown;
} {
  const text = payload.trim();
  if (text.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new Error("command payload is not valid JSON");
    }
    const o = obj as Record<string, unknown>;
    const id = typeof o.id === "string" || typeof o.id === "number" ? o.id : null;
    const command = o.command ?? o.cmd;
    if (typeof command !== "string")
      throw Object.assign(new Error("command JSON has no string 'command'"), { id });
    return { command: command.trim().toLowerCase(), id, ...(o.data === undefined ? {} : { data: o.data }) };
  }
  if (!text) throw new Error(`empty command (expected ${MQTT_COMMANDS.join(", ")})`);
  return { command: text.toLowerCase(), id: null };
}
