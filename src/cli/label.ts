// `terrain-learner label BAG`: fusion + vibration labeller over a recorded bag (IMU + odometry, TF
// when present; no camera needed). Prints the labels as a table and a summary, or JSON lines
// (`--json`), or the calibration statistics to paste into a config (`--stats`).
//
// `runLabel` is the reusable part (tests call it).

import cliProgress from "cli-progress";
import type { Command } from "commander";
import { SelfSupervisor, type SelfSupervisorStats } from "../core/self-supervisor.ts";
import type { RoughnessLabel } from "../core/types.ts";
import { openBag } from "../io/bag/index.ts";
import { imuFromRos, odomFromRos, transformsFromRos } from "../io/ros/convert.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import { addTopicOptions, applyTopicFlags, requireTopics, type TopicNeed, withBagTopics } from "./topics.ts";

/** What labelling needs from a bag (replay needs these too). */
export const LABEL_TOPICS: readonly TopicNeed[] = [
  { what: "IMU", keys: ["imu"] },
  { what: "odometry", keys: ["odom"], why: "labels need distance travelled" },
];

import { CONFIG_HELP, collect } from "./options.ts";

export interface LabelRunOptions {
  bag: string;
  config: Config;
  onLabel?: (label: RoughnessLabel) => void;
  onProgress?: (done: number, total: number, labels: number) => void;
}

export interface LabelSummary {
  bag: string;
  imuTopic: string;
  odomTopic: string;
  duration: number;
  labels: number;
  skipped: Record<string, number>;
  dropped: {
    imu: Record<string, number>;
    odom: Record<string, number>;
    tf: number;
    undecodable: Record<string, number>;
  };
  /** Speed-normalised energy percentiles (p1 … p99) and the same in log10, for `labeler.calibration`. */
  energyPercentiles: Record<string, number>;
  log10EnergyPercentiles: Record<string, number>;
  meanSpeed: number;
  vertical: SelfSupervisorStats["vertical"];
  imuRate: number;
  calibration: Config["labeler"]["calibration"];
}

const PERCENTILES = [1, 5, 25, 50, 75, 95, 99];

export async function runLabel(opts: LabelRunOptions): Promise<LabelSummary> {
  const source = await openBag(opts.bag).catch((err: Error) => {
    throw new UserError(err.message);
  });
  try {
    const info = await source.info();
    const names = info.topics.map((t) => t.name);
    const config = withBagTopics(opts.config, info);
    const imuTopic = config.topics.imu;
    const odomTopic = config.topics.odom;
    requireTopics(opts.bag, info, config, LABEL_TOPICS);
    const tfTopic = config.topics.tf;
    const tfStaticTopic = config.topics.tf_static;
    const topics = [imuTopic, odomTopic, ...[tfTopic, tfStaticTopic].filter((t) => names.includes(t))];

    const sup = new SelfSupervisor<never>(config);
    const undecodable: Record<string, number> = {};
    let speedSum = 0;
    let count = 0;
    let lastProgress = 0;
    const emit = (labels: RoughnessLabel[]) => {
      for (const l of labels) {
        speedSum += l.speed;
        count++;
        opts.onLabel?.(l);
      }
    };
    for await (const ev of source.messages({ topics })) {
      if (ev.type === "problem") {
        undecodable[ev.kind] = (undecodable[ev.kind] ?? 0) + 1;
        continue;
      }
      try {
        if (ev.topic === imuTopic) sup.onImu(imuFromRos(ev.message));
        else if (ev.topic === odomTopic) {
          sup.onOdom(odomFromRos(ev.message));
          emit(sup.drain().labels);
        } else if (ev.topic === tfStaticTopic) sup.onTransforms(transformsFromRos(ev.message, true));
        else if (ev.topic === tfTopic) sup.onTransforms(transformsFromRos(ev.message, false));
      } catch (err) {
        // A message that does not convert (wrong type on the topic, missing fields) is counted.
        const key = `${ev.topic}: ${(err as Error).message.split("\n")[0]}`;
        undecodable[key] = (undecodable[key] ?? 0) + 1;
      }
      if (opts.onProgress && ev.logTime - lastProgress > 1) {
        lastProgress = ev.logTime;
        opts.onProgress(ev.logTime - info.start, info.duration, count);
      }
    }
    emit(sup.flush().labels);
    const st = sup.stats();
    const energy = sup.energyPercentiles(PERCENTILES);
    const logE: Record<string, number> = {};
    for (const [k, v] of Object.entries(energy)) logE[k] = round(Math.log10(v), 4);
    return {
      bag: opts.bag,
      imuTopic,
      odomTopic,
      duration: round(info.duration, 3),
      labels: count,
      skipped: st.labels.skipped,
      dropped: { imu: st.imu.dropped, odom: st.odom.dropped, tf: st.tf.dropped, undecodable },
      energyPercentiles: Object.fromEntries(Object.entries(energy).map(([k, v]) => [k, sig(v)])),
      log10EnergyPercentiles: logE,
      meanSpeed: count ? round(speedSum / count, 4) : 0,
      vertical: {
        source: st.vertical.source,
        axis: st.vertical.axis.map((x) => round(x, 4)) as [number, number, number],
      },
      imuRate: round(st.imuRate, 2),
      calibration: config.labeler.calibration,
    };
  } finally {
    await source.close();
  }
}

function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function sig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(5)) : x;
}

function labelJson(l: RoughnessLabel): string {
  return JSON.stringify({
    t: round(l.stamp, 4),
    x: round(l.x, 4),
    y: round(l.y, 4),
    roughness: round(l.roughness, 4),
    energy: sig(l.energy),
    speed: round(l.speed, 4),
  });
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}

/**
 * The calibration as a params file of its own (later params files override earlier ones key by key):
 * pass it after the main one, or copy its `labeler:` block into the main file.
 */
function statsYaml(s: LabelSummary): string {
  const lo = s.log10EnergyPercentiles.p5;
  const hi = s.log10EnergyPercentiles.p95;
  return [
    `# ${s.labels} labels from ${s.bag}; speed-normalised energy percentiles:`,
    ...Object.entries(s.energyPercentiles).map(
      ([k, v]) => `#   ${k.padEnd(4)} ${v.toExponential(3)}  (log10 ${s.log10EnergyPercentiles[k]})`,
    ),
    "# Fixed calibration from the 5th/95th percentiles (roughness 0.05 and 0.95), as a params file:",
    "# pass it after your params file (`--params-file params.yaml --params-file THIS` for the node,",
    "# `--config params.yaml --config THIS` for replay/label/demo/run; later files win), or copy the",
    "# labeller block into your params file under terrain_learner: ros__parameters:.",
    "terrain_learner:",
    "  ros__parameters:",
    "    labeler:",
    "      calibration:",
    "        mode: fixed",
    `        low: ${lo}`,
    `        high: ${hi}`,
  ].join("\n");
}

export function register(program: Command): void {
  const cmd = program
    .command("label <bag>")
    .description(
      "label the ground a robot drove over by IMU vibration (one label per step of labeler.step_length m): prints t, x, y, speed, energy, roughness; no camera needed",
    )
    .option("-c, --config <file>", CONFIG_HELP, collect);
  addTopicOptions(cmd, ["imu", "odom"])
    .option(
      "--json",
      'one JSON object per label per line {"t","x","y","roughness","energy","speed"}, then {"summary":{...}}',
    )
    .option(
      "--stats",
      "print only the calibration statistics (energy percentiles) and a params file with fixed labeler.calibration bounds",
    )
    .addHelpText(
      "after",
      `
energy is the speed-normalised vibration feature (comparable across bags); roughness is energy
mapped to 0..1 by labeler.calibration (running percentiles by default, or fixed log10 bounds).
Use --stats on a representative bag to get fixed bounds, as a params file to layer over yours.

Examples:
  terrain-learner label run.mcap
  terrain-learner label run.db3 --imu /husky/imu --odom /husky/odometry --json > labels.jsonl
  terrain-learner label run.mcap --stats > calibration.yaml
  terrain-learner replay other.mcap --config params.yaml --config calibration.yaml`,
    )
    .action(
      action(
        async (
          bag: string,
          o: { config?: string[]; imu?: string; odom?: string; json?: boolean; stats?: boolean },
        ) => {
          let config: Config;
          try {
            config = loadConfig(o.config);
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          applyTopicFlags(config, o);
          const out = process.stdout;
          // `label bag | head` closes the pipe early: that is the reader saying "enough", not an error.
          out.on("error", (err: NodeJS.ErrnoException) => {
            if (err.code === "EPIPE") process.exit(0);
            throw err;
          });
          const bar = process.stderr.isTTY
            ? new cliProgress.SingleBar(
                {
                  stream: process.stderr,
                  format: "label [{bar}] {percentage}% | {value}/{total} s | labels {labels}",
                  hideCursor: true,
                  clearOnComplete: true,
                },
                cliProgress.Presets.shades_classic,
              )
            : null;
          let started = false;
          let header = false;
          const summary = await runLabel({
            bag,
            config,
            onLabel: (l) => {
              if (o.stats) return;
              if (o.json) {
                out.write(`${labelJson(l)}\n`);
                return;
              }
              if (!header) {
                out.write(
                  `${pad("t (s)", 14)} ${pad("x (m)", 9)} ${pad("y (m)", 9)} ${pad("speed", 7)} ${pad("energy", 11)} ${pad("roughness", 9)}\n`,
                );
                header = true;
              }
              out.write(
                `${pad(l.stamp.toFixed(3), 14)} ${pad(l.x.toFixed(2), 9)} ${pad(l.y.toFixed(2), 9)} ${pad(l.speed.toFixed(2), 7)} ${pad(l.energy.toExponential(3), 11)} ${pad(l.roughness.toFixed(3), 9)}\n`,
              );
            },
            onProgress: bar
              ? (done, total, labels) => {
                  if (!started) {
                    bar.start(Math.max(1, Math.round(total)), 0, { labels: 0 });
                    started = true;
                  }
                  bar.update(Math.round(done), { labels });
                }
              : undefined,
          }).finally(() => {
            if (started) bar?.stop();
          });
          // A run that made no label did nothing: it says why and exits non-zero, after the
          // summary (its counters are the diagnosis), but never with a calibration snippet of NaN.
          const none =
            summary.labels === 0
              ? new UserError(`${bag}: no labels: ${noLabelsReason(summary, config)}`)
              : undefined;
          if (o.stats) {
            if (o.json) out.write(`${JSON.stringify({ summary })}\n`);
            else if (!none) out.write(`${statsYaml(summary)}\n`);
            if (none) throw none;
            return;
          }
          if (o.json) {
            out.write(`${JSON.stringify({ summary })}\n`);
            if (none) throw none;
            return;
          }
          const skipped =
            Object.entries(summary.skipped)
              .filter(([, v]) => v > 0)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ") || "none";
          const dropped =
            [
              ...Object.entries(summary.dropped.imu)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `imu ${k} ${v}`),
              ...Object.entries(summary.dropped.odom)
                .filter(([, v]) => v > 0)
                .map(([k, v]) => `odom ${k} ${v}`),
              ...(summary.dropped.tf ? [`tf ${summary.dropped.tf}`] : []),
              ...Object.entries(summary.dropped.undecodable).map(([k, v]) => `${k} ${v}`),
            ].join(", ") || "none";
          const p = summary.energyPercentiles;
          out.write(
            [
              "",
              `${summary.labels} labels over ${summary.duration.toFixed(1)} s (${summary.imuTopic}${Number.isFinite(summary.imuRate) ? ` at ${summary.imuRate} Hz` : ""}, ${summary.odomTopic}), mean speed ${summary.meanSpeed.toFixed(2)} m/s`,
              `skipped steps: ${skipped}`,
              `dropped messages: ${dropped}`,
              `vertical axis (IMU frame): [${summary.vertical.axis.join(", ")}] from ${summary.vertical.source === "tf" ? "TF" : "gravity in the data"}`,
              `energy percentiles: p5 ${fmt(p.p5)}  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)} (calibration ${summary.calibration.mode}; --stats for a config snippet)`,
              "",
            ].join("\n"),
          );
          if (none) throw none;
        },
      ),
    );
}

/** Why a bag gave no label, from the summary's counters. */
export function noLabelsReason(s: LabelSummary, config: Config): string {
  const count = (r: Record<string, number>) =>
    Object.entries(r)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  const undecodable = Object.values(s.dropped.undecodable).reduce((a, b) => a + b, 0);
  const parts: string[] = [];
  if (undecodable > 0) parts.push(`${undecodable} messages did not decode (${count(s.dropped.undecodable)})`);
  const skipped = count(s.skipped);
  if (skipped) parts.push(`every step was skipped (${skipped})`);
  if (!parts.length)
    parts.push(
      `the robot never completed a ${config.labeler.step_length} m step (labeler.step_length) while moving in ${s.duration} s of data`,
    );
  return parts.join("; ");
}

function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "n/a" : x.toExponential(3);
}
