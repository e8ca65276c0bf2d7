/**
 * The NVIDIA device plugin's Helm values, from config alone. Pure.
 */
import type { MigStrategy } from "../config";
import { gpuToleration, nodeLabelKeys } from "../domain/scheduling";
import { type GpuPartitioning, agentScheduling } from "./gpuPlacement";

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

/**
 * Where the stack's device plugin runs: GPU nodes, except Bottlerocket ones,
 * which ship NVIDIA's device plugin in the OS (a second copy would advertise
 * every GPU twice); on MIG nodes only once the MIG manager has partitioned
 * them (see gpuPlacement.ts).
 */
export function devicePluginScheduling(placement: GpuPartitioning) {
  return agentScheduling(placement, {
    matchExpressions: [
      { key: nodeLabelKeys.nodeClass, operator: "In", values: ["gpu"] },
      { key: nodeLabelKeys.amiFamily, operator: "NotIn", values: ["bottlerocket"] },
    ],
  });
}
