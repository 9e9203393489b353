// The live view's server as a run ends: it closes at once for viewers and for idle connections alike.

import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { liveViewChannels } from "../src/adapters/live-view/index.ts";
import { LiveViewServer } from "../src/adapters/live-view/server.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { TestViewer } from "./helpers/foxglove-client.ts";

describe("closing the live view", () => {
  // It waited for the HTTP server's request timeout: the process stayed up to 90 s after the run.
  it("drops a connection that never sent a request, and the viewers, without waiting for them", async () => {
    const config = defaultConfig();
    const server = await LiveViewServer.start(liveViewChannels(config), { ...config.live_view, port: 0 });
    const viewer = new TestViewer(server.url);
    await viewer.ready();
    viewer.subscribe(["/tf"]);
    const raw: Socket = connect(server.port, "127.0.0.1");
    await new Promise((resolve) => raw.once("connect", resolve));
    const rawClosed = new Promise((resolve) => raw.once("close", resolve));
    const viewerClosed = new Promise((resolve) => viewer.ws.once("close", resolve));
    const t0 = performance.now();
    const outcome = await Promise.race([
      server.close(200).then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("still open after 10 s"), 10_000)),
    ]);
    raw.destroy();
    expect(outcome).toBe("closed");
    expect(performance.now() - t0).toBeLessThan(5000);
    await rawClosed;
    await viewerClosed;
  }, 20_000);
});

describe("a normal shutdown of the live view", () => {
  // Viewers were dropped without a close frame: Foxglove saw code 1006 (abnormal closure), as if the
  // robot had crashed, and said the connection was lost.
  it("sends each viewer a close frame, 1001 'going away', and does not wait long for a dead one", async () => {
    const config = defaultConfig();
    const server = await LiveViewServer.start(liveViewChannels(config), { ...config.live_view, port: 0 });
    const viewer = new TestViewer(server.url);
    await viewer.ready();
    const closed = new Promise<[number, string]>((resolve) =>
      viewer.ws.once("close", (code, reason) => resolve([code, reason.toString()])),
    );
    // A viewer that completed the handshake and then went silent: it never answers a close frame.
    const dead: Socket = connect(server.port, "127.0.0.1");
    await new Promise((resolve) => dead.once("connect", resolve));
    dead.write(
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Protocol: foxglove.websocket.v1\r\n\r\n",
    );
    await new Promise((resolve) => dead.once("data", resolve));
    dead.pause();
    const deadClosed = new Promise((resolve) => dead.once("close", resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.resources().sockets).toBe(2);
    // Without a bound, ws waits 30 s for the dead viewer: past this test's 10 s timeout.
    await server.close(0);
    expect(await closed).toEqual([1001, "going away"]);
    dead.resume();
    await deadClosed;
  }, 10_000);
});
