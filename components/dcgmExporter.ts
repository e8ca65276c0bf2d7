import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import type { CounterField } from "./dcgmCounters";
import { placementSuffix, type GpuPartitioning } from "./gpuPlacement";
import { charts } from "../domain/versions";
import { dcgmExporterValues, dcgmRelease } from "./dcgmExporter.values";

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
