/**
 * What Prometheus scrapes, defined once and rendered two ways: as
 * prometheus-operator PodMonitor objects (what the cluster gets) and as a plain
 * Prometheus `scrape_configs` list with the same relabeling (what reviewers
 * read and what tests feed a real Prometheus). Pure.
 */
// Type-only: the published CRD model makes a misspelt PodMonitor field a compile error.
import type { IPodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import type { TelemetryConfig } from "../config";
import { escapeRegex } from "../lib/escapeRegex";
import { scrapeJobNames } from "../domain/naming";
import { sanitizeLabelName } from "../lib/labelName";

/** A relabel rule in prometheus-operator's (camelCase) form. */
export interface RelabelRule {
  action?: "replace" | "keep" | "drop" | "labeldrop" | "labelkeep" | "labelmap";
  sourceLabels?: string[];
  separator?: string;
  regex?: string;
  targetLabel?: string;
  replacement?: string;
}

export interface ScrapeJob {
  /** PodMonitor name; the `job` label is `<namespace>/<name>`, as the operator sets it. */
  name: string;
  /** Namespaces whose pods are scraped; empty means every namespace. */
  namespaces: string[];
  podSelector: Record<string, string>;
  port: string;
  path: string;
  interval: string;
  /** Let labels on the scraped series win over target labels (and fill in only what is missing). */
  honorLabels: boolean;
  relabelings: RelabelRule[];
  metricRelabelings: RelabelRule[];
}

/** Where the scraped pod runs: its node, and the node's zone (needs node metadata attached to pod discovery). */
const placement: RelabelRule[] = [
  { action: "replace", sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node" },
  { action: "replace", sourceLabels: ["__meta_kubernetes_node_label_topology_kubernetes_io_zone"], targetLabel: "zone" },
];

/** dcgm-exporter labels renamed to the label contract. */
export const dcgmRenames: ReadonlyArray<readonly [string, string]> = [
  ["UUID", "gpu_uuid"],
  ["GPU_I_PROFILE", "mig_profile"],
  ["GPU_I_ID", "mig_instance"],
  ["modelName", "gpu_model"],
  // Pod labels of the workload holding the GPU, as dcgm-exporter sanitises them.
  ["infermesh_io_model", "model"],
  ["infermesh_io_revision", "revision"],
  ["infermesh_io_tenant", "tenant"],
];

/**
 * dcgm-exporter labels dropped after renaming, and why:
 * - `Hostname`/`hostname`: replaced by `node` from discovery (the spelling changed between releases);
 * - `pci_bus_id`, `device`: one-to-one with `gpu_uuid` / `gpu`, so they only add bytes;
 * - `DCGM_FI_DRIVER_VERSION`: a driver upgrade would fork every GPU series;
 * - `err_code`, `err_msg`: free text on XID series; the value is the code;
 * - the source labels of the renames above.
 */
export const dcgmDroppedLabels = ["Hostname", "hostname", "pci_bus_id", "device", "DCGM_FI_DRIVER_VERSION", "err_code", "err_msg", ...dcgmRenames.map(([from]) => from)];

export const dcgmJobName = scrapeJobNames.dcgm;

/**
 * The exporter pods of every dcgm-exporter release in the monitoring namespace
 * (one for whole-GPU nodes, one for MIG nodes), selected by the chart's app name.
 */
export function dcgmScrapeJob(telemetry: TelemetryConfig, namespace: string, appName: string): ScrapeJob {
  return {
    name: dcgmJobName,
    namespaces: [namespace],
    podSelector: { "app.kubernetes.io/name": appName },
    port: "metrics",
    path: "/metrics",
    interval: telemetry.scrapeInterval,
    honorLabels: false,
    relabelings: [
      ...placement,
      // The exporter's own pod/namespace/container would collide with the
      // attribution labels it puts on GPUs held by pods (and rename those to
      // exported_*); `instance` still identifies the exporter.
      { action: "labeldrop", regex: "pod|namespace|container" },
    ],
    metricRelabelings: [
      ...dcgmRenames.map(([from, to]): RelabelRule => ({ action: "replace", sourceLabels: [from], targetLabel: to })),
      { action: "labeldrop", regex: dcgmDroppedLabels.join("|") },
    ],
  };
}

export function infermeshScrapeJobs(telemetry: TelemetryConfig): ScrapeJob[] {
  const { infermesh } = telemetry;
  return infermesh.components.map((component) => ({
    name: scrapeJobNames.infermesh(component),
    namespaces: infermesh.namespaces,
    podSelector: { "app.kubernetes.io/part-of": infermesh.partOf, "app.kubernetes.io/component": component },
    port: infermesh.port,
    path: infermesh.path,
    interval: telemetry.scrapeInterval,
    // infermesh series carry their own node/zone (e.g. the node a health
    // verdict is about); discovery fills those labels in only when missing.
    honorLabels: true,
    relabelings: [...placement],
    metricRelabelings: [],
  }));
}

/** The relabel rules prometheus-operator generates in front of a PodMonitor's own. */
export function operatorRelabelings(job: ScrapeJob, monitorNamespace: string): RelabelRule[] {
  return [
    ...Object.entries(job.podSelector).map(
      ([key, value]): RelabelRule => ({
        action: "keep",
        sourceLabels: [`__meta_kubernetes_pod_label_${sanitizeLabelName(key)}`, `__meta_kubernetes_pod_labelpresent_${sanitizeLabelName(key)}`],
        regex: `(${escapeRegex(value)});true`,
      }),
    ),
    { action: "keep", sourceLabels: ["__meta_kubernetes_pod_container_port_name"], regex: escapeRegex(job.port) },
    { action: "replace", sourceLabels: ["__meta_kubernetes_namespace"], targetLabel: "namespace" },
    { action: "replace", sourceLabels: ["__meta_kubernetes_pod_container_name"], targetLabel: "container" },
    { action: "replace", sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "pod" },
    { action: "replace", targetLabel: "job", replacement: `${monitorNamespace}/${job.name}` },
    { action: "replace", targetLabel: "endpoint", replacement: job.port },
  ];
}

/** The PodMonitor object for a job, labelled so the stack's Prometheus selects it. */
export function podMonitorManifest(job: ScrapeJob, monitorNamespace: string, selectorLabels: Record<string, string>): IPodMonitor {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: { name: job.name, namespace: monitorNamespace, labels: { ...selectorLabels } },
    spec: {
      namespaceSelector: job.namespaces.length === 0 ? { any: true } : { matchNames: job.namespaces },
      selector: { matchLabels: { ...job.podSelector } },
      // Pod discovery does not see node labels; this attaches them so `zone` can be read.
      attachMetadata: { node: true },
      podMetricsEndpoints: [
        {
          port: job.port,
          path: job.path,
          interval: job.interval,
          honorLabels: job.honorLabels,
          relabelings: job.relabelings,
          metricRelabelings: job.metricRelabelings,
        },
      ],
    },
  };
}

const snakeKeys: Record<keyof RelabelRule, string> = {
  action: "action",
  sourceLabels: "source_labels",
  separator: "separator",
  regex: "regex",
  targetLabel: "target_label",
  replacement: "replacement",
};

export function toPrometheusRelabel(rule: RelabelRule): Record<string, unknown> {
  return Object.fromEntries(Object.entries(rule).map(([k, v]) => [snakeKeys[k as keyof RelabelRule], v]));
}

/** The `scrape_configs` entry Prometheus runs for a PodMonitor: same discovery, same rules, same order. */
export function scrapeConfig(job: ScrapeJob, monitorNamespace: string): Record<string, unknown> {
  return {
    job_name: `podMonitor/${monitorNamespace}/${job.name}/0`,
    honor_labels: job.honorLabels,
    metrics_path: job.path,
    scrape_interval: job.interval,
    kubernetes_sd_configs: [
      {
        role: "pod",
        ...(job.namespaces.length > 0 ? { namespaces: { names: job.namespaces } } : {}),
        attach_metadata: { node: true },
      },
    ],
    relabel_configs: [...operatorRelabelings(job, monitorNamespace), ...job.relabelings].map(toPrometheusRelabel),
    metric_relabel_configs: job.metricRelabelings.map(toPrometheusRelabel),
  };
}
