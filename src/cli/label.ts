// `terrain-learner label BAG`: fusion + vibration labeller over a recorded bag (IMU + odometry, TF
// when present; no camera needed). Prints the labels as a table and a summary, or JSON lines
// (`--json`), or the calibration statistics to paste into a config (`--stats`).
//
// `runLabel` is the reusable part (tests call it).

import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Subject } from "rxjs";
import { isProblem } from "../core/fusion/events.ts";
import { SelfSupervisor, type SelfSupervisorStats } from "../core/self-supervisor.ts";
import type { Problem, RoughnessLabel } from "../core/types.ts";
import { openBag } from "../io/bag/index.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { fusion } from "../runtime/stages/fusion.ts";
import { fromBagStamped, type GraphInput, unstampedNote } from "../runtime/stages/inputs.ts";
import { action, UserError } from "./errors.ts";
import { BAG_DAMAGE, HeadingChange, inputWarnings, noLabelsReason, tfWarnings } from "./label-diagnosis.ts";
import {
  calibrationWords,
  fmt,
  labelCount,
  labelJson,
  ordinal,
  pad,
  round,
  sig,
  statsYaml,
  verticalSource,
} from "./label-format.ts";
import { energyPercentiles, PERCENTILES } from "./label-percentiles.ts";
import { CONFIG_HELP, collect } from "./options.ts";
import { addTopicOptions, applyTopicFlags, LABEL_TOPICS, requireTopics, withBagTopics } from "./topics.ts";

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
  /**
   * Speed-normalised energy percentiles (p1 … p99) of every label, and the same in log10, for
   * `labeler.calibration`.
   */
  energyPercentiles: Record<string, number>;
  log10EnergyPercentiles: Record<string, number>;
  /**
   * The fixed bounds `--stats` prints: the log10 energy at labeler.calibration.low_percentile and
   * high_percentile, the percentiles running-percentile mode maps to roughness 0.05 and 0.95.
   */
  fit: { lowPercentile: number; highPercentile: number; low: number; high: number };
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
    // TF it cannot use (namespaced topics, another body frame): said when "up" came from gravity.
    const tfNotes = await tfWarnings(opts.bag, source, info, config);
    const tfTopic = config.topics.tf;
    const tfStaticTopic = config.topics.tf_static;
    const topics = [imuTopic, odomTopic, ...[tfTopic, tfStaticTopic].filter((t) => names.includes(t))];

    const sup = new SelfSupervisor<never>(config);
    const undecodable: Record<string, number> = {};
    const damage: string[] = [];
    const unstamped = new Set<string>();
    // Input checks the labeller does not make itself (warnings): mean acceleration, odometry
    // position against twist.
    const acc = { x: 0, y: 0, z: 0, n: 0 };
    let imuFrame = "";
    const odo = { distance: 0, twistDistance: 0, x: Number.NaN, y: Number.NaN, t: Number.NaN };
    const imuSpan = new Span();
    const odomSpan = new Span();
    const heading = new HeadingChange();
    let speedSum = 0;
    let count = 0;
    let lastProgress = 0;
    // log10 energy of every label: --stats describes the whole bag, where the labeller's own
    // percentiles cover only its running window (the last 4096 labels).
    const logEnergies: number[] = [];
    const emit = (labels: RoughnessLabel[]) => {
      for (const l of labels) {
        logEnergies.push(Math.log10(Math.max(l.energy, 1e-12)));
        speedSum += l.speed;
        count++;
        opts.onLabel?.(l);
      }
    };
    // Stamp order within fusion.reorder_window, by the code replay orders its inputs with, so that
    // both label a bag alike: a driver whose stamps cross is re-ordered, not half dropped. What
    // fusion drops is counted with the labeller's own drops.
    const fused = { imu: zeroDrops(), odom: zeroDrops() };
    const take = (e: GraphInput | Problem) => {
      if (isProblem(e)) {
        if (e.kind === "clockJump") {
          // The stamps went back (a bag of two recordings): the timeline before ends as a run does.
          emit(sup.flush().labels);
          sup.restartTime();
          return;
        }
        const drops = e.topic === "imu" ? fused.imu : e.topic === "odom" ? fused.odom : undefined;
        const key = e.kind === "late" ? "backwards" : e.kind;
        if (drops && key in drops) drops[key as keyof Drops]++;
        return;
      }
      if (e.kind === "imu") {
        sup.onImu(e.sample);
        heading.addImu(e.stamp, e.sample.angularVelocity);
      } else if (e.kind === "odom") {
        const o = e.sample;
        sup.onOdom(o);
        heading.addOdom(o.stamp, o.pose.orientation);
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
      } else if (e.kind === "transforms") sup.onTransforms(e.transforms);
    };
    const input$ = new Subject<GraphInput>();
    const flush$ = new Subject<void>();
    const ordering = input$
      .pipe(fusion({ window: config.fusion.reorder_window, mode: "replay", flush$ }))
      .subscribe(take);
    try {
      for await (const ev of source.messages({ topics })) {
        if (ev.type === "problem") {
          undecodable[ev.kind] = (undecodable[ev.kind] ?? 0) + 1;
          // A bag cut short or damaged: the labels (and --stats) cover only what was readable.
          if (ev.kind === "truncated" || ev.kind === "corrupt") damage.push(ev.message);
          continue;
        }
        let input: GraphInput | null = null;
        try {
          const converted = fromBagStamped(ev, config.topics, false);
          input = converted.input;
          // A driver that leaves header.stamp at 0: its log time stands in, said once per topic.
          if (converted.unstamped && !unstamped.has(ev.topic)) {
            unstamped.add(ev.topic);
            damage.push(unstampedNote(ev.topic));
          }
        } catch (err) {
          // A message that does not convert (wrong type on the topic, missing fields) is counted.
          const key = `${ev.topic}: ${(err as Error).message.split("\n")[0]}`;
          undecodable[key] = (undecodable[key] ?? 0) + 1;
        }
        // The mean acceleration and the stamps' span are of every message in the bag.
        if (input?.kind === "imu") {
          const a = input.sample.linearAcceleration;
          if (Number.isFinite(a.x) && Number.isFinite(a.y) && Number.isFinite(a.z)) {
            acc.x += a.x;
            acc.y += a.y;
            acc.z += a.z;
            acc.n++;
          }
          imuFrame = input.sample.frameId;
          imuSpan.add(input.stamp);
        } else if (input?.kind === "odom") odomSpan.add(input.stamp);
        if (input) input$.next(input);
        if (opts.onProgress && ev.logTime - lastProgress > 1) {
          lastProgress = ev.logTime;
          opts.onProgress(ev.logTime - info.start, info.duration, count);
        }
      }
      flush$.next();
    } finally {
      ordering.unsubscribe();
    }
    emit(sup.flush().labels);
    const st = sup.stats();
    // The configured calibration percentiles too, so that --stats fits the bounds where the
    // labeller's running percentiles would put them (not always at the 5th/95th).
    const { low_percentile: lowPct, high_percentile: highPct } = config.labeler.calibration;
    const ps = [...new Set([...PERCENTILES, lowPct, highPct])].sort((a, b) => a - b);
    const energy = energyPercentiles(logEnergies, ps);
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
      dropped: {
        imu: addDrops(st.imu.dropped, fused.imu),
        odom: addDrops(st.odom.dropped, fused.odom),
        tf: st.tf.dropped,
        undecodable,
      },
      energyPercentiles: Object.fromEntries(Object.entries(energy).map(([k, v]) => [k, sig(v)])),
      log10EnergyPercentiles: logE,
      fit: {
        lowPercentile: lowPct,
        highPercentile: highPct,
        low: logE[`p${lowPct}`]!,
        high: logE[`p${highPct}`]!,
      },
      meanSpeed: count ? round(speedSum / count, 4) : 0,
      imuFrame,
      vertical,
      odometry,
      stamps,
      imuRate: round(st.imuRate, 2),
      calibration: config.labeler.calibration,
      warnings: [
        ...damage,
        ...(vertical.source === "gravity" ? tfNotes : []),
        ...inputWarnings({
          vertical,
          odometry,
          stamps,
          imuFrame,
          imu: {
            accepted: st.imu.accepted,
            duplicate: st.imu.dropped.duplicate + fused.imu.duplicate,
            backwards: st.imu.dropped.backwards + fused.imu.backwards,
          },
          imuRate: st.imuRate,
          config,
          log10Energy: logE,
          heading: heading.totals(axis),
        }),
      ],
    };
  } finally {
    await source.close();
  }
}

type Drops = { nan: number; backwards: number; duplicate: number };
const zeroDrops = (): Drops => ({ nan: 0, backwards: 0, duplicate: 0 });

/** The labeller's drops of one stream plus fusion's (`late`: stamped before what was taken). */
function addDrops(own: Record<string, number>, fused: Drops): Record<string, number> {
  const out = { ...own };
  for (const [k, v] of Object.entries(fused)) out[k] = (out[k] ?? 0) + v;
  return out;
}

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
      "print only the calibration statistics (energy percentiles) and a params file with fixed labeler.calibration bounds at the configured low_percentile/high_percentile (5th/95th by default)",
    )
    .addHelpText(
      "after",
      `
energy is the speed-normalised vibration feature (comparable across bags); roughness is energy
mapped to 0..1 by labeler.calibration (running percentiles by default, or fixed log10 bounds).
Use --stats on a representative bag to get fixed bounds, as a params file to layer over yours.
What looks wrong with the input (acceleration in g or without gravity, a gyro in deg/s, a vertical
from TF that gravity contradicts, TF it cannot use (on other topics than topics.tf/tf_static, or
never naming frames.base: the warning names the key to set) while "up" came from gravity, odometry
without positions, batched IMU stamps, stamps that go back further than fusion.reorder_window,
stamps left at 0, a bag cut short, fixed calibration bounds the bag's median energy lies outside)
is printed as warning: lines on stderr and listed under "warnings" in the JSON summary. Messages
are taken in stamp order within fusion.reorder_window, as replay takes them.

Examples:
  terrain-learner label run.mcap
  terrain-learner label run.db3 --imu /husky/imu --odom /husky/odometry --json > labels.jsonl
  terrain-learner label run.mcap --config params.yaml --stats > calibration.yaml
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
          // Other failures (a full disk) are reported by main's handler: one line, exit 1.
          out.on("error", (err: NodeJS.ErrnoException) => {
            if (err.code === "EPIPE") process.exit(0);
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
          const { low: lo, high: hi, lowPercentile, highPercentile } = summary.fit;
          // Equal bounds are no range (every label would map to 0.5, and the config refuses them).
          const flat =
            o.stats && !none && !(hi > lo)
              ? new UserError(
                  `${bag}: no calibration: the ${ordinal(lowPercentile)} and ${ordinal(highPercentile)} percentiles of ${labelCount(summary.labels)} are equal (log10 energy ${lo}): use a longer drive over every kind of ground`,
                )
              : undefined;
          // The labeller itself trusts running percentiles only after `warmup` labels. Listed with
          // the other warnings, so that the --json summary has it too.
          const warmup = config.labeler.calibration.warmup;
          if (o.stats && !none && !flat && summary.labels < warmup)
            summary.warnings.push(
              `percentiles of ${labelCount(summary.labels)} (fewer than labeler.calibration.warmup, ${warmup}) make thin calibration bounds: use a longer drive over every kind of ground`,
            );
          for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
          if (o.stats) {
            if (o.json) out.write(`${JSON.stringify({ summary })}\n`);
            else if (!none && !flat) out.write(`${statsYaml(summary)}\n`);
            if (none ?? flat) throw none ?? flat;
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
              ...Object.entries(summary.dropped.undecodable)
                .filter(([k]) => !BAG_DAMAGE.has(k))
                .map(([k, v]) => `${k} ${v}`),
            ].join(", ") || "none";
          // A cut or damaged bag is one problem, not one lost message: the warning says how much was read.
          const damaged = Object.keys(summary.dropped.undecodable).filter((k) => BAG_DAMAGE.has(k));
          const p = summary.energyPercentiles;
          out.write(
            [
              "",
              `${labelCount(summary.labels)} over ${summary.duration.toFixed(1)} s (${summary.imuTopic}${Number.isFinite(summary.imuRate) ? ` at ${summary.imuRate} Hz` : ""}, ${summary.odomTopic}), mean speed ${summary.meanSpeed.toFixed(2)} m/s`,
              `skipped steps: ${skipped}`,
              `dropped messages: ${dropped}${damaged.length ? `; the bag is ${damaged.includes("truncated") ? "cut short" : "damaged"}: labels cover what was readable (warning above)` : ""}`,
              `vertical axis (IMU frame ${summary.imuFrame || "without a name"}): [${summary.vertical.axis.join(", ")}] from ${verticalSource(summary, config.frames.base)}`,
              `energy percentiles: p5 ${fmt(p.p5)}  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)} (calibration ${calibrationWords(summary.calibration)}; --stats for a config snippet)`,
              "",
            ].join("\n"),
          );
          if (none) throw none;
        },
      ),
    );
}
