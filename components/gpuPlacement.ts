/**
 * Who owns each step on a GPU node, and where each GPU agent runs. Pure.
 *
 * A node of a whole-GPU pool joins with its labels and the stack's device
 * plugin and dcgm-exporter start on it at once. The GPU Operator (installed
 * only when some pool uses MIG) is told to leave such nodes alone.
 *
 * A node of a MIG pool goes through four steps, each with one owner:
 * 1. join (the EKS node group): the node registers labelled with its layout
 *    (`nvidia.com/mig.config=all-<profile>`), for the MIG manager
 *    (`nvidia.com/gpu.deploy.mig-manager=true`), and with GPU clients paused
 *    (`nvidia.com/gpu.deploy.client=paused-for-mig-change`), so nothing holds
 *    or advertises a GPU before it is partitioned;
 * 2. partition (the GPU Operator's MIG manager, mig-parted): applies the
 *    layout, then sets `nvidia.com/gpu.deploy.client=true`;
 * 3. advertise slices (the stack's device plugin): its MIG DaemonSet selects
 *    `nvidia.com/gpu.deploy.client=true`, so it starts only now and enumerates
 *    the slices;
 * 4. export metrics (the stack's dcgm-exporter): starts on the same label.
 * A later layout change repeats 2–4: mig-parted flips the client label to
 * paused, waits until no DaemonSet pod whose nodeSelector has that key is left
 * on the node, reconfigures, and flips it back, which restarts both agents.
 */
import type { GpuPoolConfig, MigStrategy } from "../config";
import { nodeLabelKeys } from "../domain/scheduling";

/** Whether a pool's GPUs are partitioned with MIG or used whole. */
export type GpuPartitioning = "whole" | "mig";

export const partitioningLabel = "infermesh.io/gpu-partitioning";

/** The GPU Operator's gate for third-party GPU clients, which mig-parted pauses around a reconfiguration. */
export const gpuClientLabel = "nvidia.com/gpu.deploy.client";
/** The MIG manager DaemonSet's node selector. */
export const migManagerLabel = "nvidia.com/gpu.deploy.mig-manager";
/** The GPU Operator's opt-out: on `false` it removes every operand label and deploys nothing on the node. */
export const operandsLabel = "nvidia.com/gpu.deploy.operands";
export const pausedForMigChange = "paused-for-mig-change";
/**
 * Cluster Autoscaler's AWS GPU label: a node that carries it but advertises no
 * `nvidia.com/gpu` yet counts as not ready, so the autoscaler waits for the
 * device plugin instead of buying another node.
 */
export const acceleratorLabel = "k8s.amazonaws.com/accelerator";

export function partitioning(pool: Pick<GpuPoolConfig, "mig">): GpuPartitioning {
  return pool.mig ? "mig" : "whole";
}

/** `k8s.amazonaws.com/accelerator` value: the GPU model as a label value, e.g. `nvidia-h100-80gb`. */
export function acceleratorName(pool: Pick<GpuPoolConfig, "gpu">): string {
  return `nvidia-${pool.gpu.toLowerCase()}`;
}

/**
 * Labels that hand a pool's nodes to the right owners: the MIG manager and
 * paused clients on MIG pools, the operator's opt-out elsewhere, and the
 * autoscaler's GPU label.
 */
export function gpuOwnershipLabels(pool: Pick<GpuPoolConfig, "gpu" | "mig">, strategy: MigStrategy): Record<string, string> {
  const kind = partitioning(pool);
  return {
    [partitioningLabel]: kind,
    // With the mixed strategy MIG nodes advertise only `nvidia.com/mig-*`,
    // never `nvidia.com/gpu`: the autoscaler would hold them "not ready" forever.
    ...(kind === "mig" && strategy === "mixed" ? {} : { [acceleratorLabel]: acceleratorName(pool) }),
    ...(kind === "mig" ? { [migManagerLabel]: "true", [gpuClientLabel]: pausedForMigChange } : { [operandsLabel]: "false" }),
  };
}

/** Which placements a stack's agents need: whole-GPU nodes always, MIG nodes when a pool uses MIG. */
export function agentPlacements(pools: readonly Pick<GpuPoolConfig, "mig">[]): GpuPartitioning[] {
  return pools.some((p) => p.mig) ? ["whole", "mig"] : ["whole"];
}

export interface NodeSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/** Pod scheduling of one agent DaemonSet (the charts' `nodeSelector` and `affinity` values). */
export interface AgentScheduling {
  nodeSelector: Record<string, string>;
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchExpressions: NodeSelectorRequirement[] }[] } } };
}

/**
 * Scheduling of an agent on one placement. On MIG nodes the gate is a plain
 * nodeSelector on the client label: mig-parted waits only for pods whose
 * nodeSelector has that key (affinity terms are not looked at).
 */
export function agentScheduling(placement: GpuPartitioning, base: { nodeSelector?: Record<string, string>; matchExpressions?: NodeSelectorRequirement[] }): AgentScheduling {
  const partitionTerm: NodeSelectorRequirement =
    placement === "mig"
      ? { key: partitioningLabel, operator: "In", values: ["mig"] }
      : // NotIn also matches nodes that joined before the label existed.
        { key: partitioningLabel, operator: "NotIn", values: ["mig"] };
  return {
    nodeSelector: { ...base.nodeSelector, ...(placement === "mig" ? { [gpuClientLabel]: "true" } : {}) },
    affinity: {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [...(base.matchExpressions ?? []), partitionTerm] }] } },
    },
  };
}

/** Child and release name suffix of a placement: whole-GPU agents keep the plain name. */
export function placementSuffix(placement: GpuPartitioning): string {
  return placement === "whole" ? "" : "-mig";
}

/**
 * Kubernetes labels of a pool's nodes, set when a node joins; in-cluster
 * components select GPU nodes with these (see gpuPlacement.ts for who owns
 * which step on a node).
 */
export function gpuNodeLabels(pool: GpuPoolConfig, migStrategy: MigStrategy): Record<string, string> {
  return {
    ...pool.labels,
    [nodeLabelKeys.nodeClass]: "gpu",
    [nodeLabelKeys.pool]: pool.name,
    [nodeLabelKeys.gpuModel]: pool.gpu,
    [nodeLabelKeys.capacity]: pool.capacity,
    // Bottlerocket ships its own device plugin; the stack's must stay off those nodes.
    [nodeLabelKeys.amiFamily]: pool.amiFamily,
    // Set up front (GPU feature discovery would set the same) so GPU agents can
    // select the node before any NVIDIA software runs on it.
    "nvidia.com/gpu.present": "true",
    ...(pool.mig ? { "nvidia.com/mig.config": pool.mig.config } : {}),
    ...gpuOwnershipLabels(pool, migStrategy),
  };
}
