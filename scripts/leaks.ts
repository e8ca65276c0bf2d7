/**
 * AWS resources still tagged for a stack, for after `destroy`:
 *
 *   npm run leaks -- <stack> [--cluster <eks cluster name>] [--region <region>]...
 *
 * Exits 1 and prints a table when anything is left, 3 when the AWS CLI is
 * missing or cannot answer. The stack is one with a Pulumi.<stack>.yaml or a
 * test stack (test-<name>). The cluster defaults to the program's
 * `infermesh-<stack>`; the regions to AWS_REGION / AWS_DEFAULT_REGION, else
 * the test-stack template's aws:region.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { runCommand, UsageError, type CommandSpec } from "../cli/command";
import { requirePrerequisites } from "../cli/prerequisites";
import { projectRoot, stackHint, stackNames } from "../cli/stacks";
import { defaultClusterName, execRunner, leakCheck } from "../lifecycle/leaks";
import { templateStackFile, testStackPrefix } from "../lifecycle/testStacks";

export const leaksCommand = {
  name: "leaks",
  synopsis: "<stack> [--cluster <name>] [--region <region>]...",
  summary: "Lists AWS resources still tagged for a stack (or its EKS cluster) after destroy; exits 1 when any is left.",
  details: [
    "<stack>            a stack with a Pulumi.<stack>.yaml, or a test stack test-<name>",
    "--cluster <name>   EKS cluster name whose kubernetes.io/cluster tag to look for (default infermesh-<stack>)",
    "--region <region>  region to search, repeatable (default AWS_REGION, else the test template's region)",
  ],
  options: { cluster: { type: "string" }, region: { type: "string", multiple: true } },
  positionals: [{ name: "stack", hint: () => `${stackHint()}, or test-<name>` }],
} as const satisfies CommandSpec;

const regionPattern = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

function templateRegion(): string | undefined {
  const doc = parse(readFileSync(join(projectRoot, templateStackFile), "utf8")) as { config?: Record<string, unknown> };
  const region = doc.config?.["aws:region"];
  return typeof region === "string" ? region : undefined;
}

void runCommand(leaksCommand, async ({ values, positionals: [stackArg] }) => {
  const stack = stackArg as string;
  if (!stackNames().includes(stack) && !(stack.startsWith(testStackPrefix) && /^[a-z0-9-]{1,60}$/.test(stack))) {
    throw new UsageError(`no stack ${JSON.stringify(stack)}: not a Pulumi.<stack>.yaml here nor a test stack test-<name>; ${stackHint()}`);
  }
  const envRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const regions = values.region ?? [envRegion ?? templateRegion()].filter((r): r is string => r !== undefined);
  if (regions.length === 0) throw new UsageError("no region: pass --region or set AWS_REGION");
  for (const region of regions) if (!regionPattern.test(region)) throw new UsageError(`--region ${JSON.stringify(region)} is not an AWS region name like us-west-2`);
  requirePrerequisites(["aws-cli"]);
  return leakCheck(execRunner, { stack, cluster: values.cluster ?? defaultClusterName(stack), regions }, (text) => console.log(text));
});
