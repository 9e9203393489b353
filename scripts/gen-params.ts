// Writes launch/params.yaml from the config schema (src/runtime/params-yaml.ts).
//   npm run gen:params            write it
//   npm run gen:params -- --check exit 1 if the committed file differs
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { paramsYaml } from "../src/runtime/params-yaml.ts";

const target = join(import.meta.dirname, "../launch/params.yaml");
const text = paramsYaml();
if (process.argv.includes("--check")) {
  const current = readFileSync(target, "utf8");
  if (current !== text) {
    process.stderr.write(`${target} is not what the schema gives: run npm run gen:params\n`);
    process.exit(1);
  }
} else {
  writeFileSync(`${target}.tmp`, text);
  renameSync(`${target}.tmp`, target);
  process.stdout.write(`wrote ${target}\n`);
}
