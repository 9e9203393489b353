// The fleet proof in seconds: two real learners (tfjs head) share through a real Mosquitto. Ground
// is synthetic: terrain classes as clusters in feature space, labels log10 energy of the class's
// roughness. A drives classes {0, 2, 5} and B {1, 4, 6}; both drive class 3. With the fleet, A ranks
// B's classes about as well as B does, and it does not without; with B's IMU feeling 0.44 log10
// units more (another mounting), the offset measured on class 3 keeps one scale across the fleet.
// (The long version on simulator bags is bench/fleet-proof.ts, docs/fleet.md.)
import { afterAll, describe, expect, it } from "vitest";
import { FleetLink } from "../src/adapters/mqtt-fleet.ts";
import { spearman } from "../src/eval/metrics.ts";
import type { FleetModel } from "../src/fleet/codec.ts";
import type { FleetRows } from "../src/fleet/exchange.ts";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { Mosquitto, mosquittoMissing } from "./helpers/mosquitto.ts";

const missing = mosquittoMissing();
const C = 8;
const ROUGH = [0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9];
const rand = seededRandom(11);
const centres = ROUGH.map(() => Float32Array.from({ length: C }, () => 2 * rand() - 1));
const MODEL: FleetModel = {
  backboneHash: new Uint8Array(16).fill(5),
  channels: C,
  backboneChannels: 4,
  inputWidth: 320,
  layoutVersion: 1,
};

/** n samples of the given classes; label = log10 energy (lo −1, hi 1) + the IMU's offset. */
function ground(
  classes: number[],
  n: number,
  imuOffset: number,
  r: () => number,
): FleetRows & { cls: Int32Array } {
  const features = new Float32Array(n * C);
  const targets = new Float32Array(n);
  const cls = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = classes[Math.floor(r() * classes.length)]!;
    cls[i] = k;
    for (let c = 0; c < C; c++) features[i * C + c] = centres[k]![c]! + 0.15 * (2 * r() - 1);
    targets[i] = -1 + 2 * ROUGH[k]! + imuOffset + 0.05 * (2 * r() - 1);
  }
  return {
    stamp: 0,
    features,
    targets,
    weights: new Float32Array(n).fill(1),
    n,
    channels: C,
    targetKind: "logEnergy",
    lo: -1,
    hi: 1,
    cls,
  };
}

async function robot(id: string, url: string | undefined) {
  const config = defaultConfig();
  config.mqtt.robot_id = id;
  config.learner.min_samples = 32;
  const learner = await OnlineLearner.create({ ...config.learner, novelty: "autoencoder" }, C, {
    predictor: "tfjs",
  });
  let link: FleetLink | undefined;
  if (url) {
    config.fleet = { ...config.fleet, url, radius: 0.5 };
    link = new FleetLink(config);
    link.start(MODEL);
    await link.waitConnected();
  }
  const add = (rows: FleetRows) => {
    if (rows.hi > rows.lo) learner.setLabelCalibration(rows.lo, rows.hi, 0);
    learner.addSamples(rows.features, rows.targets, rows.weights);
  };
  return { learner, link, add };
}

type Robot = Awaited<ReturnType<typeof robot>>;

/** Drives robots side by side for `seconds`; each second its own rows, its peers' rows, 10 steps. */
async function drive(robots: { r: Robot; classes: number[]; offset: number }[], seconds: number) {
  const r = seededRandom(3);
  for (let t = 0; t < seconds; t++) {
    for (const { r: x, classes, offset } of robots) {
      const own = ground(classes, 60, offset, r);
      x.add(own);
      x.link?.exchange?.offerOwn(own);
      for (const rows of x.link?.take(t) ?? []) x.add(rows);
      await x.learner.train(10);
    }
    // The broker's deliveries.
    await new Promise((res) => setTimeout(res, 15));
  }
}

/** ρ of a learner's predictions on fresh samples of `classes`. */
function rho(x: Robot, classes: number[]): number {
  const test = ground(classes, 600, 0, seededRandom(99));
  const p = x.learner.predict(test.features, test.n).roughness;
  return spearman(
    p,
    Array.from(test.cls, (k) => ROUGH[k]!),
  );
}

const A = [0, 2, 5, 3];
const B = [1, 4, 6, 3];
const B_ONLY = [1, 4, 6];
const ALL = [0, 1, 2, 3, 4, 5, 6];

describe.skipIf(missing)("fleet learning through a real broker", () => {
  let broker: Mosquitto;
  const made: Robot[] = [];
  afterAll(async () => {
    for (const x of made) {
      await x.link?.close();
      x.learner.dispose();
    }
    await broker?.close();
  });

  it("A learns the ground only B drove, and one scale holds with B's IMU mounted otherwise", async () => {
    broker = await Mosquitto.create();
    const a = await robot("a", broker.url);
    const b = await robot("b", broker.url);
    const solo = await robot("solo", undefined);
    made.push(a, b, solo);
    await drive(
      [
        { r: a, classes: A, offset: 0 },
        { r: b, classes: B, offset: 0 },
        { r: solo, classes: A, offset: 0 },
      ],
      30,
    );
    const own = rho(b, B_ONLY);
    const shared = rho(a, B_ONLY);
    const alone = rho(solo, B_ONLY);
    console.log(
      `B-only classes: B ${own.toFixed(3)}, A with fleet ${shared.toFixed(3)}, A alone ${alone.toFixed(3)}`,
    );
    expect(own).toBeGreaterThan(0.8);
    expect(shared).toBeGreaterThanOrEqual(0.9 * own);
    expect(alone).toBeLessThan(shared - 0.2);
    expect(a.link!.stats().used).toBeGreaterThan(0);

    // Another pair, B's IMU on a stiffer mount: +0.44 in every log10 label, same bounds.
    const a2 = await robot("a2", broker.url);
    const b2 = await robot("b2", broker.url);
    made.push(a2, b2);
    await drive(
      [
        { r: a2, classes: A, offset: 0 },
        { r: b2, classes: B, offset: 0.44 },
      ],
      30,
    );
    const peer = (a2.link!.stats().perPeer as Record<string, { offset: number | null }>).b2!;
    expect(peer.offset).not.toBeNull();
    expect(peer.offset!).toBeCloseTo(-0.44, 1);
    const all = rho(a2, ALL);
    console.log(`IMU offset measured ${peer.offset!.toFixed(3)}; A's ρ over all classes ${all.toFixed(3)}`);
    expect(all).toBeGreaterThan(0.8);
  }, 60_000);
});
