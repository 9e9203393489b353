// MQTT telemetry for a fleet: publishes a pipeline's events through one robot's client. The entry
// point importers use; the client, topics, commands and payloads live in the mqtt-*.ts files.

import type { Observable, Subscription } from "rxjs";
import type { LabelEvent, PipelineEvent, PredictionEvent } from "../runtime/pipeline.ts";
import type { MqttCommandHandlers } from "./mqtt-commands.ts";
import type { MqttOptions } from "./mqtt-connection.ts";
import { MqttTelemetry, type MqttTelemetryOptions } from "./mqtt-telemetry.ts";

export {
  MQTT_COMMANDS,
  type MqttCommand,
  type MqttCommandArgs,
  type MqttCommandHandlers,
  parseCommand,
} from "./mqtt-commands.ts";
export { type MqttOptions, redactUrl, validateMqttOptions } from "./mqtt-connection.ts";
export { labelPayload, type RoughnessSummary, summarizeOutputs, toJson } from "./mqtt-payloads.ts";
export {
  type MqttDropKind,
  type MqttStats,
  MqttTelemetry,
  type MqttTelemetryOptions,
} from "./mqtt-telemetry.ts";
export { type MqttTopics, mqttTopics } from "./mqtt-topics.ts";

/**
 * The stream `attachMqtt` consumes: the pipeline's events (src/runtime/pipeline.ts). Predictions
 * go to `roughness`, labels to `labels`, stats to `learner`; other kinds are ignored.
 */
export type MqttSinkEvent =
  | Pick<PredictionEvent, "type" | "outputs">
  | LabelEvent
  | { type: "stats"; stamp?: number; stats: object }
  | { type: Exclude<PipelineEvent["type"], "prediction" | "label" | "stats"> };

/**
 * Publishes a pipeline's events to MQTT. Returns the telemetry (for stats) and a `close()` that
 * unsubscribes, sends what the rate limiters hold, publishes `offline` and disconnects.
 */
export function attachMqtt(
  events$: Observable<MqttSinkEvent>,
  options: MqttOptions,
  handlers: MqttCommandHandlers = {},
  extra: MqttTelemetryOptions = {},
): { telemetry: MqttTelemetry; close: () => Promise<void> } {
  const telemetry = new MqttTelemetry(options, handlers, extra);
  const sub: Subscription = events$.subscribe({
    next: (e) => publishEvent(telemetry, e),
    error: (err: unknown) => extra.log?.(`mqtt: event stream failed: ${(err as Error).message}`),
  });
  return {
    telemetry,
    close: async () => {
      sub.unsubscribe();
      await telemetry.close();
    },
  };
}

export function publishEvent(telemetry: MqttTelemetry, e: MqttSinkEvent): void {
  switch (e.type) {
    case "prediction":
      telemetry.publishRoughness((e as PredictionEvent).outputs);
      break;
    case "label":
      telemetry.publishLabel((e as LabelEvent).label);
      break;
    case "stats":
      telemetry.publishLearner(
        (e as { stats: Record<string, unknown> }).stats,
        (e as { stamp?: number }).stamp,
      );
      break;
    default:
  }
}
