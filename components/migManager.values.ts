/**
 * The GPU Operator's Helm values (MIG manager only) and the mig-parted
 * layouts, from config alone. Pure.
 */
import { stringify } from "yaml";
import type { GpuPoolConfig, MigStrategy } from "../config";
import { gpuModels } from "../domain/gpuInstances";
import { gpuToleration } from "../domain/scheduling";

export function gpuOperatorValues(pools: readonly GpuPoolConfig[], strategy: MigStrategy) {
  return {
    // The EKS NVIDIA AMIs ship the driver and container toolkit; the stack
    // owns the device plugin and DCGM exporter. Only the MIG manager (and the
    // node feature discovery it relies on) runs from the operator.
    driver: { enabled: false },
    toolkit: { enabled: false },
    devicePlugin: { enabled: false },
    dcgmExporter: { enabled: false },
    dcgm: { enabled: false },
    // No GPU feature discovery: the MIG pools' nodes join labelled for the MIG
    // manager (gpuPlacement.ts), so partitioning waits on no discovered label.
    gfd: { enabled: false },
    // The operator recognises GPU nodes by NFD's NVIDIA PCI label (and resets
    // `nvidia.com/gpu.present` on nodes without it).
    nfd: { enabled: true },
    mig: { strategy },
    migManager: {
      enabled: true,
      env: [{ name: "WITH_REBOOT", value: "false" }],
      config: { create: true, name: migConfigMapName, default: "all-disabled", data: { "config.yaml": migPartedConfig(pools) } },
    },
    daemonsets: { tolerations: [gpuToleration] },
  };
}

export const migConfigMapName = "infermesh-mig-parted-config";

/**
 * NVIDIA mig-parted configuration with exactly the layouts the pools name in
 * their `nvidia.com/mig.config` label, plus `all-disabled` for GPUs that are
 * not partitioned.
 */
export function migPartedConfig(pools: readonly GpuPoolConfig[]): string {
  const configs: Record<string, unknown> = { "all-disabled": [{ devices: "all", "mig-enabled": false }] };
  for (const pool of pools) {
    if (!pool.mig) continue;
    configs[pool.mig.config] = [{ devices: "all", "mig-enabled": true, "mig-devices": { [pool.mig.profile]: gpuModels[pool.gpu].migProfiles[pool.mig.profile] } }];
  }
  return stringify({ version: "v1", "mig-configs": configs }, { lineWidth: 0 });
}
