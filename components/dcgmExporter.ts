import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import { dcgmCountersCsv, type CounterField } from "./dcgmCounters";
import { gpuToleration } from "./devicePlugin";
import { agentScheduling, placementSuffix, type GpuPartitioning } from "./gpuPlacement";
import { charts } from "../domain/versions";

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

export interface DcgmExporterArgs {
  namespace: pulumi.Input<string>;
  scrapeIntervalSeconds: number;
  fields: readonly CounterField[];
  /** One release per placement: whole-GPU nodes, and MIG nodes when a pool uses MIG. */
  placements: readonly GpuPartitioning[];
  /** Installed after, and removed before, these (the GPU node groups it runs on). */
  dependsOn?: pulumi.Resource[];
}

/** NVIDIA dcgm-exporter on every GPU node, with the counters the dashboards and alerts read. */
export class DcgmExporter extends pulumi.ComponentResource {
  static readonly type = "infermesh:gpu:DcgmExporter";
  readonly releases: k8s.helm.v3.Release[];

  constructor(name: string, args: DcgmExporterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DcgmExporter.type, name, {}, opts);
    this.releases = args.placements.map((placement) =>
      chartRelease(
        `${name}${placementSuffix(placement)}`,
        {
          chart: charts.dcgmExporter,
          release: `${dcgmRelease}${placementSuffix(placement)}`,
          namespace: args.namespace,
          values: dcgmExporterValues(args, placement),
        },
        { ...childOptions(this, opts), dependsOn: args.dependsOn },
      ),
    );
    this.registerOutputs({ releases: this.releases.map((r) => r.name) });
  }
}
