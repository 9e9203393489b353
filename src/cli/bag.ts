// Placeholder until the bag reader lands: `terrain-learner bag info`.
import type { Command } from "commander";
import { action, UserError } from "./errors.ts";

export function register(program: Command): void {
  const bag = program.command("bag").description("inspect recorded bags (MCAP, rosbag2 .db3, ROS 1 .bag)");
  bag
    .command("info <path>")
    .description("summarise a bag: topics, types, counts, time range")
    .option("--json", "print one JSON object")
    .action(action(() => { throw new UserError("bag info is not implemented yet"); }));
}
