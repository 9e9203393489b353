// Child process for tests/fault-checkpoint.test.ts: a learner that trains and checkpoints in a loop
// until it is killed, or that only loads the newest checkpoint and reports what it got.
//
//   node --import tsx tests/fault-checkpoint-child.ts train DIR   resume if possible, then train+save forever
//   node --import tsx tests/fault-checkpoint-child.ts probe DIR   load the newest valid checkpoint, print its digest
//
// One JSON line per event on stdout: {"event":"start","resumed":bool,"sha256":...,"steps":n},
// {"event":"saved","path":...,"sha256":...,"steps":n}; warnings go to stderr.

import { createHash } from "node:crypto";
import { OnlineLearner } from "../src/learning/learner.ts";
import { seededRandom } from "../src/learning/replay-buffer.ts";
import { defaultConfig } from "../src/runtime/config.ts";

const [mode, dir] = process.argv.slice(2);
if (!dir || (mode !== "train" && mode !== "probe"))
  throw new Error("usage: fault-checkpoint-child.ts train|probe DIR");
const C = 8;
const learner = await OnlineLearner.create(
  { ...defaultConfig().learner, min_samples: 8, buffer_size: 2000, checkpoint_keep: 3 },
  C,
  { warn: (m: string) => process.stderr.write(`${m}\n`) },
);
const digest = async () =>
  createHash("sha256")
    .update(new Uint8Array(await learner.getWeights()))
    .digest("hex");
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const resumed = await learner.loadLatestCheckpoint(dir);
say({ event: "start", resumed, sha256: await digest(), steps: learner.stats().trainSteps });
if (mode === "probe") process.exit(0);

const rand = seededRandom(process.pid);
for (;;) {
  const n = 64;
  const features = new Float32Array(n * C).map(() => rand() * 2 - 1);
  const targets = new Float32Array(n).map((_, i) => ((features[i * C] as number) > 0 ? 0.8 : 0.2));
  learner.addSamples(features, targets);
  await learner.train(10);
  const path = await learner.saveCheckpoint(dir);
  say({ event: "saved", path, sha256: await digest(), steps: learner.stats().trainSteps });
}
