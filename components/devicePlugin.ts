import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import type { MigStrategy } from "./config";
import { gpuTaint } from "./gpuNodeGroup";
import { charts } from "./versions";

/** Tolerates the GPU taint, so GPU agents can run on GPU nodes. */
export const gpuToleration = { key: gpuTaint.key, operator: "Exists", effect: "NoSchedule" } as const;

/**
 * Where the stack's device plugin runs: GPU nodes, except Bottlerocket ones,
 * which ship NVIDIA's device plugin in the OS (a second copy would advertise
 * every GPU twice).
 */
export const devicePluginAffinity = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: "infermesh.io/node-class", operator: "In", values: ["gpu"] },
            { key: "infermesh.io/ami-family", operator: "NotIn", values: ["bottlerocket"] },
          ],
        },
      ],
    },
  },
};

export function devicePluginValues(migStrategy: MigStrategy) {
  return {
    migStrategy,
    // Replaces the chart's default affinity, which waits for node feature discovery labels.
    affinity: devicePluginAffinity,
    tolerations: [gpuToleration],
    priorityClassName: "system-node-critical",
    gfd: { enabled: false },
    nfd: { enabled: false },
  };
}

export interface DevicePluginArgs {
  namespace: pulumi.Input<string>;
  migStrategy: MigStrategy;
  /** Installed after, and removed before, these (the GPU node groups it runs on). */
  dependsOn?: pulumi.Resource[];
}

/** NVIDIA's Kubernetes device plugin, advertising `nvidia.com/gpu` (or MIG slices) on GPU nodes. */
export class DevicePlugin extends pulumi.ComponentResource {
  static readonly type = "infermesh:gpu:DevicePlugin";
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: DevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DevicePlugin.type, name, {}, opts);
    this.release = chartRelease(
      name,
      { chart: charts.devicePlugin, release: "nvidia-device-plugin", namespace: args.namespace, values: devicePluginValues(args.migStrategy) },
      { ...childOptions(this, opts), dependsOn: args.dependsOn },
    );
    this.registerOutputs({ release: this.release.name });
  }
}
