// The rclnodejs surface the ROS 2 node uses, and its lazy loading with one clear line when ROS 2 is
// missing (tests/helpers/fake-rclnodejs.ts implements exactly this surface).

import { UserError } from "../runtime/errors.ts";

export interface RclQosStatic {
  new (history: number, depth: number, reliability: number, durability: number): unknown;
  HistoryPolicy: { RMW_QOS_POLICY_HISTORY_KEEP_LAST: number };
  ReliabilityPolicy: {
    RMW_QOS_POLICY_RELIABILITY_RELIABLE: number;
    RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: number;
  };
  DurabilityPolicy: {
    RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: number;
    RMW_QOS_POLICY_DURABILITY_VOLATILE: number;
  };
}

export interface RclPublisher {
  publish(message: unknown): void;
}

export interface RclServiceResponse {
  send(response: unknown): void;
}

export interface RclNode {
  name(): string;
  namespace(): string;
  createSubscription(
    typeClass: string,
    topic: string,
    options: { qos: unknown },
    callback: (msg: unknown) => void,
  ): unknown;
  createPublisher(typeClass: string, topic: string, options: { qos: unknown }): RclPublisher;
  createService(
    typeClass: string,
    serviceName: string,
    options: object,
    callback: (request: unknown, response: RclServiceResponse) => void,
  ): unknown;
  setParameters(parameters: unknown[]): unknown;
  /** rclnodejs: declares them in one step (one ParameterEvent); throws when one is already declared. */
  declareParameters(parameters: unknown[], descriptors: unknown[], ignoreOverrides: boolean): unknown;
  now(): { secondsAndNanoseconds: { seconds: number; nanoseconds: number } };
  getLogger(): { info(message: string): void; warn(message: string): void; error(message: string): void };
  destroy(): void;
}

export interface Rclnodejs {
  init(): Promise<void>;
  createNode(name: string, namespace?: string): RclNode;
  spin(node: RclNode): void;
  shutdown(): void;
  /** Loads a generated interface; throws when the package is not installed. */
  require(name: string): unknown;
  /** Takes off the SIGINT listener rclnodejs installs when imported (rclnodejs 0.18 and later). */
  removeSignalHandlers?(): void;
  QoS: RclQosStatic;
  Parameter: new (name: string, type: number, value: unknown) => unknown;
  ParameterDescriptor: new (
    name: string,
    type: number,
    description: string,
    readOnly: boolean,
  ) => { additionalConstraints: string };
  ParameterType: {
    PARAMETER_BOOL: number;
    PARAMETER_INTEGER: number;
    PARAMETER_DOUBLE: number;
    PARAMETER_STRING: number;
    PARAMETER_DOUBLE_ARRAY: number;
    PARAMETER_STRING_ARRAY: number;
  };
}

export const ROS_UNAVAILABLE =
  "ROS 2 is not available: install ROS 2, run `source /opt/ros/<distro>/setup.bash`, then `npm install rclnodejs` in the terrain-learner folder";

/**
 * Loads rclnodejs, or throws a UserError with one clear line. `importer` is replaceable for tests
 * (a fake rclnodejs, or a failing import).
 */
export async function loadRclnodejs(
  importer: () => Promise<unknown> = () => import(/* @vite-ignore */ "rclnodejs" as string),
): Promise<Rclnodejs> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Installed but ROS not sourced: rclnodejs fails loading its native binding or generated messages.
    const why =
      e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND"
        ? "rclnodejs is not installed"
        : `rclnodejs failed to load (${(e.message ?? String(err)).split("\n")[0]})`;
    throw new UserError(`${ROS_UNAVAILABLE} (${why})`);
  }
  const m = mod as { default?: unknown };
  const rcl = (m.default ?? mod) as Rclnodejs;
  // rclnodejs shuts every context down on SIGINT (destroying the node: its clock and publishers are
  // gone) before the node's own stop runs, which still publishes the frames in flight and saves the
  // last checkpoint: the stop then crashed on node.now(). The node stops itself on every signal.
  rcl.removeSignalHandlers?.();
  return rcl;
}
