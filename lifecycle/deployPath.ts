/**
 * How CI reaches each stack's cluster, read from the stack's own
 * configuration (`infermesh:deploy`, `aws:region`) so the workflows cannot
 * drift from it: `npm run deploy-path` prints it, or writes it as step
 * outputs the jobs' `runs-on` and `aws-region` read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { StackConfig } from "../config";
import { synthDeployTime } from "../synth/clock";
import { readStackFile } from "../synth/stackFile";

export interface DeployPath {
  stack: string;
  region: string;
  /** The jobs' `runs-on` labels. */
  runsOn: string[];
  runner: "github-hosted" | "self-hosted";
  endpoint: "public" | "private";
}

/**
 * A stack's validated configuration from its `Pulumi.<stack>.yaml`, without
 * the Pulumi runtime (encrypted values become placeholders, as in synth).
 * Loads the config module lazily: it brings the Pulumi SDK.
 */
export async function readStackConfig(stack: string, root: string): Promise<StackConfig> {
  const { parseStackConfig } = await import("../config");
  const { rawConfig } = await import("../config/load");
  const project = (parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const file = readStackFile(join(root, `Pulumi.${stack}.yaml`));
  const { raw, secretKeys } = rawConfig(project, file.config, (key) => file.secretKeys.includes(key));
  // The offline render's pinned clock: a deploy path does not depend on time,
  // and the test-stack template's expiry must not start failing with the calendar.
  return parseStackConfig(raw, { project, stack, secretKeys, now: new Date(synthDeployTime) });
}

/** The deploy path of a stack; a stack whose configuration is invalid has none (ConfigError). */
export async function readDeployPath(stack: string, root: string): Promise<DeployPath> {
  const config = await readStackConfig(stack, root);
  return { stack, region: config.region, runsOn: config.deploy.runsOn, runner: config.deploy.runner, endpoint: config.deploy.endpoint };
}

/**
 * `$GITHUB_OUTPUT` lines: one output per stack, named after it, holding the
 * path as JSON (`fromJSON(needs.<job>.outputs.prod).runsOn`).
 */
export function githubOutputs(paths: readonly DeployPath[]): string {
  return paths.map((p) => `${p.stack}=${JSON.stringify({ runsOn: p.runsOn, region: p.region, runner: p.runner, endpoint: p.endpoint })}\n`).join("");
}

export function formatDeployPaths(paths: readonly DeployPath[]): string {
  return paths.map((p) => `${p.stack}: runs-on ${JSON.stringify(p.runsOn)} (${p.runner}), ${p.endpoint} endpoint, region ${p.region}`).join("\n");
}
