// mqtts:// with a CA, a client certificate and key, against a real Mosquitto TLS listener that
// requires client certificates. Certificates are made per run with openssl.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MqttTelemetry } from "../src/adapters/mqtt.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { runCli } from "./helpers/cli.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";
import { waitFor } from "./helpers/wait.ts";

const opensslMissing =
  spawnSync("openssl", ["version"]).status === 0 ? undefined : "openssl is not installed";
const missing = mosquittoMissing() ?? opensslMissing;
if (missing) console.warn(`SKIPPING MQTT TLS tests: ${missing}`);

function openssl(dir: string, args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(dir: string, prefix: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${prefix} test CA`,
    "-keyout",
    `${prefix}ca.key`,
    "-out",
    `${prefix}ca.crt`,
  ]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  for (const who of ["server", "client"]) {
    openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${who === "server" ? "127.0.0.1" : "rover7"}`,
      "-keyout",
      `${prefix}${who}.key`,
      "-out",
      `${prefix}${who}.csr`,
    ]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${prefix}${who}.csr`,
      "-CA",
      `${prefix}ca.crt`,
      "-CAkey",
      `${prefix}ca.key`,
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${prefix}${who}.crt`,
      ...(who === "server" ? ["-extfile", "san.ext"] : []),
    ]);
  }
}

describe.skipIf(missing !== undefined)("MQTT over TLS (mqtts://) with CA, client certificate and key", () => {
  const dir = mkdtempSync(join(tmpdir(), "tl-mqtt-tls-"));
  let broker: Mosquitto;
  beforeAll(async () => {
    makeCertificates(dir, "");
    makeCertificates(dir, "other-"); // an unrelated CA, for the negative case
    // The broker drops root privileges to `mosquitto`, which must read the files.
    chmodSync(dir, 0o777);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    broker = await Mosquitto.create({
      dir,
      listenerOptions: [
        `cafile ${join(dir, "ca.crt")}`,
        `certfile ${join(dir, "server.crt")}`,
        `keyfile ${join(dir, "server.key")}`,
        "require_certificate true",
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<ReturnType<typeof defaultConfig>["mqtt"]>) => ({
    ...defaultConfig().mqtt,
    url: `mqtts://127.0.0.1:${broker.port}`,
    robot_id: "rover7",
    reconnect_period: 0.2,
    ...extra,
  });

  it("connects with the CA, certificate and key files", async () => {
    const t = new MqttTelemetry(
      options({ ca: join(dir, "ca.crt"), cert: join(dir, "client.crt"), key: join(dir, "client.key") }),
    );
    try {
      await t.waitConnected(20_000);
      expect(t.stats().connected).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("refuses a broker whose certificate is not signed by the configured CA, and keeps retrying", async () => {
    const t = new MqttTelemetry(
      options({ ca: join(dir, "other-ca.crt"), cert: join(dir, "client.crt"), key: join(dir, "client.key") }),
    );
    try {
      await waitFor("a certificate error", () => /certificate/i.test(t.stats().lastError), 20_000);
      expect(t.stats().connected).toBe(false);
    } finally {
      await t.close();
    }
  });

  it("names an unreadable certificate file", () => {
    expect(() => new MqttTelemetry(options({ ca: join(dir, "missing-ca.crt") }))).toThrow(
      `mqtt: cannot read CA file ${join(dir, "missing-ca.crt")}: ENOENT`,
    );
  });
});

describe("a TLS file the config names but that is missing", () => {
  it("is one line naming it, without the stack-trace hint meant for bugs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tl-mqtt-ca-"));
    try {
      const ca = join(dir, "no-such-ca.crt");
      writeFileSync(join(dir, "robot.yaml"), `mqtt:\n  ca: ${ca}\n`);
      const r = await runCli(
        [
          "run",
          "--serial",
          join(dir, "ttyNone"),
          "--mqtt",
          "mqtts://127.0.0.1:8883",
          "-c",
          "robot.yaml",
          "--duration",
          "1",
        ],
        dir,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`terrain-learner: mqtt: cannot read CA file ${ca}: ENOENT\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
