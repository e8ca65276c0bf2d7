import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import type { MigStrategy } from "../config";
import { placementSuffix, type GpuPartitioning } from "./gpuPlacement";
import { charts } from "../domain/versions";
import { devicePluginValues } from "./devicePlugin.values";

export const devicePluginRelease = "nvidia-device-plugin";

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
