// The live ROS 2 node, a thin rclnodejs adapter: it creates the subscriptions, publishers and
// services that ros2-wiring.ts describes, feeds received messages into the pipeline's stream graph
// (the same graph a replay uses: fusion orders them by stamp, live frames go to perception as they
// arrive, latest wins) and publishes its events. All conversion and mapping lives in ros2-wiring.ts /
// src/runtime/sinks/ros-outputs.ts / src/io/ros/convert.ts.
//
// rclnodejs is an optional dependency that only installs where ROS 2 is installed and sourced; it
// is loaded lazily (ros2-rclnodejs.ts), and without it the node refuses to start with one clear line.

import type { QosProfile } from "../io/ros/qos.ts";
import type { Config } from "../runtime/config.ts";
import type { CoreInput, Pipeline, PipelineStats } from "../runtime/pipeline.ts";
import { stampRemedy } from "../runtime/stages/problems.ts";
import { pipelineControls, type RuntimeControls } from "./controls.ts";
import { diagnosticsMessage, InputMeter } from "./ros2-diagnostics.ts";
import { type NodeParameterKind, nodeParameters } from "./ros2-params.ts";
import type { RclNode, Rclnodejs, RclPublisher } from "./ros2-rclnodejs.ts";
import {
  type InputKind,
  inputFromRos,
  type NodeNames,
  type Outgoing,
  OutputMapper,
  type PublisherKey,
  publisherSpecs,
  serviceResponse,
  serviceSpecs,
  subscriptionSpecs,
} from "./ros2-wiring.ts";

// The rclnodejs surface and its loader live in ros2-rclnodejs.ts; re-exported for the CLI and tests.
export {
  loadRclnodejs,
  type RclNode,
  type Rclnodejs,
  type RclPublisher,
  type RclQosStatic,
  type RclServiceResponse,
  ROS_UNAVAILABLE,
} from "./ros2-rclnodejs.ts";

/** What `ros2 param describe` says of every parameter besides its description. */
export const READ_ONLY_CONSTRAINT =
  "read once at start: change it in the params file (or with -p name:=value) and restart the node";

/**
 * Declares the node's parameters read-only with the values it runs with, their units and
 * descriptions, so that `ros2 param list|get|describe|dump` show them and `ros2 param set` is
 * refused with a reason (the node reads its parameters once, at start). The values come from
 * `config`, which already holds the params files and `-p` overrides read as rcl reads them and
 * validated: rcl's own copy of those overrides is ignored, as it types `2` as an integer, which
 * rclnodejs refuses for a double parameter (the node would not start).
 */
function declareConfigParameters(rcl: Rclnodejs, node: RclNode, config: Config): void {
  const T = rcl.ParameterType;
  const type: Record<NodeParameterKind, number> = {
    bool: T.PARAMETER_BOOL,
    integer: T.PARAMETER_INTEGER,
    double: T.PARAMETER_DOUBLE,
    string: T.PARAMETER_STRING,
    string_array: T.PARAMETER_STRING_ARRAY,
    double_array: T.PARAMETER_DOUBLE_ARRAY,
  };
  const params = nodeParameters(config);
  const descriptors = params.map((p) => {
    const d = new rcl.ParameterDescriptor(p.name, type[p.kind], p.description, true);
    d.additionalConstraints = READ_ONLY_CONSTRAINT;
    return d;
  });
  node.declareParameters(
    params.map((p) => new rcl.Parameter(p.name, type[p.kind], p.value)),
    descriptors,
    true,
  );
}

/** Seconds without a message before the log names a silent input (/diagnostics warns after 2 s). */
export const SILENT_INPUT_LOG_AFTER = 5;

/** Camera stamps this far (s) from the node's clock mean two clocks, not latency. */
const CLOCK_MISMATCH_S = 60;

/** The parameter that names each input topic. */
const INPUT_PARAMETER: Record<InputKind, string> = {
  image: "topics.image",
  compressed: "topics.compressed_image",
  cameraInfo: "topics.camera_info",
  imu: "topics.imu",
  odom: "topics.odom",
  tf: "topics.tf",
  tfStatic: "topics.tf_static",
};

export interface RosNodeOptions {
  log?: (line: string) => void;
  /** Wall clock in seconds (tests). */
  wallSeconds?: () => number;
}

export interface RosNodeHandle {
  readonly node: RclNode;
  readonly names: NodeNames;
  readonly controls: RuntimeControls;
  /** Publishes one diagnostics message now (the timer does this at ros.diagnostics_rate). */
  publishDiagnostics(): void;
  /** Logs inputs that went silent (the timer does this every second). */
  checkInputs(): void;
  /** Resolves when every input received so far went through the pipeline. */
  drain(): Promise<void>;
  stats(): {
    published: Record<string, number>;
    pipeline: PipelineStats;
  };
  /** Stops timers and subscriptions' effects, destroys the node. Does not close the pipeline. */
  stop(): Promise<void>;
}

/**
 * Creates the node and its entities and starts spinning. The caller owns `pipeline` (live mode) and
 * closes it after `stop()`.
 */
export function startRosNode(
  rcl: Rclnodejs,
  config: Config,
  pipeline: Pipeline,
  opts: RosNodeOptions = {},
): RosNodeHandle {
  const wall = opts.wallSeconds ?? (() => performance.now() / 1000);
  const node = rcl.createNode(config.ros.node_name);
  const logger = node.getLogger();
  const log = opts.log ?? ((l: string) => logger.info(l));
  const names: NodeNames = { node: node.name(), namespace: node.namespace() };

  if (config.use_sim_time) {
    node.setParameters([new rcl.Parameter("use_sim_time", rcl.ParameterType.PARAMETER_BOOL, true)]);
  }
  declareConfigParameters(rcl, node, config);
  let speedLimitFallback = false;
  try {
    rcl.require("nav2_msgs/msg/SpeedLimit");
  } catch (err) {
    speedLimitFallback = true;
    // rclnodejs generates its message classes once (at npm ci): nav2_msgs installed after that is
    // missing to it as if it were not installed at all, until the messages are generated again.
    logger.warn(
      `rclnodejs cannot load nav2_msgs/msg/SpeedLimit (${String((err as Error)?.message ?? err).split("\n")[0]}): ` +
        "publishing ~/speed_limit as std_msgs/msg/Float32 (m/s), which Nav2's controller server does not read; " +
        "install nav2_msgs (ros-<distro>-nav2-msgs), or, when it is installed, run `npx generate-ros-messages` " +
        "in the terrain-learner checkout with ROS sourced (rclnodejs made its messages before nav2_msgs came)",
    );
  }

  const Q = rcl.QoS;
  const qosOf = (p: QosProfile): unknown =>
    new Q(
      Q.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST,
      p.depth,
      p.reliability === "reliable"
        ? Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE
        : Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT,
      p.durability === "transient_local"
        ? Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL
        : Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_VOLATILE,
    );

  // Publishers.
  const pubSpecs = publisherSpecs(config, names, { speedLimitFallback });
  const publishers = new Map<PublisherKey, RclPublisher>();
  for (const s of pubSpecs)
    publishers.set(s.key, node.createPublisher(s.type, s.topic, { qos: qosOf(s.qos) }));
  const published: Record<string, number> = {};
  const publish = (msgs: readonly Outgoing[]) => {
    for (const m of msgs) {
      try {
        publishers.get(m.key)?.publish(m.message);
        published[m.topic] = (published[m.topic] ?? 0) + 1;
      } catch (err) {
        logger.error(`publish ${m.topic} failed: ${(err as Error).message}`);
      }
    }
  };
  const mapper = new OutputMapper(pubSpecs, config, wall);

  // Inputs → the graph, in arrival order: fusion puts them in stamp order; live, a push never waits
  // for a frame or for training, so the callback returns at once and nothing queues here.
  const subSpecs = subscriptionSpecs(config);
  const meter = new InputMeter(wall());
  let stopped = false;
  const feed = (input: CoreInput) => {
    pipeline.push(input).catch((err: unknown) => logger.error(`pipeline: ${(err as Error).message}`));
  };
  const warned = new Set<string>();
  // The costmap and labels are published in frames.odom from odometry's poses: another frame there
  // misplaces them silently, so say it once.
  let odomFrameChecked = false;
  const checkOdomFrame = (frame: string) => {
    if (odomFrameChecked || !frame) return;
    odomFrameChecked = true;
    const f = frame.replace(/^\//, "");
    if (f !== config.frames.odom)
      logger.warn(
        `odometry is in frame '${f}' but frames.odom is '${config.frames.odom}': the costmap and labels are stamped '${config.frames.odom}'; set frames.odom: ${f}`,
      );
  };
  const nowSeconds = () => {
    const t = node.now().secondsAndNanoseconds;
    return t.seconds + t.nanoseconds * 1e-9;
  };
  // A sensor topic that never arrives (a misspelt name, a driver not started) leaves the node
  // silent: say which one in the log, once, and again when it comes (or comes back).
  const startWall = wall();
  // use_sim_time with nothing on /clock: the node's time stays 0 (rcl's behaviour), so latency,
  // /diagnostics and the held speed limit carry it. Stamps far from the clock the other way round
  // (a bag played without use_sim_time) make the latency figures meaningless. Each said once.
  let clockWarned = false;
  const checkClock = (stamp?: number) => {
    if (clockWarned) return;
    const now = nowSeconds();
    if (config.use_sim_time && now === 0 && wall() - startWall >= SILENT_INPUT_LOG_AFTER) {
      clockWarned = true;
      logger.warn(
        `use_sim_time is true but the node's clock is still 0 after ${SILENT_INPUT_LOG_AFTER} s: nothing publishes /clock (play bags with \`ros2 bag play --clock\`, or set use_sim_time false); latency, /diagnostics and the held speed limit use time 0 until it does`,
      );
    } else if (stamp !== undefined && now > 0 && Math.abs(now - stamp) > CLOCK_MISMATCH_S) {
      clockWarned = true;
      logger.warn(
        `camera stamps are ${(now - stamp).toFixed(0)} s from the node's clock (use_sim_time ${config.use_sim_time}): ${config.use_sim_time ? "is /clock from the same source as the sensors?" : "playing a bag? set use_sim_time true and play it with --clock"}; the latency in /diagnostics is meaningless until they agree`,
      );
    }
  };
  const silent = new Set<InputKind>();
  const checkInputs = () => {
    checkClock();
    const now = wall();
    for (const s of subSpecs) {
      if (s.kind === "tf" || s.kind === "tfStatic" || silent.has(s.kind)) continue;
      const last = meter.lastReceived(s.kind);
      if (now - (last ?? startWall) < SILENT_INPUT_LOG_AFTER) continue;
      silent.add(s.kind);
      logger.warn(
        last === undefined
          ? `no message on ${s.topic} (${s.type}) in ${SILENT_INPUT_LOG_AFTER} s since start: check ${INPUT_PARAMETER[s.kind]} and that its publisher runs; nothing is learned or predicted without it`
          : `no message on ${s.topic} for ${SILENT_INPUT_LOG_AFTER} s: its publisher stopped?`,
      );
    }
  };
  for (const s of subSpecs) {
    node.createSubscription(s.type, s.topic, { qos: qosOf(s.qos) }, (msg) => {
      if (stopped) return;
      meter.received(s.kind, wall());
      if (silent.delete(s.kind)) logger.info(`receiving ${s.topic}`);
      let input: CoreInput;
      try {
        input = inputFromRos(s.kind, msg);
      } catch (err) {
        meter.failed(s.kind);
        // One line per topic, not one per message at 200 Hz.
        if (!warned.has(s.topic)) {
          warned.add(s.topic);
          logger.warn(`${s.topic}: ${(err as Error).message} (further errors counted in /diagnostics)`);
        }
        return;
      }
      if (input.kind === "odom") checkOdomFrame(input.sample.frameId);
      feed(input);
    });
  }

  // Services.
  const controls = pipelineControls(pipeline, config, log);
  for (const s of serviceSpecs(names)) {
    node.createService(s.type, s.name, {}, (request, response) => {
      void serviceResponse(s.command, request, controls).then((r) => {
        // A stop that overtakes the call (a save in flight at Ctrl-C) has destroyed the service:
        // rclnodejs then throws, which unhandled would end the process in the middle of its stop.
        try {
          response.send(r);
        } catch (err) {
          logger.warn(
            stopped
              ? `${s.name}: the node stopped before its response was sent (${r.message})`
              : `${s.name}: response not sent: ${(err as Error).message}`,
          );
        }
      });
    });
  }

  // Pipeline events → topics.
  let latency = { sum: 0, max: 0, count: 0 };
  let lastStats: PipelineStats | undefined;
  const stampWarned = new Set<string>();
  const sub = pipeline.events$.subscribe((e) => {
    switch (e.type) {
      case "prediction": {
        publish(mapper.prediction(e));
        checkClock(e.stamp);
        const now = nowSeconds();
        const ms = (now - e.stamp) * 1000;
        if (now > 0 && Number.isFinite(ms)) {
          latency.sum += ms;
          latency.max = Math.max(latency.max, ms);
          latency.count++;
        }
        break;
      }
      case "label":
        publish(mapper.labels([e.label]));
        break;
      case "problem": {
        // A stream later than the reorder window loses every such message: one line each, the rest
        // are counted in /diagnostics. Stamps that went back (a simulation reset) lose nothing:
        // the time-keyed state starts afresh, one line each time.
        const p = e.problem;
        if (p.kind === "clockJump") {
          logger.warn(p.message);
          break;
        }
        if (p.kind !== "late") break;
        const key = `${p.kind} ${p.topic}`;
        if (stampWarned.has(key)) break;
        stampWarned.add(key);
        logger.warn(
          `${p.topic} message dropped: ${p.message}${stampRemedy(p)} (further ones are counted in /diagnostics)`,
        );
        break;
      }
      case "stats":
        lastStats = e.stats;
        break;
      default:
    }
  });

  const publishDiagnostics = () => {
    publish([
      diagnosticsMessage({
        stamp: nowSeconds(),
        hardwareId: `${names.namespace === "/" ? "" : names.namespace}/${names.node}`,
        inputs: meter.snapshot(wall()),
        subscriptions: subSpecs,
        stats: lastStats ?? pipeline.stats(),
        latencyMs: {
          mean: latency.count ? latency.sum / latency.count : Number.NaN,
          max: latency.count ? latency.max : Number.NaN,
          count: latency.count,
        },
        learning: controls.learning,
        speedLimitType: speedLimitFallback ? "std_msgs/msg/Float32" : "nav2_msgs/msg/SpeedLimit",
        speedLimitStale: mapper.speedLimitStale,
      }),
    ]);
    latency = { sum: 0, max: 0, count: 0 };
    lastStats = undefined;
  };
  // Diagnostics run on the wall clock: they report the node's health, also while a bag is paused.
  const timer = setInterval(publishDiagnostics, 1000 / config.ros.diagnostics_rate);
  timer.unref();
  // A latched speed limit outlives the predictions that made it: without them it falls to the minimum.
  const staleTimer = setInterval(() => {
    // Repeated for late subscribers (OutputMapper.staleSpeedLimit); said once per silence.
    const repeat = mapper.speedLimitStale;
    const msgs = mapper.staleSpeedLimit(nowSeconds());
    if (msgs.length === 0) return;
    publish(msgs);
    if (repeat) return;
    const now = wall();
    const quiet = subSpecs
      .filter((s) => s.kind !== "tf" && s.kind !== "tfStatic")
      .filter((s) => now - (meter.lastReceived(s.kind) ?? startWall) >= config.ros.speed_limit_timeout)
      .map((s) => s.topic);
    logger.warn(
      `no prediction for ${config.ros.speed_limit_timeout} s: ~/speed_limit held at outputs.min_speed (${config.outputs.min_speed} m/s) until predictions resume` +
        (quiet.length ? ` (no message on ${quiet.join(", ")})` : ""),
    );
  }, 250);
  staleTimer.unref();
  const inputTimer = setInterval(checkInputs, 1000);
  inputTimer.unref();

  log(
    `node ${names.namespace === "/" ? "" : names.namespace}/${names.node}: subscribed to ${subSpecs.map((s) => s.topic).join(", ")}; ` +
      `publishing ${pubSpecs.map((s) => s.topic).join(", ")}`,
  );
  rcl.spin(node);

  return {
    node,
    names,
    controls,
    publishDiagnostics,
    checkInputs,
    drain: () => pipeline.idle(),
    stats: () => ({ published: { ...published }, pipeline: pipeline.stats() }),
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      clearInterval(staleTimer);
      clearInterval(inputTimer);
      await pipeline.idle().catch(() => {});
      sub.unsubscribe();
      node.destroy();
    },
  };
}
