// Codemod: config keys camelCase/British -> ROS-style snake_case/US (`labeller.stepLength` ->
// `labeler.step_length`). TEMPORARY: run once on the merged tree, commit, delete this file.
//
//   node --import tsx scripts/rename-params.ts [--dry-run] [--derive-unmapped]
//
// What it renames, all from the table below (full dotted paths; a key's new name depends on the key
// alone, so `minSpeed` is `min_speed` in every section):
// 1. TypeScript, semantically: each property of the zod schema in src/runtime/config.ts is renamed
//    with the language service's findRenameLocations (every `config.labeller.stepLength`, element
//    access, destructuring, object literal typed by the schema). Types that mirror a schema section
//    structurally (`LabellerSettings` in src/core, `SelfSupervisorConfig`) are found where a config
//    value flows into them (arguments, initialisers, returns, assignments) and renamed the same way.
// 2. TypeScript, by key path: untyped object literals nested under a section
//    (`configFromObject({ labeller: { stepLength: 1 } })`), YAML inside strings (a line tracker that
//    knows each key's section), dotted paths in strings, regexes and comments (`labeller.stepLength`,
//    `labeller\.stepLength`), backticked keys in comments, and the bare key in comments and strings of
//    files where step 1 renamed that key. The enum value `standardised` becomes `standardized`.
// 3. Markdown (README.md, docs/): dotted paths, backticked keys, YAML blocks by key path; launch files:
//    dotted paths. Sim world files and fixtures are not config and are left alone.
// 4. launch/params.yaml is regenerated (npm run gen:params) and the changed TypeScript is formatted.
//
// Keys the schema has and the table does not (camelCase or British) are listed and nothing is
// changed, unless --derive-unmapped renames them mechanically too. Rerunning on a renamed tree finds
// nothing to do. Every rename outside step 1 is printed with its file and line for review.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { extname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");
const SELF = resolve(import.meta.filename);
const CONFIG_TS = join(ROOT, "src/runtime/config.ts");

/** Old path -> new path, for every key whose path changes. */
const RENAMES: Record<string, string> = {
  labeller: "labeler",
  "labeller.calibration": "labeler.calibration",
  "topics.compressedImage": "topics.compressed_image",
  "topics.cameraInfo": "topics.camera_info",
  "topics.tfStatic": "topics.tf_static",
  "fusion.reorderWindow": "fusion.reorder_window",
  "fusion.poseHistory": "fusion.pose_history",
  "keyframes.everyNFrames": "keyframes.every_n_frames",
  "keyframes.minDistance": "keyframes.min_distance",
  "keyframes.horizonSeconds": "keyframes.horizon_seconds",
  "keyframes.horizonDistance": "keyframes.horizon_distance",
  "keyframes.maxCount": "keyframes.max_count",
  "labeller.stepLength": "labeler.step_length",
  "labeller.bandLow": "labeler.band_low",
  "labeller.bandHigh": "labeler.band_high",
  "labeller.angularWeight": "labeler.angular_weight",
  "labeller.speedExponent": "labeler.speed_exponent",
  "labeller.referenceSpeed": "labeler.reference_speed",
  "labeller.minSpeed": "labeler.min_speed",
  "labeller.maxYawRate": "labeler.max_yaw_rate",
  "labeller.minSamples": "labeler.min_samples",
  "labeller.windowSeconds": "labeler.window_seconds",
  "labeller.segmentSeconds": "labeler.segment_seconds",
  "labeller.gravityTimeConstant": "labeler.gravity_time_constant",
  "labeller.maxGap": "labeler.max_gap",
  "labeller.calibration.mode": "labeler.calibration.mode",
  "labeller.calibration.low": "labeler.calibration.low",
  "labeller.calibration.high": "labeler.calibration.high",
  "labeller.calibration.lowPercentile": "labeler.calibration.low_percentile",
  "labeller.calibration.highPercentile": "labeler.calibration.high_percentile",
  "labeller.calibration.warmup": "labeler.calibration.warmup",
  "association.minDistance": "association.min_distance",
  "association.maxDistance": "association.max_distance",
  "association.robotWidth": "association.robot_width",
  "association.minCellCoverage": "association.min_cell_coverage",
  "association.minVisibleFraction": "association.min_visible_fraction",
  "learner.executionProviders": "learner.execution_providers",
  "learner.backboneThreads": "learner.backbone_threads",
  "learner.predictThreads": "learner.predict_threads",
  "learner.inputWidth": "learner.input_width",
  "learner.backboneWorker": "learner.backbone_worker",
  "learner.hiddenUnits": "learner.hidden_units",
  "learner.learningRate": "learner.learning_rate",
  "learner.batchSize": "learner.batch_size",
  "learner.bufferSize": "learner.buffer_size",
  "learner.stepsPerSecond": "learner.steps_per_second",
  "learner.replayTraining": "learner.replay_training",
  "learner.cpuBudget": "learner.cpu_budget",
  "learner.checkpointDir": "learner.checkpoint_dir",
  "learner.checkpointKeep": "learner.checkpoint_keep",
  "learner.checkpointEvery": "learner.checkpoint_every",
  "learner.noveltyReferences": "learner.novelty_references",
  "learner.noveltyNeighbours": "learner.novelty_neighbors",
  "learner.noveltyMetric": "learner.novelty_metric",
  "learner.noveltyRidge": "learner.novelty_ridge",
  "learner.noveltyFeatures": "learner.novelty_features",
  "learner.confidenceSigma": "learner.confidence_sigma",
  "learner.minSamples": "learner.min_samples",
  "learner.publishEvery": "learner.publish_every",
  "outputs.costmapResolution": "outputs.costmap_resolution",
  "outputs.costmapSize": "outputs.costmap_size",
  "outputs.aheadMin": "outputs.ahead_min",
  "outputs.aheadMax": "outputs.ahead_max",
  "outputs.maxSpeed": "outputs.max_speed",
  "outputs.minSpeed": "outputs.min_speed",
  "outputs.minConfidence": "outputs.min_confidence",
  "outputs.costmapHalfLife": "outputs.costmap_half_life",
  "outputs.aheadHalfWidth": "outputs.ahead_half_width",
  "outputs.overlayAlpha": "outputs.overlay_alpha",
  "outputs.priorWeight": "outputs.prior_weight",
  "mqtt.robotId": "mqtt.robot_id",
  "mqtt.topicPrefix": "mqtt.topic_prefix",
  "mqtt.roughnessRate": "mqtt.roughness_rate",
  "mqtt.learnerRate": "mqtt.learner_rate",
  "mqtt.queueLimit": "mqtt.queue_limit",
  "mqtt.publishLabels": "mqtt.publish_labels",
  "mqtt.reconnectPeriod": "mqtt.reconnect_period",
  "mqtt.connectTimeout": "mqtt.connect_timeout",
  "mqtt.clientId": "mqtt.client_id",
  "mqtt.rejectUnauthorized": "mqtt.reject_unauthorized",
  "serial.baudRate": "serial.baud_rate",
  "serial.csvColumns": "serial.csv_columns",
  "serial.maxLineLength": "serial.max_line_length",
  "serial.requireChecksum": "serial.require_checksum",
  "serial.imuFrame": "serial.imu_frame",
  "serial.accelScale": "serial.accel_scale",
  "serial.gyroScale": "serial.gyro_scale",
  "serial.clockWrapBits": "serial.clock_wrap_bits",
  "serial.maxClockJump": "serial.max_clock_jump",
  "serial.maxOdomGap": "serial.max_odom_gap",
  "serial.reconnectMin": "serial.reconnect_min",
  "serial.reconnectMax": "serial.reconnect_max",
  "ros.nodeName": "ros.node_name",
  "ros.diagnosticsRate": "ros.diagnostics_rate",
  "ros.imageTransport": "ros.image_transport",
  "ros.qosDepth": "ros.qos_depth",
  "ros.outputImageReliability": "ros.output_image_reliability",
  "ros.publishOverlay": "ros.publish_overlay",
  "ros.costmapRate": "ros.costmap_rate",
};

/** Enum values renamed (US spelling): old -> new, with the parameters they belong to. */
const VALUE_RENAMES: Record<string, { value: string; params: string[] }> = {
  standardised: { value: "standardized", params: ["learner.noveltyMetric"] },
};

/**
 * Old keys that also name other things in the docs (telemetry fields of the MQTT `learner` topic):
 * a backticked bare occurrence is renamed only on lines without those fields.
 */
const AMBIGUOUS_BARE = new Set(["bufferSize", "robotId"]);
const TELEMETRY_HINTS = /`(framesProcessed|trainSteps|lastLoss|labels|samples)`|"robotId"|\{"robotId"/;

const dryRun = process.argv.includes("--dry-run");
const deriveUnmapped = process.argv.includes("--derive-unmapped");

// ---------------------------------------------------------------------------------------------
// The table, and keys the schema has that it does not cover.

const BRITISH: [RegExp, string][] = [
  [/labeller/g, "labeler"],
  [/Labeller/g, "Labeler"],
  [/eighbour/g, "eighbor"],
  [/ise([dsr]?)$/g, "ize$1"],
  [/olour/g, "olor"],
];

export function snake(key: string): string {
  let s = key;
  for (const [re, to] of BRITISH) s = s.replace(re, to);
  return s
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

async function schemaPaths(): Promise<string[]> {
  const { ConfigSchema } = (await import(CONFIG_TS)) as typeof import("../src/runtime/config.ts");
  const paths: string[] = [];
  const walk = (schema: unknown, prefix: string) => {
    let s = schema as {
      _zod: { def: { innerType?: unknown; shape?: Record<string, unknown>; type: string } };
    };
    while (s._zod.def.innerType) s = s._zod.def.innerType as typeof s;
    const shape = (s as unknown as { shape?: Record<string, unknown> }).shape;
    if (s._zod.def.type === "object" && shape) {
      if (prefix) paths.push(prefix);
      for (const [k, v] of Object.entries(shape)) walk(v, prefix ? `${prefix}.${k}` : k);
    } else paths.push(prefix);
  };
  walk(ConfigSchema, "");
  return paths;
}

const leafMap = new Map<string, string>();
const sectionNames = new Set<string>();

function buildMaps(renames: Record<string, string>): void {
  for (const [from, to] of Object.entries(renames)) {
    const a = from.split(".");
    const b = to.split(".");
    if (a.length !== b.length) throw new Error(`table: ${from} -> ${to} changes the depth`);
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const prev = leafMap.get(a[i]!);
      if (prev !== undefined && prev !== b[i]) throw new Error(`table: ${a[i]} maps to ${prev} and ${b[i]}`);
      leafMap.set(a[i]!, b[i]!);
    }
  }
}

/** New name of a full old path (unchanged segments kept). */
function renamePath(segments: readonly string[]): string[] {
  return segments.map((s) => leafMap.get(s) ?? s);
}

function isKnownPath(segments: readonly string[]): boolean {
  return (
    segments.length > 0 &&
    (knownPaths.has(segments.join(".")) || knownPaths.has(renamePath(segments).join(".")))
  );
}

const knownPaths = new Set<string>();

// ---------------------------------------------------------------------------------------------
// Edits

interface Edit {
  start: number;
  end: number;
  text: string;
  why: string;
}

const edits = new Map<string, Edit[]>();
const review: string[] = [];

/** Adds an edit unless it overlaps one already there (the language service's come first). */
function addEdit(file: string, e: Edit): boolean {
  const list = edits.get(file) ?? [];
  if (list.some((x) => x.start < e.end && e.start < x.end)) return false;
  list.push(e);
  edits.set(file, list);
  return true;
}

function lineOf(text: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Text rules (strings, comments, regexes, Markdown): each returns [offset, oldText, newText].

type Hit = [number, string, string, string];

const ident = "[A-Za-z_][A-Za-z0-9_]*";

/** `labeller.stepLength`, `labeller\.stepLength`, `-p outputs.maxSpeed:=2`. */
function dottedHits(text: string): Hit[] {
  const hits: Hit[] = [];
  const re = new RegExp(`(?<![\\w$])(${ident})((?:\\\\?\\.${ident})+)`, "g");
  for (const m of text.matchAll(re)) {
    const first = m[1]!;
    if (!sectionNames.has(first)) continue;
    const rest = m[2]!;
    const parts = [...rest.matchAll(new RegExp(`(\\\\?\\.)(${ident})`, "g"))];
    const segs = [first, ...parts.map((p) => p[2]!)];
    // Rename the longest prefix that is a config path. The section alone only before a key-like
    // segment (`labeller.stepLenght`, a typo a test expects), not before a file name or method
    // (`labeller.ts`, `labeller.process`).
    let n = 1;
    while (n < segs.length && isKnownPath(segs.slice(0, n + 1))) n++;
    if (n === 1 && !/[A-Z]/.test(segs[1] ?? "")) continue;
    const renamed = renamePath(segs.slice(0, n));
    let out = renamed[0]!;
    for (let i = 1; i < segs.length; i++) out += parts[i - 1]![1] + (i < n ? renamed[i]! : segs[i]!);
    if (out !== m[0]) hits.push([m.index!, m[0], out, "dotted path"]);
  }
  return hits;
}

/** Backticked bare keys: `stepLength`. */
function backtickHits(text: string, keep?: (key: string, offset: number) => boolean): Hit[] {
  const hits: Hit[] = [];
  // Every key inside a code span (`a..maxDistance`, `noveltyMetric: local`), not after a dot
  // (dotted paths have their own rule).
  for (const span of text.matchAll(/`([^`\n]+)`/g))
    for (const m of span[1]!.matchAll(new RegExp(`(?<![\\w$.])(${ident})(?![\\w$])`, "g"))) {
      const key = m[1]!;
      const to = leafMap.get(key);
      const at = span.index! + 1 + m.index!;
      if (!to || (keep && !keep(key, at))) continue;
      hits.push([at, key, to, "key in code span"]);
    }
  return hits;
}

/** Whole-word occurrences of given keys. */
function bareHits(text: string, keys: ReadonlySet<string>): Hit[] {
  if (keys.size === 0) return [];
  const hits: Hit[] = [];
  const re = new RegExp(`(?<![\\w$.\`])(${[...keys].join("|")})(?![\\w$\`])`, "g");
  for (const m of text.matchAll(re)) hits.push([m.index!, m[1]!, leafMap.get(m[1]!)!, "bare key"]);
  return hits;
}

/**
 * YAML keys by path: tracks `key:` lines by indentation (inside a ROS params file the path starts
 * after `ros__parameters`), and flow maps `{k: v}` on a line.
 */
function yamlHits(text: string): Hit[] {
  const hits: Hit[] = [];
  const stack: { indent: number; key: string }[] = [];
  let offset = 0;
  for (const line of text.split("\n")) {
    const m = new RegExp(`^(\\s*)(?:- )?(${ident}|/\\*\\*)(\\s*):(?=\\s|$)`).exec(line);
    if (m) {
      const indent = m[1]!.length;
      while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
      stack.push({ indent, key: m[2]! });
      let keys = stack.map((s) => s.key);
      const rp = keys.lastIndexOf("ros__parameters");
      if (rp >= 0) keys = keys.slice(rp + 1);
      const value = line
        .slice(m[0].length)
        .trim()
        .replace(/\s+#.*$/, "");
      // A section's value is a nested map: `labeller:` or `labeller: {...}`, not `labeller: 1.2 M/s`.
      const prefix = `${keys.join(".")}.`;
      const isSection = [...knownPaths].some((p) => p.startsWith(prefix));
      if (keys.length && isKnownPath(keys) && (!isSection || value === "" || value.startsWith("{"))) {
        const key = m[2]!;
        const to = leafMap.get(key);
        if (to)
          hits.push([
            offset + m[1]!.length + (line.slice(m[1]!.length).startsWith("- ") ? 2 : 0),
            key,
            to,
            "YAML key",
          ]);
        // Enum values: `noveltyMetric: standardised`.
        const vr = VALUE_RENAMES[value];
        if (vr && vr.params.includes(keys.join(".")))
          hits.push([offset + line.indexOf(value, m[0].length), value, vr.value, "enum value"]);
        // Flow map on the same line: `outputs: {maxSpeed: 1.0, minSpeed: 0.5}`.
        const flow = line.slice(m[0].length);
        if (flow.trim().startsWith("{"))
          for (const f of flow.matchAll(new RegExp(`(?<=[{,]\\s*)(${ident})(?=\\s*:)`, "g"))) {
            const fk = f[1]!;
            const fto = leafMap.get(fk);
            if (fto && isKnownPath([...keys, fk]))
              hits.push([offset + m[0].length + f.index!, fk, fto, "YAML flow key"]);
          }
      }
    }
    offset += line.length + 1;
  }
  return hits;
}

// ---------------------------------------------------------------------------------------------
// TypeScript

function loadProgram(): { ls: ts.LanguageService; files: Map<string, string> } {
  const configPath = join(ROOT, "tsconfig.json");
  const parsed = ts.parseJsonConfigFileContent(
    ts.readConfigFile(configPath, ts.sys.readFile).config,
    ts.sys,
    ROOT,
  );
  const files = new Map<string, string>();
  for (const f of parsed.fileNames) if (resolve(f) !== SELF) files.set(resolve(f), readFileSync(f, "utf8"));
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => [...files.keys()],
    getScriptVersion: () => "1",
    getScriptSnapshot: (f) => {
      const t = files.get(resolve(f)) ?? (ts.sys.fileExists(f) ? ts.sys.readFile(f) : undefined);
      return t === undefined ? undefined : ts.ScriptSnapshot.fromString(t);
    },
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => parsed.options,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
  };
  return { ls: ts.createLanguageService(host), files };
}

/** Property names of the object literals passed to z.object / z.strictObject in config.ts. */
function schemaDeclarations(sf: ts.SourceFile): ts.PropertyAssignment[] {
  const out: ts.PropertyAssignment[] = [];
  const visit = (n: ts.Node) => {
    if (
      ts.isCallExpression(n) &&
      ts.isPropertyAccessExpression(n.expression) &&
      /^(strictObject|object|looseObject)$/.test(n.expression.name.text)
    ) {
      const arg = n.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg))
        for (const p of arg.properties)
          if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name)) out.push(p);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

let isConfigProp: (sym: ts.Symbol) => boolean = () => false;

function renameTypeScript(ls: ts.LanguageService, files: Map<string, string>): Map<string, Set<string>> {
  const program = ls.getProgram()!;
  const checker = program.getTypeChecker();
  const renamedKeysByFile = new Map<string, Set<string>>();
  const seen = new Set<string>();
  const seedDecls = new Set<ts.Declaration>();
  // Declarations of config properties and of their mirrors, renamed or not (`calibration`): the
  // flow search follows them into nested sections.
  const configDecls = new Set<ts.Declaration>();
  const queue: { file: string; pos: number; key: string }[] = [];
  const seed = (decl: ts.Declaration, key: string) => {
    if (seedDecls.has(decl)) return;
    seedDecls.add(decl);
    const name = (decl as ts.NamedDeclaration).name;
    if (!name) return;
    const sf = decl.getSourceFile();
    if (sf.isDeclarationFile || sf.fileName.includes("node_modules")) return;
    queue.push({ file: resolve(sf.fileName), pos: name.getStart(sf), key });
  };
  const configSf = program.getSourceFile(CONFIG_TS)!;
  for (const p of schemaDeclarations(configSf)) {
    configDecls.add(p);
    if (leafMap.has((p.name as ts.Identifier).text)) seed(p, (p.name as ts.Identifier).text);
  }

  const run = () => {
    while (queue.length) {
      const { file, pos, key } = queue.shift()!;
      const id = `${file}:${pos}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const locs =
        ls.findRenameLocations(file, pos, false, false, { providePrefixAndSuffixTextForRename: true }) ?? [];
      for (const l of locs) {
        const f = resolve(l.fileName);
        if (!files.has(f)) continue;
        addEdit(f, {
          start: l.textSpan.start,
          end: l.textSpan.start + l.textSpan.length,
          text: `${l.prefixText ?? ""}${leafMap.get(key)!}${l.suffixText ?? ""}`,
          why: "rename",
        });
        const set = renamedKeysByFile.get(f) ?? new Set<string>();
        set.add(key);
        renamedKeysByFile.set(f, set);
      }
    }
  };
  run();

  // Structural mirrors: where a value of a config type flows into another type, that type's
  // properties of the same names are renamed too (recursively through nested sections).
  isConfigProp = (sym: ts.Symbol): boolean => {
    const roots = [sym, ...checker.getRootSymbols(sym)];
    return roots.some((s) => s.declarations?.some((d) => configDecls.has(d) || seedDecls.has(d)));
  };
  // Both ways: a config value passed where a mirror type is expected renames the mirror's
  // properties, and a plain object passed where a config (or mirror) type is expected renames the
  // object's (`const opts = { maxSpeed: 2 }; suggestedSpeed(a, opts)`).
  const pair = (source: ts.Type, target: ts.Type, depth: number, visited: Set<string>) => {
    const id = `${checker.typeToString(source)}=>${checker.typeToString(target)}`;
    if (depth > 4 || visited.has(id)) return;
    visited.add(id);
    const targets = target.isUnion() ? target.types : [target];
    for (const t of targets) {
      for (const tp of t.getProperties()) {
        const sp = source.getProperty(tp.name);
        if (!sp?.declarations?.length || !tp.declarations?.length) continue;
        if (!isConfigProp(sp) && !isConfigProp(tp)) continue;
        for (const d of [...sp.declarations, ...tp.declarations]) {
          if (d.getSourceFile().isDeclarationFile) continue;
          configDecls.add(d);
          if (leafMap.has(tp.name) && !seedDecls.has(d)) seed(d, tp.name);
        }
        const sd = sp.valueDeclaration ?? sp.declarations[0]!;
        const td = tp.valueDeclaration ?? tp.declarations[0]!;
        pair(
          checker.getTypeOfSymbolAtLocation(sp, sd),
          checker.getTypeOfSymbolAtLocation(tp, td),
          depth + 1,
          visited,
        );
      }
    }
  };
  for (let round = 0; round < 6; round++) {
    const before = queue.length + seen.size;
    for (const sf of program.getSourceFiles()) {
      if (sf.isDeclarationFile || !files.has(resolve(sf.fileName))) continue;
      const visit = (n: ts.Node) => {
        if (ts.isExpression(n) && !ts.isObjectLiteralExpression(n)) {
          const target = checker.getContextualType(n);
          if (target) {
            const source = checker.getTypeAtLocation(n);
            if (
              source !== target &&
              (source.getProperties().some((p) => isConfigProp(p)) ||
                target.getProperties().some((p) => isConfigProp(p)))
            )
              pair(source, target, 0, new Set());
          }
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    run();
    if (queue.length + seen.size === before) break;
  }
  return renamedKeysByFile;
}

/** Cooked-text offset -> raw source offset, for a string or template literal's text. */
function cookedToRaw(raw: string): number[] {
  const map: number[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === "\\") {
      const c = raw[i + 1];
      let len = 2;
      if (c === "u") len = raw[i + 2] === "{" ? raw.indexOf("}", i) - i + 1 : 6;
      else if (c === "x") len = 4;
      else if (c === "\r" && raw[i + 2] === "\n") len = 3;
      if (c !== "\n" && c !== "\r") map.push(i);
      i += len;
    } else {
      map.push(i);
      i++;
    }
  }
  map.push(raw.length);
  return map;
}

function renameTypeScriptText(
  files: Map<string, string>,
  program: ts.Program,
  renamedKeysByFile: Map<string, Set<string>>,
): void {
  for (const [file, text] of files) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const checker = program.getTypeChecker();
    const rel = relative(ROOT, file);
    // Bare keys in comments: those the language service renamed in this file, unless the same word
    // is also a string value here (`kind: "cameraInfo"` is an input kind, not the parameter).
    const literals = new Set<string>();
    const collect = (n: ts.Node) => {
      if (ts.isStringLiteralLike(n)) literals.add(n.text);
      ts.forEachChild(n, collect);
    };
    collect(sf);
    const bareKeys = new Set(
      [...(renamedKeysByFile.get(file) ?? [])].filter(
        (k) => k !== "labeller" && (file === CONFIG_TS || !literals.has(k)),
      ),
    );
    // In strings only the schema's own descriptions name keys bare.
    const bareInStrings = file === CONFIG_TS ? bareKeys : new Set<string>();
    const apply = (base: number, hits: Hit[], map?: number[]) => {
      for (const [off, from, to, why] of hits) {
        const start = base + (map ? map[off]! : off);
        const end = base + (map ? map[off + from.length]! : off + from.length);
        if (text.slice(start, end) !== from) continue; // an escape inside the key: leave it
        if (addEdit(file, { start, end, text: to, why }))
          review.push(`${rel}:${lineOf(text, start)}: ${why}: ${from} -> ${to}`);
      }
    };
    // YAML only in whole strings: a template part ends where a substitution begins.
    const stringHits = (cooked: string, whole: boolean) => [
      ...dottedHits(cooked),
      ...(whole ? yamlHits(cooked) : []),
      ...backtickHits(cooked),
      ...bareHits(cooked, bareInStrings),
    ];
    const visit = (n: ts.Node) => {
      if (
        ts.isStringLiteral(n) ||
        ts.isNoSubstitutionTemplateLiteral(n) ||
        ts.isTemplateHead(n) ||
        ts.isTemplateMiddle(n) ||
        ts.isTemplateTail(n)
      ) {
        const start = n.getStart(sf);
        const full = text.slice(start, n.getEnd());
        const open = 1;
        const close = ts.isTemplateHead(n) || ts.isTemplateMiddle(n) ? 2 : 1;
        const raw = full.slice(open, full.length - close);
        const cooked = n.text;
        if (VALUE_RENAMES[cooked] && ts.isStringLiteral(n))
          apply(start + open, [[0, cooked, VALUE_RENAMES[cooked]!.value, "enum value"]]);
        apply(start + open, stringHits(cooked, close === 1 && !ts.isTemplateTail(n)), cookedToRaw(raw));
      } else if (
        ts.isArrayLiteralExpression(n) &&
        n.elements.length > 1 &&
        n.elements.every((e) => ts.isStringLiteral(e))
      ) {
        // Lines of YAML as array elements (joined with "\n" by the code).
        const els = n.elements as ts.NodeArray<ts.StringLiteral>;
        const joined = els.map((e) => e.text).join("\n");
        let at = 0;
        const starts = els.map((e) => {
          const s = at;
          at += e.text.length + 1;
          return s;
        });
        for (const [off, from, to, why] of yamlHits(joined)) {
          const i = starts.findLastIndex((s) => s <= off);
          const el = els[i]!;
          const raw = text.slice(el.getStart(sf) + 1, el.getEnd() - 1);
          apply(el.getStart(sf) + 1, [[off - starts[i]!, from, to, why]], cookedToRaw(raw));
        }
      } else if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        // Dotted paths, and YAML keys a test expects in output (`/\n {4}labeller:\n/`).
        const source = n.getText(sf);
        const keys: Hit[] = [];
        for (const m of source.matchAll(new RegExp(`(?:(?<=\\\\n)|(?<![\\w$.\\\\]))(${ident})(?=:)`, "g"))) {
          const to = leafMap.get(m[1]!);
          if (to) keys.push([m.index!, m[1]!, to, "YAML key in a regex"]);
        }
        apply(n.getStart(sf), [...dottedHits(source), ...keys]);
      } else if (ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n)) {
        objectLiteralKey(n);
      }
      if (ts.isLiteralTypeNode(n) && ts.isStringLiteral(n.literal) && leafMap.has(n.literal.text))
        pickedKey(n);
      ts.forEachChild(n, visit);
    };
    // Keys named in `Pick<T, "a" | "b">` / `Omit<...>` of a config type (the language service does
    // not rename those).
    const pickedKey = (n: ts.LiteralTypeNode) => {
      let u: ts.Node = n;
      while (ts.isUnionTypeNode(u.parent)) u = u.parent;
      const ref = u.parent;
      if (!ts.isTypeReferenceNode(ref) || !ref.typeArguments || ref.typeArguments[1] !== u) return;
      if (!/^(Pick|Omit)$/.test(ref.typeName.getText(sf))) return;
      const key = (n.literal as ts.StringLiteral).text;
      const prop = checker.getTypeFromTypeNode(ref.typeArguments[0]!).getProperty(key);
      if (!prop || !isConfigProp(prop)) return;
      const start = n.literal.getStart(sf) + 1;
      if (
        addEdit(file, { start, end: n.literal.getEnd() - 1, text: leafMap.get(key)!, why: "Pick/Omit key" })
      )
        review.push(`${rel}:${lineOf(text, start)}: Pick/Omit key: ${key} -> ${leafMap.get(key)}`);
    };
    // Untyped object literals nested under a section: `{ labeller: { stepLength: 1 } }`.
    const objectLiteralKey = (p: ts.PropertyAssignment | ts.ShorthandPropertyAssignment) => {
      if (!ts.isIdentifier(p.name) && !ts.isStringLiteral(p.name)) return;
      const key = p.name.text;
      const to = leafMap.get(key);
      if (!to) return;
      const path = [key];
      let o: ts.Node = p.parent;
      while (ts.isObjectLiteralExpression(o) && ts.isPropertyAssignment(o.parent)) {
        const name = o.parent.name;
        if (!ts.isIdentifier(name) && !ts.isStringLiteral(name)) break;
        path.unshift(name.text);
        o = o.parent.parent;
      }
      const rp = path.lastIndexOf("ros__parameters");
      const keys = rp >= 0 ? path.slice(rp + 1) : path;
      if (!isKnownPath(keys)) return;
      // Typed literals are the language service's (a `{ labeller: VibrationLabeller }` is not config).
      const contextual = ts.isObjectLiteralExpression(o) ? checker.getContextualType(o) : undefined;
      if (contextual && !(contextual.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return;
      const start = p.name.getStart(sf);
      const quoted = ts.isStringLiteral(p.name) ? 1 : 0;
      const newText = ts.isShorthandPropertyAssignment(p) ? `${to}: ${key}` : to;
      if (
        addEdit(file, {
          start: start + quoted,
          end: p.name.getEnd() - quoted,
          text: newText,
          why: "object literal",
        })
      )
        review.push(`${rel}:${lineOf(text, start)}: object literal key ${keys.join(".")} -> ${to}`);
    };
    visit(sf);
    // Comments.
    const commentRanges = new Set<string>();
    const scanComments = (n: ts.Node) => {
      for (const r of [
        ...(ts.getLeadingCommentRanges(text, n.getFullStart()) ?? []),
        ...(ts.getTrailingCommentRanges(text, n.getEnd()) ?? []),
      ]) {
        const id = `${r.pos}`;
        if (commentRanges.has(id)) continue;
        commentRanges.add(id);
        const c = text.slice(r.pos, r.end);
        apply(r.pos, [...dottedHits(c), ...backtickHits(c), ...bareHits(c, bareKeys)]);
      }
      ts.forEachChild(n, scanComments);
    };
    scanComments(sf);
  }
}

// ---------------------------------------------------------------------------------------------
// Markdown and launch files

function listFiles(): string[] {
  const r = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((f) => join(ROOT, f));
}

function renameDocs(file: string, text: string): void {
  const rel = relative(ROOT, file);
  const lineStarts: number[] = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const lineAt = (off: number) =>
    text.slice(lineStarts.findLast((s) => s <= off)!, text.indexOf("\n", off) >>> 0);
  const hits: Hit[] = [...dottedHits(text)];
  if (extname(file) === ".md") {
    hits.push(
      ...backtickHits(text, (key, off) => !(AMBIGUOUS_BARE.has(key) && TELEMETRY_HINTS.test(lineAt(off)))),
    );
    for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
      const base = m.index! + m[0].indexOf("\n") + 1;
      for (const [off, from, to, why] of yamlHits(m[1]!)) hits.push([base + off, from, to, why]);
    }
    for (const [value, { value: to }] of Object.entries(VALUE_RENAMES))
      for (const m of text.matchAll(new RegExp(`\`${value}\``, "g")))
        hits.push([m.index! + 1, value, to, "enum value"]);
  }
  for (const [off, from, to, why] of hits)
    if (addEdit(file, { start: off, end: off + from.length, text: to, why }))
      review.push(`${rel}:${lineOf(text, off)}: ${why}: ${from} -> ${to}`);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  buildMaps(RENAMES);
  const paths = await schemaPaths();
  // Keys not ROS-style and not in the table (new keys written since the table was made).
  const unmapped = new Map<string, string>();
  for (const path of paths)
    for (const seg of path.split(".")) if (snake(seg) !== seg && !leafMap.has(seg)) unmapped.set(seg, path);
  if (unmapped.size) {
    const lines = [...unmapped].map(([seg, path]) => `  ${path}: ${seg} -> ${snake(seg)}`);
    process.stderr.write(
      `rename-params: keys not in the table (add their paths to RENAMES, or pass --derive-unmapped):\n${lines.join("\n")}\n`,
    );
    if (!deriveUnmapped) process.exit(2);
    for (const seg of unmapped.keys()) leafMap.set(seg, snake(seg));
  }
  for (const path of [...paths, ...Object.keys(RENAMES), ...Object.values(RENAMES)]) {
    knownPaths.add(path);
    knownPaths.add(renamePath(path.split(".")).join("."));
    sectionNames.add(path.split(".")[0]!);
  }
  // Top-level parameters that are not sections (use_sim_time) start no dotted path of ours.
  for (const path of paths)
    if (!path.includes(".") && !paths.some((p) => p.startsWith(`${path}.`))) sectionNames.delete(path);
  if (!paths.some((p) => p.split(".").some((seg) => leafMap.has(seg)))) {
    process.stdout.write("rename-params: the schema has no key to rename: nothing to do\n");
    return;
  }

  process.stdout.write("rename-params: loading the TypeScript program\n");
  const { ls, files } = loadProgram();
  const renamedKeysByFile = renameTypeScript(ls, files);
  renameTypeScriptText(files, ls.getProgram()!, renamedKeysByFile);
  for (const file of listFiles()) {
    if (files.has(file) || file === SELF) continue;
    const rel = relative(ROOT, file);
    const docs = extname(file) === ".md" || /^launch\/.*\.(xml|py)$/.test(rel);
    if (!docs || rel.startsWith("tests/fixtures/") || rel.startsWith("node_modules/")) continue;
    renameDocs(file, readFileSync(file, "utf8"));
  }

  const changed: string[] = [];
  let count = 0;
  for (const [file, list] of edits) {
    const original = files.get(file) ?? readFileSync(file, "utf8");
    let text = original;
    for (const e of [...list].sort((a, b) => b.start - a.start))
      text = text.slice(0, e.start) + e.text + text.slice(e.end);
    count += list.length;
    if (text !== original) {
      changed.push(file);
      if (!dryRun) writeFileSync(file, text);
    }
  }
  for (const line of review.sort()) process.stdout.write(`  ${line}\n`);
  process.stdout.write(
    `rename-params: ${count} edits in ${changed.length} files${dryRun ? " (dry run: nothing written)" : ""}\n`,
  );
  if (dryRun) return;

  const gen = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts/gen-params.ts")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (gen.status !== 0) throw new Error("npm run gen:params failed");
  const tsFiles = changed.filter((f) => f.endsWith(".ts"));
  if (tsFiles.length) {
    // Twice: biome can reflow a member chain only on its second pass.
    for (let pass = 0; pass < 2; pass++) {
      const fmt = spawnSync(join(ROOT, "node_modules/.bin/biome"), ["format", "--write", ...tsFiles], {
        cwd: ROOT,
        encoding: "utf8",
      });
      if (fmt.status !== 0) process.stderr.write(fmt.stderr);
    }
  }
  // What is left: old key names still in the tree (other things of the same name, or misses).
  const left: string[] = [];
  const oldKeys = [...leafMap.keys()].filter((k) => /[A-Z]|labeller|eighbour/.test(k));
  const re = new RegExp(`(?<![\\w$])(${oldKeys.join("|")})(?![\\w$])`, "g");
  for (const file of [...files.keys(), ...listFiles().filter((f) => f.endsWith(".md"))]) {
    if (file === SELF) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(re))
      left.push(`${relative(ROOT, file)}:${lineOf(text, m.index!)}: ${m[1]}`);
  }
  process.stdout.write(
    `rename-params: ${left.length} old names left (other identifiers of the same name, or to check):\n`,
  );
  for (const l of left) process.stdout.write(`  ${l}\n`);
}

await main();
