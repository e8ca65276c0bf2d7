/**
 * AWS resources still tagged for a stack, for after `destroy`:
 *
 *   npm run leaks -- <stack> [--cluster <eks cluster name>] [--region <region>]...
 *
 * Exits 1 and prints a table when anything is left, 2 when the AWS CLI fails.
 * The cluster defaults to the program's `infermesh-<stack>`; the regions to
 * AWS_REGION / AWS_DEFAULT_REGION, else the test-stack template's aws:region.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { defaultClusterName, execRunner, leakCheck } from "../lifecycle/leaks";
import { templateStackFile } from "../lifecycle/testStacks";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { cluster: { type: "string" }, region: { type: "string", multiple: true } },
});
const stack = positionals[0];
if (!stack || positionals.length > 1) {
  console.error("usage: npm run leaks -- <stack> [--cluster <name>] [--region <region>]...");
  process.exit(2);
}

function templateRegion(): string | undefined {
  const doc = parse(readFileSync(join(resolve(__dirname, ".."), templateStackFile), "utf8")) as { config?: Record<string, unknown> };
  const region = doc.config?.["aws:region"];
  return typeof region === "string" ? region : undefined;
}

const envRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
const regions = values.region ?? [envRegion ?? templateRegion()].filter((r): r is string => r !== undefined);
if (regions.length === 0) {
  console.error("no region: pass --region or set AWS_REGION");
  process.exit(2);
}

leakCheck(execRunner, { stack, cluster: values.cluster ?? defaultClusterName(stack), regions }, (text) => console.log(text)).then((code) => process.exit(code));
