// `terrain-learner export`: its options and their checks. onnxruntime, the learner and the graph
// builder (export.ts) load once the flags and the config have been checked.

import { resolve } from "node:path";
import type { Command } from "commander";
import { discardTempsSync } from "../io/safe-output.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import { action, UserError } from "./errors.ts";
import type { ExportResult } from "./export.ts";
import { trapInterrupts } from "./interrupt.ts";
import { CONFIG_HELP, collect } from "./options.ts";

/** "640x480" → {640, 480}. */
export function parseImageSize(s: string): { width: number; height: number } {
  const m = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(s.trim());
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || !(width >= 1 && height >= 1 && width <= 8192 && height <= 8192))
    throw new UserError(
      `--image-size must be WIDTHxHEIGHT in pixels, each 1..8192 (e.g. 640x480), got '${s}'`,
    );
  return { width, height };
}

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "write a checkpoint's backbone + head + confidence as one ONNX model (image in, roughness and confidence grids out)",
    )
    .requiredOption(
      "--checkpoint <dir>",
      "checkpoint folder (learner.checkpoint_dir, replay --save-checkpoint)",
    )
    .requiredOption("--out <model.onnx>", "the ONNX file to write")
    .option(
      "--image-size <WxH>",
      "camera image size the model takes (fixed in the graph; default: the size of the camera frames the checkpoint was trained on)",
    )
    .option(
      "-c, --config <file>",
      `${CONFIG_HELP}; only for checkpoints that do not record their learner settings, or for learner.backbone when the checkpoint's model is now elsewhere (same sha256)`,
      collect,
    )
    .option("--json", "print one JSON object (file, size, grid, metadata) instead of the summary")
    .addHelpText(
      "after",
      `
The newest valid checkpoint in the folder is exported (a corrupt newer one is skipped with a
warning), with the learner settings recorded in it. The model takes one uint8 RGB image
[1, H, W, 3] (packed rows, 0..255) and gives roughness and confidence as [rows, cols] grids;
cropping, downscaling to learner.input_width and normalisation are inside the graph. Cell (r, c)
covers pixels [c*cell_width_px, (c+1)*cell_width_px) x [r*cell_height_px, (r+1)*cell_height_px)
(metadata_props). Without --image-size the model takes the camera frames' size the checkpoint
records (a checkpoint that records none is refused: give --image-size); another size is allowed,
with a warning. The file is checked with onnxruntime before it replaces --out.
See docs/export.md for running it from Python or C++ and TensorRT notes.

Examples:
  terrain-learner replay sim.mcap --save-checkpoint ckpt/
  terrain-learner export --checkpoint ckpt/ --out terrain.onnx
  terrain-learner export --checkpoint ckpt/ --out terrain-1280.onnx --image-size 1280x720`,
    )
    .action(
      action(
        async (o: {
          checkpoint: string;
          out: string;
          imageSize?: string;
          config?: string[];
          json?: boolean;
        }) => {
          const size = o.imageSize ? parseImageSize(o.imageSize) : {};
          let config: Config;
          try {
            config = loadConfig(o.config);
          } catch (err) {
            throw new UserError((err as Error).message);
          }
          const { runExport } = await import("./export.ts");
          const interrupt = trapInterrupts(() => {
            discardTempsSync(resolve(o.out));
            return `${o.out} not written`;
          });
          let r: ExportResult;
          try {
            r = await runExport({
              checkpoint: o.checkpoint,
              out: o.out,
              config,
              ...size,
              inputs: o.config ?? [],
              signal: interrupt.signal,
            });
          } finally {
            interrupt.dispose();
          }
          if (o.json) {
            process.stdout.write(`${JSON.stringify(r)}\n`);
            return;
          }
          process.stdout.write(
            [
              `wrote ${r.out} (${(r.bytes / 1024).toFixed(0)} KiB) in ${r.seconds.toFixed(1)} s from ${r.checkpoint} (${r.trainSteps} training steps)`,
              r.imageSizeFrom === "checkpoint"
                ? `image size ${r.image.width}x${r.image.height}: the camera frames the checkpoint was trained on${r.recordedImage?.frameId ? ` (frame_id ${r.recordedImage.frameId})` : ""}`
                : `image size ${r.image.width}x${r.image.height}: from --image-size`,
              `input: image uint8 [1,${r.image.height},${r.image.width},3] RGB; outputs roughness, confidence [${r.grid.rows},${r.grid.cols}], cells of ${r.grid.cellWidth}x${r.grid.cellHeight} px`,
              `backbone ${r.backbone}; opset ${r.opset}; ops ${r.ops.join(" ")}`,
            ].join("\n") + "\n",
          );
        },
      ),
    );
}
