// Fleet sharing through a real Mosquitto on 127.0.0.1: samples and retained snapshots between
// robots, a late joiner, hostile payloads, a broker killed and restarted, and per-robot credentials
// with the ACL of docs/fleet.md (launch/fleet-acl.conf).
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { encodeBatch } from "../src/fleet/codec.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { oneSampleBatch, randomRows, TEST_CHANNELS, TEST_MODEL } from "./helpers/fleet-rows.ts";
import { Mosquitto, mosquittoMissing, mqtt311Proxy } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/wait.ts";

const missing = mosquittoMissing();
if (missing) console.warn(`SKIPPING fleet MQTT tests: ${missing}`);

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function robot(
  url: string,
  id: string,
  extra: Partial<ReturnType<typeof defaultConfig>["fleet"]> = {},
  log?: (line: string) => void,
) {
  const config = defaultConfig();
  config.mqtt.robot_id = id;
  config.mqtt.reconnect_period = 0.2;
  config.fleet = { ...config.fleet, url, snapshot_period: 5, ...extra };
  const link = new FleetLink(config, { log });
  open.push(link);
  link.start(TEST_MODEL);
  return link;
}

/** Sensor seconds t0..t1 of a robot that labels 50 rows a second. */
function drive(link: FleetLink, t0: number, t1: number, seed = 1): void {
  for (let t = t0; t <= t1; t++) {
    link.exchange!.offerOwn(randomRows(50, seed + t));
    link.take(t);
  }
}

/** A broker with accounts a, b, mallory (password `<id>-secret`) and launch/fleet-acl.conf. */
async function aclBroker(): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), "tl-fleet-acl-"));
  const passwords = join(dir, "passwd");
  writeFileSync(passwords, "");
  for (const user of ["a", "b", "mallory"]) {
    const r = spawnSync("mosquitto_passwd", ["-b", passwords, user, `${user}-secret`]);
    expect(r.status).toBe(0);
  }
  const acl = join(dir, "acl");
  copyFileSync(join(import.meta.dirname, "../launch/fleet-acl.conf"), acl);
  // Started as root, mosquitto drops to its own user, which must read these.
  chmodSync(passwords, 0o644);
  const broker = await Mosquitto.create({ auth: { passwordFile: passwords, aclFile: acl }, dir });
  open.push(broker);
  return broker;
}

const login = (id: string) => ({ username: id, password: `${id}-secret` });

describe.skipIf(missing)("fleet over a real broker", () => {
  it("shares samples, gives a late joiner the snapshots, and counts hostile payloads", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const a = robot(broker.url, "a");
    const b = robot(broker.url, "b");
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 6);
    await waitFor("b receives a's batches", () => b.stats().received >= 6 * 40);
    expect(b.stats().peers).toBe(1);
    const fed = b.take(1);
    expect(fed?.[0]?.n).toBeGreaterThan(0);
    expect(b.stats().used).toBe(fed![0]!.n);
    expect(a.stats().bytesOut).toBeGreaterThan(0);
    expect(b.stats().latencyP99Ms).not.toBeNull();

    // A robot that joins now gets a's retained snapshot at once.
    const c = robot(broker.url, "c");
    await c.waitConnected();
    await waitFor(
      "c has a's snapshot",
      () => (c.stats().perPeer as Record<string, { snapshots: number }>).a?.snapshots === 1,
    );
    expect(c.stats().received).toBeGreaterThan(0);

    // Hostile and broken peers: garbage, another backbone, a payload claiming to be robot a.
    const evil = await mqtt.connectAsync(broker.url);
    const other = { ...TEST_MODEL, backboneHash: new Uint8Array(16).fill(9) };
    await evil.publishAsync("terrain-learner/fleet/x/samples", Buffer.from("not a batch"), { qos: 1 });
    await evil.publishAsync("terrain-learner/fleet/y/samples", oneSampleBatch("y", other), { qos: 1 });
    await evil.publishAsync("terrain-learner/fleet/z/samples", oneSampleBatch("a", TEST_MODEL), { qos: 1 });
    // One byte over max_payload_bytes: within the packet size the broker was given, refused by the codec.
    await evil.publishAsync("terrain-learner/fleet/w/samples", Buffer.alloc(512 * 1024 + 1), { qos: 1 });
    await evil.endAsync();
    await waitFor(
      () => `every rejection counted (${JSON.stringify(c.stats().rejected)})`,
      () => c.stats().rejectedTotal === 4,
    );
    expect(c.stats().rejected).toEqual({ schema: 1, backbone: 1, spoofed: 1, size: 1 });
    // Nothing of theirs reached the pool; learning goes on from a.
    expect(c.stats().peers).toBe(1);
    const before = c.stats().received;
    drive(a, 7, 8);
    await waitFor("c still receives a", () => c.stats().received > before);
  }, 30_000);

  it("queues a bounded backlog while the broker is down and sends it on reconnect", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const a = robot(broker.url, "a", { backlog: 5 });
    const b = robot(broker.url, "b");
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 2);
    await waitFor("b receives", () => b.stats().received > 0);
    await broker.stop();
    await waitFor("a notices", () => !a.connected);
    drive(a, 3, 12); // learning goes on; 10 batches + a snapshot for a backlog of 5
    expect(a.stats().backlog).toBe(5);
    expect(a.stats().backlogDropped).toBeGreaterThan(0);
    const before = b.stats().received;
    await broker.start();
    await waitFor("both reconnect", () => a.connected && b.connected, 20_000);
    await waitFor("backlog sent", () => a.stats().backlog === 0);
    drive(a, 13, 14);
    await waitFor("b receives again", () => b.stats().received > before);
    expect(a.stats().reconnects).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it("with the ACL, a robot publishes only under its own id and one without credentials stays out", async () => {
    const broker = await aclBroker();
    const a = robot(broker.url, "a", login("a"));
    const b = robot(broker.url, "b", login("b"));
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    // Mallory has an account but publishes on a's topic: the broker drops it (ACL).
    const mallory = await mqtt.connectAsync(broker.url, { ...login("mallory"), protocolVersion: 5 });
    const payload = Buffer.from(
      encodeBatch({
        kind: "samples",
        robotId: "a",
        model: TEST_MODEL,
        targetKind: "logEnergy",
        n: 1,
        seq: 0,
        stamp: 1,
        sent: 0,
        lo: -1,
        hi: 1,
        targets: new Float32Array([0.1]),
        weights: new Float32Array([1]),
        features: new Float32Array(TEST_CHANNELS),
      }),
    );
    await mallory.publishAsync("terrain-learner/fleet/a/samples", payload, { qos: 1 }).catch(() => {});
    await mallory.endAsync();
    // No credentials: refused, retried, never in; nothing crashes.
    const stranger = robot(broker.url, "stranger");
    drive(a, 0, 3);
    await waitFor("b receives a", () => b.stats().received > 0);
    await waitFor("stranger was refused", () => /authori|password/i.test(stranger.stats().lastError));
    expect(stranger.connected).toBe(false);
    await waitFor("b has all of a's", () => b.stats().received === a.stats().sent);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.stats().received).toBe(a.stats().sent);
    expect(b.stats().peers).toBe(1);
  }, 30_000);

  it("a robot that stops leaves its last batch and a snapshot for robots that join later", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const a = robot(broker.url, "a");
    const b = robot(broker.url, "b");
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    // Shorter than snapshot_period (5 s): no periodic snapshot yet.
    drive(a, 0, 3);
    expect(a.stats().snapshotsSent).toBe(0);
    expect(a.stats().sent).toBe(3 * 40);
    // Labelled after the last training tick: due in the next batch, which never comes.
    a.exchange!.offerOwn(randomRows(50, 99));
    await a.close();
    // b, there all along, has every batch a made, its last one too.
    expect(a.stats().sent).toBe(4 * 40);
    await waitFor(
      () => `b has a's ${a.stats().sent} samples (${b.stats().received})`,
      () => b.stats().received === a.stats().sent,
    );
    const c = robot(broker.url, "c");
    await c.waitConnected();
    await waitFor(
      "c has a's snapshot",
      () => (c.stats().perPeer as Record<string, { snapshots: number }>).a?.snapshots === 1,
    );
  }, 30_000);

  it("counts as sent only what reached the broker, and says on close what never did", async () => {
    const broker = await Mosquitto.create({ started: false });
    open.push(broker);
    const lines: string[] = [];
    const a = robot(broker.url, "a", {}, (l) => lines.push(l));
    drive(a, 0, 6);
    await waitFor("a is refused", () => /ECONNREFUSED/.test(a.stats().lastError));
    await a.close();
    expect(a.stats().sent).toBe(0);
    expect([a.stats().batchesSent, a.stats().snapshotsSent]).toEqual([0, 0]);
    // Six batches and the newest snapshot.
    expect(a.stats().backlog).toBe(7);
    expect(lines.at(-1)).toMatch(
      /^fleet: closed \(sent 0 samples, used 0 from peers; 240 samples in 6 batches never sent \(connect ECONNREFUSED/,
    );
  }, 30_000);

  it("logs each outage: the connection lost, the error, the reconnect", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    const a = robot(broker.url, "a", {}, (l) => lines.push(l));
    await a.waitConnected();
    for (let i = 1; i <= 2; i++) {
      await broker.stop();
      await waitFor(`outage ${i} logged`, () => lines.filter((l) => /ECONNREFUSED/.test(l)).length === i);
      await broker.start();
      await waitFor(`reconnect ${i}`, () => a.stats().reconnects === i, 20_000);
    }
    expect(lines.filter((l) => l.startsWith("fleet: connection to the broker lost"))).toHaveLength(2);
    expect(lines.filter((l) => /^fleet: connected \(reconnect \d\)$/.test(l))).toHaveLength(2);
  }, 40_000);

  it("says when the broker drops what it publishes (an account that is not the robot id, under the ACL)", async () => {
    const broker = await aclBroker();
    const lines: string[] = [];
    const right: string[] = [];
    const a = robot(broker.url, "a", login("b"), (l) => lines.push(l));
    const b = robot(broker.url, "b", login("b"), (l) => right.push(l));
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 3);
    drive(b, 0, 3);
    await a.close();
    await b.close();
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^fleet: the broker drops what this robot publishes \('Not authorized' on terrain-learner\/fleet\/a\/(samples|snapshot)\): its ACL refuses the topic \(with launch\/fleet-acl.conf the user name 'b' must be the robot id/,
      ),
    );
    expect(right.join("\n")).not.toMatch(/drops|another client/);
    expect([a.stats().brokerDrops, b.stats().brokerDrops]).toEqual([true, false]);
  }, 30_000);

  it("two robots with one robot id each say so", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[][] = [[], []];
    const twins = [0, 1].map((i) => robot(broker.url, "a", {}, (l) => lines[i]!.push(l)));
    await Promise.all(twins.map((t) => t.waitConnected()));
    drive(twins[0]!, 0, 3, 1);
    drive(twins[1]!, 0, 3, 7);
    await waitFor("both notice", () => twins.every((t) => t.stats().sameId > 0));
    for (const l of lines)
      expect(l).toContain(
        "fleet: another client publishes as 'a' (terrain-learner/fleet/a/samples): two robots with one robot id? Peers take both for one robot, and neither learns from the other",
      );
  }, 30_000);

  it("logs the first refusal of each reason with what differs (a peer on another input_width)", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    const a = robot(broker.url, "a", {}, (l) => lines.push(l));
    await a.waitConnected();
    const peer = await mqtt.connectAsync(broker.url);
    const wide = { ...TEST_MODEL, inputWidth: 256 };
    for (let i = 0; i < 3; i++)
      await peer.publishAsync("terrain-learner/fleet/b/samples", oneSampleBatch("b", wide), { qos: 1 });
    await peer.publishAsync("terrain-learner/fleet/b/samples", Buffer.from("junk"), { qos: 1 });
    // Deleting a retained snapshot is no payload to refuse.
    await peer.publishAsync("terrain-learner/fleet/b/snapshot", Buffer.alloc(0), { qos: 1, retain: true });
    await peer.endAsync();
    await waitFor("all counted", () => a.stats().rejectedTotal >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.stats().rejected).toEqual({ layout: 3, schema: 1 });
    expect(lines.filter((l) => l.startsWith("fleet: refused"))).toEqual([
      "fleet: refused a payload on terrain-learner/fleet/b/samples (layout: feature layout 8/4/256/v1, ours 8/4/320/v1 (head/backbone channels/input_width/version)); further refusals are counted (rejected)",
      "fleet: refused a payload on terrain-learner/fleet/b/samples (schema: 4 bytes is shorter than the header); further refusals are counted (rejected)",
    ]);
  }, 30_000);

  // A snapshot on a samples topic was taken as a snapshot (and a batch on a snapshot topic, retained,
  // as a batch for every robot that joins): the kind must be the topic's, like the robot id.
  it("refuses a payload whose kind is not its topic's, counted and logged as other refusals", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    const a = robot(broker.url, "a", {}, (l) => lines.push(l));
    await a.waitConnected();
    const peer = await mqtt.connectAsync(broker.url);
    const fleet = "terrain-learner/fleet";
    await peer.publishAsync(`${fleet}/b/samples`, oneSampleBatch("b", TEST_MODEL, "snapshot"), { qos: 1 });
    await peer.publishAsync(`${fleet}/c/snapshot`, oneSampleBatch("c", TEST_MODEL, "samples"), {
      qos: 1,
      retain: true,
    });
    // The right kinds on the right topics still pass.
    await peer.publishAsync(`${fleet}/d/samples`, oneSampleBatch("d", TEST_MODEL, "samples"), { qos: 1 });
    await peer.publishAsync(`${fleet}/d/snapshot`, oneSampleBatch("d", TEST_MODEL, "snapshot"), { qos: 1 });
    await peer.endAsync();
    await waitFor(
      () => `all counted (${JSON.stringify(a.stats())})`,
      () => a.stats().rejectedTotal + a.stats().received + (a.stats().duplicates as number) >= 4,
    );
    expect(a.stats().rejected).toEqual({ kind: 2 });
    expect(a.stats().peers).toBe(1);
    expect(lines.filter((l) => l.startsWith("fleet: refused"))).toEqual([
      `fleet: refused a payload on ${fleet}/b/samples (kind: a snapshot on a samples topic); further refusals are counted (rejected)`,
    ]);
  }, 15_000);

  it("warns at the start when its snapshot is larger than the payload limit peers refuse beyond", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    // 256 samples of 8 channels: 10 305 bytes with the header and the id.
    const limit = { max_payload_bytes: 10_000 };
    const a = robot(broker.url, "a", limit, (l) => lines.push(l));
    const b = robot(broker.url, "b", limit);
    expect(lines).toContain(
      "fleet: a snapshot of 256 samples (snapshot_size) is 10305 bytes, over fleet.max_payload_bytes (10000): peers with that limit refuse it",
    );
    expect(lines.join("\n")).not.toMatch(/a batch of/);
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 6);
    // The broker holds the snapshot back from b (over the packet size b asked for); the batches pass.
    await waitFor("a's snapshot sent", () => (a.stats().snapshotsSent as number) > 0);
    await waitFor("b receives a's batches", () => b.stats().received >= 6 * 40);
    expect(b.stats().rejected).toEqual({});
  }, 30_000);

  it("blames no ACL when its own payloads are over its max_payload_bytes (the broker holds their echoes back)", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    // A 40-sample batch of 8 channels is about 1.7 kB: every payload is over this limit.
    const a = robot(broker.url, "a", { max_payload_bytes: 1000 }, (l) => lines.push(l));
    await a.waitConnected();
    drive(a, 0, 3);
    await waitFor("a's batches acknowledged", () => a.stats().sent >= 3 * 40);
    await a.close();
    expect(lines.join("\n")).not.toMatch(/drops what this robot publishes/);
    expect(a.stats().brokerDrops).toBe(false);
  }, 30_000);

  it("a payload far over max_payload_bytes never reaches the robot: the broker holds it back (MQTT 5)", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const b = robot(broker.url, "b", { max_payload_bytes: 10_000 });
    await b.waitConnected();
    const evil = await mqtt.connectAsync(broker.url);
    // 20 MB of zeros (a compression bomb's output, or a hostile peer), live and retained.
    const big = Buffer.alloc(20 * 1024 * 1024);
    await evil.publishAsync("terrain-learner/fleet/x/samples", big, { qos: 1 });
    await evil.publishAsync("terrain-learner/fleet/x/snapshot", big, { qos: 1, retain: true });
    await evil.publishAsync("terrain-learner/fleet/y/samples", oneSampleBatch("y"), { qos: 1 });
    await waitFor("the small payload after them", () => b.stats().received === 1);
    // A robot that joins later is not handed the retained one either.
    const c = robot(broker.url, "c", { max_payload_bytes: 10_000 });
    await c.waitConnected();
    await evil.publishAsync("terrain-learner/fleet/y/samples", oneSampleBatch("y"), { qos: 1 });
    await waitFor("c receives", () => c.stats().received === 1);
    await evil.endAsync();
    for (const r of [b, c]) {
      expect(r.stats().bytesIn).toBeLessThan(1000);
      expect(r.stats().rejected).toEqual({});
    }
  }, 30_000);

  it("with a broker that speaks only MQTT 3.1.1, goes on with 3.1.1 and says what it cannot ask", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const proxy = await mqtt311Proxy(broker.port);
    open.push(proxy);
    const lines: string[] = [];
    const old = robot(`mqtt://127.0.0.1:${proxy.port}`, "b", {}, (l) => lines.push(l));
    const a = robot(broker.url, "a");
    await Promise.all([old.waitConnected(), a.waitConnected()]);
    // Driven until b's subscription (through the proxy) is in place.
    let t = 0;
    await waitFor("b receives a's batches", () => {
      drive(a, t, t);
      t++;
      return old.stats().received > 0;
    });
    expect(lines).toContain(
      "fleet: the broker does not speak MQTT 5; using MQTT 3.1.1, which cannot ask it to hold back payloads over fleet.max_payload_bytes (set its own message size limit)",
    );
    expect(old.stats().lastError).toBe("");
  }, 30_000);

  it("a broker gone silent: close ends within mqtt.close_timeout, says what was not acknowledged, blames no ACL", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const lines: string[] = [];
    const config = defaultConfig();
    config.mqtt.robot_id = "a";
    config.mqtt.close_timeout = 1;
    config.fleet = { ...config.fleet, url: broker.url };
    const a = new FleetLink(config, { log: (l) => lines.push(l) });
    open.push(a);
    a.start(TEST_MODEL);
    await a.waitConnected();
    broker.pause();
    drive(a, 0, 3);
    // Past the 5 s in which our payloads would have come back from a broker that takes them.
    await new Promise((r) => setTimeout(r, 5500));
    expect(lines.join("\n")).not.toMatch(/drops what this robot publishes/);
    const t0 = Date.now();
    await a.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(lines.at(-1)).toMatch(
      /^fleet: closed \(sent \d+ samples, used 0 from peers; \d+ payloads? not acknowledged by the broker within mqtt.close_timeout\)$/,
    );
  }, 30_000);

  it("names the account the broker refused, never its password", async () => {
    const broker = await aclBroker();
    const lines: string[] = [];
    const a = robot(broker.url, "a", { username: "a", password: "wrong-secret" }, (l) => lines.push(l));
    await waitFor("refused", () => /authori/i.test(a.stats().lastError));
    await a.close();
    expect(lines).toContain(
      "fleet: Connection refused: Not authorized (user 'a': check fleet.username and fleet.password, one account per robot)",
    );
    expect(lines.join("\n")).not.toContain("wrong-secret");
  }, 30_000);

  it("names the account of a URL with credentials (mqtt://user:password@host), never its password", async () => {
    const broker = await aclBroker();
    const lines: string[] = [];
    const url = broker.url.replace("mqtt://", "mqtt://a:wrong-secret@");
    const a = robot(url, "a", {}, (l) => lines.push(l));
    await waitFor("refused", () => /authori/i.test(a.stats().lastError));
    await a.close();
    expect(lines).toContain(
      "fleet: Connection refused: Not authorized (user 'a': check fleet.username and fleet.password, one account per robot)",
    );
    expect(lines.join("\n")).not.toContain("wrong-secret");
  }, 30_000);

  it("takes its own payload delivered twice (a QoS 1 resend) for its own, not a twin's", async () => {
    const broker = await Mosquitto.create();
    open.push(broker);
    const a = robot(broker.url, "a");
    await a.waitConnected();
    const observer = await mqtt.connectAsync(broker.url);
    const got: Buffer[] = [];
    observer.on("message", (_t, p) => got.push(p));
    await observer.subscribeAsync("terrain-learner/fleet/a/samples", { qos: 1 });
    drive(a, 0, 2);
    await waitFor("a's batch", () => got.length > 0);
    await observer.publishAsync("terrain-learner/fleet/a/samples", got[0]!, { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(a.stats().sameId).toBe(0);
    await observer.publishAsync("terrain-learner/fleet/a/samples", oneSampleBatch("a"), { qos: 1 });
    await waitFor("a twin's payload", () => a.stats().sameId === 1);
    await observer.endAsync();
  }, 30_000);
});
