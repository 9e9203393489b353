// `--live-view [PORT]` and `--live-view-host HOST`, shared by replay, demo, run and ros.

import { type Command, InvalidArgumentError } from "commander";
import type { LiveViewServer } from "../adapters/live-view/index.ts";
import type { Config } from "../runtime/config.ts";
import { UserError } from "./errors.ts";

export interface LiveViewFlags {
  liveView?: boolean | string;
  liveViewHost?: string;
}

const PORT_HINT = "(put --live-view after the positional arguments, or write --live-view=8765)";

function isPort(value: string): boolean {
  return /^\d+$/.test(value) && Number(value) <= 65535;
}

/**
 * Checked while the command line is parsed: `replay --live-view BAG` takes BAG as the port, and
 * a check in the action came too late (commander first said the bag argument was missing).
 */
function livePort(value: string): string {
  if (!isPort(value)) throw new InvalidArgumentError(`expected a port number 0..65535 ${PORT_HINT}`);
  return value;
}

export function addLiveViewOptions(cmd: Command): Command {
  return cmd
    .option(
      "--live-view [port]",
      "serve a live view for Foxglove / Lichtblick (Foxglove WebSocket) on this port (default live_view.port, 8765)",
      livePort,
    )
    .option(
      "--live-view-host <host>",
      "address the live view listens on (default live_view.host, 127.0.0.1)",
    );
}

/** Flags over the config's live_view section; throws a UserError for a bad port. */
export function applyLiveViewFlags(config: Config, o: LiveViewFlags): void {
  if (o.liveView !== undefined && o.liveView !== false) {
    config.live_view.enabled = true;
    if (typeof o.liveView === "string") {
      if (!isPort(o.liveView))
        throw new UserError(`--live-view takes a port number, got '${o.liveView}' ${PORT_HINT}`);
      config.live_view.port = Number(o.liveView);
    }
  }
  if (o.liveViewHost !== undefined) {
    if (!config.live_view.enabled) throw new UserError("--live-view-host needs --live-view");
    // Node listens on every interface for an empty host: the camera on the network by mistake.
    if (o.liveViewHost.trim() === "")
      throw new UserError(
        `--live-view-host '${o.liveViewHost}': expected an address (127.0.0.1; 0.0.0.0 for every interface)`,
      );
    config.live_view.host = o.liveViewHost;
  }
}

/** Starts the server when the config asks for it, and says where to connect. */
export async function maybeStartLiveView(
  config: Config,
  log: (line: string) => void,
): Promise<LiveViewServer | undefined> {
  if (!config.live_view.enabled) return undefined;
  let server: LiveViewServer;
  try {
    // The server (ws, CDR, schemas) loads only when it is asked for.
    const { startLiveView } = await import("../adapters/live-view/index.ts");
    server = await startLiveView(config, log);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  log(
    `live view: ${server.url} (Foxglove or Lichtblick: Open connection → Foxglove WebSocket; layout: launch/foxglove-layout.json)`,
  );
  if (!isLoopback(config.live_view.host))
    log(`live view: listening on ${config.live_view.host}: anyone who can reach it sees the camera`);
  return server;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
