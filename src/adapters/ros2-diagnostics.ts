// /diagnostics for the ROS 2 node and the recorder: input rates and silences, the learner's health
// and the fleet's counters, as diagnostic_msgs/DiagnosticArray.

import type { Stamp } from "../core/types.ts";
import { DIAGNOSTIC_LEVEL, type DiagnosticStatusInput, diagnosticArrayToRos } from "../io/ros/convert.ts";
import type { PipelineStats } from "../runtime/events.ts";
import type { InputKind, Outgoing, SubscriptionSpec } from "./ros2-wiring.ts";

/** Message rates and counts per input, for diagnostics. */
export class InputMeter {
  private readonly counts = new Map<InputKind, number>();
  private readonly errors = new Map<InputKind, number>();
  private readonly window = new Map<InputKind, number>();
  private readonly lastWall = new Map<InputKind, number>();
  private windowStart: number;

  constructor(now: number) {
    this.windowStart = now;
  }

  received(kind: InputKind, now: number): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.window.set(kind, (this.window.get(kind) ?? 0) + 1);
    this.lastWall.set(kind, now);
  }

  /** Wall time of the last message of `kind`; undefined before the first. */
  lastReceived(kind: InputKind): number | undefined {
    return this.lastWall.get(kind);
  }

  failed(kind: InputKind): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** Rates over the time since the last snapshot (then starts a new window). */
  snapshot(now: number): Record<InputKind, { rate: number; count: number; errors: number; age: number }> {
    const dt = Math.max(1e-6, now - this.windowStart);
    const kinds: InputKind[] = ["image", "compressed", "cameraInfo", "imu", "odom", "tf", "tfStatic"];
    const out = {} as Record<InputKind, { rate: number; count: number; errors: number; age: number }>;
    for (const k of kinds) {
      const last = this.lastWall.get(k);
      out[k] = {
        rate: (this.window.get(k) ?? 0) / dt,
        count: this.counts.get(k) ?? 0,
        errors: this.errors.get(k) ?? 0,
        age: last === undefined ? Number.POSITIVE_INFINITY : now - last,
      };
    }
    this.window.clear();
    this.windowStart = now;
    return out;
  }
}

export interface DiagnosticsInput {
  /** Node clock (sim time with use_sim_time). */
  stamp: Stamp;
  hardwareId: string;
  inputs: ReturnType<InputMeter["snapshot"]>;
  subscriptions: readonly SubscriptionSpec[];
  stats: PipelineStats | undefined;
  /** Mean and max latency (ms) from image stamp to published prediction over the last period. */
  latencyMs: { mean: number; max: number; count: number };
  learning: boolean;
  speedLimitType: string;
  /** The speed limit is held at outputs.min_speed for want of predictions. */
  speedLimitStale?: boolean;
}

/** The fleet's counters (docs/fleet.md) as a status: WARN while the broker is unreachable. */
function fleetDiagnostics(f: Record<string, unknown>, hardwareId: string): DiagnosticStatusInput {
  const num = (k: string) => (typeof f[k] === "number" ? (f[k] as number) : Number.NaN);
  const values: Record<string, string | number | boolean> = {
    connected: f.connected === true,
    peers: num("peers"),
    "samples received": num("received"),
    "samples used": num("used"),
    "samples down-weighted by own labels": num("overridden"),
    "samples sent": num("sent"),
    "bytes/s in": num("bytesInPerSec"),
    "bytes/s out": num("bytesOutPerSec"),
    "backlog (batches)": num("backlog"),
    "backlog dropped": num("backlogDropped"),
    "rejected total": num("rejectedTotal"),
    "payloads under this robot's id from another client": num("sameId"),
    "last error": typeof f.lastError === "string" ? f.lastError : "",
  };
  for (const [reason, n] of Object.entries((f.rejected ?? {}) as Record<string, number>))
    values[`rejected: ${reason}`] = n;
  // Connected is not sharing when the broker drops what we publish or peers mix us with a twin.
  const problem =
    f.brokerDrops === true
      ? "the broker drops what this robot publishes (ACL: user name, topic prefix)"
      : num("sameId") > 0
        ? "another robot publishes under this robot's id"
        : undefined;
  return {
    level: f.connected === true && !problem ? DIAGNOSTIC_LEVEL.OK : DIAGNOSTIC_LEVEL.WARN,
    name: "terrain_learner: fleet",
    message:
      f.connected !== true
        ? "broker unreachable: learning alone"
        : (problem ?? `sharing with ${num("peers")} peers`),
    hardwareId,
    values,
  };
}

/** Inputs older than this (s) make the status WARN. */
const STALE_AFTER = 2;

export function diagnosticsMessage(d: DiagnosticsInput): Outgoing {
  const inputValues: Record<string, string | number | boolean> = {};
  const stale: string[] = [];
  for (const sub of d.subscriptions) {
    const m = d.inputs[sub.kind];
    inputValues[`${sub.topic} rate (Hz)`] = m.rate;
    inputValues[`${sub.topic} received`] = m.count;
    inputValues[`${sub.topic} conversion errors`] = m.errors;
    if (sub.kind !== "tfStatic" && sub.kind !== "tf" && !(m.age <= STALE_AFTER)) stale.push(sub.topic);
  }
  const s = d.stats;
  const problems = s ? Object.values(s.problems).reduce((a, b) => a + b, 0) : 0;
  const statuses: DiagnosticStatusInput[] = [
    {
      level: stale.length ? DIAGNOSTIC_LEVEL.WARN : DIAGNOSTIC_LEVEL.OK,
      name: "terrain_learner: inputs",
      message: stale.length ? `no data for ${STALE_AFTER} s on ${stale.join(", ")}` : "all inputs arriving",
      hardwareId: d.hardwareId,
      values: inputValues,
    },
    {
      level: d.speedLimitStale ? DIAGNOSTIC_LEVEL.WARN : DIAGNOSTIC_LEVEL.OK,
      name: "terrain_learner: learner",
      message:
        `${d.learning ? "learning" : "paused"} on ${s?.backend ?? "?"}` +
        (d.speedLimitStale ? "; no predictions: speed limit held at the minimum" : ""),
      hardwareId: d.hardwareId,
      values: {
        backend: s?.backend ?? "",
        learning: d.learning,
        "buffer size": s?.bufferSize ?? 0,
        "train steps": s?.trainSteps ?? 0,
        "last loss": s?.lastLoss ?? Number.NaN,
        labels: s?.labels ?? 0,
        samples: s?.samples ?? 0,
        keyframes: s?.keyframes ?? 0,
        "frames processed": s?.framesProcessed ?? 0,
        "frames dropped (latest wins)": s?.framesDropped ?? 0,
        "frame time (ms)": s?.frameMs ?? 0,
        "latency mean (ms)": d.latencyMs.mean,
        "latency max (ms)": d.latencyMs.max,
        "messages later than the reorder window": s?.problems.late ?? 0,
        problems,
        "speed limit type": d.speedLimitType,
        "speed limit held at minimum": d.speedLimitStale ?? false,
      },
    },
  ];
  if (s) for (const [kind, n] of Object.entries(s.problems)) statuses[1]!.values[`problems: ${kind}`] = n;
  if (s?.fleet) statuses.push(fleetDiagnostics(s.fleet, d.hardwareId));
  return {
    key: "diagnostics",
    topic: "/diagnostics",
    type: "diagnostic_msgs/msg/DiagnosticArray",
    message: diagnosticArrayToRos(d.stamp, statuses),
  };
}
