// MQTT topic names of one robot's telemetry: topics under `<prefix>/<robot_id>/`:
//   status            retained `online` on every connect; Last Will (retained) `offline`; `offline` on clean shutdown
//   roughness         JSON summary of the latest prediction, at most `roughness_rate` per second of sensor time
//   learner           learner / pipeline stats JSON, at most `learner_rate` per second of sensor time
//   labels            every label as it is made (optional: `publish_labels`)
//   cmd               the ROS 2 services' names: `save_checkpoint` | `reset` | `pause_learning`, plain or
//                     JSON {"command", "id", "data"}; `pause_learning` with "data": false resumes (SetBool);
//                     at most MAX_COMMAND_BYTES (64 KiB, mqtt-connection.ts)
//   cmd/response      {"id", "command", "ok", "result" | "error"}

export interface MqttTopics {
  base: string;
  status: string;
  roughness: string;
  learner: string;
  labels: string;
  cmd: string;
  cmdResponse: string;
}

export function mqttTopics(prefix: string, robotId: string): MqttTopics {
  const base = `${prefix.replace(/\/+$/, "")}/${robotId}`;
  return {
    base,
    status: `${base}/status`,
    roughness: `${base}/roughness`,
    learner: `${base}/learner`,
    labels: `${base}/labels`,
    cmd: `${base}/cmd`,
    cmdResponse: `${base}/cmd/response`,
  };
}
