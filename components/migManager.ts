import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "./helm";
import { childOptions } from "./options";
import type { GpuPoolConfig, MigStrategy } from "../config";
import { gpuOperatorChart } from "../domain/versions";
import { gpuOperatorValues } from "./migManager.values";

export interface MigManagerArgs {
  pools: GpuPoolConfig[];
  strategy: MigStrategy;
  dependsOn?: pulumi.Resource[];
}

/** Applies each MIG pool's `nvidia.com/mig.config` layout to its GPUs (the GPU Operator's MIG manager). */
export class MigManager extends pulumi.ComponentResource {
  static readonly type = "infermesh:gpu:MigManager";

  constructor(name: string, args: MigManagerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MigManager.type, name, {}, opts);
    chartRelease(
      name,
      { chart: gpuOperatorChart, release: "gpu-operator", namespace: "gpu-operator", createNamespace: true, values: gpuOperatorValues(args.pools, args.strategy) },
      { ...childOptions(this, opts), dependsOn: args.dependsOn },
    );
    this.registerOutputs({});
  }
}
