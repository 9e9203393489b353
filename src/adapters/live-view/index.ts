// The live view as a sink of the pipeline: its events (predictions, labels, stats) and a tap on its
// inputs (TF, camera info, odometry) become messages on the live view server's channels.
//
//   const server = await startLiveView(config, log);         // before the pipeline: viewers may connect early
//   const sink = attachLiveView(server, pipeline, config);   // events$ → channels
//   pipeline = tapInputs(pipeline, sink.input);               // or call sink.input(event) where inputs are pushed
//   ...; await sink.close(); await server.close();
//
// All work happens in the event callbacks and is bounded: nothing is built for a channel nobody
// watches, heavy channels are capped at `live_view.max_rate`, and sending never waits for a viewer.

import type { Observable, Subscription } from "rxjs";
import type { BagEvent } from "../../io/bag/types.ts";
import type { Config } from "../../runtime/config.ts";
import type { CoreInput, Pipeline } from "../../runtime/pipeline.ts";
import { type LiveViewKey, liveViewChannels } from "./channels.ts";
import { type LiveMessage, LiveViewMapper } from "./messages.ts";
import { LiveViewServer } from "./server.ts";

export { type LiveChannel, type LiveViewKey, liveViewChannels } from "./channels.ts";
export { LiveViewServer, type LiveViewStats } from "./server.ts";

/** Learner stats messages per second of wall time at most (plots need no more). */
const LEARNER_RATE = 5;
/** Seconds between re-sends of what a late viewer needs (static TF, camera info, labels). */
const LATCH_PERIOD_MS = 1000;
/**
 * The learner state at least this often (wall clock) while it changes, whatever brings events:
 * without camera frames (a serial run) the pipeline's stats come only every few sensor seconds.
 */
const LEARNER_PERIOD_MS = 1000;

export async function startLiveView(config: Config, log?: (line: string) => void): Promise<LiveViewServer> {
  const l = config.live_view;
  return LiveViewServer.start(liveViewChannels(config), {
    host: l.host,
    port: l.port,
    max_rate: l.max_rate,
    queue_messages: l.queue_messages,
    queue_bytes: l.queue_bytes,
    log,
  });
}

export interface LiveViewSink {
  /**
   * An input as it goes into the pipeline (bag event or core input). A no-op when the pipeline has an
   * inputs tap (`taps.inputs$`): the sink then reads the inputs there.
   */
  input(event: BagEvent | CoreInput): void;
  /**
   * Stops listening to the pipeline (the server stays up; close it separately). Until the server
   * closes, a viewer that subscribes still gets the final labels layer, learner state, static
   * transforms, camera calibration and robot box.
   */
  close(): void;
}

/** The pipeline as the live view uses it; `taps.inputs$` where the pipeline offers its inputs as a stream. */
export type LiveViewPipeline = Pick<Pipeline, "events$" | "stats" | "truthFor"> & {
  readonly taps?: { readonly inputs$?: Observable<unknown> };
};

export function attachLiveView(
  server: LiveViewServer,
  pipeline: LiveViewPipeline,
  config: Config,
  log: (line: string) => void = () => undefined,
  options: { latchPeriodMs?: number } = {},
): LiveViewSink {
  const mapper = new LiveViewMapper(config);
  const wants = (key: LiveViewKey) => server.wants(key);
  let lastLearnerMs = Number.NEGATIVE_INFINITY;
  /** The last learner message sent, without its header: the heartbeat sends only a changed state. */
  let lastLearnerBody = "";
  /** The last learner message sent, for a viewer that subscribes after the pipeline is gone. */
  let lastLearner: LiveMessage | undefined;
  let closed = false;
  let labelsDirty = false;
  let failed = false;

  const send = (msgs: readonly (LiveMessage | undefined)[]) => {
    for (const m of msgs) if (m) server.publish(m.key, m.stamp, m.message);
  };
  // A failure here is a bug in the live view; it must not take the pipeline down with it.
  const guarded =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        if (!failed) log(`live view: ${(err as Error).message}`);
        failed = true;
      }
    };
  const sendLabels = () => {
    if (labelsDirty && mapper.labelCount > 0 && server.due("labels")) {
      labelsDirty = false;
      send([mapper.labelsMessage()]);
    }
  };
  const sendLearner = (force: boolean, onlyChanged = false) => {
    const now = performance.now();
    if (!server.wants("learner") || (!force && now - lastLearnerMs < 1000 / LEARNER_RATE)) return;
    if (closed) {
      send([lastLearner]);
      return;
    }
    const m = mapper.learner(pipeline.stats(), config.learner.enabled);
    const { header: _, ...body } = m.message as Record<string, unknown>;
    const text = JSON.stringify(body);
    if (onlyChanged && text === lastLearnerBody) return;
    lastLearnerMs = now;
    lastLearnerBody = text;
    lastLearner = m;
    send([m]);
  };

  const sub: Subscription = pipeline.events$.subscribe(
    guarded((e) => {
      switch (e.type) {
        case "prediction": {
          const heavy = (key: LiveViewKey) => server.due(key);
          // Ground truth for the live ρ only when someone plots it (it costs a projection per frame).
          const truth = server.wants("learner")
            ? pipeline.truthFor(e.stamp, e.outputs.grid)?.roughness
            : undefined;
          send(mapper.prediction(e, heavy, truth));
          sendLearner(false);
          sendLabels();
          return;
        }
        case "label":
          mapper.label(e.label);
          labelsDirty = true;
          sendLabels();
          // The learner state counts the labels too; without frames nothing else would send it.
          sendLearner(false);
          return;
        case "stats":
          sendLearner(false);
          return;
        case "problem":
          // A new timeline (a simulation reset, a bag played in a loop): the viewer's clock goes back
          // with it, once, and the viewer starts afresh as after a seek.
          if (e.problem.kind === "clockJump") mapper.restartTime();
          return;
        case "done":
          // The final state, whatever the rate caps skipped.
          if (mapper.labelCount > 0 && server.wants("labels")) send([mapper.labelsMessage()]);
          labelsDirty = false;
          sendLearner(true);
          return;
        default:
          return;
      }
    }),
  );

  // What a viewer that joins later needs at once: the protocol keeps no last message per channel.
  const latched = guarded((key?: LiveViewKey) => {
    if ((!key || key === "tfStatic") && server.wants("tfStatic")) send([mapper.staticTransforms()]);
    if ((!key || key === "cameraInfo") && server.wants("cameraInfo")) send([mapper.cameraInfo()]);
    // Also where no camera frame brings it (a serial run), once the robot has moved.
    if ((!key || key === "robot") && server.wants("robot") && Number.isFinite(mapper.dataTime))
      send([mapper.robot()]);
    if (key === "labels" && mapper.labelCount > 0) send([mapper.labelsMessage()]);
    if (key === "learner") sendLearner(true);
    if (key === "tf") send([mapper.latestTransforms()]);
    if (!key) {
      labelsDirty ||= mapper.labelCount > 0;
      sendLabels();
    }
  });
  const onInput = guarded((event: BagEvent | CoreInput) => {
    const before = mapper.dataTime;
    send(mapper.input(event, wants));
    if (mapper.dataTime < before) server.restartClock();
    // The viewer's clock (with the `time` capability a viewer takes its clock only from the server):
    // from the robot's motion as it arrives, which every entry point has (a serial run has no
    // camera), and not from predictions, which come later and, after a new timeline, from the old one.
    server.broadcastTime(mapper.dataTime);
  });
  // Transforms, camera info and odometry have the same shape in the tap as in CoreInput.
  const inputs$ = pipeline.taps?.inputs$;
  if (inputs$) sub.add(inputs$.subscribe((e) => onInput(e as CoreInput)));
  server.onSubscribe((key) => latched(key));
  const timer = setInterval(() => latched(), options.latchPeriodMs ?? LATCH_PERIOD_MS);
  timer.unref();
  // Training in a live worker, or sensor time going on, with no event to carry the learner state.
  const learnerTimer = setInterval(
    guarded(() => {
      if (performance.now() - lastLearnerMs >= LEARNER_PERIOD_MS) sendLearner(false, true);
    }),
    LEARNER_PERIOD_MS / 2,
  );
  learnerTimer.unref();

  return {
    input: inputs$ ? () => undefined : onInput,
    close() {
      // The subscription listener stays (the server drops it as it closes): the run's final state
      // for a viewer that connects as the run ends.
      if (!closed)
        guarded(() => {
          lastLearner = mapper.learner(pipeline.stats(), config.learner.enabled);
        })();
      closed = true;
      clearInterval(timer);
      clearInterval(learnerTimer);
      sub.unsubscribe();
    },
  };
}

/**
 * `pipeline` with every pushed input shown to `tap` first: for entry points that push inputs from
 * elsewhere (the ROS node, the serial source). Everything else is the pipeline itself.
 */
export function tapInputs<P extends Pick<Pipeline, "push">>(
  pipeline: P,
  tap: (event: BagEvent | CoreInput) => void,
): P {
  return new Proxy(pipeline, {
    get(target, prop) {
      if (prop === "push")
        return (event: BagEvent | CoreInput) => {
          tap(event);
          return target.push(event);
        };
      // Methods run on the pipeline itself (its private fields are not on the proxy).
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
