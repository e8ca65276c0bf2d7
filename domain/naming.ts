/**
 * Names of the stack's objects that more than one module must agree on:
 * Grafana uids and the Kubernetes namespaces the agents run in.
 */
import { createHash } from "node:crypto";

/** Grafana's limit on uids (`util.IsValidShortUID` plus `MaxUIDLength`). */
export const maxUidLength = 40;

export const validUid = /^[A-Za-z0-9_-]+$/;
const alphanumeric = /^[A-Za-z0-9]+$/;
const hashLength = 12;

/**
 * The one Grafana uid of a stack's object (folder, data source, dashboard,
 * alert rule, contact point integration), unique for every (stack, parts).
 * Parts name the object; readable forms need them alphanumeric. Three forms,
 * told apart by their first three characters, each of which reads back into
 * exactly one (stack, parts):
 *
 * - `im-<stack>-<part>-<part>…` for a stack name without `-` or `.` (dev,
 *   staging, prod): splitting on `-` gives the stack, then the parts;
 * - `im_<stack>-<part>_<part>…` for a stack name with `-`: the text after the
 *   last `-` holds the parts, which hold no `_`;
 * - `imh-<prefix>-<hash>` when neither fits Grafana's 40 characters, or a part
 *   or the stack holds other characters (Pulumi allows `.`): a readable
 *   prefix plus a hash of the exact (stack, parts), since cutting a name or
 *   replacing characters alone would map different stacks to one uid.
 */
export function grafanaUid(stack: string, ...parts: string[]): string {
  if (parts.length === 0) throw new Error("grafanaUid needs at least one part naming the object");
  if (parts.every((p) => alphanumeric.test(p))) {
    const readable = /^[A-Za-z0-9_]+$/.test(stack) ? `im-${stack}-${parts.join("-")}` : `im_${stack}-${parts.join("_")}`;
    if (readable.length <= maxUidLength && validUid.test(readable)) return readable;
  }
  const hash = createHash("sha256")
    .update(JSON.stringify([stack, ...parts]))
    .digest("hex")
    .slice(0, hashLength);
  const prefix = `${stack}-${parts.join("_")}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, maxUidLength - "imh-".length - 1 - hashLength);
  return `imh-${prefix}-${hash}`;
}

export function dataSourceUid(stack: string): string {
  return grafanaUid(stack, "prometheus");
}

/**
 * A GPU pool's node group, as Pulumi names it (Pulumi then adds a 7-hex
 * suffix); Cluster Autoscaler's priority expander finds the pool's ASG by it.
 */
export const gpuNodeGroupName = (pool: string) => `gpu-${pool}`;

export const monitoringNamespace = "monitoring";

export const devicePluginNamespace = "nvidia-device-plugin";

/** Names of the stack's scrape jobs (its PodMonitors, in the monitoring namespace). */
export const scrapeJobNames = {
  dcgm: "dcgm-exporter",
  /** One job per infermesh component (`router`, `agent`, ...); a PromQL regex works as the component too. */
  infermesh: (component: string) => `infermesh-${component}`,
} as const;

/** The `job` label prometheus-operator gives a PodMonitor's targets: `<namespace>/<PodMonitor name>`. */
export const podMonitorJob = (name: string, namespace: string = monitoringNamespace) => `${namespace}/${name}`;

/** Type token of the component carrying the stack's cost estimate and budget (components/costBudget.ts), which the review leaves to its cost lines. */
export const costBudgetType = "infermesh:cost:Budget";
