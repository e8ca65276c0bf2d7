import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { projectRoot, stackNames } from "../cli/stacks";
import { loadConfig } from "../config/load";
import { scrapeConfig } from "../components/scrapeJobs";
import { telemetryPlan } from "../components/telemetry.plan";
import { monitoringNamespace } from "../domain/naming";
import { alertingPlan, grafanaRulePlan } from "../components/alerting.plan";
import { dashboardsFor } from "../components/grafanaContent.plan";
import type { StackConfig } from "../config";
import { costReport, costSummary } from "../cost/estimate";
import { offlineLookups } from "./lookups";
import { buildPlan, summarizePlan, type Plan } from "./plan";
import { runUnderMocks } from "./runtime";
import { synthDeployTime } from "./clock";
import { readStackFile } from "./stackFile";

export { projectRoot, stackNames } from "../cli/stacks";
export { synthDeployTime } from "./clock";

export interface SynthOptions {
  stack: string;
  /** Defaults to `out/<stack>` under the project root. */
  outDir?: string;
  /** Directory holding `Pulumi.yaml` and the stack files. Defaults to the project root. */
  root?: string;
}

export interface SynthResult {
  outDir: string;
  files: string[];
  summary: string;
}

/**
 * Runs the real program (`index.ts`) for one stack under the mock runtime and
 * writes its artifacts. Output is written to a scratch directory and moved into
 * place only when everything succeeded, so a failed run leaves nothing behind.
 */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  const root = options.root ?? projectRoot;
  const stackFile = join(root, `Pulumi.${options.stack}.yaml`);
  if (!existsSync(stackFile)) {
    throw new Error(`no stack file ${stackFile}; stacks here: ${stackNames(root).join(", ")}`);
  }
  const project = (parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const { config, secretKeys } = readStackFile(stackFile);
  // A pinned deploy time keeps the render reproducible (it names the Grafana token the stack renews on each deploy).
  process.env.INFERMESH_DEPLOY_TIME ??= synthDeployTime;
  const run = await runUnderMocks({ project, stack: options.stack, config, secretKeys, rootDirectory: root, calls: offlineLookups }, () => import("../index"));
  const plan = buildPlan(project, options.stack, run.resources);

  // The program has validated this config already; reading it again gives the pure, config-derived artifacts.
  const stackConfig = loadConfig();
  const telemetry = telemetryPlan(stackConfig);
  const cost = costReport(stackConfig);
  const artifacts: Record<string, string> = {
    "plan.json": `${JSON.stringify(plan, null, 2)}\n`,
    "cost.json": json(cost),
    "prometheus/scrape-configs.yaml": yamlDocument("Prometheus scrape configuration equivalent to the stack's PodMonitors (same discovery, relabeling and order).", {
      scrape_configs: telemetry.jobs.map((job) => scrapeConfig(job, monitoringNamespace)),
    }),
    ...helmArtifacts(plan),
    ...alertArtifacts(stackConfig),
    ...dashboardArtifacts(stackConfig),
    ...(await snsTopicArtifacts(run.result)),
  };

  const outDir = resolve(options.outDir ?? join(root, "out", options.stack));
  const scratch = `${outDir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  for (const [file, text] of Object.entries(artifacts)) {
    mkdirSync(dirname(join(scratch, file)), { recursive: true });
    writeFileSync(join(scratch, file), text);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(dirname(outDir), { recursive: true });
  renameSync(scratch, outDir);
  // The price table's age is judged against the real date, not the pinned deploy time.
  return { outDir, files: Object.keys(artifacts), summary: `${summarizePlan(plan)}\n${costSummary(cost, new Date())}` };
}

function yamlDocument(comment: string, value: unknown): string {
  return `# ${comment}\n${stringify(value, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/** Each Helm release's values as the plan records them (secrets already redacted), and the DCGM counters file. */
function helmArtifacts(plan: Plan): Record<string, string> {
  const files: Record<string, string> = {};
  for (const r of plan.resources.filter((res) => res.type === "kubernetes:helm.sh/v3:Release")) {
    const inputs = r.inputs as { name: string; chart: string; version: string; values: Record<string, unknown> };
    files[`helm/${inputs.name}.yaml`] = yamlDocument(`Values of Helm release ${inputs.name} (chart ${inputs.chart} ${inputs.version}).`, inputs.values);
    if (typeof inputs.values.customMetrics === "string") files["dcgm/counters.csv"] = inputs.values.customMetrics;
  }
  return files;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Rule files (recording and alert groups) and the Grafana-managed form of the alerts. */
function alertArtifacts(config: StackConfig): Record<string, string> {
  const { alerts, groups } = alertingPlan(config);
  const files: Record<string, string> = {};
  for (const group of groups) {
    files[`prometheus/rules/${group.name}.yaml`] = yamlDocument(`Prometheus rule group ${group.name} (rule-file format).`, { groups: [group] });
  }
  files["grafana/alert-rules.json"] = json(grafanaRulePlan(config, alerts));
  return files;
}

/**
 * The SNS contact points' topics as the `snsTopics` stack output reports
 * them: owner, publisher and, for a topic owned elsewhere, the exact statement
 * its owner must add (workspace ARN and account are the offline stand-ins).
 */
async function snsTopicArtifacts(outputs: unknown): Promise<Record<string, string>> {
  const topics = (outputs as { snsTopics?: pulumi.Output<unknown> }).snsTopics;
  if (!topics) return {};
  const value = await new Promise<unknown>((resolve) => topics.apply(resolve));
  return { "alerting/sns-topics.json": json(value) };
}

/** Each dashboard as Grafana imports it, named by uid. */
function dashboardArtifacts(config: StackConfig): Record<string, string> {
  return Object.fromEntries(Object.values(dashboardsFor(config)).map((dashboard) => [`grafana/dashboards/${(dashboard as { uid: string }).uid}.json`, json(dashboard)]));
}
