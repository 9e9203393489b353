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
  /** IMU samples and odometry messages the labeller took. */
  accepted: { imu: number; odom: number };
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
  /** The IMU messages' frame_id (the last one seen). */
  imuFrame: string;
  /**
   * `gravity`: the mean acceleration over the bag (m/s², IMU frame), which is gravity on an IMU
   * that reports it; `angle`: degrees between its direction and `axis` (null without IMU data).
   */
  vertical: SelfSupervisorStats["vertical"] & { gravity: [number, number, number]; angle: number | null };
  /**
   * Path length of the odometry's positions (what steps are cut by) and the distance its twist adds
   * up to (m).
   */
  odometry: { distance: number; twistDistance: number };
  /** First and last header stamps (s) of the IMU and odometry messages used; null without any. */
  stamps: { imu: [number, number] | null; odom: [number, number] | null };
  /** What looks wrong with the input (the CLI prints each as a `warning:` line). */
  warnings: string[];
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
    // Input checks the labeller does not make itself (warnings): mean acceleration, odometry
    // position against twist.
    const acc = { x: 0, y: 0, z: 0, n: 0 };
    let imuFrame = "";
    const odo = { distance: 0, twistDistance: 0, x: Number.NaN, y: Number.NaN, t: Number.NaN };
    const imuSpan = new Span();
    const odomSpan = new Span();
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
        if (ev.topic === imuTopic) {
          const imu = imuFromRos(ev.message);
          sup.onImu(imu);
          const a = imu.linearAcceleration;
          if (Number.isFinite(a.x) && Number.isFinite(a.y) && Number.isFinite(a.z)) {
            acc.x += a.x;
            acc.y += a.y;
            acc.z += a.z;
            acc.n++;
          }
          imuFrame = imu.frameId;
          imuSpan.add(imu.stamp);
        } else if (ev.topic === odomTopic) {
          const o = odomFromRos(ev.message);
          sup.onOdom(o);
          odomSpan.add(o.stamp);
          const p = o.pose.position;
          const dt = o.stamp - odo.t;
          if (dt > 0) {
            const step = Math.hypot(p.x - odo.x, p.y - odo.y);
            if (Number.isFinite(step)) odo.distance += step;
            const v = Math.hypot(o.linear.x, o.linear.y);
            if (Number.isFinite(v)) odo.twistDistance += v * Math.min(dt, 1);
          }
          if (!(dt <= 0)) {
            odo.x = p.x;
            odo.y = p.y;
            odo.t = o.stamp;
          }
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
    const gravity: [number, number, number] = acc.n
      ? [acc.x / acc.n, acc.y / acc.n, acc.z / acc.n]
      : [Number.NaN, Number.NaN, Number.NaN];
    const axis = st.vertical.axis;
    const g = Math.hypot(...gravity);
    const cos = (gravity[0] * axis[0] + gravity[1] * axis[1] + gravity[2] * axis[2]) / g;
    const angle = Number.isFinite(cos) ? (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI : null;
    const vertical = {
      source: st.vertical.source,
      axis: axis.map((x) => round(x, 4)) as [number, number, number],
      gravity: gravity.map((x) => round(x, 4)) as [number, number, number],
      angle: angle === null ? null : round(angle, 1),
    };
    const odometry = { distance: round(odo.distance, 3), twistDistance: round(odo.twistDistance, 3) };
    const stamps = { imu: imuSpan.range(), odom: odomSpan.range() };
    return {
      bag: opts.bag,
      imuTopic,
      odomTopic,
      duration: round(info.duration, 3),
      labels: count,
      skipped: st.labels.skipped,
      accepted: { imu: st.imu.accepted, odom: st.odom.accepted },
      dropped: { imu: st.imu.dropped, odom: st.odom.dropped, tf: st.tf.dropped, undecodable },
      energyPercentiles: Object.fromEntries(Object.entries(energy).map(([k, v]) => [k, sig(v)])),
      log10EnergyPercentiles: logE,
      meanSpeed: count ? round(speedSum / count, 4) : 0,
      imuFrame,
      vertical,
      odometry,
      stamps,
      imuRate: round(st.imuRate, 2),
      calibration: config.labeler.calibration,
      warnings: inputWarnings({
        vertical,
        odometry,
        stamps,
        imuFrame,
        imu: { accepted: st.imu.accepted, duplicate: st.imu.dropped.duplicate },
        imuRate: st.imuRate,
        config,
      }),
    };
  } finally {
    await source.close();
  }
}

/** Standard gravity (m/s²). */
const G = 9.80665;

/** First and last of a stream's stamps. */
class Span {
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;
  add(t: number): void {
    if (!Number.isFinite(t)) return;
    if (t < this.lo) this.lo = t;
    if (t > this.hi) this.hi = t;
  }
  range(): [number, number] | null {
    return this.hi >= this.lo ? [this.lo, this.hi] : null;
  }
}

/**
 * What a robot's input gets wrong that the labels cannot show: an acceleration that is not m/s² with
 * gravity, a vertical from TF that gravity contradicts, odometry whose position stands still while
 * its twist moves, IMU and odometry stamped on different clocks, stamps repeated in batches, a band
 * above half the IMU rate.
 */
export function inputWarnings(s: {
  vertical: LabelSummary["vertical"];
  odometry: LabelSummary["odometry"];
  stamps: LabelSummary["stamps"];
  imuFrame: string;
  imu: { accepted: number; duplicate: number };
  imuRate: number;
  config: Config;
}): string[] {
  const out: string[] = [];
  const { vertical, odometry, config } = s;
  const base = config.frames.base;
  const mount =
    s.imuFrame === base
      ? `the IMU's frame_id ${base} (mounted level, z up)`
      : `TF ${base} → ${s.imuFrame || "(IMU frame_id)"}`;
  const g = Math.hypot(...vertical.gravity);
  if (Number.isFinite(g)) {
    const mean = `IMU linear_acceleration averages ${g.toFixed(2)} m/s²`;
    if (g >= 0.5 && g <= 1.5)
      out.push(
        `${mean}: in g, not m/s² as sensor_msgs/Imu is? Energies are then ${(G * G).toFixed(0)}× too small`,
      );
    else if (g > 1.5 * G) out.push(`${mean}, far above gravity (9.81): not in m/s² as sensor_msgs/Imu is?`);
    else if (g < 0.5 * G && vertical.source === "gravity")
      out.push(
        `${mean}, not gravity (9.81): the driver removes gravity (or reports no acceleration), so "up" cannot come from the data; give it with ${mount}`,
      );
  }
  if (
    vertical.source === "tf" &&
    vertical.angle !== null &&
    g >= 0.5 * G &&
    g <= 1.5 * G &&
    vertical.angle > 30
  )
    out.push(
      `the vertical from ${mount} ([${vertical.axis.join(", ")}] in the IMU frame) is ${vertical.angle.toFixed(0)}° from gravity in the IMU's data ([${vertical.gravity.map((x) => (x / g).toFixed(2)).join(", ")}]): the IMU's mount in TF or its frame_id is wrong, and labels measure vibration along the wrong axis`,
    );
  const L = config.labeler.step_length;
  if (odometry.distance < L && odometry.twistDistance > 4 * L)
    out.push(
      `odometry positions moved ${odometry.distance.toFixed(2)} m while its twist adds up to ${odometry.twistDistance.toFixed(1)} m: steps are measured along pose.pose.position, which this odometry does not fill`,
    );
  const { imu, odom } = s.stamps;
  if (imu && odom) {
    const overlap = Math.min(imu[1], odom[1]) - Math.max(imu[0], odom[0]);
    if (overlap < Math.min(imu[1] - imu[0], odom[1] - odom[0]) / 2)
      out.push(
        `IMU stamps (${imu[0].toFixed(3)} to ${imu[1].toFixed(3)} s) and odometry stamps (${odom[0].toFixed(3)} to ${odom[1].toFixed(3)} s) ${overlap > 0 ? `overlap by ${overlap.toFixed(1)} s only` : "do not overlap"}, so the IMU samples have no pose: is one of them stamped on another clock (the device's, not ROS time)?`,
      );
  }
  const total = s.imu.accepted + s.imu.duplicate;
  if (total > 0 && s.imu.duplicate > total / 4)
    out.push(
      `${s.imu.duplicate} of ${total} IMU messages repeat the stamp before them and were dropped: the driver stamps samples in batches; stamp each sample`,
    );
  const band = config.labeler.band_high;
  if (Number.isFinite(s.imuRate) && band > s.imuRate / 2)
    out.push(
      `the IMU at ${s.imuRate.toFixed(0)} Hz sees vibration up to ${(s.imuRate / 2).toFixed(0)} Hz only: labeler.band_high ${band} Hz is cut there, so energies are not comparable with a faster IMU's`,
    );
  return out;
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
What looks wrong with the input (acceleration in g or without gravity, a vertical from TF that
gravity contradicts, odometry without positions, batched IMU stamps) is printed as warning: lines
on stderr and listed under "warnings" in the JSON summary.

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
          for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
          // A run that made no label did nothing: it says why and exits non-zero, after the
          // summary (its counters are the diagnosis), but never with a calibration snippet of NaN.
          const none =
            summary.labels === 0
              ? new UserError(`${bag}: no labels: ${noLabelsReason(summary, config)}`)
              : undefined;
          if (o.stats) {
            // The labeller itself trusts running percentiles only after `warmup` labels.
            const warmup = config.labeler.calibration.warmup;
            if (!none && summary.labels < warmup)
              process.stderr.write(
                `warning: percentiles of ${summary.labels} labels (fewer than labeler.calibration.warmup, ${warmup}) make thin calibration bounds: use a longer drive over every kind of ground\n`,
              );
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
              `vertical axis (IMU frame ${summary.imuFrame || "without a name"}): [${summary.vertical.axis.join(", ")}] from ${verticalSource(summary, config.frames.base)}`,
              `energy percentiles: p5 ${fmt(p.p5)}  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)} (calibration ${summary.calibration.mode}; --stats for a config snippet)`,
              "",
            ].join("\n"),
          );
          if (none) throw none;
        },
      ),
    );
}

/** Where the summary's vertical axis came from, in words. */
function verticalSource(s: LabelSummary, base: string): string {
  if (s.vertical.source === "gravity")
    return `gravity in the data (TF has no ${base} → ${s.imuFrame || "IMU frame"})`;
  return s.imuFrame === base ? `the IMU's frame_id ${base} (mounted level)` : "TF";
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
  for (const [what, n, dropped, nan] of [
    ["IMU sample", s.accepted.imu, s.dropped.imu, "a NaN or infinity in the stamp, acceleration or rates"],
    [
      "odometry message",
      s.accepted.odom,
      s.dropped.odom,
      "a NaN or infinity in the stamp or pose, or an all-zero pose.pose.orientation",
    ],
  ] as const) {
    const why = count(dropped);
    if (n === 0 && why) parts.push(`every ${what} was dropped (${why}${dropped.nan ? `; nan: ${nan}` : ""})`);
  }
  const skipped = count(s.skipped);
  if (skipped) parts.push(`every step was skipped (${skipped})`);
  const { imu, odom } = s.stamps;
  if (!parts.length && imu && odom && (imu[1] < odom[0] || odom[1] < imu[0]))
    parts.push("no IMU sample has a stamp within the odometry's");
  else if (!parts.length)
    parts.push(
      `the robot never completed a ${config.labeler.step_length} m step (labeler.step_length) while moving in ${s.duration} s of data`,
    );
  if (s.warnings.length) parts.push(`see the warning${s.warnings.length > 1 ? "s" : ""} above`);
  return parts.join("; ");
}

function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? "n/a" : x.toExponential(3);
}
