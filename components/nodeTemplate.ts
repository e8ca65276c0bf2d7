/**
 * What Cluster Autoscaler must know about a GPU pool to scale it up from zero
 * nodes: the labels, taint and extended resources a new node would have,
 * written as the node-template tags it reads from the Auto Scaling group.
 * Pure.
 */
import type { GpuPoolConfig, MigStrategy } from "../config";
import { gpuModels } from "../domain/gpuInstances";
import { gpuNodeLabels } from "./gpuPlacement";
import { gpuTaint } from "../domain/scheduling";

/**
 * Extended resources one node of the pool advertises, as the device plugin
 * names them for the MIG strategy: whole GPUs, MIG slices as `nvidia.com/gpu`
 * (single), or `nvidia.com/mig-<profile>` (mixed).
 */
export function gpuResources(pool: GpuPoolConfig, strategy: MigStrategy): Record<string, number> {
  if (!pool.mig || strategy === "none") return { "nvidia.com/gpu": pool.gpusPerInstance };
  const perGpu = gpuModels[pool.gpu].migProfiles[pool.mig.profile] ?? 0;
  const count = perGpu * pool.gpusPerInstance;
  return strategy === "single" ? { "nvidia.com/gpu": count } : { [`nvidia.com/mig-${pool.mig.profile.replace("+", ".")}`]: count };
}

const prefix = "k8s.io/cluster-autoscaler";

/** Auto-discovery tags: Cluster Autoscaler manages only groups tagged for its cluster. */
export function discoveryTags(clusterName: string): Record<string, string> {
  return { [`${prefix}/enabled`]: "true", [`${prefix}/${clusterName}`]: "owned" };
}

export function nodeTemplateTags(pool: GpuPoolConfig, clusterName: string, strategy: MigStrategy): Record<string, string> {
  const tags: Record<string, string> = { ...discoveryTags(clusterName) };
  for (const [key, value] of Object.entries(gpuNodeLabels(pool, strategy))) tags[`${prefix}/node-template/label/${key}`] = value;
  tags[`${prefix}/node-template/taint/${gpuTaint.key}`] = `${gpuTaint.value}:NoSchedule`;
  for (const [resource, count] of Object.entries(gpuResources(pool, strategy))) tags[`${prefix}/node-template/resources/${resource}`] = String(count);
  return tags;
}
