// A viewer that sends the live view messages it cannot read, in a loop: each one was a log line, so
// one broken or hostile client flooded the log. The first is logged with why, later ones are counted
// (a line per interval, a total when the viewer leaves, and in the server's stats), and the viewer's
// valid messages still work. The client is @foxglove/ws-protocol's own, over a real `ws` socket.

import { describe, expect, it } from "vitest";
import { liveViewChannels } from "../src/adapters/live-view/index.ts";
import { LiveViewServer } from "../src/adapters/live-view/server.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { TestViewer } from "./helpers/foxglove-client.ts";

async function waitFor(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A live-view server on a free port whose log lines are kept; `malformedLogMs` as given. */
async function startServer(malformedLogMs?: number) {
  const config = defaultConfig();
  const lines: string[] = [];
  const server = await LiveViewServer.start(liveViewChannels(config), {
    ...config.live_view,
    port: 0,
    log: (l) => lines.push(l),
    ...(malformedLogMs === undefined ? {} : { malformedLogMs }),
  });
  return { server, lines };
}
describe("a viewer sending messages the live view cannot read", () => {
  it("logs the first with why, counts the rest, and keeps serving the viewer", async () => {
    const { server, lines } = await startServer(300);
    const viewer = new TestViewer(server.url);
    await viewer.ready();
    const unreadable = () => lines.filter((l) => /cannot read/.test(l));
    // Text that is not JSON, and a binary frame with an opcode the protocol does not have.
    for (let i = 0; i < 400; i++) viewer.ws.send(i % 2 ? "not json {" : Buffer.from([0x7f, 1, 2, 3]));
    await waitFor("400 counted", () => server.stats().totals.malformed === 400);
    expect(unreadable()).toHaveLength(1);
    expect(unreadable()[0]).toMatch(
      /^live view: viewer 127\.0\.0\.1:\d+ sent a message the live view cannot read, ignored: .+ \(more are counted: one line every 0\.3 s, and a total when it leaves\)$/,
    );
    expect(server.stats().clients[0]!.malformed).toBe(400);

    // After the interval, the next one brings a line with the count since the first.
    await new Promise((resolve) => setTimeout(resolve, 350));
    viewer.ws.send("still not json");
    await waitFor("401 counted", () => server.stats().totals.malformed === 401);
    expect(unreadable()).toHaveLength(2);
    expect(unreadable()[1]).toMatch(
      /^live view: viewer 127\.0\.0\.1:\d+ sent 400 more messages the live view cannot read in the last \d+ s, ignored \(latest: .*JSON.*\)$/,
    );

    // The same viewer's valid subscription still goes through.
    viewer.subscribe([defaultConfig().topics.tf]);
    await waitFor("the subscription", () => server.wants("tf"));

    await viewer.close();
    await waitFor("the viewer's leaving", () => lines.some((l) => / left /.test(l)));
    expect(lines.find((l) => / left /.test(l))).toMatch(
      /^live view: viewer 127\.0\.0\.1:\d+ left \(sent \d+, dropped 0, ignored 401 messages it could not read\)$/,
    );
    expect(server.stats().totals.malformed).toBe(401);
    await server.close(0);
  }, 20_000);

  it("a viewer that sends none leaves with the usual line", async () => {
    const { server, lines } = await startServer();
    const viewer = new TestViewer(server.url);
    await viewer.ready();
    await viewer.close();
    await waitFor("the viewer's leaving", () => lines.some((l) => / left /.test(l)));
    expect(lines.find((l) => / left /.test(l))).toMatch(/ left \(sent 0, dropped 0\)$/);
    expect(server.stats().totals.malformed).toBe(0);
    await server.close(0);
  }, 20_000);
});
