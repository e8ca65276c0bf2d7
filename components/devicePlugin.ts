import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import type { MigStrategy } from "../config";
import { gpuTaint } from "./gpuNodeGroup";
import { agentScheduling, placementSuffix, type GpuPartitioning } from "./gpuPlacement";
import { charts } from "../domain/versions";

/** Tolerates the GPU taint, so GPU agents can run on GPU nodes. */
export const gpuToleration = { key: gpuTaint.key, operator: "Exists", effect: "NoSchedule" } as const;

export const devicePluginRelease = "nvidia-device-plugin";

/**
 * Where the stack's device plugin runs: GPU nodes, except Bottlerocket ones,
 * which ship NVIDIA's device plugin in the OS (a second copy would advertise
 * every GPU twice); on MIG nodes only once the MIG manager has partitioned
 * them (see gpuPlacement.ts).
 */
export function devicePluginScheduling(placement: GpuPartitioning) {
  return agentScheduling(placement, {
    matchExpressions: [
      { key: "infermesh.io/node-class", operator: "In", values: ["gpu"] },
      { key: "infermesh.io/ami-family", operator: "NotIn", values: ["bottlerocket"] },
    ],
  });
}

export function devicePluginValues(migStrategy: MigStrategy, placement: GpuPartitioning) {
  const { nodeSelector, affinity } = devicePluginScheduling(placement);
  return {
    migStrategy,
    ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
    // Replaces the chart's default affinity, which waits for node feature discovery labels.
    affinity,
    tolerations: [gpuToleration],
    priorityClassName: "system-node-critical",
    gfd: { enabled: false },
    nfd: { enabled: false },
  };
}

export interface DevicePluginArgs {
  namespace: pulumi.Input<string>;
  migStrategy: MigStrategy;
  /** One release per placement: whole-GPU nodes, and MIG nodes when a pool uses MIG. */
  placements: readonly GpuPartitioning[];
  /** Installed after, and removed before, these (the GPU node groups it runs on). */
  dependsOn?: pulumi.Resource[];
}

/** NVIDIA's Kubernetes device plugin, advertising `nvidia.com/gpu` (or MIG slices) on GPU nodes. */
export class DevicePlugin extends pulumi.ComponentResource {
  static readonly type = "infermesh:gpu:DevicePlugin";
  readonly releases: k8s.helm.v3.Release[];

  constructor(name: string, args: DevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DevicePlugin.type, name, {}, opts);
    this.releases = args.placements.map((placement) =>
      chartRelease(
        `${name}${placementSuffix(placement)}`,
        {
          chart: charts.devicePlugin,
          release: `${devicePluginRelease}${placementSuffix(placement)}`,
          namespace: args.namespace,
          values: devicePluginValues(args.migStrategy, placement),
        },
        { ...childOptions(this, opts), dependsOn: args.dependsOn },
      ),
    );
    this.registerOutputs({ releases: this.releases.map((r) => r.name) });
  }
}
