// Fleet sharing over TLS through a real Mosquitto run from the shipped launch/fleet-mosquitto.conf
// (paths and port swapped) with launch/fleet-acl.conf: per-robot passwords, then client
// certificates whose CN is the robot id. Certificates are made per run with openssl.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { oneSampleBatch, randomRows, TEST_MODEL } from "./helpers/fleet-rows.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/wait.ts";

const opensslMissing =
  spawnSync("openssl", ["version"]).status === 0 ? undefined : "openssl is not installed";
const missing = mosquittoMissing() ?? opensslMissing;
if (missing) console.warn(`SKIPPING fleet TLS tests: ${missing}`);

const SAMPLES = (id: string) => `terrain-learner/fleet/${id}/samples`;

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

// EC keys: RSA key generation would take seconds of the test's budget on a slow machine.
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-days",
    "2",
    "-subj",
    `/CN=${name} test CA`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  ]);
}

/** `<file>.crt/.key` for CN `cn`, signed by `ca`; the broker's also names 127.0.0.1 (SAN). */
function makeCert(dir: string, ca: string, file: string, cn: string, server = false): void {
  openssl(dir, ["req", ...EC, "-subj", `/CN=${cn}`, "-keyout", `${file}.key`, "-out", `${file}.csr`]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${file}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    `${file}.crt`,
    ...(server ? ["-extfile", "san.ext"] : []),
  ]);
}

const SHIPPED = readFileSync(join(import.meta.dirname, "../launch/fleet-mosquitto.conf"), "utf8");

/** launch/fleet-mosquitto.conf with this run's files and port; fails if a line it swaps is gone. */
function shippedConfig(dir: string, state: string, port: number, clientCertificates: boolean): string {
  const swaps: [string, string][] = [
    ["listener 8883", `listener ${port} 127.0.0.1`],
    ["/etc/mosquitto/fleet.passwd", join(dir, "fleet.passwd")],
    ["/etc/mosquitto/fleet-acl.conf", join(dir, "fleet-acl.conf")],
    ["/etc/mosquitto/certs/", `${dir}/`],
    ["/var/lib/mosquitto/", `${state}/`],
  ];
  if (clientCertificates)
    swaps.push(
      ["# require_certificate true", "require_certificate true"],
      ["# use_identity_as_username true", "use_identity_as_username true"],
    );
  let text = SHIPPED;
  for (const [from, to] of swaps) {
    if (!text.includes(from)) throw new Error(`launch/fleet-mosquitto.conf has no '${from}' any more`);
    text = text.replaceAll(from, to);
  }
  return `${text}\nlog_dest stderr\nlog_type error\nlog_type warning\n`;
}

type FleetOptions = Partial<ReturnType<typeof defaultConfig>["fleet"]>;

describe.skipIf(missing !== undefined)("fleet over TLS with the shipped broker config and ACL", () => {
  let dir = "";
  const file = (name: string) => join(dir, name);
  let passwords: Mosquitto;
  let certificates: Mosquitto;
  const open: { close(): Promise<void> }[] = [];
  const raw: MqttClient[] = [];

  beforeAll(async () => {
    // Made here, not at collection, so that a skipped run leaves nothing behind.
    dir = mkdtempSync(join(tmpdir(), "tl-fleet-tls-"));
    makeCa(dir, "ca");
    makeCa(dir, "other-ca"); // an unrelated CA: a broker nobody should trust, a forged robot
    makeCert(dir, "ca", "broker", "127.0.0.1", true);
    for (const id of ["rover-a", "rover-b", "rover-c"]) makeCert(dir, "ca", id, id);
    makeCert(dir, "other-ca", "forged-rover-a", "rover-a");
    writeFileSync(file("fleet.passwd"), "");
    for (const id of ["rover-a", "rover-b", "rover-c"]) {
      const r = spawnSync("mosquitto_passwd", ["-b", file("fleet.passwd"), id, `${id}-secret`]);
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    }
    copyFileSync(join(import.meta.dirname, "../launch/fleet-acl.conf"), file("fleet-acl.conf"));
    // The broker drops root privileges to `mosquitto`, which must read the files.
    chmodSync(dir, 0o777);
    for (const f of readdirSync(dir)) chmodSync(file(f), 0o644);
    const broker = (state: string, clientCertificates: boolean) => {
      mkdirSync(file(state));
      return Mosquitto.create({
        dir: file(state),
        config: (port) => shippedConfig(dir, file(state), port, clientCertificates),
      });
    };
    [passwords, certificates] = await Promise.all([broker("passwords", false), broker("certificates", true)]);
  }, 30_000);
  afterAll(async () => {
    await passwords?.stop("SIGTERM");
    await certificates?.stop("SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const c of raw.splice(0)) await c.endAsync(true);
    for (const o of open.splice(0).reverse()) await o.close();
  });

  const url = (broker: Mosquitto) => `mqtts://127.0.0.1:${broker.port}`;
  const login = (id: string): FleetOptions => ({ username: id, password: `${id}-secret` });
  const certs = (id: string): FleetOptions => ({ cert: file(`${id}.crt`), key: file(`${id}.key`) });

  function robot(broker: Mosquitto, id: string, extra: FleetOptions) {
    const config = defaultConfig();
    config.mqtt.robot_id = id;
    config.mqtt.reconnect_period = 0.2;
    config.fleet = { ...config.fleet, url: url(broker), ca: file("ca.crt"), snapshot_period: 5, ...extra };
    const link = new FleetLink(config);
    open.push(link);
    link.start(TEST_MODEL);
    return link;
  }

  /** Sensor seconds t0..t1 of a robot that labels 50 rows a second. */
  function drive(link: FleetLink, t0: number, t1: number): void {
    for (let t = t0; t <= t1; t++) {
      link.exchange!.offerOwn(randomRows(50, 1 + t));
      link.take(t);
    }
  }

  async function client(broker: Mosquitto, options: mqtt.IClientOptions): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url(broker), {
      ca: readFileSync(file("ca.crt")),
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...options,
    });
    raw.push(c);
    return c;
  }

  /**
   * `as` publishes a valid batch on rover-b's topic, then a marker on its own (rover-a's); an
   * observer reading every robot's samples sees the marker, and must not have seen the first.
   */
  async function forgeryReachesNobody(
    broker: Mosquitto,
    as: mqtt.IClientOptions,
    observerAs: mqtt.IClientOptions,
  ) {
    const seen: string[] = [];
    const observer = await client(broker, observerAs);
    observer.on("message", (topic) => seen.push(topic));
    await observer.subscribeAsync("terrain-learner/fleet/+/samples", { qos: 1 });
    const mallory = await client(broker, as);
    // Mosquitto answers a v5 QoS 1 publish it drops with "Not authorized".
    const refused = await mallory
      .publishAsync(SAMPLES("rover-b"), oneSampleBatch("rover-b"), { qos: 1 })
      .then(
        () => "",
        (err: Error) => err.message,
      );
    await mallory.publishAsync(SAMPLES("rover-a"), oneSampleBatch("rover-a"), { qos: 1 });
    await waitFor("the observer gets the marker", () => seen.includes(SAMPLES("rover-a")));
    expect(seen).not.toContain(SAMPLES("rover-b"));
    expect(refused).toMatch(/authori/i);
  }

  it("shares samples between two robots over mqtts:// with passwords and the CA", async () => {
    const a = robot(passwords, "rover-a", login("rover-a"));
    const b = robot(passwords, "rover-b", login("rover-b"));
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 6);
    await waitFor("rover-b receives rover-a's batches", () => b.stats().received >= 6 * 40);
    expect(b.stats().peers).toBe(1);
    expect(Object.keys(b.stats().perPeer as object)).toEqual(["rover-a"]);
    expect(b.take(7)?.[0]?.n).toBeGreaterThan(0);
    expect(a.stats().bytesOut).toBeGreaterThan(0);
    expect(b.stats().bytesIn).toBeGreaterThan(0);
    expect(a.stats().lastError).toBe("");
    expect(b.stats().lastError).toBe("");
  }, 15_000);

  it("a robot that does not trust the broker's certificate stays out, says why, and disturbs nobody", async () => {
    const a = robot(passwords, "rover-a", login("rover-a"));
    const b = robot(passwords, "rover-b", login("rover-b"));
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    // Right password, wrong trust: another CA, or none (the system CAs).
    const wrongCa = robot(passwords, "rover-c", { ...login("rover-c"), ca: file("other-ca.crt") });
    const noCa = robot(passwords, "rover-c", { ...login("rover-c"), ca: "" });
    await waitFor(
      () => `certificate errors (${wrongCa.stats().lastError} / ${noCa.stats().lastError})`,
      () => /certificate/i.test(wrongCa.stats().lastError) && /certificate/i.test(noCa.stats().lastError),
      5_000,
    );
    drive(a, 0, 3);
    await waitFor("rover-b receives rover-a", () => b.stats().received >= 3 * 40);
    expect(wrongCa.connected).toBe(false);
    expect(noCa.connected).toBe(false);
    expect(wrongCa.stats().received + noCa.stats().received).toBe(0);
    expect(a.connected && b.connected).toBe(true);
    // The same account with the right CA gets in: it was the certificate, not the password.
    const c = robot(passwords, "rover-c", login("rover-c"));
    await c.waitConnected();
    // A missing CA file is a config error before anything connects, naming the file.
    const config = defaultConfig();
    config.mqtt.robot_id = "rover-c";
    config.fleet = { ...config.fleet, url: url(passwords), ca: file("missing-ca.crt") };
    expect(() => new FleetLink(config)).toThrow(
      `fleet: cannot read CA file ${file("missing-ca.crt")}: ENOENT`,
    );
  }, 15_000);

  it("over TLS the ACL keeps a robot off another's topic, and no or a wrong password stays out", async () => {
    await forgeryReachesNobody(
      passwords,
      { username: "rover-a", password: "rover-a-secret" },
      { username: "rover-c", password: "rover-c-secret" },
    );
    const stranger = robot(passwords, "rover-x", {});
    const guesser = robot(passwords, "rover-b", { username: "rover-b", password: "guess" });
    await waitFor(
      () => `both refused (${stranger.stats().lastError} / ${guesser.stats().lastError})`,
      () =>
        /authori|password/i.test(stranger.stats().lastError) &&
        /authori|password/i.test(guesser.stats().lastError),
    );
    expect(stranger.connected || guesser.connected).toBe(false);
  }, 15_000);

  it("with client certificates, the certificate's CN is the robot id for login and ACL", async () => {
    // No user names or passwords: the ACL's %u is the CN, so sharing works only if it is the robot id.
    const a = robot(certificates, "rover-a", certs("rover-a"));
    const b = robot(certificates, "rover-b", certs("rover-b"));
    await Promise.all([a.waitConnected(), b.waitConnected()]);
    drive(a, 0, 3);
    await waitFor("rover-b receives rover-a's batches", () => b.stats().received >= 3 * 40);
    expect(b.stats().peers).toBe(1);
    const pem = (id: string) => ({
      cert: readFileSync(file(`${id}.crt`)),
      key: readFileSync(file(`${id}.key`)),
    });
    await forgeryReachesNobody(certificates, pem("rover-a"), pem("rover-c"));
    // A password without a certificate, and a certificate for rover-a from another CA: refused.
    const password = robot(certificates, "rover-c", login("rover-c"));
    const forged = robot(certificates, "rover-a", certs("forged-rover-a"));
    await waitFor(
      () => `both refused (${password.stats().lastError} / ${forged.stats().lastError})`,
      () =>
        /certificate required/i.test(password.stats().lastError) &&
        /unknown ca/i.test(forged.stats().lastError),
    );
    expect(password.connected || forged.connected).toBe(false);
  }, 15_000);
});
