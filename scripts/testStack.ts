/**
 * Short-lived test stacks of this program, through the Automation API.
 *
 *   npm run test-stack -- up <name> [--hours 24] [--org <org>]   create/update test-<name> from Pulumi.test.yaml
 *                                                                 (an existing stack keeps its expiry unless --hours is given)
 *   npm run test-stack -- destroy <name> [--org <org>]           destroy test-<name>, then remove the stack
 *   npm run test-stack -- list [--org <org>]                     test stacks with their expiry
 *   npm run test-stack -- sweep [--org <org>]                    destroy every expired test stack
 *
 * Needs the Pulumi CLI, a logged-in backend and AWS credentials. On Pulumi
 * Cloud, `up` also creates a Deployments TTL schedule at the same expiry
 * (`PULUMI_ORG` or --org names the organization; INFERMESH_TTL_AWS_ROLE_ARN
 * gives the TTL destroy its AWS role).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
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

const usage = "usage: npm run test-stack -- up <name> [--hours N] | destroy <name> | list | sweep   [--org <org>]";
const root = resolve(__dirname, "..");

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { hours: { type: "string" }, org: { type: "string" } },
  });
  const [command, name, ...extra] = positionals;
  const needsName = command === "up" || command === "destroy";
  const badArgs = needsName ? !name || extra.length > 0 : name !== undefined;
  if (!command || !["up", "destroy", "list", "sweep"].includes(command) || badArgs || (values.hours !== undefined && command !== "up")) {
    console.error(usage);
    return 2;
  }
  const upOptions = values.hours === undefined ? {} : { hours: Number(values.hours) };
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
    ...(api && token && organization
      ? { ttl: pulumiCloudTtl({ api, token, organization, project, settings: deploymentSettingsFromEnv(process.env) }) }
      : {}),
  };
  if (api && !organization) console.log("Pulumi Cloud backend without PULUMI_ORG/--org: no TTL schedule (the expires-at tag and the sweep still apply)");

  switch (command) {
    case "up":
      await upTestStack(deps, name as string, upOptions);
      return 0;
    case "destroy":
      await destroyTestStack(deps, testStackName(name as string));
      return 0;
    case "list":
      console.log(formatTestStacks(await listTestStacks(deps)));
      return 0;
    case "sweep": {
      const result = await sweepExpiredTestStacks(deps);
      console.log(`destroyed: ${result.destroyed.join(", ") || "none"}`);
      if (result.unknown.length > 0) console.log(`expiry unknown (check by hand): ${result.unknown.join(", ")}`);
      for (const f of result.failed) console.error(`FAILED ${f.stack}: ${f.error}`);
      return result.failed.length > 0 ? 1 : 0;
    }
  }
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof RefusedError ? `refused: ${err.message}` : err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
