/**
 * Offline render of a stack: runs the real program under Pulumi's mock runtime
 * with `Pulumi.<stack>.yaml` and writes what it would deploy to `out/<stack>/`.
 *
 *   npm run synth -- <stack> [--out <dir>] [--root <dir with Pulumi.yaml and stack files>]
 */
import { runCommand, type CommandSpec } from "../cli/command";
import { requireRoot, requireStack, stackHint } from "../cli/stacks";

export const synthCommand = {
  name: "synth",
  synopsis: "<stack> [--out <dir>] [--root <dir>]",
  summary: "Renders the stack offline (mock runtime, no cloud) into out/<stack>/: plan.json, Helm values, dashboards, rules.",
  details: ["--out <dir>   write there instead of out/<stack>", "--root <dir>  read Pulumi.yaml and Pulumi.<stack>.yaml from <dir>"],
  options: { out: { type: "string" }, root: { type: "string" } },
  positionals: [{ name: "stack", hint: () => stackHint() }],
} as const satisfies CommandSpec;

void runCommand(synthCommand, async ({ values, positionals: [stack] }) => {
  const root = requireRoot(values.root);
  requireStack(stack as string, root);
  const { synthesize } = await import("../synth/synthesize");
  const result = await synthesize({ stack: stack as string, outDir: values.out, root });
  console.log(result.summary);
  console.log(`wrote ${result.files.length} files to ${result.outDir}`);
  return 0;
});
