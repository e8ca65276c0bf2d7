/**
 * Short-lived test stacks of this program, through the Automation API.
 *
 *   npm run test-stack -- up <name> [--hours 24] [--org <org>]   create/update test-<name> from Pulumi.test.yaml
 *                                                                 (an existing stack keeps its expiry unless --hours is given)
 *   npm run test-stack -- destroy <name> [--org <org>]           destroy test-<name>, then remove the stack
 *   npm run test-stack -- list [--org <org>]                     test stacks with their expiry
 *   npm run test-stack -- sweep [--org <org>]                    destroy every expired test stack
 *
 * Needs the Pulumi CLI, a logged-in backend and AWS credentials; it checks
 * for them before starting (exit 3 and how to get them when missing). On Pulumi
 * Cloud, `up` also creates a Deployments TTL schedule at the same expiry
 * (`PULUMI_ORG` or --org names the organization; INFERMESH_TTL_AWS_ROLE_ARN
 * gives the TTL destroy its AWS role).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { exitCodes, oneOf, runCommand, UsageError, type CommandSpec } from "../cli/command";
import { requirePrerequisites, type PrerequisiteName } from "../cli/prerequisites";
import {
  automationWorkspace,
  deploymentSettingsFromEnv,
  destroyTestStack,
  formatTestStacks,
  listTestStacks,
  pulumiCloudApiFor,
  pulumiCloudTtl,
  readTemplateConfig,
  RefusedError,
  sweepExpiredTestStacks,
  testStackName,
  upTestStack,
  type LifecycleDeps,
} from "../lifecycle/testStacks";

const subcommands = ["up", "destroy", "list", "sweep"] as const;
type Subcommand = (typeof subcommands)[number];

export const testStackCommand = {
  name: "test-stack",
  synopsis: "up <name> [--hours N] | destroy <name> | list | sweep   [--org <org>]",
  summary: "Creates, lists and destroys short-lived test stacks (test-<name>, from Pulumi.test.yaml) through the Automation API; needs the Pulumi CLI.",
  details: [
    "up <name> [--hours N]  create or update test-<name>, expiring in N hours (default 24; an existing stack keeps its expiry)",
    "destroy <name>         destroy test-<name>, then remove the stack",
    "list                   test stacks and their expiry",
    "sweep                  destroy every expired test stack",
    "--org <org>            Pulumi Cloud organization (default PULUMI_ORG)",
  ],
  options: { hours: { type: "string" }, org: { type: "string" } },
  positionals: [
    { name: "command", hint: () => `commands: ${subcommands.join(", ")}` },
    { name: "name", optional: true },
  ],
} as const satisfies CommandSpec;

/** What each subcommand needs besides Node: the CLI the Automation API drives, a backend, and AWS for what touches resources. */
const needs: Record<Subcommand, PrerequisiteName[]> = {
  up: ["pulumi", "pulumi-login", "aws-credentials"],
  destroy: ["pulumi", "pulumi-login", "aws-credentials"],
  list: ["pulumi", "pulumi-login"],
  sweep: ["pulumi", "pulumi-login", "aws-credentials"],
};

const root = resolve(__dirname, "..");

void runCommand(testStackCommand, async ({ values, positionals: [commandArg, name] }) => {
  const command = oneOf("command", commandArg as string, subcommands);
  if ((command === "up" || command === "destroy") && name === undefined) throw new UsageError(`${command} needs <name>, e.g. pr-123`);
  if ((command === "list" || command === "sweep") && name !== undefined) throw new UsageError(`${command} takes no <name>; got ${JSON.stringify(name)}`);
  if (values.hours !== undefined && command !== "up") throw new UsageError("--hours applies only to up");
  const hours = values.hours === undefined ? undefined : Number(values.hours);
  if (hours !== undefined && !(Number.isFinite(hours) && hours > 0)) throw new UsageError(`--hours takes a positive number, got ${JSON.stringify(values.hours)}`);
  let stack: string | undefined;
  try {
    stack = name === undefined ? undefined : testStackName(name);
  } catch (err) {
    throw err instanceof RefusedError ? new UsageError(err.message) : err;
  }
  requirePrerequisites(needs[command]);

  const organization = values.org ?? process.env.PULUMI_ORG;
  const project = (parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const api = pulumiCloudApiFor(process.env);
  const token = process.env.PULUMI_ACCESS_TOKEN;
  const deps: LifecycleDeps = {
    workspace: await automationWorkspace({ workDir: root, ...(organization ? { organization } : {}) }),
    templateConfig: () => readTemplateConfig(root),
    now: () => new Date(),
    log: (line) => console.log(line),
    output: (text) => process.stdout.write(text),
    ...(api && token && organization ? { ttl: pulumiCloudTtl({ api, token, organization, project, settings: deploymentSettingsFromEnv(process.env) }) } : {}),
  };
  if (api && !organization) console.log("Pulumi Cloud backend without PULUMI_ORG/--org: no TTL schedule (the expires-at tag and the sweep still apply)");

  try {
    switch (command) {
      case "up":
        await upTestStack(deps, name as string, hours === undefined ? {} : { hours });
        return exitCodes.ok;
      case "destroy":
        await destroyTestStack(deps, stack as string);
        return exitCodes.ok;
      case "list":
        console.log(formatTestStacks(await listTestStacks(deps)));
        return exitCodes.ok;
      case "sweep": {
        const result = await sweepExpiredTestStacks(deps);
        console.log(`destroyed: ${result.destroyed.join(", ") || "none"}`);
        if (result.unknown.length > 0) console.log(`expiry unknown (check by hand): ${result.unknown.join(", ")}`);
        for (const f of result.failed) console.error(`FAILED ${f.stack}: ${f.error}`);
        return result.failed.length > 0 ? exitCodes.failed : exitCodes.ok;
      }
    }
  } catch (err) {
    // A refusal (not a test stack, not ephemeral, an encrypted template value) changes nothing: the request was wrong.
    if (err instanceof RefusedError) throw new UsageError(`refused: ${err.message}`);
    throw err;
  }
});
