// A FAKE of the small rclnodejs surface that src/adapters/ros2.ts uses (the `Rclnodejs` interface
// in ros2-rclnodejs.ts), for testing the node's setup and wiring without ROS 2. It records every entity created,
// delivers messages to subscriptions by topic, calls services, and keeps what was published.
// It is not rclnodejs: no DDS, no message validation (the tests check messages with a real CDR
// writer instead).

import type {
  RclNode,
  Rclnodejs,
  RclPublisher,
  RclServiceResponse,
} from "../../src/adapters/ros2-rclnodejs.ts";

export class FakeQoS {
  static HistoryPolicy = {
    RMW_QOS_POLICY_HISTORY_SYSTEM_DEFAULT: 0,
    RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1,
    RMW_QOS_POLICY_HISTORY_KEEP_ALL: 2,
  };
  static ReliabilityPolicy = {
    RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT: 0,
    RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1,
    RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: 2,
  };
  static DurabilityPolicy = {
    RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT: 0,
    RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: 1,
    RMW_QOS_POLICY_DURABILITY_VOLATILE: 2,
  };
  constructor(
    readonly history: number,
    readonly depth: number,
    readonly reliabilityPolicy: number,
    readonly durability: number,
  ) {}
  /** Readable form for assertions. */
  describe(): string {
    const rel = this.reliabilityPolicy === 2 ? "best_effort" : "reliable";
    const dur = this.durability === 1 ? "transient_local" : "volatile";
    return `keep_last(${this.depth}) ${rel} ${dur}`;
  }
}

// Parameters as rclnodejs has them (lib/parameter.js, lib/node.js, lib/time_source.js of
// RobotWebTools/rclnodejs): a Parameter checks its value against its type (an integer is held as a
// BigInt), a node refuses to set an undeclared or read-only parameter or one of another type with a
// SetParametersResult { successful: false, reason }, declaring throws for a parameter already
// declared or one whose (override) value does not fit its descriptor, and every node declares
// use_sim_time at creation from rcl's overrides.
export const FakeParameterType = {
  PARAMETER_NOT_SET: 0,
  PARAMETER_BOOL: 1,
  PARAMETER_INTEGER: 2,
  PARAMETER_DOUBLE: 3,
  PARAMETER_STRING: 4,
  PARAMETER_BYTE_ARRAY: 5,
  PARAMETER_BOOL_ARRAY: 6,
  PARAMETER_INTEGER_ARRAY: 7,
  PARAMETER_DOUBLE_ARRAY: 8,
  PARAMETER_STRING_ARRAY: 9,
} as const;
const T = FakeParameterType;

function validValue(value: unknown, type: number): boolean {
  if (value === null || value === undefined) return type === T.PARAMETER_NOT_SET;
  const all = (f: (x: unknown) => boolean) => Array.isArray(value) && value.every(f);
  switch (type) {
    case T.PARAMETER_BOOL:
      return typeof value === "boolean";
    case T.PARAMETER_STRING:
      return typeof value === "string";
    case T.PARAMETER_DOUBLE:
      return typeof value === "number";
    case T.PARAMETER_INTEGER:
      return typeof value === "bigint";
    case T.PARAMETER_BOOL_ARRAY:
      return all((x) => typeof x === "boolean");
    case T.PARAMETER_BYTE_ARRAY:
    case T.PARAMETER_DOUBLE_ARRAY:
      return all((x) => typeof x === "number");
    case T.PARAMETER_INTEGER_ARRAY:
      return all((x) => typeof x === "bigint");
    case T.PARAMETER_STRING_ARRAY:
      return all((x) => typeof x === "string");
    default:
      return false;
  }
}

export class FakeParameter {
  readonly value: unknown;
  constructor(
    readonly name: string,
    readonly type: number,
    value: unknown,
  ) {
    // rclnodejs: `BigInt(value)` for an integer (a RangeError for 2.5).
    this.value = type === T.PARAMETER_INTEGER && value !== undefined ? BigInt(value as number) : value;
    if (!validValue(this.value, type)) throw new TypeError("Incompatible value.");
  }
}

export class FakeParameterDescriptor {
  additionalConstraints = "";
  constructor(
    readonly name: string,
    readonly type: number = T.PARAMETER_NOT_SET,
    readonly description = "no description",
    readonly readOnly = false,
  ) {}
}

export interface FakeSetParametersResult {
  successful: boolean;
  reason: string | null;
}

export interface FakeSubscription {
  type: string;
  topic: string;
  qos: FakeQoS;
  callback: (msg: unknown) => void;
}

export class FakePublisher implements RclPublisher {
  readonly messages: unknown[] = [];
  /** Set when its node is destroyed: rclnodejs's native handle is released and publish() throws. */
  released = false;
  constructor(
    readonly type: string,
    readonly topic: string,
    readonly qos: FakeQoS,
  ) {}
  publish(message: unknown): void {
    if (this.released) throw new Error(`publisher on ${this.topic} was destroyed`);
    this.messages.push(message);
  }
}

export interface FakeService {
  type: string;
  name: string;
  callback: (request: unknown, response: RclServiceResponse) => void;
  /**
   * Set when its node is destroyed: rclnodejs's Response.send() then passes a released handle to
   * rcl_send_response, which refuses it (RCL_RET_SERVICE_INVALID) and rclnodejs throws.
   */
  released?: boolean;
}

export class FakeNode implements RclNode {
  readonly subscriptions: FakeSubscription[] = [];
  readonly publishers: FakePublisher[] = [];
  readonly services: FakeService[] = [];
  /** Declared parameters' values (integers as BigInt). */
  readonly parameters = new Map<string, unknown>();
  readonly descriptors = new Map<string, FakeParameterDescriptor>();
  destroyed = false;
  /** The node clock (seconds); tests set it, e.g. to sim time. */
  clock = 0;
  readonly logs: string[] = [];

  constructor(
    private readonly nodeName: string,
    private readonly ns: string,
    /** rcl's parameter overrides for this node (`--params-file`, `-p`), typed as rcl types YAML. */
    private readonly overrides: ReadonlyMap<string, FakeParameter> = new Map(),
  ) {
    // TimeSource.attachNode: use_sim_time, declared with its override when there is one.
    this.declareParameters([new FakeParameter("use_sim_time", T.PARAMETER_BOOL, false)]);
  }

  name(): string {
    return this.nodeName;
  }
  namespace(): string {
    return this.ns;
  }
  createSubscription(
    typeClass: string,
    topic: string,
    options: { qos: unknown },
    callback: (msg: unknown) => void,
  ): unknown {
    const s = { type: typeClass, topic, qos: options.qos as FakeQoS, callback };
    this.subscriptions.push(s);
    return s;
  }
  createPublisher(typeClass: string, topic: string, options: { qos: unknown }): RclPublisher {
    const p = new FakePublisher(typeClass, topic, options.qos as FakeQoS);
    this.publishers.push(p);
    return p;
  }
  createService(
    typeClass: string,
    serviceName: string,
    _options: object,
    callback: FakeService["callback"],
  ): unknown {
    const s = { type: typeClass, name: serviceName, callback };
    this.services.push(s);
    return s;
  }
  /** rclnodejs Node.setParameters: one result per parameter, each set on its own. */
  setParameters(parameters: unknown[]): FakeSetParametersResult[] {
    return (parameters as FakeParameter[]).map((p) => {
      const result = this.validate(p, false);
      if (result.successful) this.parameters.set(p.name, p.value);
      return result;
    });
  }
  /** rclnodejs Node.declareParameters (atomic: all or none; throws the refusal's reason). */
  declareParameters(parameters: unknown[], descriptors: unknown[] = [], ignoreOverrides = false): unknown {
    const params = (parameters as FakeParameter[]).map((p) =>
      !ignoreOverrides && this.overrides.has(p.name) ? this.overrides.get(p.name)! : p,
    );
    const taken = params.find((p) => this.parameters.has(p.name));
    if (taken) throw new Error(`Parameter(${taken.name}) already declared.`);
    const descs = params.map(
      (p, i) => (descriptors as FakeParameterDescriptor[])[i] ?? new FakeParameterDescriptor(p.name, p.type),
    );
    for (const d of descs) this.descriptors.set(d.name, d);
    for (const p of params) {
      const result = this.validate(p, true);
      if (!result.successful) {
        for (const d of descs) this.descriptors.delete(d.name);
        throw new Error(result.reason ?? "");
      }
    }
    for (const p of params) this.parameters.set(p.name, p.value);
    return params;
  }
  getParameter(name: string): FakeParameter {
    const d = this.descriptors.get(name);
    return this.parameters.has(name) && d
      ? new FakeParameter(name, d.type, this.parameters.get(name))
      : new FakeParameter(name, T.PARAMETER_NOT_SET, undefined);
  }
  hasParameter(name: string): boolean {
    return this.parameters.has(name);
  }
  /** rclnodejs Node._validateParameters. */
  private validate(p: FakeParameter, declaring: boolean): FakeSetParametersResult {
    const d = this.descriptors.get(p.name);
    if (!d) return { successful: false, reason: `Parameter ${p.name} has not been declared` };
    if (!declaring && d.readOnly) return { successful: false, reason: `Parameter ${p.name} is readonly` };
    if (d.type !== p.type) return { successful: false, reason: `Parameter ${p.name}: Type mismatch` };
    return { successful: true, reason: null };
  }
  now(): { secondsAndNanoseconds: { seconds: number; nanoseconds: number } } {
    // rclnodejs's Node.destroy() sets its clock to null: now() is `this.getClock().now()`.
    if (this.destroyed) throw new TypeError("Cannot read properties of null (reading 'now')");
    const seconds = Math.floor(this.clock);
    return { secondsAndNanoseconds: { seconds, nanoseconds: Math.round((this.clock - seconds) * 1e9) } };
  }
  getLogger() {
    return {
      info: (m: string) => this.logs.push(`INFO ${m}`),
      warn: (m: string) => this.logs.push(`WARN ${m}`),
      error: (m: string) => this.logs.push(`ERROR ${m}`),
    };
  }
  destroy(): void {
    this.destroyed = true;
    for (const p of this.publishers) p.released = true;
    for (const s of this.services) s.released = true;
  }

  // --- test side ---------------------------------------------------------------------------------

  /**
   * What `ros2 param dump` prints for this node (ros2param's dump verb: every declared parameter,
   * nested at each '.', under the node's full name; a double keeps its decimal point).
   */
  paramDump(): string {
    const root: Record<string, unknown> = {};
    for (const [name, value] of this.parameters) {
      const parts = name.split(".");
      let at = root;
      for (const k of parts.slice(0, -1)) {
        at[k] ??= {};
        at = at[k] as Record<string, unknown>;
      }
      at[parts[parts.length - 1]!] = { type: this.descriptors.get(name)!.type, value };
    }
    const scalar = (type: number, v: unknown): string => {
      if (type === T.PARAMETER_DOUBLE) return Number.isInteger(v) ? (v as number).toFixed(1) : String(v);
      if (typeof v === "bigint" || typeof v === "boolean") return String(v);
      return JSON.stringify(v);
    };
    const lines: string[] = [`${this.ns === "/" ? "" : this.ns}/${this.nodeName}:`, "  ros__parameters:"];
    const write = (obj: Record<string, unknown>, depth: number) => {
      for (const [k, v] of Object.entries(obj).sort(([a], [b]) => a.localeCompare(b))) {
        const pad = "  ".repeat(depth);
        const leaf = v as { type?: number; value?: unknown };
        if (typeof leaf.type === "number" && "value" in leaf) {
          const text = Array.isArray(leaf.value)
            ? `[${leaf.value.map((x) => scalar(leaf.type === T.PARAMETER_DOUBLE_ARRAY ? T.PARAMETER_DOUBLE : -1, x)).join(", ")}]`
            : scalar(leaf.type, leaf.value);
          lines.push(`${pad}${k}: ${text}`);
        } else {
          lines.push(`${pad}${k}:`);
          write(v as Record<string, unknown>, depth + 1);
        }
      }
    };
    write(root, 2);
    return `${lines.join("\n")}\n`;
  }

  /** Delivers a message to every subscription on `topic`; returns how many received it. */
  deliver(topic: string, msg: unknown): number {
    const subs = this.subscriptions.filter((s) => s.topic === topic);
    for (const s of subs) s.callback(msg);
    return subs.length;
  }
  publisher(topic: string): FakePublisher {
    const p = this.publishers.find((x) => x.topic === topic);
    if (!p)
      throw new Error(`no publisher on ${topic} (have ${this.publishers.map((x) => x.topic).join(", ")})`);
    return p;
  }
  /** Calls a service like a client would; resolves with the response the node sent. */
  call(name: string, request: unknown): Promise<unknown> {
    const s = this.services.find((x) => x.name === name);
    if (!s) return Promise.reject(new Error(`no service ${name}`));
    return new Promise((resolve) =>
      s.callback(request, {
        send: (response) => {
          if (s.released) throw new Error(`service ${name} was destroyed: response not sent`);
          resolve(response);
        },
      }),
    );
  }
}

export class FakeRclnodejs implements Rclnodejs {
  readonly QoS = FakeQoS;
  readonly Parameter = FakeParameter;
  readonly ParameterDescriptor = FakeParameterDescriptor;
  readonly ParameterType = FakeParameterType;
  readonly nodes: FakeNode[] = [];
  readonly spun: FakeNode[] = [];
  initialized = false;
  shutdownCalled = false;
  /** Interface packages "installed" (require() throws for others, like rclnodejs without the package). */
  readonly packages: Set<string>;

  /**
   * `sigintHandler`: as rclnodejs's index.js does when it is imported, a process SIGINT listener that
   * shuts every context down (destroying its nodes) until removeSignalHandlers() is called.
   */
  constructor(
    opts: {
      packages?: string[];
      namespace?: string;
      sigintHandler?: boolean;
      /** rcl's parameter overrides (what it parsed from `--params-file` and `-p`, typed its way). */
      parameterOverrides?: FakeParameter[];
    } = {},
  ) {
    this.overrides = new Map((opts.parameterOverrides ?? []).map((p) => [p.name, p]));
    this.packages = new Set(
      opts.packages ?? [
        "std_msgs",
        "sensor_msgs",
        "nav_msgs",
        "tf2_msgs",
        "visualization_msgs",
        "diagnostic_msgs",
        "std_srvs",
        "nav2_msgs",
      ],
    );
    this.namespace = opts.namespace ?? "/";
    if (opts.sigintHandler) process.on("SIGINT", this.sigHandler);
  }
  private readonly namespace: string;
  private readonly overrides: Map<string, FakeParameter>;
  private readonly sigHandler = () => this.shutdownAll();

  /** rclnodejs.shutdownAll(): every context shut down, every node destroyed. */
  shutdownAll(): void {
    for (const n of this.nodes) n.destroy();
  }
  removeSignalHandlers(): void {
    process.removeListener("SIGINT", this.sigHandler);
  }
  /** Whether the SIGINT listener rclnodejs installs at import is still on the process. */
  get sigintHandlerInstalled(): boolean {
    return process.listeners("SIGINT").includes(this.sigHandler);
  }

  async init(): Promise<void> {
    this.initialized = true;
  }
  createNode(name: string, namespace?: string): FakeNode {
    const n = new FakeNode(name, namespace ?? this.namespace, this.overrides);
    this.nodes.push(n);
    return n;
  }
  spin(node: RclNode): void {
    this.spun.push(node as FakeNode);
  }
  shutdown(): void {
    this.shutdownCalled = true;
  }
  require(name: string): unknown {
    const pkg = name.split("/")[0]!;
    if (!this.packages.has(pkg)) throw new Error(`Package '${pkg}' not found`);
    return {};
  }
}

/** A node log that keeps its lines ("INFO ...", "WARN ...", "ERROR ...") for the test to read. */
export function recordingLog() {
  const logs: string[] = [];
  const log = {
    info: (m: string) => logs.push(`INFO ${m}`),
    warn: (m: string) => logs.push(`WARN ${m}`),
    error: (m: string) => logs.push(`ERROR ${m}`),
  };
  return { logs, log };
}
