export { isProblem, problem, type SensorEvent, type SensorKind } from "./events.ts";
export { validateStamps, type ValidateOptions } from "./validate-stamps.ts";
export { reorderByStamp, type ReorderOptions } from "./reorder-by-stamp.ts";
export { mergeSensors, type MergeOptions, type SensorSources } from "./merge-sensors.ts";
export { tallyProblems } from "./tally-problems.ts";
