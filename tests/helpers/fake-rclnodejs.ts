// A FAKE of the small rclnodejs surface that src/adapters/ros2.ts uses (the `Rclnodejs` interface
// there), for testing the node's setup and wiring without ROS 2. It records every entity created,
// delivers messages to subscriptions by topic, calls services, and keeps what was published.
// It is not rclnodejs: no DDS, no message validation (the tests check messages with a real CDR
// writer instead).

import type { RclNode, Rclnodejs, RclPublisher, RclServiceResponse } from "../../src/adapters/ros2.ts";

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

export class FakeParameter {
  constructor(
    readonly name: string,
    readonly type: number,
    readonly value: unknown,
  ) {}
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
}

export class FakeNode implements RclNode {
  readonly subscriptions: FakeSubscription[] = [];
  readonly publishers: FakePublisher[] = [];
  readonly services: FakeService[] = [];
  readonly parameters = new Map<string, unknown>();
  destroyed = false;
  /** The node clock (seconds); tests set it, e.g. to sim time. */
  clock = 0;
  readonly logs: string[] = [];

  constructor(
    private readonly nodeName: string,
    private readonly ns: string,
  ) {}

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
  setParameters(parameters: unknown[]): unknown {
    for (const p of parameters as FakeParameter[]) this.parameters.set(p.name, p.value);
    return parameters.map(() => ({ successful: true, reason: "" }));
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
  }

  // --- test side ---------------------------------------------------------------------------------

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
    return new Promise((resolve) => s.callback(request, { send: resolve }));
  }
}

export class FakeRclnodejs implements Rclnodejs {
  readonly QoS = FakeQoS;
  readonly Parameter = FakeParameter;
  readonly ParameterType = { PARAMETER_BOOL: 1 };
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
  constructor(opts: { packages?: string[]; namespace?: string; sigintHandler?: boolean } = {}) {
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
    const n = new FakeNode(name, namespace ?? this.namespace);
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
