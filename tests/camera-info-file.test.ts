// `replay --camera-info-file`: a bag recorded without CameraInfo, with the camera's calibration
// YAML (camera_calibration's ost.yaml, camera_info_manager's file) giving the intrinsics.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWorldBag } from "../sim/index.ts";
import { openBag } from "../src/io/bag/index.ts";
import { withCameraInfo } from "../src/io/bag/with-camera-info.ts";
import { parseCameraCalibration } from "../src/io/ros/camera-info-yaml.ts";
import { cameraInfoFromRos } from "../src/io/ros/convert.ts";
import { rewriteBag } from "./helpers/bag-rewrite.ts";
import { runCli } from "./helpers/cli.ts";
import { type Ros1BagMessage, writeRos1Bag } from "./helpers/ros1-bag-writer.ts";

const OST = new URL("./fixtures/camera-calibration/ost.yaml", import.meta.url);
const ost = readFileSync(OST, "utf8");

/** Two `replay --json` results that learned from the same inputs: their counts agree. */
function sameRun(first: string, second: string) {
  const a = JSON.parse(first);
  const b = JSON.parse(second);
  expect(a.rows).toBeGreaterThan(0);
  for (const k of ["frames", "labels", "samples", "rows", "keyframes", "trainSteps"])
    expect(b[k], k).toBe(a[k]);
  return [a, b];
}
describe("parseCameraCalibration", () => {
  it("reads camera_calibration's ost.yaml into the CameraInfo a driver publishes with it", () => {
    const c = parseCameraCalibration(ost, "ost.yaml");
    expect(c).toMatchObject({ cameraName: "narrow_stereo", width: 640, height: 480 });
    expect(c.message.k).toEqual([423.13152, 0, 320.79612, 0, 423.64233, 233.63786, 0, 0, 1]);
    expect(c.message.d).toEqual([-0.306049, 0.077286, 0.001239, -0.000601, 0]);
    expect(c.message.p.slice(0, 3)).toEqual([329.72543, 0, 320.38651]);
    // The pipeline's own conversion takes it as it takes a bag's CameraInfo.
    const m = cameraInfoFromRos(c.message);
    expect(m).toMatchObject({ width: 640, height: 480, distortionModel: "plumb_bob" });
    expect(m.K).toEqual(c.message.k);
  });

  it("distortion_model, rectification and projection left out: plumb_bob, identity, K", () => {
    const text = ost.replace(/distortion_model:.*\n/, "").replace(/rectification_matrix:[\s\S]*$/, "");
    const c = parseCameraCalibration(text, "f.yaml");
    expect(c.message.distortion_model).toBe("plumb_bob");
    expect(c.message.r).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(c.message.p).toEqual([423.13152, 0, 320.79612, 0, 0, 423.64233, 233.63786, 0, 0, 0, 1, 0]);
  });

  it("a fisheye calibration (equidistant, 4 coefficients) is taken", () => {
    const text = ost
      .replace("plumb_bob", "equidistant")
      .replace(/cols: 5\n {2}data: \[.*\]/, "cols: 4\n  data: [0.1, 0.01, -0.002, 0.0003]");
    expect(cameraInfoFromRos(parseCameraCalibration(text, "f.yaml").message).distortionModel).toBe(
      "equidistant",
    );
  });

  const bad: [string, string, RegExp][] = [
    ["no image_width", ost.replace(/image_width.*\n/, ""), /^f\.yaml: missing key image_width$/],
    [
      "no camera_matrix",
      ost.replace(/camera_matrix:\n(.*\n){5}/, ""),
      /^f\.yaml: missing key camera_matrix$/,
    ],
    [
      "no distortion_coefficients",
      ost.replace(/distortion_coefficients:\n(.*\n){3}/, ""),
      /^f\.yaml: missing key distortion_coefficients$/,
    ],
    [
      "a 3x4 camera_matrix",
      ost.replace("cols: 3\n  data: [ 423", "cols: 4\n  data: [ 423"),
      /^f\.yaml: camera_matrix is 3x4 \(rows x cols\), expected 3x3$/,
    ],
    [
      "data shorter than rows x cols",
      ost.replace("1.,  0.,  0.,\n", ""),
      /^f\.yaml: rectification_matrix\.data has 6 values, expected 9 \(3x3\)$/,
    ],
    [
      "8 coefficients for plumb_bob",
      ost.replace("cols: 5\n  data: [-0.306049,", "cols: 8\n  data: [0, 0, 0, -0.306049,"),
      /^f\.yaml: distortion_coefficients is 1x8 \(rows x cols\), expected 1x4 or 4x1 or 1x5 or 5x1$/,
    ],
    [
      "a word for a number",
      ost.replace("423.64233", "fy"),
      /^f\.yaml: camera_matrix\.data\[4\] is "fy", not a number$/,
    ],
    [
      "fx of 0",
      ost.replace("423.13152", "0"),
      /^f\.yaml: camera_matrix: fx and fy must be above 0, got fx = 0,/,
    ],
    [
      "fy below 0",
      ost.replace("423.64233", "-423.6"),
      /fx and fy must be above 0, got fx = 423\.13152, fy = -423\.6/,
    ],
    [
      "an unknown distortion model",
      ost.replace("plumb_bob", "double_sphere"),
      /^f\.yaml: distortion_model 'double_sphere' is not supported: plumb_bob, rational_polynomial or equidistant/,
    ],
    [
      "a width of 0",
      ost.replace("640", "0"),
      /^f\.yaml: image_width must be a whole number of pixels above 0, got 0$/,
    ],
    ["not YAML", "camera_matrix: [1, 2\nimage_width: : 3", /^f\.yaml: not YAML: /],
    [
      "YAML, but not a mapping",
      "just some words",
      /^f\.yaml: not a camera calibration: expected a YAML mapping/,
    ],
    ["binary data", "\u007fELF\u0000\u0001", /^f\.yaml: not a YAML calibration file \(binary data/],
    [
      "OpenCV's FileStorage YAML",
      "%YAML:1.0\n---\ncamera_matrix: !!opencv-matrix\n  rows: 3\n  cols: 3\n  dt: d\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n",
      /^f\.yaml: an OpenCV FileStorage file/,
    ],
  ];
  for (const [what, text, error] of bad)
    it(`refuses ${what} in one line naming the key`, () => {
      expect(() => parseCameraCalibration(text, "f.yaml")).toThrow(error);
      try {
        parseCameraCalibration(text, "f.yaml");
      } catch (err) {
        expect((err as Error).message).not.toContain("\n");
      }
    });
});

/** The calibration file camera_calibration would write for the simulator's camera. */
function ostYaml(m: Record<string, unknown>, size?: { width: number; height: number }): string {
  const list = (v: unknown) => `[${Array.from(v as ArrayLike<number>).join(", ")}]`;
  const d = Array.from(m.d as ArrayLike<number>);
  return `image_width: ${size?.width ?? m.width}
image_height: ${size?.height ?? m.height}
camera_name: sim_camera
camera_matrix:
  rows: 3
  cols: 3
  data: ${list(m.k)}
distortion_model: ${m.distortion_model || "plumb_bob"}
distortion_coefficients:
  rows: 1
  cols: ${d.length}
  data: ${list(d)}
rectification_matrix:
  rows: 3
  cols: 3
  data: ${list(m.r)}
projection_matrix:
  rows: 3
  cols: 4
  data: ${list(m.p)}
`;
}

// biome-ignore lint/suspicious/noExplicitAny: decoded messages of several types, read field by field
type Obj = Record<string, any>;

/** The simulator bag as a ROS 1 recorder without camera_info writes it: {sec, nsec} headers. */
async function toRos1WithoutCameraInfo(from: string, to: string): Promise<void> {
  const header = (h: Obj) => ({
    seq: 0,
    stamp: { sec: h.stamp.sec, nsec: h.stamp.nanosec },
    frame_id: h.frame_id,
  });
  const src = await openBag(from);
  const out: Ros1BagMessage[] = [];
  for await (const e of src.messages()) {
    if (e.type !== "message" || e.topic.startsWith("/sim") || e.topic === "/camera/camera_info") continue;
    const m = e.message as Obj;
    const type = e.schemaName.replace("/msg/", "/");
    const message =
      type === "tf2_msgs/TFMessage"
        ? { transforms: m.transforms.map((t: Obj) => ({ ...t, header: header(t.header) })) }
        : { ...m, header: header(m.header) };
    const sec = Math.floor(e.logTime);
    const nsec = Math.min(999_999_999, Math.round((e.logTime - sec) * 1e9));
    out.push({ topic: e.topic, type, time: { sec, nsec }, message });
  }
  await src.close();
  writeFileSync(to, writeRos1Bag(out, { compression: "lz4", chunkMessages: 500 }));
}

describe("replay --camera-info-file", () => {
  const dir = mkdtempSync(join(tmpdir(), "camera-info-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli(args, dir);
  const evalArgs = (name: string) => ["--eval", "--json", "--report-dir", join(dir, `report-${name}`)];
  beforeAll(async () => {
    const src = join(dir, "t.mcap");
    await generateWorldBag({ out: src, duration: 8, camera: { width: 64, height: 48, rate: 5 } });
    await rewriteBag(src, join(dir, "noinfo.mcap"), (topic, m) =>
      topic === "/camera/camera_info" ? null : m,
    );
    await toRos1WithoutCameraInfo(src, join(dir, "noinfo.bag"));
    const bag = await openBag(src);
    for await (const e of bag.messages({ topics: ["/camera/camera_info"] })) {
      if (e.type !== "message") continue;
      const m = e.message as Record<string, unknown>;
      writeFileSync(join(dir, "calib.yaml"), ostYaml(m));
      writeFileSync(join(dir, "calib-vga.yaml"), ostYaml(m, { width: 640, height: 480 }));
      break;
    }
    await bag.close();
  }, 120_000);

  it("a bag without CameraInfo is refused, the flag suggested", async () => {
    const r = await cli("replay", "noinfo.mcap");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no messages on camera info topic \/camera\/camera_info .*--camera-info-file calib\.yaml/,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  }, 120_000);

  it("with the calibration file it learns and predicts as with the bag's own CameraInfo", async () => {
    const own = await cli("replay", "t.mcap", ...evalArgs("own"));
    const rec = join(dir, "rec.mcap");
    const file = await cli(
      "replay",
      "noinfo.mcap",
      "--camera-info-file",
      "calib.yaml",
      "--record",
      rec,
      ...evalArgs("file"),
    );
    expect(own.code, own.stderr).toBe(0);
    expect(file.code, file.stderr).toBe(0);
    const [a, b] = sameRun(own.stdout, file.stdout);
    expect(b.eval.mae).toBeCloseTo(a.eval.mae, 6);
    expect(b.eval.spearman).toBeCloseTo(a.eval.spearman, 6);
    // The recording carries the file's CameraInfo with each frame: it replays without the file.
    const out = await openBag(rec);
    const topics = (await out.info()).topics;
    await out.close();
    const count = (t: string) => topics.find((x) => x.name === t)?.count;
    expect(count("/camera/camera_info")).toBe(count("/camera/image_raw"));
  }, 240_000);

  it("a ROS 1 bag without camera_info: the same run as the ROS 2 one", async () => {
    const ros2 = await cli("replay", "noinfo.mcap", "--camera-info-file", "calib.yaml", "--json");
    const ros1 = await cli("replay", "noinfo.bag", "--camera-info-file", "calib.yaml", "--json");
    expect(ros2.code, ros2.stderr).toBe(0);
    expect(ros1.code, ros1.stderr).toBe(0);
    const [, b] = sameRun(ros2.stdout, ros1.stdout);
    // Each frame's CameraInfo carries that frame's stamp, nanoseconds from ROS 1's nsec included.
    const calibration = parseCameraCalibration(readFileSync(join(dir, "calib.yaml"), "utf8"), "calib.yaml");
    const topics = { camera_info: "/camera/camera_info", image: "/camera/image_raw", compressed_image: "" };
    const bag = withCameraInfo(await openBag(join(dir, "noinfo.bag")), calibration.message, topics);
    let frame: Obj | undefined;
    let pairs = 0;
    for await (const e of bag.messages({ topics: ["/camera/image_raw", "/camera/camera_info"] })) {
      if (e.type !== "message") continue;
      const m = e.message as Obj;
      if (e.topic === "/camera/image_raw") frame = m.header;
      else {
        expect(m.header).toEqual({
          stamp: { sec: frame!.stamp.sec, nanosec: frame!.stamp.nsec },
          frame_id: frame!.frame_id,
        });
        pairs++;
      }
    }
    await bag.close();
    expect(pairs).toBe(b.frames);
    expect(frame!.stamp.nsec).toBeGreaterThan(0);
  }, 240_000);

  it("the file wins over the bag's own CameraInfo, and says so", async () => {
    const r = await cli("replay", "t.mcap", "--camera-info-file", "calib.yaml", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^terrain-learner: t\.mcap: the bag's CameraInfo on \/camera\/camera_info \(\d+ messages\) is left out: the intrinsics come from --camera-info-file calib\.yaml$/m,
    );
    expect(JSON.parse(r.stdout).rows).toBeGreaterThan(0);
  }, 120_000);

  it("a calibration of another image size is refused, both sizes named", async () => {
    const r = await cli("replay", "noinfo.mcap", "--camera-info-file", "calib-vga.yaml");
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "terrain-learner: --camera-info-file calib-vga.yaml: it calibrates 640x480 images, and the frames on /camera/image_raw are 64x48: give the calibration made at the frames' size",
    );
  }, 120_000);

  it("a missing or broken file is refused before the bag is read", async () => {
    const missing = await cli("replay", "noinfo.mcap", "--camera-info-file", "nope.yaml");
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/--camera-info-file nope\.yaml: no such file$/);
    writeFileSync(join(dir, "broken.yaml"), ost.replace("423.13152", "0"));
    const broken = await cli("replay", "noinfo.mcap", "--camera-info-file", "broken.yaml");
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split("\n")).toHaveLength(1);
    expect(broken.stderr).toMatch(
      /--camera-info-file broken\.yaml: camera_matrix: fx and fy must be above 0/,
    );
  }, 120_000);
});
