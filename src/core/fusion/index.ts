export { isProblem, problem, type SensorEvent, type SensorKind } from "./events.ts";
export { type FuseOptions, fuseStreams } from "./fuse-streams.ts";
export { type MergeOptions, mergeSensors, type SensorSources } from "./merge-sensors.ts";
export { type ReorderOptions, reorderByStamp } from "./reorder-by-stamp.ts";
export { tallyProblems } from "./tally-problems.ts";
export { type ValidateOptions, validateStamps } from "./validate-stamps.ts";
