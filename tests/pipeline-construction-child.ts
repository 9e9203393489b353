// Child of pipeline-construction.test.ts: builds a pipeline whose settings a stage rejects (set after
// validation, as a caller holding a Config object can) and reports the error. The process must
// then end by itself: nothing createPipeline started may keep it alive.

import { defaultConfig } from "../src/runtime/config.ts";
import { createPipeline } from "../src/runtime/pipeline.ts";

const [mode, which] = process.argv.slice(2) as ["replay" | "live", "band" | "costmap"];
const config = defaultConfig();
if (which === "band") {
  config.labeler.band_low = 40;
  config.labeler.band_high = 30;
} else {
  config.outputs.costmap_size = 0.1;
  config.outputs.costmap_resolution = 0.2;
}
try {
  await createPipeline(config, { mode, warn: () => {} });
  process.stdout.write("created\n");
} catch (err) {
  process.stdout.write(`rejected: ${(err as Error).message}\n`);
}
