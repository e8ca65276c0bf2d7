/**
 * Where each alert's runbook is, and which dashboard panels explain it. It
 * loads nothing of the stack at run time (the dashboards read this module,
 * and the alert catalog reads the dashboards), so neither side loads the other.
 */
import packageJson from "../package.json";
import type { PanelKey } from "../monitoring/queries";

/** The runbook file, relative to the repository root. */
export const runbookPath = "RUNBOOKS.md";

/**
 * The runbook's URL for a repository as package.json's `repository` names it
 * (`{ url }` or the npm string forms): the repository's web address, its
 * `main` branch, `RUNBOOKS.md`. Only GitHub addresses are understood; anything
 * else is an error naming the field, so a fork that moves elsewhere sets
 * `infermesh:alerting.runbookBaseUrl` instead of linking nowhere.
 */
export function runbookBaseUrlOf(repository: unknown): string {
  const url = typeof repository === "string" ? repository : typeof repository === "object" && repository !== null ? (repository as { url?: unknown }).url : undefined;
  if (typeof url !== "string")
    throw new Error(`package.json \`repository.url\` is missing: it is where the alerts' runbook links point (or set infermesh:alerting.runbookBaseUrl)`);
  const match = /^(?:git\+)?(?:https:\/\/|ssh:\/\/git@|git@|git:\/\/)?github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url) ?? /^github:([\w.-]+)\/([\w.-]+)$/.exec(url);
  if (!match)
    throw new Error(
      `package.json \`repository.url\` is ${JSON.stringify(url)}: a GitHub repository (https://github.com/<owner>/<name>) is allowed, or set infermesh:alerting.runbookBaseUrl`,
    );
  return `https://github.com/${match[1]}/${match[2]}/blob/main/${runbookPath}`;
}

/**
 * The runbook of the repository the stack is built from: package.json's
 * `repository`, the one place the repository names itself, so every render of
 * a commit links to the same place (a git remote would differ per clone).
 */
export const defaultRunbookBaseUrl = runbookBaseUrlOf(packageJson.repository);

/** Anchor of an alert's section in the runbook. */
export function runbookUrl(base: string, alert: string): string {
  return `${base}#${alert.toLowerCase()}`;
}

/**
 * The panels that explain each alert: where its runbook sends the reader
 * first, and which carry a "Runbook: <alert>" link back. Alerts about
 * scrape targets and the metric contract have no panel of their own.
 */
export const alertPanels = {
  InfermeshHighQueueDepth: ["queueDepthByModelNode"],
  InfermeshGpuNearOom: ["vramHeadroom"],
  InfermeshLatencyP95Breach: ["latencyP95ByModel", "fleetLatency"],
  InfermeshNodeDown: ["nodeHealth"],
  InfermeshGpuEccDoubleBitErrors: ["eccErrors"],
  InfermeshGpuThermalThrottling: ["thermalThrottling", "eccErrors"],
  InfermeshGpuXidErrors: ["xidErrors"],
  InfermeshAdmissionRejectionsHigh: ["rejectionsByReason"],
  InfermeshErrorRateHigh: ["errorRateByModel", "errorsByKind"],
  InfermeshGpuPodsPending: ["pendingGpuPods"],
  InfermeshGpuPoolAtMaxSize: ["nodesByPool", "gpusByPool"],
  InfermeshGpuIdle: ["idleGpus", "gpuHoursWasted"],
  InfermeshSloFastBurn: ["sloBurnRates", "sloBurnRateHistory"],
  InfermeshSloSlowBurn: ["sloSummary", "sloBudgetRemainingHistory"],
} as const satisfies Record<string, readonly PanelKey[]>;

export type AlertWithPanels = keyof typeof alertPanels;

/** The alerts a panel explains, in the order above. */
export function alertsExplainedBy(key: PanelKey): AlertWithPanels[] {
  return (Object.keys(alertPanels) as AlertWithPanels[]).filter((alert) => (alertPanels[alert] as readonly PanelKey[]).includes(key));
}
