/**
 * The deploy path of one or more stacks, from their Pulumi.<stack>.yaml:
 * which runners preview and deploy them and in which region.
 *
 *   npm run deploy-path -- <stack>... [--github-output <file>]
 *
 * With --github-output (CI passes "$GITHUB_OUTPUT") it appends one step
 * output per stack, named after it, holding {runsOn, region, runner,
 * endpoint} as JSON; the workflows' jobs read `runs-on` and `aws-region`
 * from there. An invalid configuration exits 2 and lists every problem.
 */
import { appendFileSync } from "node:fs";
import { exitCodes, runCommand, type CommandSpec } from "../cli/command";
import { projectRoot, requireStack, stackHint } from "../cli/stacks";

export const deployPathCommand = {
  name: "deploy-path",
  synopsis: "<stack>... [--github-output <file>]",
  summary: "Prints how CI reaches each stack's cluster (runs-on labels, runner kind, endpoint, region), read from Pulumi.<stack>.yaml.",
  details: ["--github-output <file>  append one output per stack (JSON) to <file>, as GitHub Actions' $GITHUB_OUTPUT"],
  options: { "github-output": { type: "string" } },
  positionals: [
    { name: "stack", hint: () => stackHint() },
    { name: "more stacks", rest: true, optional: true },
  ],
} as const satisfies CommandSpec;

void runCommand(deployPathCommand, async ({ values, positionals }) => {
  for (const stack of positionals) requireStack(stack);
  const { formatDeployPaths, githubOutputs, readDeployPath } = await import("../lifecycle/deployPath");
  const paths = [];
  for (const stack of positionals) paths.push(await readDeployPath(stack, projectRoot));
  if (values["github-output"]) appendFileSync(values["github-output"], githubOutputs(paths));
  console.log(formatDeployPaths(paths));
  return exitCodes.ok;
});
