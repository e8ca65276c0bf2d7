/**
 * dcgm-exporter's Helm values and names, from config alone. Pure.
 */
import { gpuToleration } from "../domain/scheduling";
import { type CounterField, dcgmCountersCsv } from "./dcgmCounters";
import { type GpuPartitioning, agentScheduling } from "./gpuPlacement";

export const dcgmRelease = "dcgm-exporter";

/** The chart's `app.kubernetes.io/name` on every exporter pod, whichever the release. */
export const dcgmAppName = "dcgm-exporter";

export function dcgmExporterValues(args: { scrapeIntervalSeconds: number; fields: readonly CounterField[] }, placement: GpuPartitioning) {
  return {
    // Collect as often as Prometheus scrapes: the exporter's 30 s default would
    // serve the same sample twice at a 15 s scrape, or miss changes at 60 s.
    arguments: ["-f", "/etc/dcgm-exporter/default-counters.csv", "-c", String(args.scrapeIntervalSeconds * 1000)],
    customMetrics: dcgmCountersCsv(args.fields),
    // Every GPU node, Bottlerocket included; on MIG nodes only once the MIG
    // manager has partitioned them (see gpuPlacement.ts).
    ...agentScheduling(placement, { nodeSelector: { "nvidia.com/gpu.present": "true" } }),
    tolerations: [gpuToleration],
    // 512Mi (the chart's limit) is OOM-killed on dense 8-GPU nodes.
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
    // Scraping is the stack's PodMonitor, with the label-contract relabeling.
    serviceMonitor: { enabled: false },
    kubernetes: {
      // Copy the model identity of the pod holding a GPU onto its series;
      // the allowlist keeps other pod labels (and their cardinality) out.
      enablePodLabels: true,
      podLabelAllowlistRegex: ["^infermesh[._]io[/_](model|revision|tenant)$"],
    },
  };
}
