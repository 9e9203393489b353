// `terrain-learner ros` whose pipeline cannot start (here: a backbone that is not a feature
// extractor, as the ONNX Model Zoo's classifiers are): the error must end the process. What was
// started before the pipeline (the live view's listening socket, the ROS context) must be closed,
// or the node prints its error and then never exits.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRosNode } from "../src/cli/ros.ts";
import { defaultConfig } from "../src/runtime/config.ts";
import { UserError } from "../src/runtime/errors.ts";
import { FakeRclnodejs } from "./helpers/fake-rclnodejs.ts";
import { writeOwnBackbone } from "./helpers/own-backbones.ts";

const dir = mkdtempSync(join(tmpdir(), "tl-ros-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Listens on `port` and closes again: resolves whether the port was free. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("ros: a pipeline that cannot start", () => {
  it.each([
    ["in the feature worker", true],
    ["inline", false],
  ])(
    "%s: one user error, the live view closed, the ROS context shut down",
    async (_name, worker) => {
      const rcl = new FakeRclnodejs();
      const config = defaultConfig();
      const port = await freePort();
      Object.assign(config.live_view, { enabled: true, host: "127.0.0.1", port });
      config.learner.backbone = writeOwnBackbone(dir, `classifier-${worker}.onnx`, {
        logitsFirst: true,
        outputName: "feat",
      });
      config.learner.backbone_worker = worker;
      const err = await runRosNode(config, { rcl, signal: new AbortController().signal }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect(err!.message).toMatch(/not a feature map/);
      expect(await portFree(port)).toBe(true);
      expect(rcl.shutdownCalled).toBe(true);
    },
    60_000,
  );
});

describe("ros: rcl refuses to start", () => {
  it("is one user error naming rcl's reason and where to look, not an internal error", async () => {
    const rcl = new FakeRclnodejs();
    // What rcl's context init throws for a bad --ros-args or environment.
    rcl.init = async () => {
      throw new Error("Failed to init: rmw implementation 'rmw_nope' not found\nat rcl/src/rcl/init.c:80");
    };
    const err = await runRosNode(defaultConfig(), { rcl, signal: new AbortController().signal }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toBe(
      "ROS 2 did not start (rclnodejs init): Failed to init: rmw implementation 'rmw_nope' not found; check the --ros-args and --params-file given, and the ROS environment (the sourced setup file, ROS_DOMAIN_ID, RMW_IMPLEMENTATION)",
    );
  });
});
