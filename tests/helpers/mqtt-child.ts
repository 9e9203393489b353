// A robot process for the Last Will test: connects with MqttTelemetry, says "connected" on stdout,
// then idles until it is killed. Usage: node --import tsx mqtt-child.ts <url> <robot_id>
import { MqttTelemetry } from "../../src/adapters/mqtt.ts";
import { defaultConfig } from "../../src/runtime/config.ts";

const [url, robotId] = process.argv.slice(2);
const telemetry = new MqttTelemetry({ ...defaultConfig().mqtt, url: url!, robot_id: robotId!, keepalive: 5 });
await telemetry.waitConnected(15_000);
process.stdout.write("connected\n");
setInterval(() => undefined, 1000);
