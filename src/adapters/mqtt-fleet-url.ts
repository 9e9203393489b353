// The fleet broker's URL, checked before anything connects (after validateMqttOptions' scheme check).

import type { FleetConfig } from "../fleet/config.ts";
import { redactUrl } from "./mqtt-connection.ts";

/** Throws a one-line Error for a URL the fleet client cannot use as the operator meant it. */
export function checkFleetUrl(f: Pick<FleetConfig, "url" | "ca" | "cert" | "key">): void {
  // mqtt.js takes `mqtt://` (no host) for localhost:1883, drops a port that is not a number for
  // 1883, and throws a port over 65535 from inside connect, out of reach: the process then hangs.
  let url: URL;
  try {
    url = new URL(f.url);
  } catch {
    throw new Error(`fleet: '${redactUrl(f.url)}' is not a valid URL (a port is a number up to 65535)`);
  }
  if (!url.hostname) throw new Error("fleet: the broker URL names no host (mqtt://HOST:PORT)");
  // TLS files with a plain mqtt:// (or ws://) URL would be ignored: the robot would log in with
  // its password in clear, or reach a TLS listener that only resets the connection.
  const tlsFiles = (["ca", "cert", "key"] as const).filter((k) => f[k]);
  if (tlsFiles.length && !/^(mqtts|ssl|wss):\/\//.test(f.url))
    throw new Error(
      `fleet: ${tlsFiles.map((k) => `fleet.${k}`).join(", ")} set, but '${redactUrl(f.url)}' does not use TLS: use mqtts:// (or wss://)`,
    );
}
