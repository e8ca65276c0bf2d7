/**
 * Prints the README's scale model (bench/scaleModel.ts): the same estimator
 * as every stack's cost.json, over fleets of 1,000 to 50,000 GPUs.
 *
 *   npm run scale-model
 */
import { runCommand, type CommandSpec } from "../cli/command";

export const scaleModelCommand = {
  name: "scale-model",
  synopsis: "",
  summary: "Prints the README's scale model: series, samples/s, backend, AMP workspaces and dashboard query cost at 1,000 to 50,000 GPUs.",
  details: [],
  options: {},
  positionals: [],
} as const satisfies CommandSpec;

void runCommand(scaleModelCommand, async () => {
  const { scaleModelTable } = await import("../bench/scaleModel");
  console.log(scaleModelTable());
  return 0;
});
